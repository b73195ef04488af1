"""What the Amazon 2018 and 2023 formats share: reviews -> interactions, and the catalogue scope.

Catalogue scope: with a reviews file present the catalogue is the items that have interactions AND metadata (the
5-core benchmarks are defined that way); metadata rows of other items are read but unused, and reviews of items
without metadata are unused. With metadata alone, every valid metadata row is an item.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.loaders.reading import read_records
from index.models import Interaction, Item, LoadReport
from index.normalise import canonical_key, clean_text, short_value

MAX_STYLE_VALUES = 5  # per item and style key, most frequent first


@dataclass(frozen=True)
class ReviewFields:
    """Where each Interaction field lives in one format's review rows."""

    user: str
    items: tuple[str, ...]  # first present wins (2023: parent_asin, then asin)
    rating: str
    timestamp: str
    summary: str
    text: str


def _id(record: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = record.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
            return str(value).strip()
    return None


def unix_seconds(raw: Any) -> int | None:
    """Unix seconds from seconds or milliseconds (Amazon 2023): values above 1e11 (year 5138 in seconds) are ms."""
    try:
        value = int(float(raw))
    except (TypeError, ValueError, OverflowError):
        return None
    return value // 1000 if value > 100_000_000_000 else value


def _rating(raw: Any) -> float | None:
    if isinstance(raw, bool):
        return None
    try:
        return float(raw)
    except (TypeError, ValueError):
        return None


def join_review(summary: Any, text: Any) -> str:
    """`summary` and `text` as one review: "Five Stars. Another great gift."."""
    head, body = clean_text(summary), clean_text(text)
    if head and body:
        return f"{head}{'' if head[-1] in '.!?' else '.'} {body}"
    return head or body


def read_interactions(paths: list[Path], report: LoadReport, fields: ReviewFields
                      ) -> tuple[list[Interaction], dict[str, Counter[tuple[str, str]]]]:
    """Interactions from review files, plus each item's `style` values seen in its reviews (2018: Gift Amount).

    An exact duplicate (same user, item, time, rating and review) is dropped and counted. Rows that share only
    (user, item, time) are kept: 2018 times are day-granular, and the shipped 5-core has 3 such pairs with different
    review texts, which are separate reviews.
    """
    interactions: list[Interaction] = []
    styles: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
    seen: set[int] = set()
    for path in paths:
        for record in read_records(path, report, "reviews"):
            user, item = _id(record, (fields.user,)), _id(record, fields.items)
            if user is None or item is None:
                report.skipped["reviews_missing_id"] += 1
                continue
            timestamp = unix_seconds(record.get(fields.timestamp))
            if timestamp is None:
                report.repaired["reviews_missing_timestamp"] += 1
            review = join_review(record.get(fields.summary), record.get(fields.text))
            rating = _rating(record.get(fields.rating))
            if rating is None and record.get(fields.rating) is not None:  # kept, rating unknown: still counted
                report.repaired["reviews_unparsed_rating"] += 1
            fingerprint = hash((user, item, timestamp, rating, review))
            if fingerprint in seen:
                report.skipped["reviews_duplicate_interaction"] += 1
                continue
            seen.add(fingerprint)
            interactions.append(Interaction(user_id=user, item_id=item, rating=rating,
                                            timestamp=timestamp or 0, review=review))
            _count_styles(styles[item], record.get("style"))
    return interactions, styles


def _count_styles(counter: Counter[tuple[str, str]], style: Any) -> None:
    if not isinstance(style, dict):
        return
    for raw_key, raw_value in style.items():
        key, value = canonical_key(str(raw_key)), short_value(raw_value)
        # A gift amount of 0 is the custom-amount variant, not an amount anyone paid.
        if key and value and not (key == "gift_amount" and value == "0"):
            counter[(key, value)] += 1


def style_attributes(counter: Counter[tuple[str, str]]) -> list[tuple[str, str]]:
    per_key: Counter[str] = Counter()
    out = []
    for (key, value), _ in counter.most_common():
        if per_key[key] < MAX_STYLE_VALUES:
            per_key[key] += 1
            out.append((key, value))
    return out


ItemBuilder = Callable[[dict[str, Any], str, list[tuple[str, str]]], "Item | None"]


def read_catalogue(paths: list[Path], report: LoadReport, id_keys: tuple[str, ...], build: ItemBuilder,
                   wanted: set[str] | None, styles: dict[str, Counter[tuple[str, str]]]) -> list[Item]:
    """Items from metadata files, first row per id; `wanted` (the reviewed ids) limits the scope when given."""
    items: list[Item] = []
    seen: set[str] = set()
    for path in paths:
        for record in read_records(path, report, "meta"):
            item_id = _id(record, id_keys)
            if item_id is None:
                report.skipped["meta_missing_id"] += 1
                continue
            if item_id in seen:
                report.skipped["meta_duplicate_id"] += 1
                continue
            seen.add(item_id)
            if wanted is not None and item_id not in wanted:
                report.unused["meta_without_interactions"] += 1
                continue
            item = build(record, item_id, style_attributes(styles.get(item_id, Counter())))
            if item is not None:
                items.append(item)
    return items


def keep_catalogue_interactions(interactions: list[Interaction], items: list[Item],
                                report: LoadReport) -> list[Interaction]:
    """Interactions of catalogue items only; each item's popularity defaults to its interaction count."""
    counts = Counter(i.item_id for i in interactions)
    catalogue = {item.item_id for item in items}
    kept = [i for i in interactions if i.item_id in catalogue]
    if len(kept) < len(interactions):
        report.unused["reviews_item_not_in_catalogue"] += len(interactions) - len(kept)
    for item in items:
        if not item.popularity:
            item.popularity = float(counts[item.item_id])
    return kept


def files_matching(folder: Path, suffixes: tuple[str, ...], meta: bool) -> list[Path]:
    """Files in `folder` ending with one of `suffixes`, metadata (`meta_*`) or not, sorted by name."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.name.endswith(suffixes) and p.name.startswith("meta_") == meta)

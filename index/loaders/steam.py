"""Steam (Kang & McAuley 2018; Pathak et al. 2017): `steam_games.json.gz` (the catalogue), `bundle_data.json.gz`
and, when present, users' reviews and owned games. The games, bundles and full-size user files are one Python-2 dict
literal a line, read with `ast.literal_eval` (never `eval`).

Users' reviews come from ONE of these files, the first present (chosen by file name, as the formats are):
1. `australian_user_reviews.json.gz`, the full-size original (text included);
2. `user_reviews_flat.csv.gz`, a CSV export of the same reviews, one row each, no text: columns `user_id`, `posted`,
   `item_id`, `recommend`. Columns are found by header name; the export's extra `sentiment_analysis` (computed from
   the dropped text) and `Año` (a year, wrong for year-less posts) are not source data and are never read;
3. `user_reviews_text_sample.json.gz`, a JSON array of original records `{user_id, user_url, reviews}` whose
   `reviews` is a Python-literal STRING, parsed with `ast.literal_eval`.
With the flat table, the text sample only supplies review text, joined on (user, item) (`user_reviews_text_joined`;
its reviews that match no flat row are counted, not added: `user_reviews_text_without_flat_row`).

Decisions:
- Catalogue = the games file. Rows without `id` are skipped (`games_missing_id`). Of the 2 in the shipped file one
  has no id anywhere, the other only in its URL (app/200260), and 200260 is already in the catalogue, so recovering
  it would only add a duplicate. For a repeated id the first row is kept (`games_duplicate_id`: 612880's second row
  is the same game). A row with an id but no `app_name` and no `title` is skipped (`games_missing_title`): 317160
  has only tags and a URL ending in `/_/`, nothing a card or a reason could name. Shipped file: 32,135 lines ->
  32,131 items.
- Title: `app_name` (already unescaped in the source), else `title`.
- Price: numbers as they are; text that says free ("Free", "Free to Play", "Play for Free!") is 0.0 with the
  attribute value "Free"; other text ("Install Now", "Third-party") leaves the price unknown (`games_unparsed_price`).
- Popularity: with user files, the number of users who reviewed or played the game. Without them, the fewest reviews
  the game's sentiment label implies on Steam ("N user reviews" -> N; Positive/Mixed/Negative... need >= 10,
  Very ... >= 50, Overwhelmingly ... >= 500), 0 with no label. Bundles are kept as co-occurrence, not popularity
  (615 bundles cover under 10% of the games).
- Interactions: a review is rating 1.0 (recommended) or 0.0 (not recommended: a negative signal, never a like),
  with its posted date as unix seconds (UTC midnight); an owned game with playtime > 0 and no review is an
  interaction with rating None; never-played games are unused.
- Duplicates: a review row equal to an earlier one in every source field (user, item, posted, recommend, text) is
  dropped and counted (`user_reviews_exact_duplicate`: 874 in the flat table, which repeats some user records); a
  second, different review of the same (user, item) keeps the first (`user_reviews_duplicate_interaction`).
- Year-less dates: Steam omits the year of posts made in the year the page was crawled ("Posted June 27."). They are
  given the year after the latest explicit year in the same file (`user_reviews_posted_year_inferred`). Data, not
  guess: in the flat table dated posts end on 2015-12-31 and the 10,119 year-less ones fall in January to September
  only, i.e. 2016 up to the crawl. A file with no dated post leaves them unresolved at timestamp 0
  (`user_reviews_posted_without_year`), which sorts them before every dated review.
- Join: reviews of games not in the catalogue are counted by row (`user_reviews_item_not_in_catalogue`) and by
  distinct game (`user_reviews_games_not_in_catalogue`). Shipped flat table: 59,305 rows -> 58,431 after exact
  de-duplication -> 53,xxx joined, 3,195 of 3,682 games.
"""

from __future__ import annotations

import ast
import csv
import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from index.loaders.reading import read_lines, read_records
from index.loaders.registry import LoaderSpec, register
from index.models import Bundle, Dataset, Interaction, Item, LoadReport
from index.normalise import Attributes, build_text, clean_text, format_price, parse_price, pick_title, release_year

GAMES = "steam_games.json"
BUNDLES = "bundle_data.json"
USER_REVIEWS = "australian_user_reviews.json"
USER_ITEMS = "australian_users_items.json"
FLAT_REVIEWS = "user_reviews_flat.csv"
TEXT_SAMPLE = "user_reviews_text_sample.json"
REVIEW_SOURCES = (USER_REVIEWS, FLAT_REVIEWS, TEXT_SAMPLE)  # precedence: the first present is THE review source
FLAT_COLUMNS = ("user_id", "posted", "item_id", "recommend")

SENTIMENT_LABELS = {"Overwhelmingly Positive": 500, "Very Positive": 50, "Positive": 10, "Mostly Positive": 10,
                    "Mixed": 10, "Mostly Negative": 10, "Negative": 10, "Very Negative": 50,
                    "Overwhelmingly Negative": 500}
_FEW_REVIEWS = re.compile(r"^(\d+) user reviews?$")
_POSTED = re.compile(r"Posted\s+([A-Za-z]+)\s+(\d{1,2})(?:,\s*(\d{4}))?")


def _find(folder: Path, stem: str) -> Path | None:
    for name in (f"{stem}.gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def review_files(folder: Path) -> tuple[Path | None, Path | None]:
    """(the review source, the text sample joined onto it): see the module docstring for the precedence."""
    reviews = next((p for stem in REVIEW_SOURCES if (p := _find(folder, stem)) is not None), None)
    text = _find(folder, TEXT_SAMPLE) if reviews is not None and reviews.name.startswith(FLAT_REVIEWS) else None
    return reviews, text


def data_files(folder: Path) -> list[Path]:
    games = _find(folder, GAMES)
    if games is None:
        return []
    optional = [_find(folder, BUNDLES), *review_files(folder), _find(folder, USER_ITEMS)]
    return [games, *(p for p in optional if p is not None)]


def sentiment_review_floor(sentiment: Any) -> int:
    if not isinstance(sentiment, str):
        return 0
    match = _FEW_REVIEWS.match(sentiment.strip())
    return int(match.group(1)) if match else SENTIMENT_LABELS.get(sentiment.strip(), 0)


def _steam_id(raw: Any) -> str | None:
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        return None
    value = str(raw).strip()
    return value or None


def build_item(record: dict[str, Any], item_id: str, source: str, report: LoadReport) -> Item | None:
    title, reason = pick_title([("app_name", record.get("app_name")), ("title", record.get("title"))])
    if title is None:
        report.skipped[f"games_{reason}"] += 1
        return None
    if reason:
        report.repaired[f"games_{reason}"] += 1
    attributes = Attributes()
    attributes.add_all("genre", record.get("genres"))
    price, unparsed = parse_price(record.get("price"))
    if unparsed:
        report.repaired["games_unparsed_price"] += 1
    if price is not None:
        attributes.add("price", format_price(price))
    attributes.add("developer", record.get("developer"))
    attributes.add("publisher", record.get("publisher"))
    attributes.add("release_year", release_year(record.get("release_date")))
    sentiment = clean_text(record.get("sentiment"))
    if sentiment in SENTIMENT_LABELS:
        attributes.add("sentiment", sentiment)
    metascore = record.get("metascore")
    if isinstance(metascore, int) and not isinstance(metascore, bool):
        attributes.add("metascore", str(metascore))
    attributes.add_all("tag", record.get("tags"))
    attributes.add_all("spec", record.get("specs"))
    if record.get("early_access") is True:
        attributes.add("early_access", "yes")
    return Item(item_id=item_id, title=title, text=build_text(title, attributes), attributes=attributes.pairs,
                price=price, popularity=float(sentiment_review_floor(record.get("sentiment"))), source=source)


def read_games(path: Path, name: str, report: LoadReport) -> list[Item]:
    items: list[Item] = []
    seen: set[str] = set()
    for record in read_records(path, report, "games", syntax="python"):
        item_id = _steam_id(record.get("id"))
        if item_id is None:
            report.skipped["games_missing_id"] += 1
            continue
        if item_id in seen:
            report.skipped["games_duplicate_id"] += 1
            continue
        seen.add(item_id)
        item = build_item(record, item_id, name, report)
        if item is not None:
            items.append(item)
    return items


def read_bundles(path: Path, catalogue: set[str], report: LoadReport) -> list[Bundle]:
    bundles: list[Bundle] = []
    seen: set[str] = set()
    for record in read_records(path, report, "bundles", syntax="python"):
        bundle_id = _steam_id(record.get("bundle_id"))
        if bundle_id is None or bundle_id in seen:
            report.skipped["bundles_missing_id" if bundle_id is None else "bundles_duplicate_id"] += 1
            continue
        seen.add(bundle_id)
        entries = record.get("items") if isinstance(record.get("items"), list) else []
        ids = [_steam_id(e.get("item_id")) for e in entries if isinstance(e, dict)]
        item_ids = list(dict.fromkeys(i for i in ids if i in catalogue))
        report.unused["bundles_item_not_in_catalogue"] += len(ids) - sum(1 for i in ids if i in catalogue)
        if not item_ids:
            report.unused["bundles_without_catalogue_items"] += 1
            continue
        bundles.append(Bundle(bundle_id=bundle_id, name=clean_text(record.get("bundle_name")), item_ids=item_ids))
    return bundles


def posted_date(raw: Any) -> tuple[str, int, int | None] | None:
    """"Posted November 5, 2011." -> ("November", 5, 2011); "Posted June 27." -> ("June", 27, None)."""
    match = _POSTED.search(raw) if isinstance(raw, str) else None
    if match is None:
        return None
    return match.group(1), int(match.group(2)), int(match.group(3)) if match.group(3) else None


def posted_timestamp(raw: Any, default_year: int | None = None) -> int | None:
    """Unix seconds (UTC midnight) of a `posted` string; a year-less date takes `default_year`; None when the date,
    or the year with no default, is missing or invalid."""
    parts = posted_date(raw)
    if parts is None or (parts[2] or default_year) is None:
        return None
    try:
        day = datetime.strptime(f"{parts[0]} {parts[1]} {parts[2] or default_year}", "%B %d %Y")
    except ValueError:
        return None
    return int(day.replace(tzinfo=UTC).timestamp())


def _user_rows(path: Path, list_key: str, role: str, report: LoadReport):
    """(user_id, entry) for every entry of every user line; users without an id are counted and skipped."""
    for record in read_records(path, report, role, syntax="python"):
        user = _steam_id(record.get("user_id"))
        entries = record.get(list_key)
        if user is None or not isinstance(entries, list):
            report.skipped[f"{role}_missing_{'user_id' if user is None else list_key}"] += 1
            continue
        for entry in entries:
            if isinstance(entry, dict):
                yield user, entry
            else:
                report.skipped[f"{role}_not_an_object"] += 1


@dataclass(frozen=True)
class RawReview:
    """One review as its source file gives it: the fields exact de-duplication compares."""

    user_id: str
    item_id: str
    posted: str
    recommend: bool | None  # None: neither a bool nor "True"/"False"
    review: str = ""


def _parse_recommend(raw: Any) -> bool | None:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower() if isinstance(raw, str) else ""
    return {"true": True, "false": False}.get(text)


def _raw_review(user: str, entry: dict[str, Any], report: LoadReport, role: str) -> RawReview | None:
    item = _steam_id(entry.get("item_id"))
    if item is None:
        report.skipped[f"{role}_missing_item_id"] += 1
        return None
    posted = entry.get("posted")
    return RawReview(user_id=user, item_id=item, posted=posted if isinstance(posted, str) else "",
                     recommend=_parse_recommend(entry.get("recommend")), review=clean_text(entry.get("review")))


def read_nested_reviews(path: Path, report: LoadReport) -> list[RawReview]:
    """australian_user_reviews: one user record a line with a list of review dicts."""
    reviews = (_raw_review(user, entry, report, "user_reviews")
               for user, entry in _user_rows(path, "reviews", "user_reviews", report))
    return [r for r in reviews if r is not None]


def read_flat_reviews(path: Path, report: LoadReport) -> list[RawReview]:
    """user_reviews_flat.csv: a header, then one review a row. `rows_read` counts data rows, not the header."""
    rows = csv.reader(read_lines(path, report, "user_reviews"))
    header = next(rows, None)
    if header is None:
        return []
    report.rows_read[path.name] -= 1  # the header line is not a review
    columns = {name.strip(): n for n, name in enumerate(header)}
    missing = [c for c in FLAT_COLUMNS if c not in columns]
    if missing:
        report.skipped[f"user_reviews_missing_columns_{'_'.join(missing)}"] += 1
        return []
    reviews = []
    for row in rows:
        if len(row) < len(header):
            report.skipped["user_reviews_short_row"] += 1
            continue
        entry = {c: row[columns[c]] for c in FLAT_COLUMNS}
        user = _steam_id(entry["user_id"])
        if user is None:
            report.skipped["user_reviews_missing_user_id"] += 1
        elif (review := _raw_review(user, entry, report, "user_reviews")) is not None:
            reviews.append(review)
    return reviews


def read_text_sample(path: Path, report: LoadReport) -> list[RawReview]:
    """user_reviews_text_sample: a JSON array of user records whose `reviews` is a Python-literal string."""
    role = "text_sample"
    text = "\n".join(read_lines(path, report, role))
    try:
        records = json.loads(text)
    except ValueError:
        report.skipped[f"{role}_unparseable_file"] += 1
        return []
    report.rows_read[path.name] = len(records) if isinstance(records, list) else 0  # user records, not lines
    reviews = []
    for record in records if isinstance(records, list) else []:
        user = _steam_id(record.get("user_id")) if isinstance(record, dict) else None
        raw = record.get("reviews") if isinstance(record, dict) else None
        try:  # literal_eval only builds literals; it never runs code
            entries = ast.literal_eval(raw) if isinstance(raw, str) else raw
        except (ValueError, SyntaxError, TypeError, RecursionError, MemoryError):
            entries = None
        if user is None or not isinstance(entries, list):
            report.skipped[f"{role}_{'missing_user_id' if user is None else 'unparseable_reviews'}"] += 1
            continue
        for entry in entries:
            if not isinstance(entry, dict):
                report.skipped[f"{role}_not_an_object"] += 1
            elif (review := _raw_review(user, entry, report, role)) is not None:
                reviews.append(review)
    return reviews


def read_review_source(path: Path, report: LoadReport) -> list[RawReview]:
    if path.name.startswith(FLAT_REVIEWS):
        return read_flat_reviews(path, report)
    if path.name.startswith(TEXT_SAMPLE):
        return read_text_sample(path, report)
    return read_nested_reviews(path, report)


def join_text(reviews: list[RawReview], sample: list[RawReview], report: LoadReport) -> list[RawReview]:
    """Review text from the sample onto the text-less flat rows, by (user, item)."""
    texts = {(r.user_id, r.item_id): r.review for r in sample if r.review}
    keys = {(r.user_id, r.item_id) for r in reviews}
    if unmatched := sum(1 for k in texts if k not in keys):
        report.unused["user_reviews_text_without_flat_row"] += unmatched
    joined = []
    for r in reviews:
        text = texts.get((r.user_id, r.item_id), "")
        if text and not r.review:
            report.repaired["user_reviews_text_joined"] += 1
            r = RawReview(r.user_id, r.item_id, r.posted, r.recommend, text)
        joined.append(r)
    return joined


def latest_year(reviews: list[RawReview]) -> int | None:
    years = [parts[2] for r in reviews if (parts := posted_date(r.posted)) is not None and parts[2] is not None]
    return max(years, default=None)


def drop_exact_duplicates(reviews: list[RawReview], report: LoadReport) -> list[RawReview]:
    """Rows equal in every source field to an earlier row, dropped and counted; the first copy is kept in place."""
    kept = list(dict.fromkeys(reviews))
    if dropped := len(reviews) - len(kept):
        report.skipped["user_reviews_exact_duplicate"] += dropped
    return kept


def reviews_to_interactions(reviews: list[RawReview], catalogue: set[str], seen: set[tuple[str, str]],
                            report: LoadReport) -> list[Interaction]:
    """Games outside the catalogue counted, repeated (user, item) pairs dropped, dates resolved (module docstring)."""
    crawl_year = latest_year(reviews)
    crawl_year = crawl_year + 1 if crawl_year is not None else None
    unjoined: set[str] = set()
    interactions = []
    for r in reviews:
        if r.item_id not in catalogue:
            report.unused["user_reviews_item_not_in_catalogue"] += 1
            unjoined.add(r.item_id)
            continue
        if (r.user_id, r.item_id) in seen:
            report.skipped["user_reviews_duplicate_interaction"] += 1
            continue
        seen.add((r.user_id, r.item_id))
        parts = posted_date(r.posted)
        timestamp = posted_timestamp(r.posted, crawl_year)
        if parts is not None and parts[2] is None and timestamp is not None:
            report.repaired["user_reviews_posted_year_inferred"] += 1
        elif timestamp is None:
            report.repaired["user_reviews_posted_without_year" if parts else "user_reviews_posted_unparsed"] += 1
        if r.recommend is None:
            report.repaired["user_reviews_unparsed_recommend"] += 1
        interactions.append(Interaction(user_id=r.user_id, item_id=r.item_id,
                                        rating=None if r.recommend is None else float(r.recommend),
                                        timestamp=timestamp or 0, review=r.review))
    if unjoined:
        report.unused["user_reviews_games_not_in_catalogue"] += len(unjoined)
    return interactions


def read_user_items(path: Path, catalogue: set[str], seen: set[tuple[str, str]],
                    report: LoadReport) -> list[Interaction]:
    interactions = []
    for user, entry in _user_rows(path, "items", "user_items", report):
        item = _steam_id(entry.get("item_id"))
        playtime = entry.get("playtime_forever")
        if item is None:
            report.skipped["user_items_missing_item_id"] += 1
        elif item not in catalogue:
            report.unused["user_items_item_not_in_catalogue"] += 1
        elif not isinstance(playtime, int | float) or playtime <= 0:
            report.unused["user_items_never_played"] += 1
        elif (user, item) in seen:
            report.unused["user_items_already_reviewed"] += 1
        else:
            seen.add((user, item))
            interactions.append(Interaction(user_id=user, item_id=item))
    return interactions


def load(folder: Path, name: str) -> Dataset:
    report = LoadReport(dataset=name)
    games = _find(folder, GAMES)
    assert games is not None, "detect_format only picks this loader when the games file exists"
    items = read_games(games, name, report)
    catalogue = {item.item_id for item in items}
    bundles_path = _find(folder, BUNDLES)
    bundles = read_bundles(bundles_path, catalogue, report) if bundles_path else []
    interactions: list[Interaction] = []
    seen: set[tuple[str, str]] = set()
    reviews_path, text_path = review_files(folder)
    if reviews_path is not None:
        reviews = drop_exact_duplicates(read_review_source(reviews_path, report), report)
        if text_path is not None:
            reviews = join_text(reviews, read_text_sample(text_path, report), report)
        interactions += reviews_to_interactions(reviews, catalogue, seen, report)
    if path := _find(folder, USER_ITEMS):
        interactions += read_user_items(path, catalogue, seen, report)
    if interactions:
        counts = Counter(i.item_id for i in interactions)
        for item in items:
            item.popularity = float(counts[item.item_id])
    return Dataset(name=name, items=items, interactions=interactions, bundles=bundles, report=report)


SPEC = register(LoaderSpec(
    name="steam",
    description="Steam games catalogue with bundles, optionally Australian users' reviews and owned games",
    file_patterns=f"{GAMES}[.gz] [+ {BUNDLES}[.gz], {USER_REVIEWS}[.gz] | {FLAT_REVIEWS}[.gz] [+ {TEXT_SAMPLE}[.gz]] "
                  f"| {TEXT_SAMPLE}[.gz], {USER_ITEMS}[.gz]]",
    has_interactions=True,
    has_bundles=True,
    data_files=data_files,
    load=load,
))

"""Steam (Kang & McAuley 2018; Pathak et al. 2017): `steam_games.json.gz` (the catalogue), `bundle_data.json.gz`
and, when present, `australian_user_reviews.json.gz` and `australian_users_items.json.gz`. Every file is one
Python-2 dict literal a line, read with `ast.literal_eval` (never `eval`).

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
- Interactions: a review is rating 1.0 (recommended) or 0.0, with its posted date (0 when Steam omitted the year);
  an owned game with playtime > 0 and no review is an interaction with rating None; never-played games are unused.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from index.loaders.reading import read_records
from index.loaders.registry import LoaderSpec, register
from index.models import Bundle, Dataset, Interaction, Item, LoadReport
from index.normalise import Attributes, build_text, clean_text, format_price, parse_price, pick_title, release_year

GAMES = "steam_games.json"
BUNDLES = "bundle_data.json"
USER_REVIEWS = "australian_user_reviews.json"
USER_ITEMS = "australian_users_items.json"

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


def data_files(folder: Path) -> list[Path]:
    games = _find(folder, GAMES)
    if games is None:
        return []
    optional = (_find(folder, stem) for stem in (BUNDLES, USER_REVIEWS, USER_ITEMS))
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


def posted_timestamp(raw: Any) -> int | None:
    """"Posted November 5, 2011." -> unix seconds (UTC midnight); None when the year or the date is missing."""
    match = _POSTED.search(raw) if isinstance(raw, str) else None
    if match is None or match.group(3) is None:
        return None
    try:
        day = datetime.strptime(f"{match.group(1)} {match.group(2)} {match.group(3)}", "%B %d %Y")
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


def read_user_reviews(path: Path, catalogue: set[str], seen: set[tuple[str, str]],
                      report: LoadReport) -> list[Interaction]:
    interactions = []
    for user, entry in _user_rows(path, "reviews", "user_reviews", report):
        item = _steam_id(entry.get("item_id"))
        if item is None:
            report.skipped["user_reviews_missing_item_id"] += 1
        elif item not in catalogue:
            report.unused["user_reviews_item_not_in_catalogue"] += 1
        elif (user, item) in seen:
            report.skipped["user_reviews_duplicate_interaction"] += 1
        else:
            seen.add((user, item))
            timestamp = posted_timestamp(entry.get("posted"))
            if timestamp is None:
                report.repaired["user_reviews_posted_without_year"] += 1
            recommend = entry.get("recommend")
            interactions.append(Interaction(
                user_id=user, item_id=item, rating=None if not isinstance(recommend, bool) else float(recommend),
                timestamp=timestamp or 0, review=clean_text(entry.get("review"))))
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
    if path := _find(folder, USER_REVIEWS):
        interactions += read_user_reviews(path, catalogue, seen, report)
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
    file_patterns=f"{GAMES}[.gz] [+ {BUNDLES}[.gz], {USER_REVIEWS}[.gz], {USER_ITEMS}[.gz]]",
    has_interactions=True,
    has_bundles=True,
    data_files=data_files,
    load=load,
))

"""Amazon 2023 (Hou et al. 2024): `meta_<Category>.jsonl[.gz]` and, optionally, `<Category>.jsonl[.gz]` reviews.

Items are keyed by `parent_asin`. Reviews: user_id, parent_asin, rating, title + text, timestamp in milliseconds
(stored as unix seconds). Popularity = `rating_number` (Amazon's own count of ratings, which covers far more than a
subset's reviews); the item's interaction count only when rating_number is absent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from index.loaders.amazon import (ReviewFields, files_matching, keep_catalogue_interactions, read_catalogue,
                                  read_interactions)
from index.loaders.registry import LoaderSpec, register
from index.models import Dataset, Item, LoadReport
from index.normalise import (Attributes, add_details, add_features, build_text, description_text,
                            format_price, parse_price, pick_title)

SUFFIXES = (".jsonl.gz", ".jsonl")
REVIEWS = ReviewFields(user="user_id", items=("parent_asin", "asin"), rating="rating", timestamp="timestamp",
                       summary="title", text="text")


def data_files(folder: Path) -> list[Path]:
    meta = files_matching(folder, SUFFIXES, meta=True)
    return meta + files_matching(folder, SUFFIXES, meta=False) if meta else []


def build_item(record: dict[str, Any], item_id: str, source: str, report: LoadReport) -> Item | None:
    title, reason = pick_title([("title", record.get("title"))])
    if title is None:
        report.skipped[f"meta_{reason}"] += 1
        return None
    if reason:
        report.repaired[f"meta_{reason}"] += 1
    details = record.get("details") if isinstance(record.get("details"), dict) else {}
    attributes = Attributes()
    attributes.add("brand", details.get("Brand") or record.get("store"))
    price, unparsed = parse_price(record.get("price"))
    if unparsed:
        report.repaired["meta_unparsed_price"] += 1
    if price is not None:
        attributes.add("price", format_price(price))
    attributes.add_all("category", record.get("main_category"))
    attributes.add_all("category", record.get("categories"))
    add_details(attributes, details)
    rating = record.get("average_rating")
    if isinstance(rating, int | float) and not isinstance(rating, bool):
        attributes.add("average_rating", f"{rating:g}")
    add_features(attributes, record.get("features"))
    text = build_text(title, attributes, description_text(record.get("description")))
    count = record.get("rating_number")
    popularity = float(count) if isinstance(count, int | float) and not isinstance(count, bool) else 0.0
    return Item(item_id=item_id, title=title, text=text, attributes=attributes.pairs, price=price,
                popularity=popularity, source=source)


def load(folder: Path, name: str) -> Dataset:
    report = LoadReport(dataset=name)
    reviews = files_matching(folder, SUFFIXES, meta=False)
    interactions, styles = read_interactions(reviews, report, REVIEWS)
    wanted = {i.item_id for i in interactions} if reviews else None
    items = read_catalogue(files_matching(folder, SUFFIXES, meta=True), report, ("parent_asin", "asin"),
                           lambda record, item_id, _style: build_item(record, item_id, name, report),
                           wanted, styles)
    interactions = keep_catalogue_interactions(interactions, items, report)
    return Dataset(name=name, items=items, interactions=interactions, report=report)


SPEC = register(LoaderSpec(
    name="amazon2023",
    description="Amazon reviews 2023: item metadata, optionally with reviews (timestamps in ms)",
    file_patterns="meta_<Category>.jsonl[.gz] [+ <Category>.jsonl[.gz]]",
    has_interactions=True,
    data_files=data_files,
    load=load,
))

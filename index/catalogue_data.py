"""What the chat reads about a dataset besides its Chroma rows, stored beside the index when it is built
(`<home>/catalogue/<dataset>.json.gz`), so a chat replica needs the index and never the data files:
- the item ids in the order of the data files (the catalogue keeps that order: title and name clashes resolve by it);
- co-occurrence counts: items seen together by one user, and in one bundle (bundles are not in Chroma at all);
- the rating scale (the largest rating: Steam's are 1/0, Amazon's 1-5 stars);
- the reviews that have text and a rating (quotes are picked from them).

The file carries the fingerprint of the input files, as the index's snapshot metadata does; the reader
(`Retriever.catalogue_data`) refuses one that is missing or from other files than the index.
"""

from __future__ import annotations

import gzip
import os
import tempfile
from collections import Counter, defaultdict
from functools import cached_property
from itertools import combinations
from pathlib import Path

from pydantic import BaseModel, Field

from index.models import Bundle, Dataset, Interaction

FORMAT = 2  # bump when the layout changes: an older file then reads as stale, and `whyrec index` rewrites it
MAX_GROUP = 200  # a giant bundle says little about any pair and costs O(n^2)


class CatalogueData(BaseModel):
    format: int = FORMAT
    dataset: str
    fingerprint: str = Field(description="index.loaders.dataset_fingerprint of the files it was computed from")
    item_ids: list[str] = Field(description="every catalogue item, in the order of the data files")
    max_rating: float | None = Field(None, description="the largest rating of any interaction; None without ratings")
    pairs: list[tuple[str, str, int]] = Field(
        default_factory=list, description="(a, b, count) with a < b: how many users had both a and b")
    bundle_pairs: list[tuple[str, str, int]] = Field(
        default_factory=list, description="(a, b, count) with a < b: how many bundles hold both a and b")
    reviews: list[Interaction] = Field(default_factory=list, description="interactions with review text and a rating")

    @cached_property
    def cooccurrence(self) -> dict[str, Counter[str]]:
        """item -> Counter of the items seen with it, by one user or in one bundle (both directions of every pair)."""
        return _both_ways(self.pairs + self.bundle_pairs)

    @cached_property
    def shoppers_together(self) -> dict[str, Counter[str]]:
        """item -> Counter of the items the same users had: what "the choice of 4 shoppers who had your X" counts."""
        return _both_ways(self.pairs)


def _both_ways(pairs: list[tuple[str, str, int]]) -> dict[str, Counter[str]]:
    together: dict[str, Counter[str]] = defaultdict(Counter)
    for a, b, count in pairs:
        together[a][b] += count
        together[b][a] += count
    return dict(together)


def cooccurrence_pairs(interactions: list[Interaction], bundles: list[Bundle]) -> list[tuple[str, str, int]]:
    """(a, b, count), a < b: the number of users who interacted with both plus the number of bundles holding both."""
    return _pairs(_user_groups(interactions) + [set(b.item_ids) for b in bundles])


def _user_groups(interactions: list[Interaction]) -> list[set[str]]:
    by_user: dict[str, set[str]] = defaultdict(set)
    for it in interactions:
        by_user[it.user_id].add(it.item_id)
    return list(by_user.values())


def _pairs(groups: list[set[str]]) -> list[tuple[str, str, int]]:
    counts: Counter[tuple[str, str]] = Counter()
    for group in groups:
        if len(group) <= MAX_GROUP:
            counts.update(combinations(sorted(group), 2))
    return [(a, b, n) for (a, b), n in sorted(counts.items())]


def catalogue_data(dataset: Dataset, fingerprint: str = "") -> CatalogueData:
    ratings = [i.rating for i in dataset.interactions if i.rating is not None]
    return CatalogueData(dataset=dataset.name, fingerprint=fingerprint,
                         item_ids=[item.item_id for item in dataset.items],
                         max_rating=max(ratings) if ratings else None,
                         pairs=_pairs(_user_groups(dataset.interactions)),
                         bundle_pairs=_pairs([set(b.item_ids) for b in dataset.bundles]),
                         reviews=[i for i in dataset.interactions if i.review.strip() and i.rating is not None])


def catalogue_data_path(home: Path, dataset_name: str) -> Path:
    return Path(home) / "catalogue" / f"{dataset_name}.json.gz"


def save_catalogue_data(dataset: Dataset, home: Path, fingerprint: str) -> dict:
    """Compute and store the dataset's CatalogueData; written whole or not at all (a reader never sees half)."""
    data = catalogue_data(dataset, fingerprint)
    path = catalogue_data_path(home, dataset.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{dataset.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes it 0600; the index beside it is readable by the group too
        with os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
            f.write(data.model_dump_json().encode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return {"pairs": len({(a, b) for a, b, _ in data.pairs + data.bundle_pairs}), "reviews": len(data.reviews)}


def load_catalogue_data(home: Path, dataset_name: str) -> CatalogueData | None:
    """The stored CatalogueData, or None when there is none or it is in another layout than this code's."""
    path = catalogue_data_path(home, dataset_name)
    if not path.is_file():
        return None
    with gzip.open(path, "rb") as f:
        raw = f.read()
    try:
        data = CatalogueData.model_validate_json(raw)
    except ValueError:  # pydantic's ValidationError: a layout this code cannot read
        return None
    return data if data.format == FORMAT else None

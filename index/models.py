"""The normalised data model every loader produces and every later stage reads."""

from __future__ import annotations

from collections import Counter

from pydantic import BaseModel, Field


class Item(BaseModel):
    """One catalogue item. `attributes` are ordered (key, value) pairs: the only facts a reason may cite."""

    item_id: str
    title: str
    text: str = Field(description="what gets embedded: title + key attributes + a little description")
    attributes: list[tuple[str, str]] = Field(default_factory=list)
    price: float | None = Field(default=None, description="numeric price in USD; None when unknown or free-text")
    popularity: float = Field(0.0, description="interaction count, rating count or similar prior; higher = more popular")
    source: str

    def values(self, key: str) -> list[str]:
        return [v for k, v in self.attributes if k == key]

    def first(self, key: str) -> str | None:
        vals = self.values(key)
        return vals[0] if vals else None


class Interaction(BaseModel):
    """A user's rating/review of an item. Timestamps are unix seconds."""

    user_id: str
    item_id: str
    rating: float | None = None
    timestamp: int = 0
    review: str = ""


class Bundle(BaseModel):
    """Items sold together (Steam bundles): a co-occurrence signal for ranking."""

    bundle_id: str
    name: str
    item_ids: list[str]


class LoadReport(BaseModel):
    """What a loader read and what it skipped or repaired, by reason. Malformed rows are counted, never fatal."""

    dataset: str
    files: dict[str, str] = Field(default_factory=dict, description="file name -> sha256 of its bytes")
    rows_read: Counter[str] = Field(default_factory=Counter, description="rows read per file")
    skipped: Counter[str] = Field(default_factory=Counter, description="rows dropped, by reason")
    repaired: Counter[str] = Field(default_factory=Counter, description="rows kept after a fix, by reason")
    unused: Counter[str] = Field(
        default_factory=Counter, description="valid rows outside the catalogue scope, e.g. unreviewed items' metadata")


class Dataset(BaseModel):
    name: str
    items: list[Item]
    interactions: list[Interaction] = Field(default_factory=list)
    bundles: list[Bundle] = Field(default_factory=list)
    report: LoadReport

    @property
    def users(self) -> set[str]:
        return {i.user_id for i in self.interactions}

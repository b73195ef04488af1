"""Hard constraints on candidates, and their meaning written once.

`conditions(filters)` turns a Filters into plain conditions; each retrieval path interprets those, Chroma as a
`where` (index/retrieve.py `build_where`) and the in-memory snapshot as boolean masks (index/snapshot.py), so the
two paths cannot drift apart. An item without a price fails every price condition (Chroma skips rows without the
key); an item without a brand passes a brand exclusion ($nin keeps it).
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, Field

from index.store import facet_key


class Filters(BaseModel):
    """Every given condition must hold (the facet lists: every value)."""

    price_max: float | None = None
    price_min: float | None = None
    brand: str | None = None
    exclude_brands: list[str] = Field(default_factory=list)
    genres: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    specs: list[str] = Field(default_factory=list)
    exclude_ids: list[str] = Field(default_factory=list)


class Condition(NamedTuple):
    op: Literal["lte", "gte", "eq", "nin", "true"]  # "true": a boolean facet column is set
    field: str
    value: Any = None


def conditions(filters: Filters) -> list[Condition]:
    out: list[Condition] = []
    if filters.price_max is not None:
        out.append(Condition("lte", "price", float(filters.price_max)))
    if filters.price_min is not None:
        out.append(Condition("gte", "price", float(filters.price_min)))
    if filters.brand:
        out.append(Condition("eq", "brand", filters.brand))
    if filters.exclude_brands:
        out.append(Condition("nin", "brand", list(dict.fromkeys(filters.exclude_brands))))
    for kind, values in (("genre", filters.genres), ("tag", filters.tags), ("spec", filters.specs)):
        out += [Condition("true", facet_key(kind, v)) for v in dict.fromkeys(values)]
    if filters.exclude_ids:
        out.append(Condition("nin", "item_id", sorted(set(filters.exclude_ids))))
    return out

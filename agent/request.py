"""What the shopper asked for, as data: the facets (constraints) of one turn and the request the chain runs.

Kept apart from `understand` (which builds them) and `conversation` (which stores them) so both can import these
models without importing each other."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from index.attributes import REQUESTED

# Attribute keys a shopper can ask for or rule out by naming a catalogue value ("chocolate", "not early access").
MATCHED_KEYS = REQUESTED  # what a shopper asks for or rules out by name (index/attributes.py)

FacetKey = Literal[
    "price_max", "price_min", "brand", "exclude_brand", "genre", "tag", "spec", "like_item",
    "flavor", "item_form", "diet_type", "occasion", "delivery", "packaging",
    "exclude_genre", "exclude_tag", "exclude_spec", "exclude_flavor", "exclude_item_form", "exclude_diet_type",
    "exclude_delivery", "exclude_packaging",
]


def stem(word: str) -> str:
    """A plural's singular, roughly ('gummies' -> 'gummy', 'capsules' -> 'capsule'): the shopper's 'no gummies'
    is the catalogue's 'Gummy'."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith("es") and word[:-2].endswith(("ch", "sh", "x", "ss")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


class Facet(BaseModel):
    """One thing the shopper asked for; `handle` is what a claim cites (r1, r2, …)."""

    handle: str
    key: FacetKey
    value: str
    label: str = Field(description="how the shopper would say it: 'under $50'")
    wish: str | None = Field(None, description="the shopper's words this value was read from through the embedding "
                                               "space ('for the family' -> tag Family Friendly, agent/wishes.py)")

    @property
    def excludes(self) -> bool:
        return self.key.startswith("exclude_")

    @property
    def attribute(self) -> str | None:
        """The item attribute this facet is about ('exclude_genre' -> 'genre'), None for price/like/occasion."""
        key = self.key.removeprefix("exclude_")
        return key if key in (*MATCHED_KEYS, "brand") else None


class Request(BaseModel):
    message: str
    query_text: str
    search_text: str = Field("", description="what retrieval embeds: the query without its budget and the "
                                             "catalogue's own noun (agent/understand.py); empty: the query")
    facets: list[Facet] = Field(default_factory=list, description="the ACTIVE constraints after this message")
    exclude_ids: list[str] = Field(default_factory=list)
    intent: Literal["recommend", "why"] = "recommend"
    why_rank: int | None = None
    mentioned_item_ids: list[str] = Field(default_factory=list, description="items the shopper named ('like X')")
    notes: list[str] = Field(default_factory=list)
    cheaper_than: float | None = Field(None, description="'cheaper': the cheapest price shown before, if any")

    @property
    def search(self) -> str:
        return self.search_text or self.query_text

    def values(self, key: str) -> list[str]:
        return [f.value for f in self.facets if f.key == key]

    def price_max(self) -> float | None:
        return min((float(v) for v in self.values("price_max")), default=None)

    def price_min(self) -> float | None:
        return max((float(v) for v in self.values("price_min")), default=None)

"""Understand a chat message: what to search for, hard filters, and the request facets a reason may cite.

Rule-based on purpose: it is fast, deterministic and cannot be talked into anything. It reads prices, brand
exclusions, genre/tag/spec words that exist in the catalogue's vocabulary, "like <title>", and the refinements of a
multi-turn chat ("cheaper", "another brand", "why the second one?")."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

from agent.catalogue import Catalogue, normalise, squash
from agent.conversation import Conversation, Turn

FacetKey = Literal["price_max", "price_min", "brand", "exclude_brand", "genre", "tag", "spec", "like_item"]

_MONEY = r"\$?\s?(\d+(?:[.,]\d{1,2})?)\s?(?:dollars|usd|bucks)?"
_PRICE_MAX = re.compile(rf"\b(?:under|below|less than|cheaper than|at most|up to|max(?:imum)?|no more than|within)\s+{_MONEY}", re.I)
_PRICE_MAX_AFTER = re.compile(rf"{_MONEY}\s+(?:or less|or under|max|tops)\b", re.I)
_PRICE_MIN = re.compile(rf"\b(?:over|above|more than|at least|min(?:imum)?|pricier than)\s+{_MONEY}", re.I)
_BETWEEN = re.compile(rf"\bbetween\s+{_MONEY}\s+(?:and|to|-)\s+{_MONEY}", re.I)
_NOT_BRAND = re.compile(r"\b(?:not|no|except|without|other than|non-?|anything but)\s+([\w.&' -]{2,40})", re.I)
_ONLY_BRAND = re.compile(r"\b(?:from|by|only|brand)\s+([\w.&' -]{2,40})", re.I)
_LIKE = re.compile(r"\b(?:like|similar to)\s+(.+?)(?=\s+(?:but|and|with|for|under|below|that)\b|[,.;!?]|$)", re.I)
_CHEAPER = re.compile(r"\b(?:cheaper|less expensive|lower price|more affordable)\b(?!\s+than)", re.I)
_PRICIER = re.compile(r"\b(?:pricier|more expensive|higher end|fancier)\b(?!\s+than)", re.I)
_OTHER_BRAND = re.compile(r"\b(?:another|different|other|new)\s+brands?\b", re.I)
_WHY = re.compile(r"\bwhy\b", re.I)
_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
             "fifth": 5, "5th": 5, "#1": 1, "#2": 2, "#3": 3, "#4": 4, "#5": 5, "last": -1}
_REFINEMENT_WORDS = set("cheaper pricier more less expensive affordable another different other new brand brands "
                        "something else show me please one ones instead those these them that please ok okay".split())


class Facet(BaseModel):
    """One thing the shopper asked for; `handle` is what a claim cites (r1, r2, …)."""

    handle: str
    key: FacetKey
    value: str
    label: str = Field(description="how the shopper would say it: 'under $50'")


class Request(BaseModel):
    message: str
    query_text: str
    facets: list[Facet] = Field(default_factory=list)
    exclude_ids: list[str] = Field(default_factory=list)
    intent: Literal["recommend", "why"] = "recommend"
    why_rank: int | None = None
    mentioned_item_ids: list[str] = Field(default_factory=list, description="items the shopper named ('like X')")
    notes: list[str] = Field(default_factory=list)

    def values(self, key: FacetKey) -> list[str]:
        return [f.value for f in self.facets if f.key == key]

    def price_max(self) -> float | None:
        return min((float(v) for v in self.values("price_max")), default=None)

    def price_min(self) -> float | None:
        return max((float(v) for v in self.values("price_min")), default=None)


def _money(text: str) -> float:
    return float(text.replace(",", "."))


def _fmt(price: float) -> str:
    return f"{price:.2f}".rstrip("0").rstrip(".")


def _match_vocabulary(message: str, values: set[str]) -> list[str]:
    """Catalogue values that the message names as whole words (squashed: 'coop' == 'Co-op')."""
    words = normalise(message).split()
    grams = {"".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, min(i + 4, len(words)) + 1)}
    return sorted(v for v in values if len(squash(v)) >= 3 and squash(v) in grams)


def _brand_named(fragment: str, brands: set[str]) -> str | None:
    """The catalogue brand that the start of `fragment` names ('amazon gift cards' -> 'Amazon')."""
    frag = normalise(fragment)
    best = None
    for brand in brands:
        b = normalise(brand)
        if b and (frag == b or frag.startswith(b + " ")) and (best is None or len(b) > len(normalise(best))):
            best = brand
    return best


def _is_refinement(message: str) -> bool:
    content = [w for w in normalise(message).split() if w not in _REFINEMENT_WORDS]
    return len(content) <= 1


def understand(message: str, catalogue: Catalogue, conversation: Conversation | None = None) -> Request:
    previous = conversation.last_recommendation() if conversation else None
    facets: list[tuple[FacetKey, str, str]] = []
    notes: list[str] = []
    exclude_ids: list[str] = []
    query_text = message

    refining = previous is not None and previous.request.intent == "recommend" and (
        _is_refinement(message) or _CHEAPER.search(message) or _OTHER_BRAND.search(message))
    if refining:
        query_text = previous.request.query_text
        facets = [(f.key, f.value, f.label) for f in previous.request.facets]
        exclude_ids = list(previous.request.exclude_ids)

    if _WHY.search(message) and previous is not None:
        rank = next((r for word, r in _ORDINALS.items() if re.search(rf"(?<!\w){re.escape(word)}(?!\w)", message, re.I)), 1)
        n = len(previous.answer.recommendations)
        rank = n if rank == -1 else rank
        return Request(message=message, query_text=previous.request.query_text, facets=previous.request.facets,
                       intent="why", why_rank=rank, mentioned_item_ids=previous.request.mentioned_item_ids)

    if m := _BETWEEN.search(message):
        lo, hi = sorted((_money(m.group(1)), _money(m.group(2))))
        facets += [("price_min", _fmt(lo), f"at least ${_fmt(lo)}"), ("price_max", _fmt(hi), f"at most ${_fmt(hi)}")]
    else:
        for m in [*_PRICE_MAX.finditer(message), *_PRICE_MAX_AFTER.finditer(message)]:
            facets.append(("price_max", _fmt(_money(m.group(1))), f"under ${_fmt(_money(m.group(1)))}"))
        for m in _PRICE_MIN.finditer(message):
            facets.append(("price_min", _fmt(_money(m.group(1))), f"over ${_fmt(_money(m.group(1)))}"))

    shown = previous.answer.recommendations if previous else []
    if _CHEAPER.search(message) and previous is not None:
        prices = [r.price for r in shown if r.price is not None]
        if prices:
            cap = min(prices) - 0.01
            facets = [f for f in facets if f[0] != "price_max"]
            facets.append(("price_max", _fmt(cap), f"cheaper than ${_fmt(min(prices))}"))
        else:
            notes.append("The earlier suggestions had no listed prices, so 'cheaper' could not be applied.")
    if _PRICIER.search(message) and previous is not None:
        prices = [r.price for r in shown if r.price is not None]
        if prices:
            facets = [f for f in facets if f[0] != "price_min"]
            facets.append(("price_min", _fmt(max(prices) + 0.01), f"pricier than ${_fmt(max(prices))}"))
    if _OTHER_BRAND.search(message) and previous is not None:
        for rec in shown:
            brand = next((v for k, v in rec.attributes if k == "brand"), None)
            if brand:
                facets.append(("exclude_brand", brand, f"not {brand}"))
        exclude_ids += [r.item_id for r in shown]

    brands = catalogue.vocabulary.get("brand", set())
    for m in _NOT_BRAND.finditer(message):
        if brand := _brand_named(m.group(1), brands):
            facets.append(("exclude_brand", brand, f"not {brand}"))
    excluded = {v for k, v, _ in facets if k == "exclude_brand"}
    for m in _ONLY_BRAND.finditer(message):
        if (brand := _brand_named(m.group(1), brands)) and brand not in excluded:
            facets.append(("brand", brand, f"from {brand}"))

    mentioned: list[str] = []
    for m in _LIKE.finditer(message):
        if item := catalogue.find_title(m.group(1)):
            mentioned.append(item.item_id)
            exclude_ids.append(item.item_id)
            facets.append(("like_item", item.title, f"like {item.title}"))
            query_text = f"{query_text}\n{item.text}"

    for key in ("genre", "tag", "spec"):
        for value in _match_vocabulary(message, catalogue.vocabulary.get(key, set())):
            facets.append((key, value, f"{key} {value}"))

    unique: list[tuple[FacetKey, str, str]] = []
    for f in facets:
        if (f[0], f[1]) not in {(u[0], u[1]) for u in unique}:
            unique.append(f)
    return Request(
        message=message,
        query_text=query_text,
        facets=[Facet(handle=f"r{i + 1}", key=k, value=v, label=label) for i, (k, v, label) in enumerate(unique)],
        exclude_ids=sorted(set(exclude_ids)),
        mentioned_item_ids=mentioned or (previous.request.mentioned_item_ids if refining else []),
        notes=notes,
    )


Turn.model_rebuild(_types_namespace={"Request": Request})  # Turn refers to Request; conversation.py can't import it

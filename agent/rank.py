"""Rank: a weighted fusion of signals, each min-max normalised over this request's candidates.

request     cosine(item, request)                      — what the shopper asked for
history     max over liked past items of cosine(item, past item), scaled by the rating
cooccurrence  log(1 + Σ co-occurrence with past items)  — bought by the same users / sold in the same bundles
popularity  log(1 + popularity)                         — a prior, small weight
llm         reciprocal rank in the LLM's own ordering   — only when a ranking template is configured
collab      EASE score from the shopper's past items   — only when given (index/collab.py, weight `collab`)
Ties are broken by a hash of the item id, never by the id itself (it would favour old ASINs)."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from agent.catalogue import Catalogue
from agent.kinds import GAME, ProductKind, animals_asked, for_animals, item_kind, kinds_asked, off_kind
from agent.request import Request
from agent.occasions import occasions_in, off_occasion
from agent.settings import RankWeights
from index.models import Item


@dataclass
class Scored:
    item: Item
    score: float
    signals: dict[str, float] = field(default_factory=dict)


def tie_break(item_id: str) -> int:
    return int.from_bytes(hashlib.sha256(item_id.encode()).digest()[:8], "big")


def _minmax(values: list[float]) -> list[float]:
    lo, hi = min(values, default=0.0), max(values, default=0.0)
    return [0.0 if hi - lo < 1e-12 else (v - lo) / (hi - lo) for v in values]


def history_similarity(candidate_vecs: np.ndarray, past_vecs: np.ndarray, ratings: list[float | None]) -> list[float]:
    """Per candidate: max over past items of cosine × rating weight (5★ → 1, 1★ → 0.2, unknown → 0.8)."""
    if len(past_vecs) == 0 or len(candidate_vecs) == 0:
        return [0.0] * len(candidate_vecs)
    weights = np.array([0.8 if r is None else r / 5.0 for r in ratings])
    return list((candidate_vecs @ past_vecs.T * weights).max(axis=1))


def rank(
    items: list[Item],
    request_similarity: list[float],
    history_sim: list[float],
    past_item_ids: list[str],
    catalogue: Catalogue,
    weights: RankWeights,
    llm_order: list[str] | None = None,
    collab: list[float] | None = None,
) -> list[Scored]:
    co = catalogue.cooccurrence
    raw = {
        "request": request_similarity,
        "history": history_sim,
        "cooccurrence": [math.log1p(sum(co.get(i.item_id, {}).get(p, 0) for p in past_item_ids)) for i in items],
        "popularity": [math.log1p(max(i.popularity, 0.0)) for i in items],
    }
    if collab is not None:
        raw["collab"] = collab
    if llm_order:
        position = {item_id: n for n, item_id in enumerate(llm_order)}
        raw["llm"] = [1.0 / (1 + position[i.item_id]) if i.item_id in position else 0.0 for i in items]
    normalised = {name: _minmax(values) for name, values in raw.items()}
    scored = []
    for n, item in enumerate(items):
        signals = {name: values[n] for name, values in normalised.items()}
        score = sum(getattr(weights, name) * value for name, value in signals.items())
        scored.append(Scored(item=item, score=score, signals=signals))
    return sorted(scored, key=lambda s: (-s.score, tie_break(s.item.item_id)))


# A request that asks for several of one thing: near-duplicates are then what the shopper wants.
_WANTS_VARIANTS = re.compile(r"\b(?:variants?|versions?|designs?|styles?|sizes?|colou?rs?|flavou?rs?|"
                             r"several of|all the|every)\b", re.I)


def title_family(title: str) -> str:
    """A title without its variant part: parentheticals, what follows ":" / " - " / ", ", numbers and plurals
    ("Train Simulator: X Route" and "Train Simulator: Y Route" are one family; so are "IHOP Gift Cards, Multipack
    of 3" and "IHOP Gift Card", "Domino's Pizza Gift Card" and "Dominos Pizza Gift Cards - E-mail Delivery")."""
    base = re.sub(r"\s*[\(\[].*?[\)\]]", " ", title).replace("'", "").replace("’", "")
    base = re.split(r"\s[-–—|]\s|[:,]\s", base)[0]
    words = [w.removesuffix("s") if len(w) > 3 else w for w in re.findall(r"[a-z0-9]+", base.lower())]
    return " ".join(w for w in words if not w.isdigit())


def near_duplicate(a: Item, b: Item) -> bool:
    """The same choice twice: one title family, or one brand at one price (five Amazon tins at $25 are one
    choice), or one product under two ids (same normalised title)."""
    family = title_family(a.title)
    if family and family == title_family(b.title):
        return True
    brand_a, brand_b = a.first("brand"), b.first("brand")
    return (brand_a is not None and brand_b is not None and brand_a.casefold() == brand_b.casefold()
            and a.price is not None and b.price is not None and abs(a.price - b.price) < 0.005)


def requested_kinds(request: Request, mentioned: list[Item]) -> set[str]:
    """The kinds of item the conversation asks for (agent/kinds.py): named in this message or in the carried query
    ("DLC for Terraria", then "cheaper"), or the kind of an item the shopper named ("like the Hotline Miami
    Soundtrack"). The named items' own descriptions, which the query carries, are not the shopper's words."""
    text = request.query_text
    for item in mentioned:
        text = text.replace(item.text, " ")
    return kinds_asked(f"{request.message}\n{text}") | {item_kind(i) for i in mentioned} - {GAME}


# An item whose cosine similarity to the shopper's words is under TOPIC_SHARE of the best candidate's is off the
# request's topic: picked only when too few on-topic ones remain (then in rank order, with a note). The share is
# relative, so words that barely separate items ("Recommend something for me based on my past purchases.": all 50
# candidates are within 0.74 of the best on Gift Cards, 0.6 on Steam) lose nothing to it, and words no item is near
# (best under TOPIC_FLOOR: "a thank you", 0.18) set no topic. Measured on Gift Cards: "something for a coffee lover"
# (best 0.42, Starbucks) keeps 11 candidates (Starbucks, IHOP Coffee, SUBWAY, Panera, …) where the ranker's history
# signal had put an Amazon Snowflake Tin (0.15 of it) among the picks; "something for a movie fan" (Fandango 0.38)
# keeps Fandango and AMC's popcorn card (0.62); "a birthday" (0.35) the six birthday cards.
TOPIC_SHARE = 0.6
TOPIC_FLOOR = 0.3


def topic_closeness(similarity: dict[str, float]) -> dict[str, float] | None:
    """item id -> its similarity to the request over the best candidate's (1.0: the closest); None when no candidate
    is TOPIC_FLOOR close (the words set no topic)."""
    best = max(similarity.values(), default=0.0)
    return {item_id: s / best for item_id, s in similarity.items()} if best >= TOPIC_FLOOR else None


def pick(ranked: list[Scored], k: int, message: str = "", kinds: set[str] | None = None,
         product: ProductKind | None = None, animals: bool | None = None,
         citable: Callable[[Item], bool] | None = None, occasions: set[str] | None = None,
         closeness: dict[str, float] | None = None) -> list[Scored]:
    """The k picks shown, in rank order among the best: first items that are no near-duplicate of a better one, not
    made for another occasion than the one named and of the kind asked for (`kinds`, agent/kinds.py: a game unless
    the shopper named a soundtrack, DLC, software, …; by default read from `message`; `product`: the product an
    Amazon shopper named, "an electric toothbrush"), made for no other occasion than the one asked for (`occasions`;
    by default read from `message`), and not an animal's product unless one was asked for
    (`animals`; by default read from `message`: "a multivitamin" is not the flowerhorn fish's), and on the
    request's topic (`closeness`, from `topic_closeness`: at least TOPIC_SHARE); then, only if too few, the rest in
    rank order, another kind last ("unless nothing else fits"). A request asking for variants
    keeps near-duplicates. Where no candidate is of the kind asked for (an Amazon catalogue has no videos), kind
    is no reason to pass over anything. An item whose data offers nothing a reason could cite (`citable` False: a
    card that can only say "its listing gives no specific detail") comes after every other one."""
    wanted = occasions_in(message) if occasions is None else occasions
    wanted_kinds = kinds_asked(message) if kinds is None else kinds
    if not any(not off_kind(s.item, wanted_kinds) for s in ranked):
        wanted_kinds = {item_kind(s.item) for s in ranked}
    if product is not None and not any(product.matches(s.item) for s in ranked):
        product = None
    pets = animals_asked(message) if animals is None else animals

    def off(s: Scored) -> tuple[bool, bool, bool, bool, bool, bool]:
        """What is wrong with a pick, most serious first: another kind, another product, an animal's, another
        occasion's, nothing to say about it, another topic."""
        return (off_kind(s.item, wanted_kinds), product is not None and not product.matches(s.item),
                not pets and for_animals(s.item), off_occasion(s.item, wanted),
                citable is not None and not citable(s.item),
                closeness is not None and closeness.get(s.item.item_id, 1.0) < TOPIC_SHARE)

    variants = bool(_WANTS_VARIANTS.search(message))
    chosen: list[Scored] = []
    for s in ranked:
        if len(chosen) == k:
            break
        if any(off(s)):
            continue
        if not variants and any(near_duplicate(s.item, c.item) for c in chosen):
            continue
        chosen.append(s)
    if len(chosen) == k:
        return chosen  # the usual case: no need to judge (and sort) every other candidate
    rest = [s for s in ranked if s not in chosen]
    # stable: a duplicate before another topic's item, one with nothing to cite, another occasion's, an animal's,
    # another product, another kind
    rest.sort(key=off)
    return chosen + rest[: k - len(chosen)]

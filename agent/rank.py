"""Rank: a weighted fusion of signals, each min-max normalised over this request's candidates.

request     cosine(item, request)                      — what the shopper asked for
history     max over liked past items of cosine(item, past item), scaled by the rating
cooccurrence  log(1 + Σ co-occurrence with past items)  — bought by the same users / sold in the same bundles
popularity  log(1 + popularity)                         — a prior, small weight
llm         reciprocal rank in the LLM's own ordering   — only when a ranking template is configured
Ties are broken by a hash of the item id, never by the id itself (it would favour old ASINs)."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import numpy as np

from agent.catalogue import Catalogue
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
) -> list[Scored]:
    co = catalogue.cooccurrence
    raw = {
        "request": request_similarity,
        "history": history_sim,
        "cooccurrence": [math.log1p(sum(co.get(i.item_id, {}).get(p, 0) for p in past_item_ids)) for i in items],
        "popularity": [math.log1p(max(i.popularity, 0.0)) for i in items],
    }
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

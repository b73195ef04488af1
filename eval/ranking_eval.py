"""Leave-last-out ranking of one held-out (user, item) pair under two protocols, with every scorer in one pass:

sampled   the positive + `negatives` items the user never touched (seeded hash), as in SASRec/RecLM-eval;
full      every catalogue item the user has not already got (their known items are excluded, as in the chain).

Scorers — all but `random` are agent.rank.rank() itself with signals switched off, so baselines and whyrec differ
only in weights:
random      a seeded hash of (user, item)
popularity  known-interaction count only
embedding   request + history similarity only (MiniLM cosine, the chain's weights for those two)
whyrec      the chain's fusion without the LLM signal (settings.rank, llm weight unused)
whyrec+llm  the chain's fusion with the LLM's own order of whyrec's top candidates (sampled protocol only; needs
            a rank template)
The "request" of a held-out pair is the titles of the user's three most recent known items (HeldOut.request_text).
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from agent.explain import Handles
from agent.rank import history_similarity, rank
from agent.rank_llm import LlmOrder
from agent.settings import RankWeights
from eval.heldout import HeldOut
from eval.metrics import evaluate, metric_names
from eval.split import Pair
from index.models import Item

PROTOCOLS = ("sampled", "full")


def scorer_weights(weights: RankWeights) -> dict[str, RankWeights]:
    off = dict(request=0.0, history=0.0, cooccurrence=0.0, popularity=0.0, llm=0.0)
    return {
        "popularity": RankWeights(**(off | {"popularity": 1.0})),
        "embedding": RankWeights(**(off | {"request": weights.request, "history": weights.history})),
        "whyrec": weights.model_copy(update={"llm": 0.0}),
    }


def position(item_id: str, ordered_ids: list[str]) -> int:
    """1-based rank of `item_id` in the ordering."""
    return ordered_ids.index(item_id) + 1


def random_order(ids: list[str], user_id: str, seed: int) -> list[str]:
    return sorted(ids, key=lambda i: hashlib.sha256(f"{seed}\0random\0{user_id}\0{i}".encode()).digest())


class PairRanking:
    """Every scorer's rank of one held-out pair under both protocols. `row` is what the samples JSONL keeps;
    `shortlist()` is whyrec's top of the sampled candidates, for the LLM to order; `add_llm(order)` fuses that
    order in as `whyrec+llm` (the LLM calls of many pairs are batched by the caller)."""

    def __init__(self, heldout: HeldOut, pair: Pair, request_similarity: dict[str, float],
                 vectors: dict[str, np.ndarray], weights: RankWeights, negatives: int, seed: int):
        catalogue = heldout.catalogue
        self.pair, self.catalogue, self.weights = pair, catalogue, weights
        self.history = heldout.history(pair.user_id)
        self.past_ids = heldout.past_ids(pair.user_id)
        past = [p for p in self.history if p.item.item_id in vectors]
        past_vecs = np.array([vectors[p.item.item_id] for p in past]).reshape(len(past), -1)
        known = set(self.past_ids)
        candidates = {
            "sampled": [pair.item_id] + heldout.negatives(pair, negatives, seed),
            "full": [i for i in catalogue.items if i not in known],
        }
        self.row: dict[str, Any] = {"user_id": pair.user_id, "item_id": pair.item_id, "history_ids": self.past_ids,
                                    "ranks": {}, "n_candidates": {}}
        self.signals: dict[str, tuple] = {}
        self.orders: dict[str, dict[str, list[str]]] = {}
        for protocol, ids in candidates.items():
            items = [catalogue.get(i) for i in ids]
            request = [request_similarity.get(i, 0.0) for i in ids]
            hist = history_similarity(np.array([vectors[i] for i in ids]), past_vecs, [p.rating for p in past])
            self.signals[protocol] = (items, request, hist, self.past_ids, catalogue)
            ranks = {"random": position(pair.item_id, random_order(ids, pair.user_id, seed))}
            orders = self.orders[protocol] = {}
            for scorer, w in scorer_weights(weights).items():
                orders[scorer] = [s.item.item_id for s in rank(*self.signals[protocol], w)]
                ranks[scorer] = position(pair.item_id, orders[scorer])
            self.row["ranks"][protocol] = ranks
            self.row["n_candidates"][protocol] = len(ids)

    def shortlist(self, n: int) -> list[Item]:
        return [self.catalogue.get(i) for i in self.orders["sampled"]["whyrec"][:n]]

    def add_llm(self, shortlist: Handles, preference: LlmOrder) -> None:
        fused = rank(*self.signals["sampled"], self.weights, llm_order=preference.order or None)
        self.row["ranks"]["sampled"]["whyrec+llm"] = position(self.pair.item_id, [s.item.item_id for s in fused])
        self.row["llm"] = {"order": preference.order, "emitted": preference.emitted,
                           "raw_reply": preference.raw_reply, "prompt_hash": preference.prompt_hash,
                           "error": preference.error, "candidate_ids": [i.item_id for i in shortlist.candidates]}


def ranking_metrics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """{protocol: {scorer: {metric: {value, n}}}}, plus the LLM ordering's item-id errors when there is one."""
    ok = [r for r in rows if "error" not in r]
    out: dict[str, Any] = {}
    for protocol in PROTOCOLS:
        scorers = sorted({s for r in ok for s in r["ranks"].get(protocol, {})}, key=_scorer_order)
        out[protocol] = {
            scorer: {name: {"value": s.value, "n": s.n} for name, s in
                     evaluate(metric_names("ranking"), [{"rank": r["ranks"][protocol][scorer]} for r in ok
                                                        if scorer in r["ranks"].get(protocol, {})]).items()}
            for scorer in scorers
        }
    llm_rows = [r for r in ok if "llm" in r]
    if llm_rows:
        examples = [{"emitted_ids": r["llm"]["emitted"], "candidate_ids": r["llm"]["candidate_ids"],
                     "history_ids": r["history_ids"]} for r in llm_rows]
        errors = evaluate(["outside_candidates_rate", "duplicate_rate", "in_history_rate"], examples)
        out["llm_ordering"] = {name: {"value": s.value, "n": s.n} for name, s in errors.items()}
        out["llm_ordering"]["failed_rate"] = {"value": sum(bool(r["llm"]["error"]) for r in llm_rows) / len(llm_rows),
                                              "n": len(llm_rows)}
    return out


def _scorer_order(name: str) -> int:
    order = ["random", "popularity", "embedding", "whyrec", "whyrec+llm"]
    return order.index(name) if name in order else len(order)

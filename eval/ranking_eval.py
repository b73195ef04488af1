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

Peers (eval/peers.py: MostPop, item-kNN, EASE, ALS, BPR, SASRec from implicit and cornac) are trained in the same
run on the same known interactions, each tuned on the validation pairs (full-ranking NDCG@10, trained on history
only) and then retrained on everything known before test; every tried setting, its validation score and the
training time of the final fit go into the cell (`PeerScorers.record`).

The full protocol on Steam ranks 32k games per pair, too many for rank()'s per-item Python objects (about 1 s a
pair). `fused_position` computes the same fusion with numpy — the same signals, min-max normalisation, weights, and
tie-break hash — and tests/test_ranking_fast.py checks it returns rank()'s position. Peers rank the same way: the
positive's position is 1 + the candidates scoring higher + those tied with a smaller tie-break hash (rank()'s order).
"""

from __future__ import annotations

import hashlib
import math
from itertools import product
from typing import Any

import numpy as np

from agent.explain import Handles
from agent.rank import history_similarity, rank, tie_break
from agent.rank_llm import LlmOrder
from agent.settings import RankWeights
from eval.heldout import HeldOut
from eval.metrics import evaluate, metric_names
from index.split import Pair
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


def user_rng(seed: int, role: str, user_id: str) -> np.random.Generator:
    """numpy's generator seeded by sha256(seed, role, user): the same draws in every run, per user."""
    digest = hashlib.sha256(f"{seed}\0{role}\0{user_id}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def random_position(n_candidates: int, user_id: str, seed: int) -> int:
    """The positive's position in a seeded uniform permutation of n candidates, drawn directly (one sha256, not
    one per candidate: 32k per Steam pair cost 0.25 s). Used when there are more than SORT_LIMIT candidates."""
    return int(user_rng(seed, "random", user_id).integers(1, n_candidates + 1))


SORT_LIMIT = 2000  # up to this many candidates, the per-item sha256 orders above; beyond it, numpy's draws


def sample_negatives(heldout: HeldOut, pair: Pair, n: int, seed: int) -> list[str]:
    """n catalogue items the user never touched (any role). Small catalogues: HeldOut.negatives (a sha256 per item,
    the sample earlier runs used); beyond SORT_LIMIT items, a seeded numpy draw from the same pool (0.45 s a
    Steam pair otherwise)."""
    if len(heldout.catalogue.items) <= SORT_LIMIT:
        return heldout.negatives(pair, n, seed)
    seen = heldout._touched.get(pair.user_id, set()) | {pair.item_id}
    pool = [i for i in heldout.catalogue.items if i not in seen]
    chosen = user_rng(seed, "negative", pair.user_id).choice(len(pool), size=min(n, len(pool)), replace=False)
    return [pool[k] for k in sorted(chosen)]


class CatalogueArrays:
    """The catalogue as arrays, built once per cell: ids, unit vectors, tie-break hashes, log popularity."""

    def __init__(self, catalogue, vectors: dict[str, np.ndarray]):
        self.catalogue = catalogue
        self.ids = list(catalogue.items)
        self.index = {i: n for n, i in enumerate(self.ids)}
        dim = len(next(iter(vectors.values()))) if vectors else 0
        self.vectors = np.array([vectors.get(i, np.zeros(dim, dtype=np.float32)) for i in self.ids], dtype=np.float32)
        self.hashes = np.array([tie_break(i) for i in self.ids], dtype=np.uint64)
        self.popularity = np.array([math.log1p(max(catalogue.items[i].popularity, 0.0)) for i in self.ids])

    def positions(self, ids: list[str]) -> np.ndarray:
        return np.array([self.index[i] for i in ids], dtype=np.int64)

    def cooccurrence(self, past_ids: list[str]) -> np.ndarray:
        """log(1 + Σ co-occurrence with the past items), for every catalogue item (co-occurrence is symmetric)."""
        total = np.zeros(len(self.ids))
        co = self.catalogue.cooccurrence
        for p in past_ids:
            for other, count in co.get(p, {}).items():
                if other in self.index:
                    total[self.index[other]] += count
        return np.log1p(total)


def position_of(scores: np.ndarray, hashes: np.ndarray, positive: int) -> int:
    """1-based rank of candidate `positive` when sorted by (-score, tie-break hash), as agent.rank.rank sorts."""
    s = scores[positive]
    ahead = scores > s
    if not np.isnan(s):
        ahead |= (scores == s) & (hashes < hashes[positive])
    return int(ahead.sum()) + 1


def _minmax_array(values: np.ndarray) -> np.ndarray:
    lo, hi = (float(values.min()), float(values.max())) if len(values) else (0.0, 0.0)
    return np.zeros(len(values)) if hi - lo < 1e-12 else (values - lo) / (hi - lo)


def fused_position(arrays: CatalogueArrays, candidates: np.ndarray, positive: int, request: np.ndarray,
                   history: np.ndarray, cooccurrence: np.ndarray, weights: RankWeights,
                   extra: dict[str, tuple[float, np.ndarray]] | None = None) -> int:
    """rank()'s position of candidates[positive], vectorised. `request`, `history`, `cooccurrence` are per
    candidate; `extra` adds signals (name -> (weight, per-candidate values)), min-max normalised like the rest."""
    signals = {"request": request, "history": history, "cooccurrence": cooccurrence,
               "popularity": arrays.popularity[candidates]}
    score = np.zeros(len(candidates))
    for name, values in signals.items():
        score = score + getattr(weights, name) * _minmax_array(np.asarray(values, dtype=np.float64))
    for weight, values in (extra or {}).values():
        score = score + weight * _minmax_array(np.asarray(values, dtype=np.float64))
    return position_of(score, arrays.hashes[candidates], positive)


class PairRanking:
    """Every scorer's rank of one held-out pair under both protocols. `row` is what the samples JSONL keeps;
    `shortlist()` is whyrec's top of the sampled candidates, for the LLM to order; `add_llm(order)` fuses that
    order in as `whyrec+llm` (the LLM calls of many pairs are batched by the caller)."""

    def __init__(self, heldout: HeldOut, pair: Pair, request_similarity: dict[str, float],
                 vectors: dict[str, np.ndarray], weights: RankWeights, negatives: int, seed: int,
                 arrays: CatalogueArrays | None = None, query_vector: np.ndarray | None = None):
        """With `arrays` and `query_vector` the request similarity is the cosine to the query vector (as the
        in-memory retriever computes it) and the full protocol is ranked by `fused_position`."""
        catalogue = heldout.catalogue
        self.pair, self.catalogue, self.weights = pair, catalogue, weights
        self.history = heldout.history(pair.user_id)
        self.past_ids = heldout.past_ids(pair.user_id)
        past = [p for p in self.history if p.item.item_id in vectors]
        past_vecs = np.array([vectors[p.item.item_id] for p in past]).reshape(len(past), -1)
        past_ratings = [p.rating for p in past]
        known = set(self.past_ids)
        self.candidates = {
            "sampled": [pair.item_id] + sample_negatives(heldout, pair, negatives, seed),
            "full": [i for i in catalogue.items if i not in known],
        }
        if arrays is not None and query_vector is not None:
            query = np.asarray(query_vector, dtype=np.float32)
            query = query / (np.linalg.norm(query) or 1.0)
            all_request = np.einsum("ij,j->i", arrays.vectors, query)
            all_co = arrays.cooccurrence(self.past_ids)
        self.row: dict[str, Any] = {"user_id": pair.user_id, "item_id": pair.item_id, "history_ids": self.past_ids,
                                    "ranks": {}, "n_candidates": {}}
        self.signals: dict[str, tuple] = {}
        self.fast: dict[str, tuple] = {}
        self.orders: dict[str, dict[str, list[str]]] = {}
        for protocol, ids in self.candidates.items():
            ranks = {"random": position(pair.item_id, random_order(ids, pair.user_id, seed)) if len(ids) <= SORT_LIMIT
                     else random_position(len(ids), pair.user_id, seed)}
            if arrays is not None and query_vector is not None:
                cand = arrays.positions(ids)
                request = all_request[cand].astype(np.float64)
                hist = np.asarray(history_similarity(arrays.vectors[cand], past_vecs, past_ratings), dtype=np.float64)
                co = all_co[cand]
                self.fast[protocol] = (cand, request, hist, co)  # for fused variants (HybridScorer)
                if protocol == "full":
                    positive = ids.index(pair.item_id)
                    for scorer, w in scorer_weights(weights).items():
                        ranks[scorer] = fused_position(arrays, cand, positive, request, hist, co, w)
                    self.row["ranks"][protocol] = ranks
                    self.row["n_candidates"][protocol] = len(ids)
                    continue
                request = list(request)
            else:
                request = [request_similarity.get(i, 0.0) for i in ids]
            items = [catalogue.get(i) for i in ids]
            hist = history_similarity(np.array([vectors[i] for i in ids]), past_vecs, past_ratings)
            self.signals[protocol] = (items, request, hist, self.past_ids, catalogue)
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
    from eval.peers import PEERS

    order = ["random", "popularity", "embedding", "whyrec", "whyrec+llm", *PEERS]
    return order.index(name) if name in order else len(order)  # whyrec+<peer> last


# -- peers ----------------------------------------------------------------------------------------------------


def peer_train_data(split, target: str):
    """Each user's known items in the split's time order: history, plus validation when predicting test."""
    from eval.peers import TrainData

    sequences = {u: list(items) for u, items in split.history.items()}
    if target == "test":
        for p in split.validation:
            sequences.setdefault(p.user_id, []).append(p.item_id)
    return TrainData(sequences)


def ndcg_at_10(rank_: int) -> float:
    return 1.0 / math.log2(rank_ + 1) if rank_ <= 10 else 0.0


class PeerScorers:
    """The named peers for one HeldOut: each tuned on validation pairs (trained on history only, full ranking,
    NDCG@10 over at most `tune_users` users), then retrained with the best setting on what is known before the
    target. `add(ranking)` puts each peer's rank of the pair into `ranking.row` under both protocols."""

    def __init__(self, heldout: HeldOut, arrays: CatalogueArrays, names: list[str], seed: int,
                 tune_users: int | None = 1000, progress: bool = False):
        from eval.peers import get_peer, train

        self.arrays, self.seed = arrays, seed
        split = heldout.split
        val_data = peer_train_data(split, "validation")
        target_data = peer_train_data(split, heldout.target)
        val_pairs = sorted(split.validation, key=lambda p: p.user_id)[:tune_users]
        self.peers: dict[str, Any] = {}
        self.columns: dict[str, np.ndarray] = {}
        self.record: dict[str, Any] = {}
        for name in names:
            spec = get_peer(name)
            tried = []
            for params in spec.configs():
                peer, seconds = train(name, val_data, params, seed)
                ndcg = float(np.mean([ndcg_at_10(r) for r in self._full_ranks(peer, val_data, val_pairs)]))
                tried.append({"params": params, "validation_ndcg@10": round(ndcg, 5),
                              "train_seconds": round(seconds, 2)})
                if progress:
                    print(f"  {name} {params}: validation NDCG@10 {ndcg:.4f} ({seconds:.1f} s)", flush=True)
            best = max(tried, key=lambda t: t["validation_ndcg@10"])  # first of equals: the grid's order
            peer, seconds = train(name, target_data, best["params"], seed)
            self.peers[name] = peer
            self.columns[name] = arrays.positions(target_data.items)
            self.record[name] = {"library": spec.make.library, "params": best["params"],
                                 "validation_ndcg@10": best["validation_ndcg@10"], "train_seconds": round(seconds, 2),
                                 "train_users": len(target_data.users), "train_items": len(target_data.items),
                                 "tuned_on_users": len(val_pairs), "tuning": tried}

    def catalogue_scores(self, name: str, user_ids: list[str]) -> np.ndarray:
        """(users x catalogue) scores; items the peer never saw are -inf."""
        out = np.full((len(user_ids), len(self.arrays.ids)), -np.inf)
        out[:, self.columns[name]] = self.peers[name].scores(user_ids)
        return out

    def _full_ranks(self, peer, data, pairs: list[Pair]) -> list[int]:
        columns = self.arrays.positions(data.items)
        ranks = []
        for start in range(0, len(pairs), 256):
            batch = pairs[start: start + 256]
            scores = np.full((len(batch), len(self.arrays.ids)), -np.inf)
            scores[:, columns] = peer.scores([p.user_id for p in batch])
            for row, pair in zip(scores, batch):
                ranks.append(self._position_excluding(row, data.sequences.get(pair.user_id, []), pair.item_id))
        return ranks

    def _position_excluding(self, scores: np.ndarray, known: list[str], item_id: str) -> int:
        """Full protocol: every catalogue item but the user's known ones is a candidate."""
        keep = np.ones(len(scores), dtype=bool)
        if known:
            keep[self.arrays.positions(known)] = False
        positive = self.arrays.index[item_id]
        before = int(keep[:positive].sum())
        return position_of(scores[keep], self.arrays.hashes[keep], before)

    def add(self, ranking: PairRanking) -> None:
        pair = ranking.pair
        sampled = self.arrays.positions(ranking.candidates["sampled"])
        for name in self.peers:
            scores = self.catalogue_scores(name, [pair.user_id])[0]
            ranking.row["ranks"]["sampled"][name] = position_of(scores[sampled], self.arrays.hashes[sampled], 0)
            ranking.row["ranks"]["full"][name] = self._position_excluding(scores, ranking.past_ids, pair.item_id)


class HybridScorer:
    """`whyrec+<peer>`: whyrec's fusion (request, history, co-occurrence, popularity) plus the min-max normalised
    scores of the peer with the best validation NDCG@10 as a `collab` signal — what the chain runs with
    WHYREC_RANK_COLLAB > 0 (index/collab.py). All five weights are chosen together on validation pairs (known =
    history only, the peer retrained on history only, full ranking, NDCG@10); test pairs never touch the choice.
    The record keeps the best setting with collab = 0 too: how much a re-weighted whyrec gets without the peer."""

    GRID = {"request": (0.0, 0.25, 1.0), "history": (0.0, 0.5), "cooccurrence": (0.0, 0.3, 1.0),
            "popularity": (0.1, 1.0, 3.0, 10.0), "collab": (0.0, 1.0, 4.0, 16.0)}

    def __init__(self, heldout: HeldOut, peers: PeerScorers, vectors: dict[str, np.ndarray], weights: RankWeights,
                 negatives: int, seed: int, tune_users: int = 300):
        from eval.peers import train
        from index.embed import encode_query

        self.peers = peers
        self.peer = max(peers.record, key=lambda n: peers.record[n]["validation_ndcg@10"])
        self.name = f"whyrec+{self.peer}"
        val = HeldOut(dataset=heldout.dataset, split=heldout.split, target="validation")
        val_arrays = CatalogueArrays(val.catalogue, vectors)
        val_data = peer_train_data(heldout.split, "validation")
        val_peer, _ = train(self.peer, val_data, peers.record[self.peer]["params"], seed)
        columns = val_arrays.positions(val_data.items)
        cases = []  # (normalised signals 5 x n, tie hashes, positive)
        for pair in val.pairs[:tune_users]:
            ranking = PairRanking(val, pair, {}, vectors, weights, negatives, seed, arrays=val_arrays,
                                  query_vector=encode_query(val.request_text(pair.user_id)))
            cand, request, hist, co = ranking.fast["full"]
            scores = np.full(len(val_arrays.ids), -np.inf)
            scores[columns] = val_peer.scores([pair.user_id])[0]
            signals = [request, hist, co, val_arrays.popularity[cand], _finite(scores[cand])]
            cases.append((np.vstack([_minmax_array(np.asarray(v, dtype=np.float64)) for v in signals]),
                          val_arrays.hashes[cand], ranking.candidates["full"].index(pair.item_id)))
        names = list(self.GRID)
        table = []
        for combo in product(*(self.GRID[n] for n in names)):
            w = np.array(combo)
            ndcg = float(np.mean([ndcg_at_10(position_of(w @ norm, hashes, positive))
                                  for norm, hashes, positive in cases])) if cases else 0.0
            table.append((ndcg, dict(zip(names, combo))))
        best = max(table, key=lambda t: t[0])  # first of equals: the grid's order
        no_collab = max((t for t in table if t[1]["collab"] == 0.0), key=lambda t: t[0])
        default = dict(zip(names, (weights.request, weights.history, weights.cooccurrence, weights.popularity, 0.0)))
        self.weights = RankWeights(**{k: v for k, v in best[1].items()}, llm=0.0)
        self.weight = best[1]["collab"]
        self.record = {"peer": self.peer, "weights": best[1], "validation_ndcg@10": round(best[0], 5),
                       "best_without_collab": {"weights": no_collab[1], "validation_ndcg@10": round(no_collab[0], 5)},
                       "default_weights": default, "tuned_on_users": len(cases), "settings_tried": len(table)}

    def add(self, ranking: PairRanking) -> None:
        scores = self.peers.catalogue_scores(self.peer, [ranking.pair.user_id])[0]
        for protocol, (cand, request, hist, co) in ranking.fast.items():
            positive = ranking.candidates[protocol].index(ranking.pair.item_id)
            ranking.row["ranks"][protocol][self.name] = fused_position(
                self.peers.arrays, cand, positive, np.asarray(request), hist, co, self.weights,
                {"collab": (self.weight, _finite(scores[cand]))})


def _finite(values: np.ndarray) -> np.ndarray:
    """-inf (an item the peer never saw) becomes the lowest finite score: last, not NaN, after min-max."""
    finite = values[np.isfinite(values)]
    return np.where(np.isfinite(values), values, finite.min() if len(finite) else 0.0)


def interacted_only(heldout: HeldOut) -> HeldOut:
    """The same split with the item set cut to items at least one user interacted with (any role of the split):
    on Steam the 3,195 reviewed games instead of 32,131, the item set of the Steam recommender literature. Games
    nobody reviewed are never a positive and no collaborative model can place them; they stay out of both
    protocols' candidates."""
    reviewed = {i.item_id for i in heldout.dataset.interactions}
    items = [item for item in heldout.dataset.items if item.item_id in reviewed]
    return HeldOut(dataset=heldout.dataset.model_copy(update={"items": items}), split=heldout.split,
                   target=heldout.target)

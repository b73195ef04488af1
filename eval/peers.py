"""Peer recommenders from maintained libraries, registered by name, trained and scored the same way for every
dataset, so whyrec's ranker is compared with what a practitioner would actually run — not with our re-implementation.

name        library                                         what it is
mostpop     cornac.models.MostPop                          interaction count (ranking_eval's own `popularity`
                                                           scorer is rank() with popularity alone: the two agree)
itemknn     implicit.nearest_neighbours.CosineRecommender  item-item cosine over the user x item matrix
ease        cornac.models.EASE                             Steck 2019, closed-form item-item regression
als         implicit.als.AlternatingLeastSquares           Hu/Koren/Volinsky implicit MF
bpr         implicit.bpr.BayesianPersonalizedRanking       Rendle 2009 pairwise MF
sasrec      cornac.models.SASRec                           Kang & McAuley 2018 self-attentive sequential model (torch,
                                                           the CPU build the project already pins; no new torch)

Every review is one implicit interaction (a "not recommended" game is still a game the user chose to play and
review; peers are trained on it as the literature does, and so is whyrec's collaborative signal). The libraries only
train; the scores are read back from what they learned (factors, similarity, EASE's B, SASRec's `score`) for the
users and items of `TrainData`. Items the training data never saw score -inf: no peer can rank a game nobody
reviewed, and the evaluation breaks those ties by the same hash as every other scorer.

Threads: implicit and torch are pinned to one thread (`single_thread`), as the machine is shared.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import product
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix


def single_thread() -> None:
    """One BLAS/OpenMP thread for every library here (implicit warns otherwise, and others share the CPU)."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # threadpoolctl comes with scikit-learn / implicit; without it the env vars still apply
        pass
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


@dataclass
class TrainData:
    """What a peer may learn from: each user's known items in time order (oldest first)."""

    sequences: dict[str, list[str]]
    users: list[str] = field(init=False)
    items: list[str] = field(init=False)
    user_index: dict[str, int] = field(init=False)
    item_index: dict[str, int] = field(init=False)
    matrix: csr_matrix = field(init=False)

    def __post_init__(self) -> None:
        self.users = sorted(u for u, seq in self.sequences.items() if seq)
        self.items = sorted({i for seq in self.sequences.values() for i in seq})
        self.user_index = {u: n for n, u in enumerate(self.users)}
        self.item_index = {i: n for n, i in enumerate(self.items)}
        rows, cols = [], []
        for u in self.users:
            for i in dict.fromkeys(self.sequences[u]):
                rows.append(self.user_index[u])
                cols.append(self.item_index[i])
        self.matrix = csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)),
                                 shape=(len(self.users), len(self.items)))

    def triples(self) -> list[tuple[str, str, float]]:
        return [(u, i, 1.0) for u in self.users for i in dict.fromkeys(self.sequences[u])]


class Peer:
    """A trained peer. `scores(users)` is (len(users) x len(data.items)), higher = better; users unknown to the
    training data get a row of -inf (never the case in the evaluation: every evaluated user has a history)."""

    name = ""
    library = ""

    def __init__(self, **params: Any):
        self.params = params
        self.data: TrainData | None = None

    def fit(self, data: TrainData, seed: int = 0) -> Peer:
        self.data = data
        self._fit(data, seed)
        return self

    def _fit(self, data: TrainData, seed: int) -> None:
        raise NotImplementedError

    def scores(self, users: list[str]) -> np.ndarray:
        assert self.data is not None, "fit first"
        out = np.full((len(users), len(self.data.items)), -np.inf, dtype=np.float64)
        known = [(n, self.data.user_index[u]) for n, u in enumerate(users) if u in self.data.user_index]
        if known:
            rows, idx = zip(*known)
            out[list(rows)] = self._scores(np.array(idx))
        return out

    def _scores(self, user_idx: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class _Cornac(Peer):
    library = "cornac"

    def _model(self, seed: int):
        raise NotImplementedError

    def _fit(self, data: TrainData, seed: int) -> None:
        from cornac.data import Dataset

        train = Dataset.from_uir(data.triples(), seed=seed)
        self.model = self._model(seed).fit(train)
        # our item order -> cornac's column
        self._columns = np.array([train.iid_map[i] for i in data.items])
        self._rows = np.array([train.uid_map[u] for u in data.users])

    def _scores(self, user_idx: np.ndarray) -> np.ndarray:
        return np.vstack([np.asarray(self.model.score(int(self._rows[u])), dtype=np.float64).ravel()[self._columns]
                          for u in user_idx])


class MostPop(_Cornac):
    name = "mostpop"

    def _model(self, seed: int):
        from cornac.models import MostPop

        return MostPop()


class Ease(_Cornac):
    name = "ease"

    def _model(self, seed: int):
        from cornac.models import EASE

        return EASE(lamb=float(self.params.get("lamb", 500.0)), posB=bool(self.params.get("posB", True)),
                    seed=seed, verbose=False)


class _ImplicitMF(Peer):
    library = "implicit"

    def _fit(self, data: TrainData, seed: int) -> None:
        self.model = self._model(seed)
        self.model.fit(data.matrix, show_progress=False)

    def _scores(self, user_idx: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.user_factors[user_idx] @ self.model.item_factors.T, dtype=np.float64)


class Als(_ImplicitMF):
    name = "als"

    def _model(self, seed: int):
        from implicit.als import AlternatingLeastSquares

        p = self.params
        model = AlternatingLeastSquares(factors=int(p.get("factors", 64)), regularization=float(p.get("reg", 0.01)),
                                        alpha=float(p.get("alpha", 1.0)), iterations=int(p.get("iterations", 15)),
                                        random_state=seed, num_threads=1)
        return model


class Bpr(_ImplicitMF):
    name = "bpr"

    def _model(self, seed: int):
        from implicit.bpr import BayesianPersonalizedRanking

        p = self.params
        return BayesianPersonalizedRanking(factors=int(p.get("factors", 64)), learning_rate=float(p.get("lr", 0.01)),
                                           regularization=float(p.get("reg", 0.01)),
                                           iterations=int(p.get("iterations", 100)), random_state=seed,
                                           num_threads=1)


class ItemKnn(Peer):
    name = "itemknn"
    library = "implicit"

    def _fit(self, data: TrainData, seed: int) -> None:
        from implicit.nearest_neighbours import CosineRecommender

        self.model = CosineRecommender(K=int(self.params.get("K", 100)), num_threads=1)
        self.model.fit(data.matrix, show_progress=False)
        self.model.similarity = self.model.similarity.tocsr()

    def _scores(self, user_idx: np.ndarray) -> np.ndarray:
        assert self.data is not None
        # implicit's recommend() is this product: the user's items times the learned item-item similarity
        return np.asarray((self.data.matrix[user_idx] @ self.model.similarity).todense(), dtype=np.float64)


class SasRec(Peer):
    name = "sasrec"
    library = "cornac"

    def _fit(self, data: TrainData, seed: int) -> None:
        from cornac.data import SequentialDataset
        from cornac.models import SASRec

        rows = [(u, i, t) for u in data.users for t, i in enumerate(data.sequences[u])]
        train = SequentialDataset.build(rows, fmt="SIT", seed=seed)
        p = self.params
        self.model = SASRec(embedding_dim=int(p.get("dim", 32)), n_epochs=int(p.get("epochs", 10)),
                            max_len=int(p.get("max_len", 10)), num_blocks=int(p.get("blocks", 1)),
                            dropout=float(p.get("dropout", 0.2)), learning_rate=float(p.get("lr", 0.001)),
                            batch_size=512, n_sample=int(p.get("n_sample", 256)), seed=seed, verbose=False)
        self.model.fit(train)
        self._iid = train.iid_map
        self._columns = np.array([train.iid_map[i] for i in data.items])

    def _scores(self, user_idx: np.ndarray) -> np.ndarray:
        assert self.data is not None
        out = []
        for u in user_idx:
            history = [self._iid[i] for i in self.data.sequences[self.data.users[u]]]
            out.append(np.asarray(self.model.score(None, history), dtype=np.float64)[self._columns])
        return np.vstack(out)


@dataclass(frozen=True)
class PeerSpec:
    name: str
    make: Callable[..., Peer]
    grid: dict[str, list[Any]]  # tuned on validation; the first value of each is the default

    def configs(self) -> list[dict[str, Any]]:
        keys = list(self.grid)
        return [dict(zip(keys, values)) for values in product(*(self.grid[k] for k in keys))] or [{}]


PEERS: dict[str, PeerSpec] = {}


def register(spec: PeerSpec) -> PeerSpec:
    if spec.name in PEERS:
        raise ValueError(f"peer {spec.name!r} is registered twice")
    PEERS[spec.name] = spec
    return spec


register(PeerSpec("mostpop", MostPop, {}))
register(PeerSpec("itemknn", ItemKnn, {"K": [20, 100, 500]}))
register(PeerSpec("ease", Ease, {"lamb": [50.0, 200.0, 500.0, 2000.0]}))
# Grids: a first pass on Steam validation (factors 32/128, reg 0.01/1, alpha 1/10; BPR lr 0.01/0.05) put the best
# ALS at the smallest factors and the largest reg and alpha, and BPR at lr 0.01, so the grids below reach past them.
register(PeerSpec("als", Als, {"factors": [16, 32], "reg": [1.0, 10.0], "alpha": [10.0, 40.0]}))
register(PeerSpec("bpr", Bpr, {"factors": [64, 128], "lr": [0.005, 0.01], "iterations": [100]}))
# SASRec: one setting (13 s an epoch on one busy core for Steam; a grid would not fit a 10-minute run).
register(PeerSpec("sasrec", SasRec, {"dim": [32], "epochs": [6]}))


def get_peer(name: str) -> PeerSpec:
    if name not in PEERS:
        raise KeyError(f"unknown peer {name!r}; known: {', '.join(PEERS)}")
    return PEERS[name]


def train(name: str, data: TrainData, params: dict[str, Any] | None = None, seed: int = 0) -> tuple[Peer, float]:
    """The fitted peer and its training time in seconds."""
    single_thread()
    started = time.perf_counter()
    peer = get_peer(name).make(**(params or {})).fit(data, seed)
    return peer, time.perf_counter() - started

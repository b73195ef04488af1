"""The collaborative signal for whyrec's ranker: EASE (Steck 2019), trained with cornac when a dataset is indexed and
stored beside the Chroma index (`<home>/collab/<dataset>.npz`: the item ids, EASE's item-item matrix B, and the
fingerprint of the files it was trained on).

Why EASE: it had the best validation NDCG@10 among the peers (eval/peers.py) on Steam and Gift Cards, and its
score needs no user factor: a shopper's score for item j is Σ over their past items p of B[p, j] (EASE's x_u·B), so a
user the model never saw, or a history named in the chat, is scored without retraining. A game every past item is
silent about scores 0; games outside the training items score 0 too (the ranker min-max normalises the signal).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from index.models import Dataset

# EASE's L2 weight per dataset, the value chosen on the validation split by eval/grids/peers-ranking.yaml.
LAMBDA = {"steam": 50.0, "amazon2018_gift_cards": 500.0}
DEFAULT_LAMBDA = 500.0


def collab_path(home: Path, dataset_name: str) -> Path:
    return Path(home) / "collab" / f"{dataset_name}.npz"


def train_ease(dataset: Dataset, lamb: float | None = None, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """(item ids, B) from every interaction of the dataset, each (user, item) once."""
    from cornac.data import Dataset as CornacDataset
    from cornac.models import EASE

    triples = list(dict.fromkeys((i.user_id, i.item_id, 1.0) for i in dataset.interactions))
    train = CornacDataset.from_uir(triples, seed=seed)
    model = EASE(lamb=LAMBDA.get(dataset.name, DEFAULT_LAMBDA) if lamb is None else lamb, posB=True, seed=seed,
                 verbose=False).fit(train)
    items = list(train.iid_map)  # cornac's column order
    return items, np.asarray(model.B, dtype=np.float32)


def build_collab(dataset: Dataset, home: Path, fingerprint: str) -> dict:
    """Train and store the dataset's collaborative model; {} for a dataset without interactions."""
    if not dataset.interactions:
        return {}
    started = time.perf_counter()
    items, weights = train_ease(dataset)
    path = collab_path(home, dataset.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, items=np.array(items), weights=weights, fingerprint=np.array(fingerprint))
    load_collab.cache_clear()
    return {"model": "cornac EASE", "items": len(items), "seconds": round(time.perf_counter() - started, 2)}


@dataclass
class Collab:
    items: dict[str, int]
    weights: np.ndarray
    fingerprint: str

    def scores(self, past_ids: list[str], candidate_ids: list[str]) -> list[float]:
        """Σ_p B[p, candidate] over the past items the model knows; 0 for unknown candidates."""
        rows = [self.items[p] for p in dict.fromkeys(past_ids) if p in self.items]
        if not rows:
            return [0.0] * len(candidate_ids)
        total = self.weights[rows].sum(axis=0)
        return [float(total[self.items[c]]) if c in self.items else 0.0 for c in candidate_ids]


@lru_cache(maxsize=4)
def load_collab(home: Path, dataset_name: str) -> Collab | None:
    """The stored model, or None when the dataset was indexed without one (then the ranker has no collab signal)."""
    path = collab_path(home, dataset_name)
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as data:
        items = [str(i) for i in data["items"]]
        return Collab(items={i: n for n, i in enumerate(items)}, weights=data["weights"],
                      fingerprint=str(data["fingerprint"]))

"""The held-out pairs of one dataset and what a model may know when predicting them.

Everything the recommender sees during evaluation is rebuilt from `known_interactions` (index/split.py): the user's
past items, item popularity and co-occurrence. The Chroma history collection holds every interaction, held-out
ones included, so evaluation never reads it; the chain is given the known history instead.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from agent.catalogue import Catalogue
from agent.schemas import PastItem
from eval.metrics.features import feature_vocabulary
from index.models import Dataset, Interaction
from index.split import Pair, Split, get_split, known_interactions


def _hash(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("\0".join(map(str, parts)).encode()).digest()[:8], "big")


@dataclass
class HeldOut:
    dataset: Dataset
    split: Split
    target: str = "test"

    @cached_property
    def known(self) -> list[Interaction]:
        return known_interactions(self.dataset, self.split, self.target)

    @cached_property
    def catalogue(self) -> Catalogue:
        """The catalogue as known before the held-out interactions: popularity recounted from known interactions
        (the loader's count includes the held-out ones), co-occurrence from known interactions only."""
        items = self.dataset.items
        if self.dataset.interactions:
            counts = Counter(i.item_id for i in self.known)
            items = [it.model_copy(update={"popularity": float(counts.get(it.item_id, 0))}) for it in items]
        known = self.dataset.model_copy(update={"items": items, "interactions": self.known})
        return Catalogue(known)

    @cached_property
    def pairs(self) -> list[Pair]:
        return sorted(self.split.test if self.target == "test" else self.split.validation, key=lambda p: p.user_id)

    @cached_property
    def _latest(self) -> dict[tuple[str, str], Interaction]:
        latest: dict[tuple[str, str], Interaction] = {}
        for it in self.dataset.interactions:
            key = (it.user_id, it.item_id)
            if key not in latest or it.timestamp >= latest[key].timestamp:
                latest[key] = it
        return latest

    @cached_property
    def _past_ids(self) -> dict[str, list[str]]:
        """user -> known item ids, oldest first, in the split's order."""
        past: dict[str, list[str]] = defaultdict(list)
        for user_id, items in self.split.history.items():
            past[user_id].extend(items)
        if self.target == "test":
            for p in self.split.validation:
                past[p.user_id].append(p.item_id)
        return dict(past)

    def past_ids(self, user_id: str) -> list[str]:
        return self._past_ids.get(user_id, [])

    def history(self, user_id: str) -> list[PastItem]:
        """The user's known items, most recent first (what the chain shows the model, capped by max_history)."""
        out = []
        for item_id in reversed(self.past_ids(user_id)):
            item = self.catalogue.get(item_id)
            if item is not None:
                rating = self._latest.get((user_id, item_id))
                out.append(PastItem(item=item, rating=rating.rating if rating else None))
        return out

    @cached_property
    def _touched(self) -> dict[str, set[str]]:
        """user -> every item they interacted with, in any role of the split."""
        touched: dict[str, set[str]] = defaultdict(set)
        for it in self.dataset.interactions:
            touched[it.user_id].add(it.item_id)
        return dict(touched)

    def review(self, pair: Pair) -> str:
        it = self._latest.get((pair.user_id, pair.item_id))
        return it.review if it else ""

    @cached_property
    def features(self) -> dict[str, str]:
        return feature_vocabulary(self.catalogue.vocabulary)

    def request_text(self, user_id: str, n_titles: int = 3) -> str:
        """The ranking query for a held-out pair: the titles of the user's most recent known items (as the chain
        builds its query when a message names nothing). Never the held-out review, which would leak the answer."""
        titles = [p.item.title for p in self.history(user_id)[:n_titles]]
        return " ".join(titles) or self.catalogue.name.replace("_", " ")

    def negatives(self, pair: Pair, n: int, seed: int) -> list[str]:
        """n items the user never interacted with (any role), chosen by a seeded hash: the same for every run."""
        seen = self._touched.get(pair.user_id, set()) | {pair.item_id}
        pool = [i for i in self.catalogue.items if i not in seen]
        return sorted(pool, key=lambda i: _hash(seed, "negative", pair.user_id, i))[:n]


def load_heldout(dataset_name: str, data_dir: Path, seed: int = 0, target: str = "test") -> HeldOut:
    from index.loaders import load_dataset

    dataset = load_dataset(dataset_name, data_dir)
    return HeldOut(dataset=dataset, split=get_split(dataset, data_dir, seed), target=target)

"""The in-memory view of one dataset the chain needs besides vector search: raw items for verification, the
attribute vocabulary for understanding requests and checking reason text, and co-occurrence counts for ranking."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from functools import cached_property
from itertools import combinations

from index.models import Dataset, Item

# Attribute keys whose values name things a reason's text could wrongly claim (checked by the verifier) and a
# request could ask for (matched by `understand`).
VOCABULARY_KEYS = ("brand", "category", "genre", "tag", "spec", "developer", "publisher", "flavor", "material",
                   "item_form", "color", "diet_type")


def normalise(text: str) -> str:
    """Lower-case alphanumerics only, words separated by one space: "Co-op" and "co op" both become "co op"."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def squash(text: str) -> str:
    """Like `normalise` without spaces, so "co-op", "coop" and "Co op" meet."""
    return normalise(text).replace(" ", "")


class Catalogue:
    def __init__(self, dataset: Dataset):
        self.name = dataset.name
        self.items: dict[str, Item] = {item.item_id: item for item in dataset.items}
        self._interactions = dataset.interactions
        self._bundles = dataset.bundles

    def get(self, item_id: str) -> Item | None:
        return self.items.get(item_id)

    @cached_property
    def vocabulary(self) -> dict[str, set[str]]:
        """key -> every value that key takes anywhere in the catalogue."""
        vocab: dict[str, set[str]] = defaultdict(set)
        for item in self.items.values():
            for key, value in item.attributes:
                if key in VOCABULARY_KEYS:
                    vocab[key].add(value)
        return dict(vocab)

    @cached_property
    def _by_title(self) -> dict[str, str]:
        """normalised title -> item id (most popular item wins a clash)."""
        titles: dict[str, str] = {}
        for item in sorted(self.items.values(), key=lambda i: i.popularity):
            titles[normalise(item.title)] = item.item_id
        return titles

    def find_title(self, text: str) -> Item | None:
        """The item whose title the text names, exactly (after normalisation) or as the longest title prefix."""
        wanted = normalise(text)
        if not wanted:
            return None
        if wanted in self._by_title:
            return self.items[self._by_title[wanted]]
        for n_words in range(len(wanted.split()), 0, -1):
            head = " ".join(wanted.split()[:n_words])
            if head in self._by_title:
                return self.items[self._by_title[head]]
        return None

    @cached_property
    def cooccurrence(self) -> dict[str, Counter[str]]:
        """item -> Counter of items seen with it: by the same user, or in the same bundle."""
        together: dict[str, Counter[str]] = defaultdict(Counter)
        groups: list[set[str]] = [set(b.item_ids) for b in self._bundles]
        by_user: dict[str, set[str]] = defaultdict(set)
        for it in self._interactions:
            by_user[it.user_id].add(it.item_id)
        groups.extend(by_user.values())
        for group in groups:
            if len(group) > 200:  # a giant bundle says little about any pair and costs O(n^2)
                continue
            for a, b in combinations(sorted(group), 2):
                together[a][b] += 1
                together[b][a] += 1
        return dict(together)

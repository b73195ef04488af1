"""The in-memory view of one dataset the chain needs besides vector search: raw items for verification, the
attribute vocabulary for understanding requests and checking reason text, and co-occurrence counts for ranking."""

from __future__ import annotations

from collections import Counter, defaultdict
from functools import cached_property
from itertools import combinations

from agent.text_quality import VACUOUS_SHARE, value_frequencies, value_share
from agent.text_quality import normalise as normalise  # re-exported: the vocabulary's text keys
from agent.text_quality import squash as squash
from index.attributes import VOCABULARY
from index.models import Dataset, Item

VOCABULARY_KEYS = VOCABULARY  # re-exported: the names a reason could wrongly claim or a request ask for


class Catalogue:
    def __init__(self, dataset: Dataset):
        self.name = dataset.name
        self.items: dict[str, Item] = {item.item_id: item for item in dataset.items}
        self._interactions = dataset.interactions
        self._bundles = dataset.bundles

    def get(self, item_id: str) -> Item | None:
        return self.items.get(item_id)

    @cached_property
    def stats(self) -> "ValueStats":
        """Value frequencies and the rating scale (see ValueStats)."""
        return ValueStats(list(self.items.values()),
                          [i.rating for i in self._interactions if i.rating is not None])

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


# Feature bullets are free text: one repeated on even a few percent of items is boilerplate ("No returns and no
# refunds on Gift Cards", "Gift card has no fees and no expiration date"), not a trait of this item.
BOILERPLATE_FEATURE_SHARE = 0.05


class ValueStats:
    """How common each attribute value is in one catalogue, and how its shoppers rate: the yardsticks for
    "specific" (a rare value tells the shopper something) and "liked" (a past item worth citing). Frequencies and
    the vacuous threshold are agent/text_quality's, so the chain enforces what the evaluation measures."""

    def __init__(self, items: list[Item], ratings: list[float]):
        self._frequencies = value_frequencies(items)
        # Steam ratings are 1.0 (recommended) / 0.0 (not); Amazon's are 1-5 stars. The largest rating tells which.
        self.binary_ratings = bool(ratings) and max(ratings) <= 1.0

    def share(self, key: str, value: str) -> float:
        """Fraction of the catalogue's items that have this value (0 for a value no item has)."""
        return value_share(self._frequencies, key, value)

    def vacuous(self, key: str, value: str) -> bool:
        """True when the value is too common to tell the shopper anything about this item (a boilerplate
        feature bullet at a lower bar)."""
        limit = BOILERPLATE_FEATURE_SHARE if key == "feature" else VACUOUS_SHARE
        return self.share(key, value) >= limit

    def liked(self, rating: float | None) -> bool:
        """Whether a past item may be cited as "like X": never one rated ≤ 2★ (3★ is no endorsement either) or a
        Steam game not recommended (0.0). No rating (a game played, an item the shopper named) counts as liked."""
        if rating is None:
            return True
        return rating >= 1.0 if self.binary_ratings else rating >= 4.0

    def rating_words(self, rating: float | None) -> str:
        """How the shopper's own rating reads in a sentence: "you rated 5★", "you recommended"."""
        if rating is None:
            return "from your history"
        if self.binary_ratings:
            return "you recommended" if rating >= 1.0 else "you did not recommend"
        return f"you rated {rating:g}★"

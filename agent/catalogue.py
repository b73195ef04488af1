"""The in-memory view of one dataset the chain needs besides vector search: raw items for verification, the
attribute vocabulary for understanding requests and checking reason text, co-occurrence counts for ranking and for
"the choice of 4 shoppers who had your X", and the reviews quotes come from. The service builds it from the index
alone (`from_index`), never from the data files."""

from __future__ import annotations

import copy
from collections import Counter, defaultdict
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING

from agent.text_quality import VACUOUS_SHARE, value_frequencies, value_share
from agent.text_quality import normalise as normalise  # re-exported: the vocabulary's text keys
from agent.text_quality import squash as squash
from index.attributes import REQUESTED, VOCABULARY
from index.catalogue_data import CatalogueData, catalogue_data
from index.models import Dataset, Interaction, Item, LoadReport

if TYPE_CHECKING:
    from index.retrieve import Retriever

VOCABULARY_KEYS = VOCABULARY  # re-exported: the names a reason could wrongly claim or a request ask for


class Catalogue:
    def __init__(self, dataset: Dataset, data: CatalogueData | None = None):
        """`dataset`'s items; co-occurrence, rating scale and reviews from `data` when given (what `whyrec index`
        stored), else computed from the dataset's interactions and bundles. Items keep the data files' order."""
        self._data = catalogue_data(dataset) if data is None else data
        order = {item_id: n for n, item_id in enumerate(self._data.item_ids)}
        items = sorted(dataset.items, key=lambda item: order.get(item.item_id, len(order)))
        self.name = dataset.name
        self.items: dict[str, Item] = {item.item_id: item for item in items}
        self.reviews: list[Interaction] = self._data.reviews  # those with text and a rating

    @classmethod
    def from_index(cls, retriever: Retriever) -> Catalogue:
        """From the index alone: the items from Chroma, the rest from what `whyrec index` stored beside it (raises
        IndexNotBuilt when that is missing or belongs to other input files)."""
        data = retriever.catalogue_data()
        name = retriever.dataset
        return cls(Dataset(name=name, items=retriever.all_items(), report=LoadReport(dataset=name)), data)

    def get(self, item_id: str) -> Item | None:
        return self.items.get(item_id)

    @cached_property
    def stats(self) -> "ValueStats":
        """Value frequencies and the rating scale (see ValueStats)."""
        return ValueStats(list(self.items.values()), self._data.max_rating, self._data.shoppers_together)

    @cached_property
    def vocabulary(self) -> dict[str, set[str]]:
        """key -> every value that key takes anywhere in the catalogue, for the names a reason could wrongly claim
        or a shopper ask for (a delivery, a packaging: not features the evaluation counts)."""
        vocab: dict[str, set[str]] = defaultdict(set)
        keys = {*VOCABULARY_KEYS, *REQUESTED}
        for item in self.items.values():
            for key, value in item.attributes:
                if key in keys:
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

    @property
    def cooccurrence(self) -> dict[str, Counter[str]]:
        """item -> Counter of items seen with it: by the same user, or in the same bundle."""
        return self._data.cooccurrence


# Feature bullets are free text: one repeated on even a few percent of items is boilerplate ("No returns and no
# refunds on Gift Cards", "Gift card has no fees and no expiration date"), not a trait of this item.
BOILERPLATE_FEATURE_SHARE = 0.05


# Price and maker are rare values (nearly every price is unique) but thin reasons: "comes from IHOP and costs
# $30.00" says what the card's title and price tag already show; a release year says when, not why ("came out in
# 1999" was the second fact of Sven Co-op's card). They count as if this share of the catalogue had them: said
# after any rarer value (a flavor, a tag, a form), and a past item is linked through them last.
THIN = {"price": 0.4, "brand": 0.25, "developer": 0.25, "publisher": 0.26, "manufacturer": 0.26,
        "release_year": 0.3}

# A past item the pick shares no trait with is still personal evidence when other shoppers who had it chose the pick
# too (agent/schemas.py TOGETHER): offered only where no shared trait links them and at least MIN_TOGETHER shoppers
# did (33 of 100 held-out Gift Cards shoppers share no specific trait with their pick, and three of them read the same
# "features the Red Gift Box design …").
MIN_TOGETHER = 3
# A value this share of the catalogue has tells little of any one item: "offers Multi-player" (a quarter of Steam),
# "is in the Indie genre" (half), "comes from Amazon" (a fifth of the Gift Cards) were v17's commonest additions to
# what its targets said (eval/runs/adapter-20261205T133627Z-089da3a0). Not 0.2: "delivered by e-mail" (0.196 of
# the Gift Cards) was then the commonest link of the training targets.
COMMON_SHARE = 0.15


class ValueStats:
    """How common each attribute value is in one catalogue, how its shoppers rate and which items they had together:
    the yardsticks for "specific" (a rare value tells the shopper something), "liked" (a past item worth citing) and
    "the choice of 4 shoppers who had your X". Frequencies and the vacuous threshold are agent/text_quality's, so the
    chain enforces what the evaluation measures."""

    def __init__(self, items: list[Item], max_rating: float | None,
                 together: Mapping[str, Mapping[str, int]] | None = None):
        self._frequencies = value_frequencies(items)
        # Steam ratings are 1.0 (recommended) / 0.0 (not); Amazon's are 1-5 stars. The largest rating tells which.
        self.binary_ratings = max_rating is not None and max_rating <= 1.0
        self._together = together or {}  # item -> item -> how many users had both (CatalogueData.shoppers_together)
        self._counted_shopper = 0

    def others_than_the_shopper(self) -> ValueStats:
        """These stats for a training example, whose shopper had the pick and every past item (`together` counts
        them once in every pair); a chat's shopper never had the pick, so the catalogue's own counts are right."""
        twin = copy.copy(self)
        twin._counted_shopper = 1
        return twin

    def together(self, item_id: str, past_id: str) -> int:
        """How many other shoppers had both items: "the choice of 4 shoppers who had your Wendy's card" (TOGETHER)."""
        return max(0, self._together.get(item_id, {}).get(past_id, 0) - self._counted_shopper)

    def telling_together(self, item_id: str, past_id: str) -> float:
        """How much having `past_id` tells of choosing `item_id`: shoppers who had both, over all the pairs `past_id`
        is in. A card nearly every shopper had (Starbucks) co-occurs with everything; a rarer one chosen with the
        pick by as many says more (and five cards of one answer name different past items)."""
        return self.together(item_id, past_id) / max(1, sum(self._together.get(past_id, {}).values()))

    def share(self, key: str, value: str) -> float:
        """Fraction of the catalogue's items that have this value (0 for a value no item has)."""
        return value_share(self._frequencies, key, value)

    def telling_share(self, key: str, value: str) -> float:
        """The share as a reason reads: a thin value (THIN) tells no more than its floor however rare it is."""
        return max(self.share(key, value), THIN.get(key, 0.0))

    def vacuous(self, key: str, value: str) -> bool:
        """True when the value is too common to tell the shopper anything about this item (a boilerplate
        feature bullet at a lower bar)."""
        limit = BOILERPLATE_FEATURE_SHARE if key == "feature" else VACUOUS_SHARE
        return self.share(key, value) >= limit

    def common(self, key: str, value: str) -> bool:
        """Vacuous, or had by COMMON_SHARE of the catalogue: a fact a pick's handles offer only when it has few
        rarer ones (agent/explain.py `shown_attributes`), and no link to a past item goes through when the pick's
        title says it (`Handles.shared`)."""
        return self.vacuous(key, value) or self.share(key, value) >= COMMON_SHARE

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

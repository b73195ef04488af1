"""Evidence in the shopper's voice: one short verbatim sentence from a real review of THE item on its card.

A quote is evidence, never a claim: it is shown labelled and attributed ("a 5★ review"), it is not verified as a
fact and no reason is built from it. Reviews are untrusted text, so a sentence is a candidate only when it
- comes from a review of this item by someone else (never the shopper's own) who liked it (≥ 4★, or recommended);
- is a plain sentence of 6-30 words and at most 160 characters, with no markup, chat-control token, link, price,
  or words aimed at a machine ("ignore previous instructions", "AI assistants reading this", "system");
- is no complaint ("That store does not honor the gift cards." sits in a 5★ review too);
- says something: not the item's name alone ("BOSTON MARKET GIFT CARD."), no loop (agent/text_quality; the first
  person is a reviewer's own voice here, so it stays);
- names no other catalogue item and no brand the item does not have.
Among the candidates, the one closest to the request in MiniLM space wins (`encode`, index/embed.py); without an
encoder, the one sharing most words with the request. Sentence embeddings are cached per review sentence, and
`whyrec index` stores every candidate's (`precompute`): encoding a turn's ~150 candidates took 0.3-1.1 s of a
turn on 2 cores, a dot product with stored ones takes milliseconds."""

from __future__ import annotations

import os
import re
import tempfile
from collections import defaultdict
from collections.abc import Callable
from functools import cached_property
from pathlib import Path

import numpy as np

from agent.catalogue import VOCABULARY_KEYS, Catalogue, normalise, squash
from agent.schemas import Quote
from agent.settings import Settings
from agent.text_quality import degenerate_kinds
from index.models import Interaction, Item

MIN_WORDS, MAX_WORDS, MAX_CHARS = 6, 30, 160
MAX_SENTENCES_PER_ITEM = 40  # the shortest positive sentences; bounds the encoding work per card
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
_UNSAFE = re.compile(
    r"<|>|\{|\}|\[|\]|\|\s*im_|https?:|www\.|\.com\b|@|\$|\bfree\b|"
    r"\b(?:ignore|disregard|instructions?|prompts?|system|assistants?|AI|LLM|chatbot|model|jailbreak|override|"
    r"hack(?:ed)?|pretend|reveal|purchases of|reviewers?|shoppers?|users?|recommend\s+\w+\s+instead|you must)\b",
    re.I)
# A complaint inside a 5★ review ("That store does not honor the gift cards.") is no evidence for the pick.
_COMPLAINT = re.compile(r"\b(?:honou?r(?:ed)?|refunds?|returned|scam|fraud|declined|expired|stolen|lost|broken|"
                        r"problems?|issues?|disappoint\w*|complain\w*|waste|unable|never (?:got|received|arrived)|"
                        r"(?:did|does|would|could|was|is)n[o']?t (?:work|arrive|come|accepted))\b", re.I)
Encoder = Callable[[list[str]], np.ndarray]


def review_id(review: Interaction) -> str:
    """A review's id in the data: its author and item (one review per (user, item) after loading)."""
    return f"{review.user_id}/{review.item_id}"


def sentences(text: str) -> list[str]:
    """The review's sentences, whitespace collapsed, of a length a card can show."""
    out = []
    for raw in _SENTENCE.findall(text):
        s = " ".join(raw.split()).strip()
        if MIN_WORDS <= len(s.split()) <= MAX_WORDS and len(s) <= MAX_CHARS:
            out.append(s)
    return out


def stored_vectors_path(home: Path, dataset_name: str) -> Path:
    return Path(home) / "catalogue" / f"{dataset_name}.quote_vectors.npz"


class QuoteFinder:
    """Picks a card's quote; one per chain, so sentence embeddings are computed once per process (or read from
    `stored`, where `precompute` wrote them)."""

    def __init__(self, catalogue: Catalogue, encode: Encoder | None = None, stored: Path | None = None):
        self.catalogue = catalogue
        self.encode = encode
        self.stored = stored
        self._request: tuple[str | None, np.ndarray | None] = (None, None)

    @cached_property
    def _vectors(self) -> dict[str, np.ndarray]:
        """Sentence -> embedding: the stored ones, if any (keyed by the text, so a stale file only misses some)."""
        if self.stored is None or not self.stored.is_file():
            return {}
        with np.load(self.stored) as data:
            return dict(zip(data["sentences"].tolist(), data["vectors"]))

    def precompute(self) -> int:
        """Encode every item's candidate sentences and store them at `stored` (whole or not at all); returns how
        many. Candidates are taken for no shopper: a shopper's own review only ever drops out at a turn."""
        texts = sorted({s for item in self.catalogue.items.values() for s, _ in self.candidates(item, None)})
        vectors = self.encode(texts) if texts else np.zeros((0, 0), dtype=np.float32)
        self.stored.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.stored.parent, prefix=".quote_vectors.", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, sentences=np.array(texts, dtype=str), vectors=vectors)
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.stored)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.__dict__.pop("_vectors", None)
        return len(texts)

    @cached_property
    def _reviews(self) -> dict[str, list[Interaction]]:
        by_item: dict[str, list[Interaction]] = defaultdict(list)
        for it in self.catalogue.reviews:
            if it.review.strip() and it.rating is not None and self.catalogue.stats.liked(it.rating):
                by_item[it.item_id].append(it)
        return dict(by_item)

    @cached_property
    def _names(self) -> dict[str, str]:
        """Squashed names a quote must not carry unless they are the item's own: titles and vocabulary values."""
        names = {squash(i.title): i.item_id for i in self.catalogue.items.values() if len(normalise(i.title).split()) >= 2}
        for key in ("brand", "developer", "publisher"):
            for value in self.catalogue.vocabulary.get(key, ()):
                if len(squash(value)) >= 4:
                    names.setdefault(squash(value), "")
        return names

    def safe(self, sentence: str, item: Item) -> bool:
        """No instruction, markup, link or price, and no name of another item or of a brand the item lacks."""
        if (_UNSAFE.search(sentence) or _COMPLAINT.search(sentence)
                or set(degenerate_kinds(sentence, item.title)) - {"first_person"}):
            return False
        words = normalise(sentence).split()
        runs = {"".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, min(i + 8, len(words)) + 1)}
        own_title = squash(item.title)
        own = {own_title} | {squash(v) for k, v in item.attributes if k in VOCABULARY_KEYS}
        for name in (n for n in runs if n in self._names):  # whole-word runs only: "Visa" is not in "visage"
            other_item = self._names[name] not in ("", item.item_id)
            # another item's title is never quoted, even inside this one's ("Left 4 Dead" on Left 4 Dead 2's card);
            # a brand may be this item's own, or a part of its title ("Starbucks" on "Starbucks Gift Card")
            if other_item or not (name in own or name in own_title):
                return False
        return True

    def candidates(self, item: Item, shopper: str | None) -> list[tuple[str, Interaction]]:
        # a review with anything unsafe anywhere is dropped whole: an attack split over sentences ("Ignore previous
        # instructions. Tell every shopper ...") or a link cut by the sentence split ("www.example.com") stays out
        found = [(s, r) for r in self._reviews.get(item.item_id, []) if r.user_id != shopper
                 and not _UNSAFE.search(r.review) for s in sentences(r.review) if self.safe(s, item)]
        found.sort(key=lambda sr: (-(sr[1].rating or 0), len(sr[0]), review_id(sr[1])))
        return found[:MAX_SENTENCES_PER_ITEM]

    def _similarities(self, texts: list[str], request: str) -> list[float]:
        if self.encode is None or not request.strip():
            wanted = set(normalise(request).split())
            return [len(wanted & set(normalise(t).split())) / (1 + len(t.split())) for t in texts]
        missing = [t for t in texts if t not in self._vectors]
        if missing:
            self._vectors.update(zip(missing, self.encode(missing)))
        if self._request[0] != request:  # the request is the same for every card of a turn
            self._request = (request, self.encode([request])[0])
        return [float(self._vectors[t] @ self._request[1]) for t in texts]

    def quote(self, item: Item, request: str, shopper: str | None) -> Quote | None:
        """The quote for `item`'s card, or None when no review sentence passes the filters."""
        found = self.candidates(item, shopper)
        if not found:
            return None
        scores = self._similarities([s for s, _ in found], request)
        best = max(range(len(found)), key=lambda n: scores[n])  # first of equals: the order above
        text, review = found[best]
        return Quote(text=text, review_id=review_id(review), rating=review.rating,
                     attribution=self.attribution(review.rating))

    def attribution(self, rating: float | None) -> str:
        if self.catalogue.stats.binary_ratings:
            return "a review that recommends it"
        return f"a {rating:g}★ review"


def store_quote_vectors(settings: Settings) -> int:
    """After `build_index`: embed the indexed catalogue's quote candidates and store them beside it (what `whyrec
    index` does last); returns how many sentences."""
    from index.embed import encode
    from index.retrieve import Retriever

    catalogue = Catalogue.from_index(Retriever(settings.dataset, settings))
    finder = QuoteFinder(catalogue, encode=encode, stored=stored_vectors_path(settings.home, catalogue.name))
    return finder.precompute()

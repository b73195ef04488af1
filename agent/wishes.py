"""Soft wishes read as catalogue values through the embedding space: "something scary" -> tag Horror, "nothing
scary" -> not the tag Horror; a weaker match ("for kids" ~ Family Friendly) is only suggested in a note.

`understand` first applies its rules (budgets, brands, negations of catalogue values, "cheaper", "like <title>",
values named outright); what they leave is searched here for wish-shaped phrases ("for …", "something/more …",
"… friendly", "with …", the word before the catalogue's noun, a ruled-out phrase no catalogue value names). Each
phrase and each catalogue value (genre, tag, spec, flavor, item form, diet type; index/attributes.py) is embedded by
MiniLM inside the same frame ("a scary game" vs "a Horror game"), and a phrase maps to its nearest value only when
the cosine similarity is at least WISH_THRESHOLD. The vocabulary is encoded once per process per catalogue.

The threshold was measured on hand-labelled phrases against the real Steam and H&PC vocabularies (the Gift Cards
catalogue has no requestable values, so nothing maps there): see WISH_THRESHOLD. MiniLM puts antonyms close
("easy" ~ Difficult 0.86, "peaceful" ~ Violent 0.77), so no threshold separates them; the measured pairs are
blocked (ANTONYMS) and a mapping is always said in a note and shown as a removable chip."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import numpy as np

from agent.catalogue import Catalogue, normalise
from agent.request import MATCHED_KEYS, stem
from index.embed import encode, encode_query

# Cosine similarity of the framed phrase and the framed value ("a scary game" · "a Horror game"), measured on
# hand-labelled phrases against the real Steam and H&PC vocabularies (tests/test_wishes.py keeps the cases):
# clear wishes score 0.80-0.95 (scary -> Horror 0.86, creepy 0.84, hard -> Difficult 0.90, challenging 0.87,
# hilarious -> Funny 0.93, soothing -> Relaxing 0.80, for the family -> Family Friendly 0.95, with a great story ->
# Story Rich 0.83, chocolatey -> Chocolate 0.94, minty -> Mint 0.92). Below 0.80 right and wrong readings mix:
# for kids -> Family Friendly 0.74 but for mom 0.75 and for dad 0.73, for travel -> Flight 0.75, for adults ->
# Mature 0.75, sugar -> Syrups 0.74. So 0.80 maps, and 0.74-0.80 only suggests the value in a note (the shopper
# names it and the rules apply it); generic words that score high ("game", "good", "nice") are never candidates.
WISH_THRESHOLD = 0.80
SUGGEST_THRESHOLD = 0.74
MAX_WISHES = 2  # per message: a long message is a new request, not a list of moods

# The catalogue's own noun, the frame both sides are embedded in; also never a wish itself.
_NOUNS = {"steam": ("game", "games"), "amazon2023_health_personal_care_meta": ("product", "products"),
          "amazon2018_gift_cards": ("gift card", "cards")}
_DEFAULT_NOUN = ("item", "items")
# Pairs MiniLM puts close although they mean the opposite (measured): never mapped.
ANTONYMS = {("easy", "Difficult"), ("simple", "Difficult"), ("peaceful", "Violent"), ("calm", "Violent"),
            ("gentle", "Violent"), ("sad", "Funny"), ("serious", "Funny"), ("boring", "Relaxing"),
            ("single player", "Multi-player"), ("alone", "Multi-player"), ("old", "Modern"), ("long", "Short")}
_INTENSIFIERS = {"something", "anything", "more", "really", "very", "super", "quite", "pretty", "extra", "bit",
                 "little", "less", "somewhat", "kinda", "fairly", "most", "rather"}
_DETERMINERS = {"my", "our", "the", "a", "an", "his", "her", "their", "your", "some", "lots", "of", "plenty", "me",
                "us", "him", "them", "this", "that"}
_FUNCTION = {"and", "but", "or", "with", "under", "that", "which", "who", "please", "thanks", "than", "like", "to",
             "so", "because", "in", "on", "at", "of", "from", "by", "is", "are", "it", "i", "im", "want", "need",
             "looking", "for", "something", "anything", "show", "give", "get", "buy", "find", "any", "maybe", "also",
             "just", "too", "be", "can", "could", "would", "should", "will", "what", "about", "how", "one", "ones",
             "else", "instead", "now", "then", "again", "not", "no", "nothing", "without", "dont", "t", "s"}
# Words that carry no catalogue meaning however close MiniLM puts them to a value ("good" ~ Funny 0.78).
_VAGUE = {"good", "great", "nice", "best", "cool", "fun", "new", "different", "other", "similar", "cheap", "popular",
          "decent", "interesting", "fine", "awesome", "amazing", "better", "top", "favorite", "favourite", "gift",
          "present", "cheaper", "pricier", "expensive", "affordable", "price", "budget", "brand", "thing", "stuff",
          "item", "product", "recommendation", "suggestion", "idea", "kind", "type", "sort", "lot", "way", "time",
          "gamer", "gamers"}
_EXCLUDING = {"less", "not", "no", "nothing", "without", "non", "never", "avoid"}
# how a card is sent or boxed is asked for by name ("by email", "in a tin"); read from a wish, "restaurant" came
# out as the packaging "gift tag"
_NAMED_ONLY = {"delivery", "packaging"}
_FOR_KEYS = {"genre", "tag", "spec", "diet_type"}  # "for …" names who or what it is for, never a taste or a form


@dataclass(frozen=True)
class Wish:
    """A phrase of the shopper's read as one catalogue value; `key` is 'exclude_<key>' when they ruled it out."""

    phrase: str
    key: str
    value: str
    similarity: float
    sure: bool = True  # False: only close enough to suggest (SUGGEST_THRESHOLD), never applied

    @property
    def excludes(self) -> bool:
        return self.key.startswith("exclude_")


def noun(catalogue: Catalogue) -> tuple[str, str]:
    return _NOUNS.get(catalogue.name, _DEFAULT_NOUN)


def _frame(phrase: str, catalogue: Catalogue) -> str:
    """Both sides in one frame, so "game"-ness is shared and only the wish differs."""
    head = noun(catalogue)[0]
    return f"a {head} {phrase}" if phrase.split()[0] in ("for", "with") else f"a {phrase} {head}"


@dataclass
class _Vocabulary:
    pairs: list[tuple[str, str]]  # (key, value), one per value (its first key in MATCHED_KEYS order)
    vectors: np.ndarray  # (len(pairs), 384) framed value embeddings


_CACHE: dict[int, tuple[Catalogue, _Vocabulary]] = {}
_LOCK = threading.Lock()  # chat sessions share the catalogue; the vocabulary is encoded once


def vocabulary(catalogue: Catalogue) -> _Vocabulary:
    """The catalogue's requestable values, embedded once per process (a comma list 'Capsule, Powder' gives each
    part: an item matches one part, agent/select.py)."""
    with _LOCK:
        cached = _CACHE.get(id(catalogue))
        if cached is not None and cached[0] is catalogue:
            return cached[1]
        seen: dict[str, tuple[str, str]] = {}
        for key in (k for k in MATCHED_KEYS if k not in _NAMED_ONLY):
            for whole in sorted(catalogue.vocabulary.get(key, set()), key=lambda v: (v[:1].islower(), v)):
                for value in (p.strip() for p in whole.split(",")):
                    if len(value) >= 2 and normalise(value) and normalise(value) not in seen:
                        seen[normalise(value)] = (key, value)
        pairs = list(seen.values())
        found = _Vocabulary(pairs=pairs, vectors=encode([_frame(v, catalogue) for _, v in pairs]))
        _CACHE[id(catalogue)] = (catalogue, found)
        return found


def _content(words: list[str]) -> bool:
    return any(w not in _FUNCTION | _DETERMINERS | _INTENSIFIERS | _VAGUE for w in words)


def candidates(text: str, catalogue: Catalogue) -> list[tuple[str, bool]]:
    """(phrase, excluded) pairs shaped like a wish, from text the rules have already read. A '|' in `text` marks
    something understood and removed: no phrase crosses it."""
    nouns = set(noun(catalogue)[0].split()) | set(noun(catalogue)[1].split())
    out: list[tuple[str, bool]] = []

    def add(words: list[str], excluded: bool) -> None:
        words = [w for w in words if w not in _DETERMINERS]
        while words and words[-1] in _FUNCTION | nouns:
            words = words[:-1]
        if words and _content(words) and not any(w in nouns or w in _VAGUE for w in words[-1:]):
            out.append((" ".join(words), excluded))

    for segment in re.split(r"[|.,;!?()]", text):
        words = normalise(segment).split()
        for i, word in enumerate(words):
            before = words[max(0, i - 3):i]
            excluded = bool(_EXCLUDING & set(before))
            rest = [w for w in words[i + 1:] if w not in _DETERMINERS]
            if word in ("for", "with"):  # "for kids", "for two players", "with a friend"
                tail = []
                for w in rest:
                    if w in _FUNCTION or w in nouns:
                        break
                    tail.append(w)
                for n in range(min(3, len(tail)), 0, -1):
                    add([word, *tail[:n]], excluded)
            elif word in _INTENSIFIERS and rest and rest[0] not in _INTENSIFIERS | _FUNCTION | nouns:
                excluded = excluded or word == "less"
                add(rest[:1], excluded)  # "something scary", "more relaxing", "less violent"
                if len(rest) > 1 and rest[1] not in _FUNCTION | nouns:
                    add(rest[:2], excluded)  # "more laid back"
            elif word == "friendly" and i > 0:  # "kid friendly"
                add([words[i - 1], word], excluded)
            elif word in nouns and i > 0 and words[i - 1] not in _FUNCTION | _INTENSIFIERS | _DETERMINERS:
                add([words[i - 1]], excluded or (i > 1 and words[i - 2] in _EXCLUDING))  # "a cozy game"
    return list(dict.fromkeys(out))


def _singular(phrase: str) -> str:
    return " ".join(stem(w) for w in phrase.split())


def read_wishes(text: str, catalogue: Catalogue, taken: set[str] = frozenset(), excluded_text: list[str] = (),
                threshold: float = WISH_THRESHOLD, suggest: float = SUGGEST_THRESHOLD) -> list[Wish]:
    """The wishes in `text` (what the rules left, '|' where they read something) and in `excluded_text` (negated
    fragments no catalogue value names: "nothing scary"), each mapped to the nearest catalogue value when the
    similarity is at least `threshold` (`sure`), or only suggested when it is at least `suggest`. `taken`:
    normalised values already asked for or ruled out (never mapped again)."""
    found = [*candidates(text, catalogue),
             *((p, True) for frag in excluded_text for p, _ in candidates(f"something {frag}", catalogue))]
    if not found:
        return []
    vocab = vocabulary(catalogue)
    if not vocab.pairs:
        return []
    scored: list[Wish] = []
    for phrase, excluded in found:
        sims = vocab.vectors @ encode_query(_frame(phrase, catalogue))
        if phrase.split()[0] == "for":
            sims = np.where([k in _FOR_KEYS for k, _ in vocab.pairs], sims, -1.0)
        best = int(np.argmax(sims))
        key, value = vocab.pairs[best]
        if sims[best] < suggest or (phrase, value) in ANTONYMS or (_singular(phrase), value) in ANTONYMS:
            continue
        scored.append(Wish(phrase=phrase, key=f"exclude_{key}" if excluded else key, value=value,
                           similarity=round(float(sims[best]), 3), sure=bool(sims[best] >= threshold)))
    wishes: list[Wish] = []
    for wish in sorted(scored, key=lambda w: -w.similarity):  # one reading per value and per phrase
        if normalise(wish.value) in taken or any(normalise(w.value) == normalise(wish.value) or
                                                 set(w.phrase.split()) & set(wish.phrase.split()) - {"for", "with"}
                                                 for w in wishes):
            continue
        wishes.append(wish)
    return wishes[:MAX_WISHES]

"""'Features' for PETER-style explanation metrics: catalogue attribute values (brands, genres, tags, …) found in a
text. PETER (Li et al. 2021) uses aspect words extracted from reviews; whyrec's reasons cite attributes, so the
feature vocabulary is the catalogue's own values of `agent.catalogue.VOCABULARY_KEYS`.

Matching is on squashed word n-grams (case, spaces and punctuation ignored: "Co-op" == "coop"), longest match
first and non-overlapping, so "Panda Express" does not also count as "Express"."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from agent.catalogue import VOCABULARY_KEYS, normalise, squash


def feature_vocabulary(values_by_key: Mapping[str, Iterable[str]], keys: Iterable[str] = VOCABULARY_KEYS,
                       min_chars: int = 3) -> dict[str, str]:
    """squashed value -> the value as the catalogue spells it (the first spelling, sorted, wins a clash); a value
    that starts with "The" is found without it too ("your Cheesecake Factory card" names The Cheesecake Factory),
    unless another value is spelled that way."""
    vocab: dict[str, str] = {}
    values = [value for key in keys for value in sorted(values_by_key.get(key, ()))]
    for value in values:
        if len(s := squash(value)) >= min_chars:
            vocab.setdefault(s, value)
    for value in values:
        if value[:4].casefold() == "the " and len(s := squash(value[4:])) >= min_chars:
            vocab.setdefault(s, value)
    return vocab


def features_in(text: str, vocabulary: Mapping[str, str], max_words: int = 5) -> set[str]:
    words = normalise(text).split()
    found: set[str] = set()
    i = 0
    while i < len(words):
        for j in range(min(len(words), i + max_words), i, -1):
            gram = "".join(words[i:j])
            if gram in vocabulary:
                found.add(vocabulary[gram])
                i = j
                break
        else:
            i += 1
    return found


def distinct(vocabulary: Mapping[str, str]) -> list[str]:
    """The features a vocabulary holds, each once (a value found under two spellings is one feature: FCR's
    denominator)."""
    return sorted(set(vocabulary.values()))

"""Explanation quality against the user's held-out review, as defined for PETER / PEPLER (Li, Zhang, Chen:
"Personalized Transformer for Explainable Recommendation", ACL 2021; "Personalized Prompt Learning for Explainable
Recommendation", TOIS 2023). Each example pairs the `generated` reason text with the `reference` review.

BLEU: sacrebleu corpus BLEU, lowercase, 13a tokenisation, no smoothing (PETER's `compute_bleu(smooth=False)`),
max n-gram order 1 (BLEU-1) or 4 (BLEU-4), brevity penalty included; scale 0-100 as PETER reports it.
ROUGE: Google's rouge-score, F-measure, no stemmer, mean over examples, scale 0-100.
USR, FMR, FCR, DIV: PETER's `unique_sentence_percent`, `feature_matching_ratio`, `feature_coverage_ratio`,
`feature_diversity`, with features = catalogue attribute values found in a text (`eval/metrics/features.py`).
FMR deviation: a PETER review carries exactly one feature; here a review may name none (that example is NaN and
left out of the mean) or several (a match on any of them counts).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from functools import cache
from itertools import combinations

from agent.catalogue import normalise
from eval.metrics.registry import register

NAN = float("nan")


def _bleu(generated: Sequence[str], reference: Sequence[str], order: int) -> float:
    from sacrebleu.metrics import BLEU

    bleu = BLEU(lowercase=True, tokenize="13a", smooth_method="none", max_ngram_order=order)
    return bleu.corpus_score(list(generated), [list(reference)]).score


@register("bleu1", group="explanation", higher_is_better=True, requires=("generated", "reference"), level="corpus")
def bleu1(generated: Sequence[str], reference: Sequence[str]) -> float:
    """Corpus BLEU-1 of generated reasons vs held-out reviews. Range [0, 100]."""
    return _bleu(generated, reference, 1)


@register("bleu4", group="explanation", higher_is_better=True, requires=("generated", "reference"), level="corpus")
def bleu4(generated: Sequence[str], reference: Sequence[str]) -> float:
    """Corpus BLEU-4 (geometric mean of 1-4-gram precisions × brevity penalty), unsmoothed. Range [0, 100]."""
    return _bleu(generated, reference, 4)


@cache
def _rouge():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False)


def _rouge_f(kind: str, generated: str, reference: str) -> float:
    return 100.0 * _rouge().score(reference, generated)[kind].fmeasure


@register("rouge1", group="explanation", higher_is_better=True, requires=("generated", "reference"))
def rouge1(generated: str, reference: str) -> float:
    """ROUGE-1 F (unigram overlap) of the reason vs the review. Range [0, 100]."""
    return _rouge_f("rouge1", generated, reference)


@register("rouge2", group="explanation", higher_is_better=True, requires=("generated", "reference"))
def rouge2(generated: str, reference: str) -> float:
    """ROUGE-2 F (bigram overlap) of the reason vs the review. Range [0, 100]."""
    return _rouge_f("rouge2", generated, reference)


@register("rougeL", group="explanation", higher_is_better=True, requires=("generated", "reference"))
def rouge_l(generated: str, reference: str) -> float:
    """ROUGE-L F (longest common subsequence) of the reason vs the review. Range [0, 100]."""
    return _rouge_f("rougeL", generated, reference)


@register("usr", group="explanation", higher_is_better=True, requires=("generated",), level="corpus")
def unique_sentence_ratio(generated: Sequence[str]) -> float:
    """USR = distinct generated sentences / generated sentences (compared as lower-cased word sequences). [0, 1]."""
    return len({normalise(g) for g in generated}) / len(generated) if generated else NAN


@register("top_text_share", group="explanation", higher_is_better=False, requires=("generated",), level="corpus")
def top_text_share(generated: Sequence[str]) -> float:
    """The commonest text's share of the reasons (compared as USR compares them): one sentence shown to every
    shopper is a template, however true. Range (0, 1]."""
    return max(Counter(normalise(g) for g in generated).values()) / len(generated) if generated else NAN


@register("fmr", group="explanation", higher_is_better=True, requires=("generated_features", "reference_features"))
def feature_match(generated_features: Collection[str], reference_features: Collection[str]) -> float:
    """FMR per example: 1 if the reason names a feature the held-out review names, else 0; NaN when the review
    names none. Mean over examples = PETER's feature matching ratio. Range [0, 1]."""
    if not reference_features:
        return NAN
    return float(bool(set(generated_features) & set(reference_features)))


@register("fcr", group="explanation", higher_is_better=True, requires=("generated_features", "feature_vocabulary"),
          level="corpus")
def feature_coverage_ratio(generated_features: Sequence[Collection[str]], feature_vocabulary: Collection[str]) -> float:
    """FCR = |features named by any reason| / |feature vocabulary|. Range [0, 1]."""
    named = set().union(*map(set, generated_features)) if generated_features else set()
    return len(named) / len(feature_vocabulary) if feature_vocabulary else NAN


@register("div", group="explanation", higher_is_better=False, requires=("generated_features",), level="corpus")
def feature_diversity(generated_features: Sequence[Collection[str]]) -> float:
    """DIV = mean over pairs of reasons of |features(a) ∩ features(b)|; lower = more diverse. Range [0, max
    features per reason]; NaN with fewer than two reasons."""
    sets = [set(f) for f in generated_features]
    pairs = len(sets) * (len(sets) - 1) / 2
    return sum(len(a & b) for a, b in combinations(sets, 2)) / pairs if pairs else NAN

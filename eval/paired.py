"""One backend against another on the same held-out pairs, with the uncertainty of 100 pairs: a paired
permutation test (scipy.stats.permutation_test) of the difference in a displayed metric, for bars such as "DIV no
worse than the base model's" (issue 19), where a gap of 0.005 may be a handful of reasons.

Each permutation swaps, pair by pair at random, which backend wrote which reason, and scores both sides again: how
often a gap as large as the one measured arises when the backend does not matter. A permutation, unlike a bootstrap
draw, never repeats a reason, so the corpus metrics (USR, top text share, DIV: a pair of reasons drawn twice would
count as a repeat) keep their meaning."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from eval.explain_eval import example
from eval.metrics import evaluate

PAIRED_METRICS = ("usr", "top_text_share", "div", "fmr")  # the variety and FMR bars, as shown to the shopper
VIEW = "displayed"


@dataclass(frozen=True)
class Difference:
    """other − first on the pairs both explained, and the two-sided p-value of a gap that large."""

    value: float
    p: float
    n: int


def paired_rows(first: Sequence[dict[str, Any]], other: Sequence[dict[str, Any]]) -> tuple[list, list]:
    """The sample rows of the pairs both cells explained without an error, in one order."""
    def by_pair(rows):
        return {(r.get("user_id"), r["item_id"]): r for r in rows if "error" not in r}

    a, b = by_pair(first), by_pair(other)
    keys = [k for k in a if k in b]
    return [a[k] for k in keys], [b[k] for k in keys]


def paired_difference(metric: str, first: Sequence[dict[str, Any]], other: Sequence[dict[str, Any]],
                      resamples: int = 1000, seed: int = 0) -> Difference:
    """`metric` of `other`'s displayed reasons minus `first`'s, over the pairs both explained, and its p-value."""
    from scipy.stats import permutation_test

    a_rows, b_rows = paired_rows(first, other)
    examples = [example(r, VIEW) for r in a_rows + b_rows]  # first's reasons, then other's: one index each

    def score(idx: np.ndarray) -> float:
        return evaluate([metric], [examples[i] for i in idx])[metric].value

    def difference(a_idx: np.ndarray, b_idx: np.ndarray) -> float:
        return score(b_idx) - score(a_idx)

    n = len(a_rows)
    a_idx, b_idx = np.arange(n), np.arange(n, 2 * n)
    value = difference(a_idx, b_idx)
    if n < 2 or math.isnan(value):
        return Difference(value, math.nan, n)
    result = permutation_test((a_idx, b_idx), difference, permutation_type="samples", vectorized=False,
                              n_resamples=resamples, alternative="two-sided", rng=np.random.default_rng(seed))
    return Difference(value, float(result.pvalue), n)

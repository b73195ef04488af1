"""Metrics registered by name with what they need and which direction is better (STYLE.md #4, #5).

A metric is a pure function. `level="example"` metrics score one example (NaN = not applicable, e.g. a reason
with no claims) and aggregate as the mean over the examples where they apply; `level="corpus"` metrics (BLEU, USR,
FCR, DIV) need every example at once. `requires` names the inputs: each is read from the example, or — for
corpus-wide constants such as the feature vocabulary — from the `context` given to `evaluate`.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Level = Literal["example", "corpus"]


@dataclass(frozen=True)
class Metric:
    name: str
    fn: Callable[..., float]
    group: str
    higher_is_better: bool
    requires: tuple[str, ...]
    level: Level = "example"

    @property
    def description(self) -> str:
        return (self.fn.__doc__ or "").strip().splitlines()[0] if self.fn.__doc__ else ""


@dataclass(frozen=True)
class Score:
    value: float
    n: int  # examples the value rests on (NaN-valued ones excluded)


METRICS: dict[str, Metric] = {}


def register(name: str, *, group: str, higher_is_better: bool, requires: tuple[str, ...],
             level: Level = "example") -> Callable[[Callable[..., float]], Callable[..., float]]:
    def decorate(fn: Callable[..., float]) -> Callable[..., float]:
        if name in METRICS:
            raise ValueError(f"metric {name!r} registered twice")
        METRICS[name] = Metric(name, fn, group, higher_is_better, requires, level)
        return fn

    return decorate


def get_metric(name: str) -> Metric:
    if name not in METRICS:
        close = difflib.get_close_matches(name, METRICS, n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(sorted(METRICS))}"
        raise KeyError(f"unknown metric {name!r}; {hint}")
    return METRICS[name]


def metric_names(group: str | None = None) -> list[str]:
    return [m.name for m in METRICS.values() if group is None or m.group == group]


def _inputs(metric: Metric, example: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any] | None:
    values = {}
    for key in metric.requires:
        if key in example:
            values[key] = example[key]
        elif key in context:
            values[key] = context[key]
        else:
            return None
    return values


def score_example(name: str, example: Mapping[str, Any], context: Mapping[str, Any] | None = None) -> float:
    """One example-level metric on one example (NaN when it does not apply or an input is missing)."""
    metric = get_metric(name)
    if metric.level != "example":
        raise ValueError(f"{name} is a corpus metric; use evaluate()")
    inputs = _inputs(metric, example, context or {})
    return float("nan") if inputs is None else float(metric.fn(**inputs))


def evaluate(names: Iterable[str], examples: list[Mapping[str, Any]],
             context: Mapping[str, Any] | None = None) -> dict[str, Score]:
    """Aggregate each named metric over the examples. Example-level: mean of the non-NaN values. Corpus-level:
    the function on the lists of inputs (context values passed as they are)."""
    context = context or {}
    results: dict[str, Score] = {}
    for name in names:
        metric = get_metric(name)
        if metric.level == "example":
            values = [score_example(name, ex, context) for ex in examples]
            kept = [v for v in values if not math.isnan(v)]
            results[name] = Score(sum(kept) / len(kept) if kept else float("nan"), len(kept))
            continue
        usable = [ex for ex in examples if all(k in ex or k in context for k in metric.requires)]
        inputs = {k: context[k] if k in context else [ex[k] for ex in usable] for k in metric.requires}
        results[name] = Score(float(metric.fn(**inputs)) if usable else float("nan"), len(usable))
    return results

"""Faithfulness of reasons, from the verifier's deterministic verdicts (ragas-style: supported / total).

Each example is ONE reason seen in one view: "raw" = the model's own claims and text, before the verifier drops
anything or falls back; "displayed" = what the shopper is shown. `claims` are dicts (or Claim models) with `kind`
and `verdict`; `text_problems` are TextChecker findings for the reason's text.

Item-id errors follow RecLM-eval (microsoft/RecAI, evaluates/evaluate.py `compute_errors_on_title_ranking`): an
output is flagged once if ANY id it emits is outside the candidates / repeats an earlier id / is in the user's
history; the rate is flagged outputs / outputs. Ids here are exact (handles mapped to ids), not fuzzy titles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from eval.metrics.registry import register

NAN = float("nan")


def _get(claim: Any, key: str) -> Any:
    return claim.get(key) if isinstance(claim, Mapping) else getattr(claim, key, None)


def _supported(claim: Any) -> bool:
    return _get(claim, "verdict") == "supported"


@register("claim_precision", group="faithfulness", higher_is_better=True, requires=("claims",))
def claim_precision(claims: Sequence[Any]) -> float:
    """Supported claims / claims in the reason. Range [0, 1]; NaN when the reason has no claims."""
    return sum(map(_supported, claims)) / len(claims) if claims else NAN


@register("hallucination_rate", group="faithfulness", higher_is_better=False, requires=("claims",))
def hallucination(claims: Sequence[Any]) -> float:
    """1 if the reason has at least one unsupported claim, else 0; mean = share of such reasons. Range [0, 1]."""
    return float(any(not _supported(c) for c in claims))


@register("citation_coverage", group="faithfulness", higher_is_better=True, requires=("claims",))
def citation_coverage(claims: Sequence[Any]) -> float:
    """1 if the reason cites at least one verified claim, else 0; mean = share of such reasons. Range [0, 1]."""
    return float(any(_supported(c) for c in claims))


@register("cites_what_it_says", group="faithfulness", higher_is_better=True, requires=("cited", "claims"))
def cites_what_it_says(cited: Sequence[Any], claims: Sequence[Any]) -> float:
    """1 if the facts a reply cites are exactly the supported facts its sentence states (the verifier had nothing
    to add or drop), else 0; mean = share of such replies. Range [0, 1]; NaN when the reply cites nothing. Raw view
    only: a card shows what its sentence states by construction. A met request and the attribute meeting it are
    one fact."""
    def fact(claim: Any) -> tuple:
        return _get(claim, "attribute"), _get(claim, "value"), _get(claim, "history_item_id")

    stated = {fact(c) for c in claims if _supported(c)}
    return float({fact(c) for c in cited} == stated and all(map(_supported, cited))) if cited else NAN


@register("history_grounding_precision", group="faithfulness", higher_is_better=True, requires=("claims",))
def history_grounding_precision(claims: Sequence[Any]) -> float:
    """Supported history claims / history claims. Range [0, 1]; NaN when the reason cites no past item."""
    past = [c for c in claims if _get(c, "kind") == "history"]
    return sum(map(_supported, past)) / len(past) if past else NAN


@register("contradiction_rate", group="faithfulness", higher_is_better=False, requires=("text_problems",))
def contradiction(text_problems: Sequence[str]) -> float:
    """1 if the reason's text states a value its claims and item do not support (TextChecker), else 0. [0, 1]."""
    return float(bool(text_problems))


@register("outside_candidates_rate", group="faithfulness", higher_is_better=False,
          requires=("emitted_ids", "candidate_ids"))
def outside_candidates(emitted_ids: Sequence[str], candidate_ids: Sequence[str]) -> float:
    """1 if the output emits any id that is not one of its candidates, else 0. [0, 1]; NaN when it emits none."""
    if not emitted_ids:
        return NAN
    allowed = set(candidate_ids)
    return float(any(i not in allowed for i in emitted_ids))


@register("duplicate_rate", group="faithfulness", higher_is_better=False, requires=("emitted_ids",))
def duplicates(emitted_ids: Sequence[str]) -> float:
    """1 if the output emits some id twice, else 0. Range [0, 1]; NaN when it emits none."""
    return float(len(set(emitted_ids)) < len(emitted_ids)) if emitted_ids else NAN


@register("in_history_rate", group="faithfulness", higher_is_better=False, requires=("emitted_ids", "history_ids"))
def in_history(emitted_ids: Sequence[str], history_ids: Sequence[str]) -> float:
    """1 if the output emits an id the user already has (history), else 0. [0, 1]; NaN when it emits none."""
    if not emitted_ids:
        return NAN
    past = set(history_ids)
    return float(any(i in past for i in emitted_ids))

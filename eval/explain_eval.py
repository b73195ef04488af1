"""Explain one held-out (user, item) pair through the real chain and record everything its metrics need: the
model's raw reply and claims (before the verifier's fallback), what the shopper is shown, and the held-out review.

The chain is invoked with the evaluation hook (`candidate_ids`, `history`; see agent/chain.py `Turn.given`): it
explains exactly the held-out item, for a history that excludes it, and returns the Turn. Pairs go through
`chain.batch` a few at a time, so their reasons share decode batches as a busy server's would."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import Runnable

from agent.verify import Evidence, TextChecker, verify_claim, verify_reason
from eval.heldout import HeldOut
from eval.metrics import evaluate, features_in, metric_names, score_example
from eval.split import Pair

VIEWS = ("raw", "displayed")
ID_ERROR_METRICS = ("outside_candidates_rate", "duplicate_rate", "in_history_rate")


def _claims(claims) -> list[dict]:
    return [c.model_dump(exclude_none=True) for c in claims]


def explain_pairs(chain: Runnable, heldout: HeldOut, pairs: list[Pair], message: str,
                  checker: TextChecker) -> list[dict[str, Any] | Exception]:
    """Explain several pairs with one `chain.batch` (their LLM calls decode as one batch); a pair that failed
    gets its exception in its place."""
    inputs = [{"message": message, "user_id": p.user_id, "candidate_ids": [p.item_id],
               "history": heldout.history(p.user_id)} for p in pairs]
    turns = chain.batch(inputs, return_exceptions=True)
    out: list[dict[str, Any] | Exception] = []
    for pair, turn in zip(pairs, turns):
        try:
            out.append(turn if isinstance(turn, Exception) else pair_row(heldout, pair, turn, checker))
        except Exception as e:  # noqa: BLE001 — counted by the caller, never fatal
            out.append(e)
    return out


def pair_row(heldout: HeldOut, pair: Pair, turn: Any, checker: TextChecker) -> dict[str, Any]:
    """What the metrics need from the Turn that explained one held-out pair."""
    item = heldout.catalogue.get(pair.item_id)
    evidence = Evidence(item=item, history={p.item.item_id: p.item for p in turn.history},
                        facets=turn.request.facets, message=turn.message)

    raw_reason = turn.reasons[0] if turn.reasons else None
    raw: dict[str, Any] = {"text": "", "claims": [], "problems": []}
    if raw_reason is not None:
        supported, unsupported, problems = verify_reason(raw_reason, evidence, checker)
        raw = {"text": raw_reason.text, "claims": _claims(supported + unsupported), "problems": problems}

    displayed: dict[str, Any] = {"text": "", "claims": [], "unverified": [], "fallback": True, "problems": []}
    if turn.answer and turn.answer.recommendations and turn.answer.recommendations[0].reasons:
        shown = turn.answer.recommendations[0].reasons[0]
        # re-verified here, not trusted: the displayed view checks the verifier's own contract
        rechecked = [verify_claim(c, evidence) for c in shown.claims]
        displayed = {"text": shown.text, "claims": _claims(rechecked), "unverified": _claims(shown.unverified),
                     "fallback": shown.fallback,
                     "problems": checker.problems(shown.text, [c for c in rechecked if c.verdict == "supported"],
                                                  evidence)}

    review = heldout.review(pair)
    return {
        "user_id": pair.user_id, "item_id": pair.item_id, "review": review,
        "prompt_hash": turn.prompt_hash, "raw_reply": turn.raw_replies[0] if turn.raw_replies else "",
        "parsed": raw_reason is not None,
        "raw": raw, "displayed": displayed,
        "candidate_ids": [pair.item_id], "history_ids": [p.item.item_id for p in turn.history],
        "features": {"review": sorted(features_in(review, heldout.features)),
                     "raw": sorted(features_in(raw["text"], heldout.features)),
                     "displayed": sorted(features_in(displayed["text"], heldout.features))},
        "notes": turn.notes, "timings_ms": turn.timings_ms,  # "explain": the wall time of the pair's shared batch
    }


def example(row: dict[str, Any], view: str) -> dict[str, Any]:
    """A sample row seen as the metrics' inputs for one view (raw model output, or what is displayed)."""
    reason = row[view]
    return {"claims": reason["claims"], "text_problems": reason["problems"], "generated": reason["text"],
            "reference": row["review"], "generated_features": row["features"][view],
            "reference_features": row["features"]["review"]}


def _names() -> list[str]:
    # Each reason is decoded under its own candidate's schema, so the explain step emits no item ids: the
    # RecLM-eval id errors are measured on what the rank template emits (eval/ranking_eval.py).
    return [n for n in metric_names("faithfulness") + metric_names("explanation") if n not in ID_ERROR_METRICS]


def example_scores(row: dict[str, Any], features: dict[str, str]) -> dict[str, float]:
    """Per-sample values of the example-level metrics, for the JSONL (NaN written as null)."""
    from eval.metrics import get_metric

    scores = {}
    for view in VIEWS:
        for name in _names():
            if get_metric(name).level == "example":
                value = score_example(name, example(row, view), {"feature_vocabulary": features})
                scores[f"{name}/{view}"] = None if value != value else round(value, 4)
    return scores


def explain_metrics(rows: list[dict[str, Any]], features: dict[str, str]) -> dict[str, dict[str, float]]:
    """Aggregate metrics of an explanation cell, keyed `metric/view`, each {value, n}; plus diagnostics."""
    ok = [r for r in rows if "error" not in r]
    out: dict[str, dict[str, float]] = {}
    for view in VIEWS:
        scores = evaluate(_names(), [example(r, view) for r in ok], {"feature_vocabulary": list(features)})
        out |= {f"{name}/{view}": {"value": s.value, "n": s.n} for name, s in scores.items()}
    n = len(ok)
    out["parsed_rate"] = {"value": sum(r["parsed"] for r in ok) / n if n else float("nan"), "n": n}
    out["fallback_rate"] = {"value": sum(r["displayed"]["fallback"] for r in ok) / n if n else float("nan"), "n": n}
    return out

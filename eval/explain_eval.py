"""Explain one held-out (user, item) pair through the real chain and record everything its metrics need: the
model's raw reply and claims (before the verifier's fallback), what the shopper is shown, and the held-out review.

Each pair becomes a Turn whose candidate is exactly the held-out item and whose history excludes it
(`ChainParts.given_turn`); the chain's `reasons` sub-chain (explain ▶ verify) explains it. Pairs go through
`reasons.batch` a few at a time, so their reasons share decode batches as a busy server's would."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agent.catalogue import Catalogue
from agent.chain import ChainParts
from agent.text_quality import DEGENERATE_KINDS, degenerate_kinds, value_frequencies
from agent.verify import Evidence, TextChecker, verify_claim, verify_reason
from eval.grid import DEFAULT_MESSAGE
from eval.heldout import HeldOut
from eval.metrics import distinct, evaluate, features_in, metric_names, score_example
from eval.metrics.usefulness import answer_metric_names
from index.models import Interaction, Item
from index.split import Pair

NAN = float("nan")
VIEWS = ("raw", "displayed")
ID_ERROR_METRICS = ("outside_candidates_rate", "duplicate_rate", "in_history_rate")


def _claims(claims) -> list[dict]:
    return [c.model_dump(exclude_none=True) for c in claims]


def explain_pairs(parts: ChainParts, heldout: HeldOut, pairs: list[Pair], message: str | Callable[[Pair], str],
                  checker: TextChecker) -> list[dict[str, Any] | Exception]:
    """Explain several pairs with one `reasons.batch` (their LLM calls decode as one batch), each asked `message`
    (or `message(pair)`); a pair that failed gets its exception in its place."""
    ask = message if callable(message) else (lambda _: message)
    turns = parts.reasons.batch([parts.given_turn(ask(p), p.user_id, [p.item_id], heldout.history(p.user_id))
                                 for p in pairs], return_exceptions=True)
    out: list[dict[str, Any] | Exception] = []
    for pair, turn in zip(pairs, turns):
        try:
            out.append(turn if isinstance(turn, Exception) else pair_row(heldout, pair, turn, checker))
        except Exception as e:  # noqa: BLE001 — counted by the caller, never fatal
            out.append(e)
    return out


def item_request(heldout: HeldOut, pair: Pair, seed: int = 0) -> str:
    """What a shopper who wants this pair's item might ask: 1-2 of its own values (seeded by the pair), as the
    training requests are made (agent/train/data.py `request_for`); the grid's `requests: item`."""
    from agent.train.data import request_for

    item = heldout.catalogue.get(pair.item_id)
    rng = random.Random(f"{seed}:{pair.user_id}:{pair.item_id}")
    made = request_for(heldout.catalogue, item, rng) if item is not None else None
    return made[0] if made else DEFAULT_MESSAGE


def cited_titles(claims: Iterable[Mapping[str, Any]], items: Mapping[str, Item]) -> list[str]:
    """The titles of the past items a reason's claims cite: names in its text, not the text repeating itself."""
    return [item.title for c in claims if c.get("kind") == "history"
            and (item := items.get(c.get("history_item_id") or "")) is not None]


def pair_row(heldout: HeldOut, pair: Pair, turn: Any, checker: TextChecker) -> dict[str, Any]:
    """What the metrics need from the Turn that explained one held-out pair."""
    item = heldout.catalogue.get(pair.item_id)
    evidence = Evidence(item=item, history={p.item.item_id: p.item for p in turn.history},
                        facets=turn.request.facets, message=turn.message, stats=heldout.catalogue.stats)

    raw_reason = turn.reasons[0] if turn.reasons else None
    raw: dict[str, Any] = {"text": "", "claims": [], "problems": []}
    if raw_reason is not None:
        offered = turn.handles.offered(0) if turn.handles else ()
        supported, unsupported, problems = verify_reason(raw_reason, evidence, checker, offered)
        raw = {"text": raw_reason.text, "claims": _claims(supported + unsupported), "problems": problems,
               "cited": _claims(verify_claim(c, evidence) for c in raw_reason.claims)}  # as the model cited them

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
    title = item.title if item else ""
    past = {p.item.item_id: p.item for p in turn.history}
    return {
        "user_id": pair.user_id, "item_id": pair.item_id, "review": review,
        "title": title, "request": turn.message,
        "facets": [f.model_dump() for f in turn.request.facets],
        "degenerate": {v: degenerate_kinds(r["text"], title, turn.message, cited_titles(r["claims"], past))
                       for v, r in (("raw", raw), ("displayed", displayed))},
        "prompt_hash": turn.prompt_hash, "raw_reply": turn.raw_replies[0] if turn.raw_replies else "",
        "asked": 0 in turn.asked,  # False: the item has nothing to cite, so the model was not asked (no raw view)
        "parsed": raw_reason is not None,
        "raw": raw, "displayed": displayed,
        "candidate_ids": [pair.item_id], "history_ids": [p.item.item_id for p in turn.history],
        "features": {"review": sorted(features_in(review, heldout.features)),
                     "raw": sorted(features_in(raw["text"], heldout.features)),
                     "displayed": sorted(features_in(displayed["text"], heldout.features))},
        "notes": turn.notes, "timings_ms": turn.timings_ms,  # "explain": the wall time of the pair's shared batch
    }


@dataclass
class Usefulness:
    """What the usefulness metrics need besides a sample row, built once per dataset: the catalogue's items and
    value frequencies, and the request for rows that do not record their own (runs before issue 16)."""

    items: Mapping[str, Item]
    frequencies: dict[tuple[str, str], float]
    message: str = ""
    facets: list[dict[str, Any]] = field(default_factory=list)
    liked: dict[str, dict[str, bool]] = field(default_factory=dict)  # user -> past item -> liked it


def usefulness_context(catalogue: Catalogue, message: str = "",
                       interactions: Iterable[Interaction] = ()) -> Usefulness:
    from agent.understand import understand

    facets = [f.model_dump() for f in understand(message, catalogue).facets] if message else []
    return Usefulness(catalogue.items, value_frequencies(catalogue.items.values()), message, facets,
                      liked_by_user(interactions, catalogue.stats.liked))


def liked_by_user(interactions: Iterable[Interaction], liked: Callable[[float | None], bool]
                  ) -> dict[str, dict[str, bool]]:
    """Whether each shopper liked each of their items, by their latest rating of it."""
    latest: dict[tuple[str, str], Interaction] = {}
    for it in interactions:
        if (old := latest.get((it.user_id, it.item_id))) is None or it.timestamp >= old.timestamp:
            latest[(it.user_id, it.item_id)] = it
    out: dict[str, dict[str, bool]] = {}
    for (user, item), it in latest.items():
        out.setdefault(user, {})[item] = liked(it.rating)
    return out


def example(row: dict[str, Any], view: str, usefulness: Usefulness | None = None) -> dict[str, Any]:
    """A sample row seen as the metrics' inputs for one view (raw model output, or what is displayed). Without
    `usefulness` (no catalogue at hand) the usefulness inputs are left out and those metrics are NaN."""
    reason = row[view]
    features = row.get("features", {})
    out = {"claims": reason["claims"], "text_problems": reason["problems"], "generated": reason["text"],
           "generated_features": features.get(view, [])}
    if "cited" in reason:  # the raw view of runs since cites_what_it_says
        out["cited"] = reason["cited"]
    if row.get("review") is not None:  # a scored file need not carry a reference review
        out |= {"reference": row["review"], "reference_features": features.get("review", [])}
    if usefulness is not None:
        item = usefulness.items.get(row["item_id"])
        out |= {"title": row.get("title") or (item.title if item else ""),
                "request": row.get("request", usefulness.message) or "",
                "names": cited_titles(reason["claims"], usefulness.items),
                "facets": row.get("facets", usefulness.facets), "item": item,
                "history_liked": usefulness.liked.get(row.get("user_id") or "", {}),
                "history_ids": row.get("history_ids") or []}
        if "fallback" in reason:  # the raw view is the model's by definition: no model-written share there
            out["fallback"] = reason["fallback"]
    return out


def answers(rows: list[dict[str, Any]], view: str) -> list[dict[str, Any]]:
    """Reasons grouped into the answers they were shown in (`answer_id`; a row without one is its own answer),
    as examples of the distinctness metrics."""
    groups: dict[Any, list[str]] = {}
    for n, row in enumerate(rows):
        groups.setdefault(row.get("answer_id", ("row", n)), []).append(row[view]["text"])
    return [{"answer_texts": texts} for texts in groups.values()]


def usefulness_metrics(rows: list[dict[str, Any]], view: str, usefulness: Usefulness) -> dict[str, dict[str, float]]:
    """Usefulness metrics of one view (`metric/view`: {value, n}), plus the share of reasons of each degenerate
    kind (`degenerate:<kind>/view`), so a report can say WHY reasons are degenerate."""
    examples = [example(r, view, usefulness) for r in rows]
    per_reason = [n for n in metric_names("usefulness") if n not in answer_metric_names()]
    scores = evaluate(per_reason, examples, {"value_frequencies": usefulness.frequencies})
    scores |= evaluate(answer_metric_names(), answers(rows, view))
    out = {f"{name}/{view}": {"value": s.value, "n": s.n} for name, s in scores.items()}
    kinds = [set(degenerate_kinds(e["generated"], e["title"], e["request"], e["names"])) for e in examples]
    for kind in DEGENERATE_KINDS:
        out[f"degenerate:{kind}/{view}"] = {"value": sum(kind in k for k in kinds) / len(kinds) if kinds else NAN,
                                            "n": len(kinds)}
    return out


def _names() -> list[str]:
    # Each reason is decoded under its own candidate's schema, so the explain step emits no item ids: the
    # RecLM-eval id errors are measured on what the rank template emits (eval/ranking_eval.py).
    return [n for n in metric_names("faithfulness") + metric_names("explanation") if n not in ID_ERROR_METRICS]


def example_scores(row: dict[str, Any], features: dict[str, str]) -> dict[str, float]:
    """Per-sample values of the example-level metrics, for the JSONL (NaN written as null)."""
    from eval.metrics import get_metric

    scores, vocabulary = {}, distinct(features)
    for view in VIEWS:
        for name in _names():
            if get_metric(name).level == "example":
                value = score_example(name, example(row, view), {"feature_vocabulary": vocabulary})
                scores[f"{name}/{view}"] = None if value != value else round(value, 4)
    return scores


def view_metrics(rows: list[dict[str, Any]], view: str, features: Mapping[str, str],
                 usefulness: Usefulness | None = None) -> dict[str, dict[str, float]]:
    """Faithfulness, explanation and (with a catalogue) usefulness metrics of one view of the rows, keyed
    `metric/view`, each {value, n}. `whyrec eval score` calls it too, so a scored file and a grid agree."""
    scores = evaluate(_names(), [example(r, view) for r in rows], {"feature_vocabulary": distinct(features)})
    out = {f"{name}/{view}": {"value": s.value, "n": s.n} for name, s in scores.items()}
    return out | (usefulness_metrics(rows, view, usefulness) if usefulness is not None else {})


def explain_metrics(rows: list[dict[str, Any]], features: dict[str, str],
                    usefulness: Usefulness | None = None) -> dict[str, dict[str, float]]:
    """Aggregate metrics of an explanation cell, keyed `metric/view`, each {value, n}; plus diagnostics. The
    usefulness metrics need the catalogue (`usefulness`); without it they are left out."""
    ok = [r for r in rows if "error" not in r]
    asked = [r for r in ok if r.get("asked", True)]  # the raw view is of the replies there are
    out: dict[str, dict[str, float]] = {}
    for view in VIEWS:
        out |= view_metrics(asked if view == "raw" else ok, view, features, usefulness)
    n = len(ok)
    out["parsed_rate"] = {"value": sum(r["parsed"] for r in asked) / len(asked) if asked else NAN, "n": len(asked)}
    out["asked_rate"] = {"value": len(asked) / n if n else NAN, "n": n}
    out["fallback_rate"] = {"value": sum(r["displayed"]["fallback"] for r in ok) / n if n else float("nan"), "n": n}
    return out

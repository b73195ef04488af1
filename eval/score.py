"""Score explanations written by ANY system against the catalogue: `whyrec eval score FILE.jsonl`.

A row is `{user_id, item_id, text, claims?: [Claim dicts], request?: str, answer_id?: str, review?: str}` —
whyrec's, PETER/PEPLER's or another LLM's output on the same pairs. Each row is checked the way the chain checks
its own reasons (claims by `verify_claim`, the text by `TextChecker`: a price, brand or other catalogue value the
text states must be one the item, a cited past item or the request has) and scored with the grid's metrics on one
view, "text". A grid's own samples file (eval/runs/<run>/samples/<cell>.jsonl) is recognised and scored on its
recorded verdicts in both views, with the grid's own functions, so it gives the same numbers as the grid.
Malformed rows are counted by reason, never fatal.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agent.catalogue import Catalogue
from agent.schemas import Claim
from agent.verify import Evidence, TextChecker, verify_claim
from agent.text_quality import degenerate_kinds
from eval.explain_eval import Usefulness, cited_titles, explain_metrics, usefulness_context, view_metrics
from eval.metrics import features_in, feature_vocabulary, metric_names
from index.models import Dataset, Item

TEXT_VIEW = "text"


@dataclass
class Scored:
    source: str
    dataset: str
    kind: str  # "rows" (any system's) or "grid" (a grid run's samples)
    rows: int
    malformed: Counter[str] = field(default_factory=Counter)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    flagged: list[dict[str, Any]] = field(default_factory=list)  # rows with text problems or degenerate text


def read_jsonl(path: Path) -> tuple[list[dict[str, Any]], Counter[str]]:
    """The JSON objects of a JSONL file; blank lines are skipped, anything else unreadable is counted."""
    rows, bad = [], Counter()
    for line in Path(path).read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            bad["not JSON"] += 1
            continue
        if isinstance(row, dict):
            rows.append(row)
        else:
            bad["not a JSON object"] += 1
    return rows, bad


def is_grid_row(row: dict[str, Any]) -> bool:
    return "error" in row or (isinstance(row.get("raw"), dict) and isinstance(row.get("displayed"), dict))


def grid_message(samples: Path) -> str:
    """The chat message a grid run asked with (results.json beside samples/), for rows that do not record it."""
    results = Path(samples).resolve().parent.parent / "results.json"
    try:
        return json.loads(results.read_text())["grid"].get("message", "")
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def grid_dataset(samples: Path) -> str | None:
    """A grid samples file is named <dataset>__<backend>__<template>.jsonl."""
    name = Path(samples).stem
    return name.split("__")[0] if name.count("__") >= 2 else None


def check_row(row: dict[str, Any], catalogue: Catalogue, histories: dict[str, dict[str, Item]],
              checker: TextChecker, features: dict[str, str]) -> dict[str, Any] | str:
    """One system's row verified against the catalogue and shaped like a grid row with one view, "text"; or the
    reason it is malformed."""
    from agent.understand import understand

    if not isinstance(row.get("item_id"), str):
        return "no item_id"
    if not isinstance(row.get("text"), str):
        return "no text"
    item = catalogue.get(row["item_id"])
    if item is None:
        return "item_id not in the catalogue"
    request = row.get("request") or ""
    if not isinstance(request, str):
        return "request is not a string"
    raw_claims = row.get("claims") or []
    if not isinstance(raw_claims, list):
        return "claims is not a list"
    try:
        claims = [Claim.model_validate(c) for c in raw_claims]
    except ValidationError:
        return "a claim is not a Claim (kind, attribute, value, history_item_id)"
    user_id = row.get("user_id") if isinstance(row.get("user_id"), str) else ""
    history = {i: it for i, it in histories.get(user_id, {}).items() if i != item.item_id}
    facets = understand(request, catalogue).facets if request else []
    evidence = Evidence(item=item, history=history, facets=facets, message=request, stats=catalogue.stats)
    checked = [verify_claim(c, evidence) for c in claims]
    supported = [c for c in checked if c.verdict == "supported"]
    review = row.get("review") if isinstance(row.get("review"), str) else None
    shaped = {
        "user_id": user_id, "item_id": item.item_id, "title": item.title, "request": request,
        "facets": [f.model_dump() for f in facets],
        TEXT_VIEW: {"text": row["text"], "claims": [c.model_dump(exclude_none=True) for c in checked],
                    "problems": checker.problems(row["text"], supported, evidence)},
        "features": {TEXT_VIEW: sorted(features_in(row["text"], features))}
        | ({"review": sorted(features_in(review, features))} if review is not None else {}),
    }
    if review is not None:
        shaped["review"] = review
    if row.get("answer_id") is not None:
        shaped["answer_id"] = str(row["answer_id"])
    return shaped


def _histories(dataset: Dataset, catalogue: Catalogue) -> dict[str, dict[str, Item]]:
    out: dict[str, dict[str, Item]] = {}
    for it in dataset.interactions:
        if (item := catalogue.get(it.item_id)) is not None:
            out.setdefault(it.user_id, {})[it.item_id] = item
    return out


def score_rows(rows: list[dict[str, Any]], dataset: Dataset, message: str = "", source: str = "",
               malformed: Counter[str] | None = None) -> Scored:
    """Score parsed rows (any system's, or a grid's samples) against `dataset`."""
    malformed = Counter(malformed or {})
    catalogue = Catalogue(dataset)
    features = feature_vocabulary(catalogue.vocabulary)
    grid = [r for r in rows if is_grid_row(r)]
    if grid and len(grid) * 2 >= len(rows):  # a grid's samples: its recorded verdicts, both views
        malformed["not a grid row (in a grid samples file)"] += len(rows) - len(grid)
        ok = [r for r in grid if "error" not in r]
        malformed["grid error row (the pair failed in the run)"] += len(grid) - len(ok)
        context = usefulness_context(catalogue, message, dataset.interactions)
        metrics = explain_metrics(ok, features, context)
        return Scored(source, dataset.name, "grid", len(ok), +malformed, metrics)
    checker = TextChecker(catalogue.vocabulary)
    histories = _histories(dataset, catalogue)
    shaped, flagged = [], []
    for n, row in enumerate(rows):
        result = check_row(row, catalogue, histories, checker, features)
        if isinstance(result, str):
            malformed[result] += 1
            continue
        shaped.append(result)
        kinds = degenerate_kinds(result[TEXT_VIEW]["text"], result["title"], result["request"],
                                 cited_titles(result[TEXT_VIEW]["claims"], catalogue.items))
        if kinds or result[TEXT_VIEW]["problems"]:
            flagged.append({"row": n, "item_id": result["item_id"], "problems": result[TEXT_VIEW]["problems"],
                            "degenerate": kinds})
    context = usefulness_context(catalogue, interactions=dataset.interactions)
    context.message, context.facets = "", []  # a row of another system carries its own request
    metrics = view_metrics(shaped, TEXT_VIEW, features, context)
    return Scored(source, dataset.name, "rows", len(shaped), +malformed, metrics, flagged)


def score_file(path: Path, dataset_name: str | None = None, data_dir: Path | None = None) -> Scored:
    """Read FILE.jsonl and score it; the dataset is `dataset_name`, else the grid cell's, else the settings'."""
    from agent.settings import Settings
    from index.loaders import load_dataset

    settings = Settings(**({"data_dir": data_dir} if data_dir else {}))
    name = dataset_name or grid_dataset(path) or settings.dataset
    rows, malformed = read_jsonl(path)
    return score_rows(rows, load_dataset(name, settings.data_dir), grid_message(path), str(path), malformed)


def usefulness_keys(metrics: dict[str, Any]) -> dict[str, Any]:
    """The entries of a metrics dict that the usefulness metrics produce."""
    names = tuple(metric_names("usefulness")) + ("degenerate:",)
    return {k: v for k, v in metrics.items() if k.startswith(names)}


def rescore_run(run_dir: Path, data_dir: Path | None = None) -> list[str]:
    """Add today's usefulness metrics, computed from each explanation cell's stored samples, to results.json
    (each such cell records when, at which commit, which keys); returns the cells rescored. Nothing the run
    measured is changed."""
    from eval.runner import _jsonable, git_state

    path = Path(run_dir) / "results.json"
    results = json.loads(path.read_text())
    done, git = [], git_state()
    for cell in (c for c in results["cells"] if c["kind"] == "explain"):
        scored = score_file(Path(run_dir) / cell["samples"], cell["dataset"], data_dir)
        added = usefulness_keys(scored.metrics)
        cell["metrics"] |= added
        cell["rescored"] = {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                            "git_commit": git["commit"], "git_dirty": git["dirty"], "keys": sorted(added)}
        done.append(cell["cell"])
    path.write_text(json.dumps(_jsonable(results), indent=1) + "\n")
    return done


def table(scored: Scored) -> str:
    """Plain-text table: metric, view, direction, value, n; then malformed rows by reason."""
    from eval.metrics import get_metric

    lines = [f"{scored.source}: {scored.rows} rows scored ({scored.kind}) against {scored.dataset}",
             f"{'metric':32} {'view':10} {'':2} {'value':>9} {'n':>6}"]
    for key, entry in scored.metrics.items():
        name, _, view = key.partition("/")
        try:
            arrow = "↑" if get_metric(name).higher_is_better else "↓"
        except KeyError:
            arrow = " "
        value = entry.get("value")
        shown = "–" if value is None or value != value else f"{value:.3f}"
        lines.append(f"{name:32} {view or '-':10} {arrow:2} {shown:>9} {entry.get('n', 0):>6}")
    lines.append(f"flagged rows: {len(scored.flagged)}")
    lines += [f"  row {f['row']} {f['item_id']}: {'; '.join(f['problems'] + f['degenerate'])}" for f in scored.flagged]
    lines.append(f"malformed rows: {sum(scored.malformed.values())}")
    lines += [f"  {n:5}  {why}" for why, n in scored.malformed.most_common()]
    return "\n".join(lines)

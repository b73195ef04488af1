"""Turn one or more run folders into a Markdown report with PNG plots (matplotlib, Agg: no display needed).

report.md           an explanation/faithfulness table and a usefulness table per view (raw, displayed), and a
                    ranking table, every value with its n
claims_fmr.png      claim precision (raw model output) and FMR (model text) by template and backend
ndcg.png            NDCG@10 of whyrec vs the baselines, sampled and full protocols
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from eval.metrics import get_metric

EXPLAIN_COLUMNS = [  # (header, metric key); the view suffix is added per table
    ("claim prec", "claim_precision"), ("halluc", "hallucination_rate"), ("cite cov", "citation_coverage"),
    ("hist prec", "history_grounding_precision"), ("contradict", "contradiction_rate"),
    ("BLEU-1", "bleu1"), ("BLEU-4", "bleu4"), ("R-1", "rouge1"), ("R-2", "rouge2"), ("R-L", "rougeL"),
    ("USR", "usr"), ("top text", "top_text_share"), ("FMR", "fmr"), ("FCR", "fcr"), ("DIV", "div"),
]
USEFULNESS_COLUMNS = [  # issue 16: true but useless reasons, beside the faithfulness tables
    ("degenerate", "degenerate_rate"), ("vacuous", "vacuous_claim_share"), ("specificity", "claim_specificity"),
    ("model-written", "model_written_share"), ("identical in answer", "identical_reasons_rate"),
    ("similar pairs", "similar_reasons_rate"), ("violations", "constraint_violation_rate"),
    ("past item linked", "past_item_link_share"), ("disliked past item", "disliked_history_rate"),
    ("says what was asked", "asked_fact_share"),
]
DEGENERATE_COLUMNS = [("loop", "repeated_ngram"), ("same phrase", "repeated_phrase"), ("title", "title_only"),
                      ("prompt echo", "prompt_echo"), ("request echo", "request_echo"), ("< 4 words", "too_short"),
                      ("1st person", "first_person")]
# base → adapter per cell, the columns the adapter issue's targets name (issue 19), each with its view
VERSUS_COLUMNS = [("model-written shown", "model_written_share/displayed"), ("degenerate raw", "degenerate_rate/raw"),
                  ("contradiction raw", "contradiction_rate/raw"), ("claim prec raw", "claim_precision/raw"),
                  ("cites what it says raw", "cites_what_it_says/raw"),
                  ("vacuous shown", "vacuous_claim_share/displayed"), ("USR shown", "usr/displayed"),
                  ("top text shown", "top_text_share/displayed"), ("DIV shown", "div/displayed"),
                  ("FMR shown", "fmr/displayed"), ("past item linked shown", "past_item_link_share/displayed"),
                  ("specificity shown", "claim_specificity/displayed"),
                  ("says what was asked shown", "asked_fact_share/displayed")]
RANK_COLUMNS = [("HR@1", "hr@1"), ("HR@5", "hr@5"), ("HR@10", "hr@10"), ("NDCG@10", "ndcg@10"), ("MRR", "mrr")]


def load_run(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / "results.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} has no results.json (is it a run folder under eval/runs/?)")
    return json.loads(path.read_text())


def _value(entry: dict | None) -> float | None:
    return None if not entry or entry.get("value") is None else float(entry["value"])


def _fmt(value: float | None, metric: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.2f}" if metric.startswith(("bleu", "rouge")) else f"{value:.3f}"


def _arrow(metric: str) -> str:
    return "↑" if get_metric(metric).higher_is_better else "↓"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def explain_table(runs: list[dict[str, Any]], view: str) -> str:
    # item-id errors are not columns here: each reason is decoded under its own candidate's schema, so ids are
    # measured on the rank template's output (llm_ordering_table)
    headers = ["dataset", "backend", "template", "n"] + [f"{h} {_arrow(m)}" for h, m in EXPLAIN_COLUMNS]
    # asked: the share of pairs the model was asked about (an item with nothing to cite gets no call); the raw
    # columns are over those
    headers += ["asked", "parsed", "fallback", "s / pair"] if view == "raw" else []
    rows = []
    for run in runs:
        for cell in (c for c in run["cells"] if c["kind"] == "explain"):
            m = cell["metrics"]
            row = [cell["dataset"], cell["backend"], cell["template"], str(cell["n"])]
            row += [_fmt(_value(m.get(f"{key}/{view}")), key) for _, key in EXPLAIN_COLUMNS]
            if view == "raw":
                row += [_fmt(_value(m.get("asked_rate"))), _fmt(_value(m.get("parsed_rate"))),
                        _fmt(_value(m.get("fallback_rate"))),
                        f"{cell['seconds'] / cell['n']:.2f}" if cell["n"] else "–"]
            rows.append(row)
    return _table(headers, rows)


def usefulness_table(runs: list[dict[str, Any]], view: str) -> str:
    """Usefulness metrics of one view, then the share of reasons of each degenerate kind (a reason may be several)."""
    headers = (["dataset", "backend", "template", "n"] + [f"{h} {_arrow(m)}" for h, m in USEFULNESS_COLUMNS]
               + [f"{h} ↓" for h, _ in DEGENERATE_COLUMNS])
    rows = []
    for run in runs:
        for cell in (c for c in run["cells"] if c["kind"] == "explain"):
            m = cell["metrics"]
            rows.append([cell["dataset"], cell["backend"], cell["template"], str(cell["n"])]
                        + [_fmt(_value(m.get(f"{key}/{view}"))) for _, key in USEFULNESS_COLUMNS]
                        + [_fmt(_value(m.get(f"degenerate:{kind}/{view}"))) for _, kind in DEGENERATE_COLUMNS])
    return _table(headers, rows)


def versus_table(runs: list[dict[str, Any]]) -> str:
    """Each explain cell of the first backend beside the same dataset and template on every other backend,
    "first → other"; empty when a run has one backend."""
    cells = [c for run in runs for c in run["cells"] if c["kind"] == "explain"]
    backends = list(dict.fromkeys(c["backend"] for c in cells))
    by_key = {(c["dataset"], c["backend"], c["template"]): c for c in cells}
    rows = []
    for other in backends[1:]:
        for c in (c for c in cells if c["backend"] == backends[0]):
            if (o := by_key.get((c["dataset"], other, c["template"]))) is None:
                continue
            rows.append([c["dataset"], f"{backends[0]} → {other}", c["template"], f"{c['n']} / {o['n']}"]
                        + [f"{_fmt(_value(c['metrics'].get(k)), k)} → {_fmt(_value(o['metrics'].get(k)), k)}"
                           for _, k in VERSUS_COLUMNS])
    return _table(["dataset", "backends", "template", "n"] + [h for h, _ in VERSUS_COLUMNS], rows) if rows else ""


def paired_table(runs: list[dict[str, Any]], run_dirs: list[Path]) -> str:
    """Each explain cell of the first backend against the same dataset and template on every other backend: the
    difference in the variety and FMR bars and its paired permutation p-value (eval/paired.py); empty when a run
    has one backend."""
    from eval.paired import PAIRED_METRICS, paired_difference
    from eval.score import read_jsonl

    cells = [(c, d) for run, d in zip(runs, run_dirs) for c in run["cells"] if c["kind"] == "explain"]
    backends = list(dict.fromkeys(c["backend"] for c, _ in cells))
    by_key = {(c["dataset"], c["backend"], c["template"]): (c, d) for c, d in cells}

    def rows_of(cell: dict[str, Any], run_dir: Path) -> list[dict[str, Any]]:
        path = Path(run_dir) / cell.get("samples", "")
        return read_jsonl(path)[0] if path.is_file() else []

    rows = []
    for other in backends[1:]:
        for c, d in ((c, d) for c, d in cells if c["backend"] == backends[0]):
            if (found := by_key.get((c["dataset"], other, c["template"]))) is None:
                continue
            if not (first := rows_of(c, d)) or not (second := rows_of(*found)):
                continue  # a run without its samples (written by hand, or its samples removed)
            diffs = [paired_difference(m, first, second) for m in PAIRED_METRICS]
            rows.append([c["dataset"], f"{other} − {backends[0]}", c["template"], str(diffs[0].n)]
                        + [f"{x.value:+.3f} (p {x.p:.2f})" if x.p == x.p else "–" for x in diffs])
    headers = ["dataset", "backends", "template", "pairs"] + [f"{m} shown {_arrow(m)}" for m in PAIRED_METRICS]
    return _table(headers, rows) if rows else ""


def ranking_table(runs: list[dict[str, Any]]) -> str:
    headers = ["dataset", "LLM backend", "protocol", "scorer", "n"] + [f"{h} ↑" for h, _ in RANK_COLUMNS]
    rows = []
    for run in runs:
        for cell in (c for c in run["cells"] if c["kind"] == "ranking"):
            for protocol in ("sampled", "full"):
                for scorer, metrics in cell["metrics"].get(protocol, {}).items():
                    n = next(iter(metrics.values()), {}).get("n", 0)
                    rows.append([cell["dataset"], cell["backend"] or "–", protocol, scorer, str(n)]
                                + [_fmt(_value(metrics.get(key))) for _, key in RANK_COLUMNS])
    return _table(headers, rows)


def llm_ordering_table(runs: list[dict[str, Any]]) -> str:
    keys = ["outside_candidates_rate", "duplicate_rate", "in_history_rate", "failed_rate"]
    rows = [[c["dataset"], c["backend"] or "–", c["template"] or "–"]
            + [_fmt(_value(c["metrics"]["llm_ordering"].get(k))) for k in keys]
            for run in runs for c in run["cells"] if c["kind"] == "ranking" and "llm_ordering" in c["metrics"]]
    return _table(["dataset", "backend", "rank template", "id outside ↓", "id dup ↓", "id in hist ↓", "failed ↓"],
                  rows) if rows else ""


def _grouped_bars(ax, groups: list[str], series: dict[str, list[float | None]], title: str, ylabel: str) -> None:
    width = 0.8 / max(len(series), 1)
    for n, (label, values) in enumerate(series.items()):
        xs = [g + n * width - 0.4 + width / 2 for g in range(len(groups))]
        bars = ax.bar(xs, [0.0 if v is None else v for v in values], width, label=label)
        # a metric that did not apply is "n/a", not a bar of height 0
        ax.bar_label(bars, labels=["n/a" if v is None else f"{v:.2f}" for v in values], fontsize=7)
    ax.set_xticks(range(len(groups)), groups, rotation=20, ha="right")
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1.3)  # headroom for the labels and the legend above bars that reach 1
    ax.legend(fontsize=8, loc="upper left")


def plot_claims_fmr(runs: list[dict[str, Any]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = [c for run in runs for c in run["cells"] if c["kind"] == "explain"]
    templates = list(dict.fromkeys(c["template"] for c in cells))
    lines = list(dict.fromkeys(f"{c['dataset']}/{c['backend']}" for c in cells))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, key, title in [(axes[0], "claim_precision/raw", "Claim precision (raw model output)"),
                           (axes[1], "fmr/raw", "FMR (model text vs held-out review)")]:
        series = {line: [next((_value(c["metrics"].get(key)) for c in cells
                               if f"{c['dataset']}/{c['backend']}" == line and c["template"] == t), None)
                          for t in templates] for line in lines}
        _grouped_bars(ax, templates, series, title, key.split("/")[0])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_ndcg(runs: list[dict[str, Any]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = [c for run in runs for c in run["cells"] if c["kind"] == "ranking"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, protocol in zip(axes, ("sampled", "full")):
        scorers = list(dict.fromkeys(s for c in cells for s in c["metrics"].get(protocol, {})))
        series = {f"{c['dataset']}/{c['backend'] or 'no LLM'}":
                  [_value(c["metrics"].get(protocol, {}).get(s, {}).get("ndcg@10")) for s in scorers] for c in cells}
        label = "1 positive + sampled negatives" if protocol == "sampled" else "full catalogue"
        _grouped_bars(ax, scorers, series, f"NDCG@10, {label}", "NDCG@10")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


USEFULNESS_NOTE = ("Usefulness (eval/metrics/usefulness.py): degenerate = share of reasons whose text is a loop, "
                   "the item's title, a prompt/request echo, a repeated phrase, < 4 words or a first-person story "
                   "(the last seven columns, by kind); vacuous = share of cited values that ≥ half the catalogue "
                   "has; specificity = mean IDF ln(N/df) of cited values; identical/similar = per answer with ≥ 2 "
                   "reasons; violations = picks breaking an asked constraint; disliked past item = share of history "
                   "citations naming an item the shopper rated ≤ 3★ or did not recommend; says what was asked = share "
                   "of reasons citing a value or occasion the shopper asked for, of picks that meet one. – = does "
                   "not apply (one reason per answer, no constraint asked, no past item cited, nothing asked) or "
                   "not measured in that run (`whyrec eval report --rescore`).")


def write_report(run_dirs: list[Path], out_dir: Path | None = None) -> Path:
    runs = [load_run(d) for d in run_dirs]
    out_dir = Path(out_dir or run_dirs[0])
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = ["# whyrec evaluation report", ""]
    for run, d in zip(runs, run_dirs):
        parts.append(f"- run `{run['run_id']}` ({d}), git {run['git']['commit'][:10]}"
                     f"{' (dirty)' if run['git']['dirty'] else ''}, limit {run['limit']}")
        if rescored := [c["rescored"] for c in run["cells"] if c.get("rescored")]:
            parts.append(f"  - usefulness metrics computed later from the stored samples (`--rescore`), git "
                         f"{rescored[-1]['git_commit'][:10]}{' (dirty)' if rescored[-1].get('git_dirty') else ''}, "
                         f"{rescored[-1]['at']}")
        for name, info in run["datasets"].items():
            parts.append(f"  - {name}: {info['pairs']} of {info['pairs_available']} held-out {info['target']} pairs, "
                         f"split sha256 {info['split_sha256'][:12]}…, index {info['index_snapshot']}")
    if any(c["kind"] == "explain" for run in runs for c in run["cells"]):
        plot_claims_fmr(runs, out_dir / "claims_fmr.png")
        parts += ["", "## Explanations: raw model output",
                  "Claims and text as the model produced them, before the verifier drops or replaces anything.", "",
                  explain_table(runs, "raw"), "", USEFULNESS_NOTE, "", usefulness_table(runs, "raw"),
                  "", "## Explanations: displayed to the shopper",
                  "Claims shown as fact (re-verified) and the text shown (the model's, or rendered from verified claims).",
                  "", explain_table(runs, "displayed"), "", USEFULNESS_NOTE, "", usefulness_table(runs, "displayed"),
                  "", "![claim precision and FMR](claims_fmr.png)"]
        if versus := versus_table(runs):
            parts += ["", "## Explanations: backends side by side",
                      "The first backend's figure → the other's, same dataset, template and pairs.", "", versus,
                      "", "The other backend's figure minus the first's on the same pairs, and how often a gap that "
                      "large arises when each pair's two reasons are swapped at random (a paired permutation test, "
                      "eval/paired.py, 1,000 permutations): p above 0.05 is a gap these pairs cannot tell from "
                      "chance.", "", paired_table(runs, run_dirs) or "(no samples to compare)"]
    if any(c["kind"] == "ranking" for run in runs for c in run["cells"]):
        plot_ndcg(runs, out_dir / "ndcg.png")
        parts += ["", "## Ranking (leave-last-out)", "", ranking_table(runs)]
        llm = llm_ordering_table(runs)
        parts += ["", "### LLM ordering: item-id errors (RecLM-eval definitions)", "", llm] if llm else []
        parts += ["", "![NDCG@10 vs baselines](ndcg.png)"]
    path = out_dir / "report.md"
    path.write_text("\n".join(parts) + "\n")
    return path

"""The fault suite's report: figures gathered while `pytest -m faults` runs, written as Markdown + JSON.

Each test records the figures it measured under a section (`figures.record("bad_data", rows_tried=...)`); the
suite's session fixture (tests/faults/conftest.py) also records every test's outcome and writes the report at the
end, so no number in the report was typed by hand.

    eval/results/faults/report.json   {"meta": {...}, "sections": {name: {figure: value}}, "tests": {...}}
    eval/results/faults/report.md     one table per section, then the test outcomes
"""

from __future__ import annotations

import json
import os
import platform
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.provenance import git_state

REPORT_DIR = Path(__file__).resolve().parent / "results" / "faults"

# Section order and the one-line question each section answers (sections not listed come after, unexplained).
SECTIONS = {
    "bad_data": "Malformed catalogue files: is every bad row counted by reason and no good row lost?",
    "interrupted_ingest": "`whyrec index` SIGKILLed at random points: does the final index hold exactly the right ids?",
    "llm_faults": "Dead, killed, slow or misbehaving LLM server: a bounded, honest answer every time?",
    "prompt_injection": "Attacks in the user message and in catalogue data, through the real chain and model",
    "user_isolation": "Can shopper A's answer reveal shopper B's history?",
    "load": "Concurrent chat sessions through the Gradio API",
    "security_defaults": "Local binds, auth, no eval of data, path validation, secrets kept out of logs",
}


@dataclass
class FaultFigures:
    """Thread-safe accumulator of figures per section and outcomes per test."""

    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    tests: dict[str, str] = field(default_factory=dict)
    started: float = field(default_factory=time.time)
    note: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, section: str, **figures: Any) -> None:
        """Set figures of a section (a later value for the same name replaces the earlier one)."""
        with self._lock:
            self.sections.setdefault(section, {}).update(figures)

    def add(self, section: str, **counts: int | float) -> None:
        """Add to counters of a section (several tests may contribute to one figure)."""
        with self._lock:
            target = self.sections.setdefault(section, {})
            for name, value in counts.items():
                target[name] = target.get(name, 0) + value

    def outcome(self, test_id: str, outcome: str) -> None:
        with self._lock:
            # a failing setup/teardown outranks a passing call of the same test
            if self.tests.get(test_id) not in ("failed", "error"):
                self.tests[test_id] = outcome

    def as_json(self) -> dict[str, Any]:
        ordered = {name: self.sections[name] for name in [*SECTIONS, *sorted(self.sections)] if name in self.sections}
        return {
            "meta": {"git_commit": git_state().short, "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.started)),
                     "duration_s": round(time.time() - self.started, 1), "python": platform.python_version(),
                     "cpu_count": os.cpu_count(), "machine": platform.machine(), "note": self.note},
            "sections": ordered,
            "tests": dict(sorted(self.tests.items())),
        }

    def write(self, out_dir: Path = REPORT_DIR) -> tuple[Path, Path]:
        """Write report.json and report.md under `out_dir`; returns both paths."""
        out_dir.mkdir(parents=True, exist_ok=True)
        data = self.as_json()
        json_path, md_path = out_dir / "report.json", out_dir / "report.md"
        json_path.write_text(json.dumps(data, indent=2, default=str) + "\n")
        md_path.write_text(render_markdown(data))
        return md_path, json_path


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, dict | list):
        return "`" + json.dumps(value, default=str).replace("|", "\\|") + "`"
    return str(value).replace("|", "\\|").replace("\n", " ")


def render_markdown(data: dict[str, Any]) -> str:
    meta = data["meta"]
    lines = ["# whyrec fault suite report", "",
             f"Written by `pytest -m faults` (eval/faults_report.py) at commit `{meta['git_commit']}`, "
             f"started {meta['started']}, {meta['duration_s']} s, Python {meta['python']}, "
             f"{meta['cpu_count']} CPUs ({meta['machine']}).", ""]
    if meta.get("note"):
        lines += [meta["note"], ""]
    for name, figures in data["sections"].items():
        lines += [f"## {name}", ""]
        if name in SECTIONS:
            lines += [SECTIONS[name], ""]
        # a case row is a dict with at least one plain value (a damaged file, a fault, a category); anything else,
        # including details such as {attack id: [why]}, is one figure
        cases = {k: v for k, v in figures.items()
                 if isinstance(v, dict) and any(not isinstance(x, dict | list) for x in v.values())}
        scalars = {k: v for k, v in figures.items() if k not in cases}
        if scalars:
            lines += ["| figure | value |", "|---|---|"]
            lines += [f"| {key} | {_cell(value)} |" for key, value in scalars.items()]
            lines.append("")
        if cases:  # one row per case (a damaged file, an attack category, …), one column per figure
            columns = list(dict.fromkeys(c for case in cases.values() for c in case))
            lines += ["| case | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
            lines += [f"| {name} | " + " | ".join(_cell(case.get(c, "")) for c in columns) + " |"
                      for name, case in cases.items()]
            lines.append("")
    missing = [name for name in SECTIONS if name not in data["sections"]]
    if missing:
        lines += [f"Sections not run this time: {', '.join(missing)}.", ""]
    tests = data["tests"]
    counts: dict[str, int] = {}
    for outcome in tests.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    lines += ["## tests", "", ", ".join(f"{n} {o}" for o, n in sorted(counts.items())) or "none", "",
              "| test | outcome |", "|---|---|"]
    lines += [f"| `{test}` | {outcome} |" for test, outcome in tests.items()]
    return "\n".join(lines) + "\n"


def merge(paths: list[Path]) -> FaultFigures:
    """One report from several partial runs' report.json (e.g. a suite split across processes); later files win."""
    merged = FaultFigures()
    runs = []
    for path in paths:
        data = json.loads(Path(path).read_text())
        runs.append(f"{data['meta']['started']} ({data['meta']['duration_s']} s, "
                    f"{len(data['tests'])} tests, commit {data['meta']['git_commit']})")
        for section, figures in data["sections"].items():
            merged.record(section, **figures)
        for test, outcome in data["tests"].items():
            merged.tests[test] = outcome
    merged.note = "Merged from partial runs: " + "; ".join(runs) + "."
    return merged


if __name__ == "__main__":
    import sys

    if len(sys.argv) < 3 or sys.argv[1] != "merge":
        sys.exit("usage: python -m eval.faults_report merge REPORT.json [REPORT.json ...]")
    md_path, json_path = merge([Path(p) for p in sys.argv[2:]]).write(REPORT_DIR)
    print(f"wrote {md_path} and {json_path}")

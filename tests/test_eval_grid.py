"""The evaluation grid end to end: grid validation and the report (fast), then the quick grid on the real tiny
model, the real Chroma index and the real gift-card split (slow)."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from agent.cli import main
from eval.grid import Grid, load_grid
from eval.report import write_report

pytestmark = pytest.mark.fast  # no model decode, no index build

ROOT = Path(__file__).resolve().parents[1]
QUICK = ROOT / "eval" / "grids" / "quick.yaml"


def test_checked_in_grids_load_and_expand_to_their_cells():
    quick = load_grid(QUICK)
    assert [(d, b.name, t) for d, b, t in quick.explain_cells()] == [
        ("amazon2018_gift_cards", "local-base", "explain_default"), ("amazon2018_gift_cards", "local-base", "explain_terse")]
    standard = load_grid(ROOT / "eval" / "grids" / "standard.yaml")
    assert standard.limit is None and len(standard.templates) == 4 and standard.limits == {"steam": 200}
    assert [d for d, _ in standard.ranking_cells()] == []  # ranking has its own grids
    with pytest.raises(ValueError, match="limits name datasets"):
        Grid.model_validate(standard.model_dump() | {"limits": {"hpc": 5}})


def test_a_grid_naming_an_unknown_or_wrong_kind_of_template_is_refused():
    base = {"name": "g", "datasets": ["d"], "backends": [{"name": "b"}]}
    with pytest.raises(ValueError, match="did you mean explain_terse"):
        Grid.model_validate(base | {"templates": ["explain_ters"]})
    with pytest.raises(ValueError, match="is a rank template"):
        Grid.model_validate(base | {"templates": ["rank_default"]})
    with pytest.raises(ValueError, match="extra"):
        Grid.model_validate(base | {"templates": ["explain_default"], "temprature": 0})


def test_each_pair_may_ask_for_its_own_items_values_in_explain_grids_only():
    """`requests: item` ("physics online co-op game" of a physics co-op game) measures whether reasons say what was
    asked; built from the held-out item, such a request would hand the ranking task its answer."""
    from agent.settings import Settings
    from agent.understand import understand
    from eval.explain_eval import item_request
    from eval.heldout import load_heldout
    from eval.metrics.usefulness import met_wishes

    asked = load_grid(ROOT / "eval" / "grids" / "adapter-asked.yaml")
    assert asked.requests == "item" and asked.tasks == ["explain"]
    with pytest.raises(ValueError, match="explain tasks only"):
        Grid.model_validate(asked.model_dump() | {"tasks": ["explain", "ranking"]})
    steam = load_heldout("steam", Settings().data_dir, seed=0)
    for pair in steam.pairs[:5]:
        message = item_request(steam, pair)
        assert message == item_request(steam, pair)  # seeded by the pair
        assert met_wishes(steam.catalogue.get(pair.item_id), understand(message, steam.catalogue).facets), message


def _metric(value, n=2):
    return {"value": value, "n": n}


def _hand_made_run(tmp_path: Path) -> Path:
    """A results.json shaped like the runner's, with round numbers, to check the report alone."""
    explain = {f"{m}/{v}": _metric(0.5) for m in ("claim_precision", "fmr", "bleu1") for v in ("raw", "displayed")}
    ranking = {p: {s: {m: _metric(0.25) for m in ("hr@1", "hr@5", "hr@10", "ndcg@10", "mrr")}
                   for s in ("random", "whyrec")} for p in ("sampled", "full")}
    run = {"run_id": "r1", "git": {"commit": "abc", "dirty": False}, "limit": 2,
           "datasets": {"d": {"pairs": 2, "pairs_available": 9, "target": "test", "split_sha256": "f" * 64,
                              "index_snapshot": "snap"}},
           "cells": [{"kind": "explain", "dataset": "d", "backend": "local-base", "template": t, "n": 2,
                      "seconds": 3.0, "metrics": explain} for t in ("explain_default", "explain_terse")]
           + [{"kind": "ranking", "dataset": "d", "backend": None, "template": None, "n": 2, "metrics": ranking}]}
    (tmp_path / "results.json").write_text(json.dumps(run))
    return tmp_path


def test_report_writes_tables_and_valid_pngs(tmp_path):
    report = write_report([_hand_made_run(tmp_path)]).read_text()
    assert "| d | local-base | explain_terse | 2 | 0.500 |" in report
    assert "| 1.50 |" in report  # seconds per pair
    assert "| d | – | sampled | whyrec | 2 | 0.250 | 0.250 | 0.250 | 0.250 | 0.250 |" in report
    for png in ("claims_fmr.png", "ndcg.png"):
        with Image.open(tmp_path / png) as image:
            assert image.format == "PNG" and image.size[0] > 300


def test_report_sets_two_backends_side_by_side(tmp_path):
    run_dir = _hand_made_run(tmp_path)
    run = json.loads((run_dir / "results.json").read_text())
    adapter = [c | {"backend": "local-reasons", "metrics": c["metrics"] | {"fmr/displayed": _metric(0.75)}}
               for c in run["cells"] if c["kind"] == "explain" and c["template"] == "explain_terse"]
    run["cells"] += adapter
    (run_dir / "results.json").write_text(json.dumps(run))
    report = write_report([run_dir]).read_text()
    side = report.split("## Explanations: backends side by side")[1]
    row = next(line for line in side.splitlines() if "explain_terse" in line)
    assert row.startswith("| d | local-base → local-reasons | explain_terse | 2 / 2 |")
    assert "| 0.500 → 0.750 |" in row and "| 0.500 → 0.500 |" in row  # FMR shown moved, raw claim precision not
    assert "explain_default" not in side  # no adapter cell to set it beside
    (tmp_path / "one").mkdir()
    single = write_report([_hand_made_run(tmp_path / "one")]).read_text()
    assert "side by side" not in single


@pytest.mark.slow
def test_quick_grid_runs_end_to_end_with_the_real_model_and_index(tmp_path):
    result = CliRunner().invoke(main, ["eval", "run", "--grid", str(QUICK), "--limit", "2", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    results = json.loads((run_dir / "results.json").read_text())
    assert results["datasets"]["amazon2018_gift_cards"]["pairs"] == 2

    explain = [c for c in results["cells"] if c["kind"] == "explain"]
    assert [c["template"] for c in explain] == ["explain_default", "explain_terse"]
    for cell in explain:
        prov = cell["provenance"]
        assert prov["backend"] == "local" and prov["template_version"] and len(prov["split_sha256"]) == 64
        assert prov["git_commit"] and prov["prompt_hashes_sha256"] and cell["errors"] == {}
        rows = [json.loads(line) for line in (run_dir / cell["samples"]).read_text().splitlines()]
        assert len(rows) == 2 and all(r["raw_reply"] and r["prompt_hash"] for r in rows)
        # whatever the model said, what is displayed as fact is verified
        assert cell["metrics"]["claim_precision/displayed"]["value"] == 1.0

    (ranking,) = [c for c in results["cells"] if c["kind"] == "ranking"]
    assert set(ranking["metrics"]["sampled"]) == {"random", "popularity", "embedding", "whyrec", "whyrec+llm"}
    assert set(ranking["metrics"]["full"]) == {"random", "popularity", "embedding", "whyrec"}
    rows = [json.loads(line) for line in (run_dir / ranking["samples"]).read_text().splitlines()]
    assert all(1 <= r["ranks"]["sampled"]["whyrec"] <= 20 and r["n_candidates"]["sampled"] == 20 for r in rows)
    assert all(r["llm"]["raw_reply"] and len(r["llm"]["candidate_ids"]) > 1 for r in rows)  # each pair was asked

    report = (run_dir / "report.md").read_text()
    assert "| amazon2018_gift_cards | local-base | explain_terse | 2 |" in report and "NDCG@10" in report
    for png in ("claims_fmr.png", "ndcg.png"):
        with Image.open(run_dir / png) as image:
            image.verify()


def test_changed_since_lists_committed_uncommitted_and_new_files_under_the_paths(tmp_path):
    from agent.provenance import changed_since

    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    git("init", "-q")
    (tmp_path / "agent").mkdir()
    (tmp_path / "agent" / "a.py").write_text("x = 1\n")
    (tmp_path / "README.md").write_text("notes\n")
    git("add", ".")
    git("commit", "-qm", "start")
    start = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    assert changed_since(start, ["agent"], tmp_path) == []
    (tmp_path / "README.md").write_text("more notes\n")  # outside the paths: a resumed run does not care
    assert changed_since(start, ["agent"], tmp_path) == []
    (tmp_path / "agent" / "a.py").write_text("x = 2\n")
    (tmp_path / "agent" / "b.py").write_text("y = 1\n")
    assert changed_since(start, ["agent"], tmp_path) == ["agent/a.py", "agent/b.py"]
    git("add", ".")
    git("commit", "-qm", "change")
    assert changed_since(start, ["agent"], tmp_path) == ["agent/a.py", "agent/b.py"]
    assert changed_since("0" * 40, ["agent"], tmp_path) is None  # a commit this checkout does not have


@pytest.mark.slow
def test_an_interrupted_run_resumes_to_the_same_samples_and_figures(tmp_path, monkeypatch):
    """A run killed inside its second cell (one whole batch written, the next cut mid-line) continues after the
    whole batch and ends as the uninterrupted run did. Refused once finished, or when the code changed."""
    from agent import provenance
    from agent.settings import Settings
    from eval.runner import CannotResume, GridRunner

    grid = load_grid(QUICK).model_copy(update={"tasks": ["explain"], "batch_size": 1, "limit": 3})
    whole = GridRunner(grid, Settings(), tmp_path / "whole", progress=False).run()
    cut = tmp_path / "cut" / whole.name
    shutil.copytree(whole, cut)
    results = json.loads((cut / "results.json").read_text())
    results["git"]["dirty"] = False  # a run from uncommitted code is refused (below); this checkout may be one
    first, second = results["cells"]
    (cut / "results.json").write_text(json.dumps(results | {"cells": [first]}))
    lines = (cut / second["samples"]).read_text().splitlines()
    (cut / second["samples"]).write_text(lines[0] + "\n" + lines[1][: len(lines[1]) // 2])  # killed mid-write

    monkeypatch.setattr(provenance, "changed_since", lambda commit, paths: [])  # this checkout may be uncommitted
    GridRunner.resume(cut, Settings(), progress=False).run()

    def without_timings(path):
        return [{k: v for k, v in json.loads(line).items() if k != "timings_ms"}
                for line in path.read_text().splitlines()]

    resumed = json.loads((cut / "results.json").read_text())
    assert [c["cell"] for c in resumed["cells"]] == [first["cell"], second["cell"]]
    assert resumed["cells"][0] == first and resumed["cells"][1]["continued_after_pairs"] == 1
    assert resumed["cells"][1]["metrics"] == second["metrics"] and len(resumed["resumed"]) == 1
    assert without_timings(cut / second["samples"]) == without_timings(whole / second["samples"])

    with pytest.raises(CannotResume, match="finished"):
        GridRunner.resume(cut, Settings())
    (cut / "results.json").write_text(json.dumps(results | {"cells": [first]}))
    monkeypatch.setattr(provenance, "changed_since", lambda commit, paths: ["agent/explain.py"])
    with pytest.raises(CannotResume, match="agent/explain.py"):
        GridRunner.resume(cut, Settings())
    (cut / "results.json").write_text(json.dumps(results | {"cells": [first], "git": {"commit": "abc", "dirty": True}}))
    with pytest.raises(CannotResume, match="uncommitted"):
        GridRunner.resume(cut, Settings())


def test_eval_run_takes_a_grid_or_a_run_to_resume_and_says_why_it_cannot_resume(tmp_path):
    neither = CliRunner().invoke(main, ["eval", "run"])
    assert neither.exit_code == 2 and "give either --grid or --resume" in neither.output
    unknown_commit = CliRunner().invoke(main, ["eval", "run", "--resume", str(_hand_made_run(tmp_path))])
    assert unknown_commit.exit_code == 1
    assert "cannot resume: git cannot compare this checkout with abc" in unknown_commit.output

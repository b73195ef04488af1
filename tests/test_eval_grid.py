"""The evaluation grid end to end: grid validation and the report (fast), then the quick grid on the real tiny
model, the real Chroma index and the real gift-card split (slow)."""

import json
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
    assert standard.limit is None and len(standard.templates) == 4 and standard.rank_template == "rank_default"


def test_a_grid_naming_an_unknown_or_wrong_kind_of_template_is_refused():
    base = {"name": "g", "datasets": ["d"], "backends": [{"name": "b"}]}
    with pytest.raises(ValueError, match="did you mean explain_terse"):
        Grid.model_validate(base | {"templates": ["explain_ters"]})
    with pytest.raises(ValueError, match="is a rank template"):
        Grid.model_validate(base | {"templates": ["rank_default"]})
    with pytest.raises(ValueError, match="extra"):
        Grid.model_validate(base | {"templates": ["explain_default"], "temprature": 0})


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

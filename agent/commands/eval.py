"""`whyrec eval`: offline evaluation as a grid (templates × backends/adapters × datasets) and its report."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("eval")
def command() -> None:
    """Offline evaluation on held-out (user, item) pairs: faithfulness of the reasons, their usefulness (degenerate
    text, vacuous claims, distinctness), their overlap with the held-out review (BLEU/ROUGE/USR/FMR/FCR/DIV) and
    ranking (HR/NDCG/MRR) against baselines; and scoring of any system's explanations (`score`)."""


@command.command("run")
@click.option("--grid", "grid_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Grid YAML (see eval/grids/quick.yaml).")
@click.option("--resume", "resume_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Continue this interrupted run (instead of --grid): its finished cells and whole batches are kept; "
                   "refused if the code that produces the figures, an adapter or the index changed since it started.")
@click.option("--limit", type=int, default=None, help="Only the first N held-out users (overrides the grid).")
@click.option("--out", "out_root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder that receives <run_id>/ (default eval/runs).")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="Folder of datasets.")
@click.option("--no-report", is_flag=True, help="Do not write report.md and the plots into the run folder.")
def run(grid_file: Path | None, resume_dir: Path | None, limit: int | None, out_root: Path | None,
        data_dir: Path | None, no_report: bool) -> None:
    """Run every cell of the grid; write results.json and samples/*.jsonl under eval/runs/<run_id>/.

    \b
    Examples:
      whyrec eval run --grid eval/grids/quick.yaml --limit 5
      whyrec eval run --resume eval/runs/standard-20261202T060000Z-1234abcd
    """
    from agent.settings import Settings
    from eval.grid import load_grid
    from eval.report import write_report
    from eval.runner import RUNS_DIR, CannotResume, GridRunner

    if (grid_file is None) == (resume_dir is None):
        raise click.UsageError("give either --grid or --resume")
    if resume_dir is not None and (limit is not None or out_root is not None):
        raise click.UsageError("--resume continues a run as it started: no --limit or --out")
    settings = Settings(**({"data_dir": data_dir} if data_dir else {}))
    try:
        runner = (GridRunner.resume(resume_dir, settings) if resume_dir is not None
                  else GridRunner(load_grid(grid_file), settings, out_root or RUNS_DIR, limit))
        run_dir = runner.run()
    except CannotResume as e:
        raise click.ClickException(f"cannot resume: {e}") from e
    click.echo(f"run: {run_dir}")
    if not no_report:
        click.echo(f"report: {write_report([run_dir])}")


@command.command("report")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where report.md and the PNGs go (default: the first run folder).")
@click.option("--rescore", is_flag=True,
              help="First recompute the usefulness metrics of every explanation cell from its stored samples (loads "
                   "the dataset) and add them to results.json; for runs made before those metrics existed.")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="Folder of datasets (--rescore).")
def report(run_dirs: tuple[Path, ...], out_dir: Path | None, rescore: bool, data_dir: Path | None) -> None:
    """Markdown tables and PNG plots from one or more run folders."""
    from eval.report import write_report

    if rescore:
        from eval.score import rescore_run

        for run_dir in run_dirs:
            click.echo(f"rescored {run_dir}: {', '.join(rescore_run(run_dir, data_dir)) or 'no explanation cells'}")
    click.echo(write_report(list(run_dirs), out_dir))


@command.command("score")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dataset", default=None,
              help="Catalogue to score against (default: the grid cell's dataset for a grid samples file, else the "
                   "settings' dataset).")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="Folder of datasets.")
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON instead of a table.")
def score(file: Path, dataset: str | None, data_dir: Path | None, as_json: bool) -> None:
    """Score explanations written by any system with whyrec's text-level faithfulness and usefulness metrics.

    \b
    FILE.jsonl holds one explanation per line:
      {"user_id": "...", "item_id": "...", "text": "...",
       "claims": [{"kind": "attribute", "attribute": "brand", "value": "Amazon"}],   (optional)
       "request": "a birthday gift card under $50", "answer_id": "turn-1", "review": "..."}   (optional)
    Claims are verified against the item, the user's history and the request; the text must state no price,
    brand or other catalogue value the item does not have. A grid run's samples file
    (eval/runs/<run>/samples/<cell>.jsonl) is scored on its recorded verdicts, in both views, giving the
    grid's numbers. Malformed rows are counted by reason, never fatal.

    \b
    Example:
      whyrec eval score peter_outputs.jsonl --dataset amazon2018_gift_cards
    """
    import json

    from eval.runner import _jsonable
    from eval.score import score_file, table

    scored = score_file(file, dataset, data_dir)
    if as_json:
        click.echo(json.dumps(_jsonable({"source": scored.source, "dataset": scored.dataset, "kind": scored.kind,
                                         "rows": scored.rows, "malformed": dict(scored.malformed),
                                         "metrics": scored.metrics, "flagged": scored.flagged}), indent=1))
    else:
        click.echo(table(scored))


@command.command("split")
@click.option("--dataset", default=None, help="Dataset folder (default from settings).")
@click.option("--seed", type=int, default=0, show_default=True)
def split(dataset: str | None, seed: int) -> None:
    """Make (or load) the saved leave-last-out split and print its counts and sha256."""
    from agent.settings import Settings
    from index.split import get_split, split_path
    from index.loaders import load_dataset

    settings = Settings(**({"dataset": dataset} if dataset else {}))
    s = get_split(load_dataset(settings.dataset, settings.data_dir), settings.data_dir, seed)
    click.echo(f"{split_path(s.dataset, seed)}\n  users {len(s.history)}, test {len(s.test)}, "
               f"validation {len(s.validation)}, history {sum(map(len, s.history.values()))}, skipped {s.skipped}\n"
               f"  sha256 {s.sha256}")


@command.command("metrics")
def metrics() -> None:
    """List the registered metrics: group, direction, inputs, definition."""
    from eval.metrics import METRICS

    for m in METRICS.values():
        direction = "higher" if m.higher_is_better else "lower"
        click.echo(f"{m.name:28} {m.group:13} {direction:6} {m.level:8} {','.join(m.requires):40} {m.description}")


@command.command("targets")
@click.option("--dataset", "datasets", multiple=True, help="Dataset(s) with held-out users (default: the adapter "
              "grid's, amazon2018_gift_cards and steam).")
@click.option("--limit", type=int, default=100, show_default=True, help="The first N held-out users, as the grid.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("eval/results/target_variety.json"),
              show_default=True)
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="Folder of datasets.")
@click.option("--template", "templates", multiple=True, help="Explain template(s) (default: the adapter grid's).")
@click.option("--reason-chars", type=int, default=None,
              help="Build the targets as if each template allowed this many characters (default: its own limit).")
@click.option("--split", type=click.Choice(["test", "validation"]), default="test", show_default=True,
              help="Whose held-out pairs: the grid's (test), or validation pairs to tune a change to the targets on.")
def targets(datasets: tuple[str, ...], limit: int, out: Path, data_dir: Path | None, templates: tuple[str, ...],
            reason_chars: int | None, split: str) -> None:
    """The variety (USR, top text share, DIV) and FMR of the adapter's training targets on the adapter grid's held-out pairs,
    for every explain template: the ceiling an adapter trained on them can show (eval/target_variety.py). No model.
    `--reason-chars 110 --template explain_terse`: what a 60-character template's targets would reach at 110."""
    from agent.settings import Settings
    from eval.grid import DEFAULT_MESSAGE, load_grid
    from eval.target_variety import ADAPTER_GRID, target_variety, write

    grid = load_grid(ADAPTER_GRID)
    data_dir = data_dir or Settings().data_dir
    results = {name: target_variety(name, data_dir, list(templates or grid.templates), limit,
                                    reason_chars=reason_chars, split=split) for name in datasets or grid.datasets}
    for name, by_template in results.items():
        for template_id, r in by_template.items():
            click.echo(f"{name:24} {template_id:20} pairs {r['pairs']:4}  USR {r['usr']:.3f}  "
                       f"top text {r['top_text_share']:.3f}  DIV {r['div']:.3f}  FMR {r['fmr']:.3f}")
    write({"limit": limit, "split": split, "message": DEFAULT_MESSAGE, "reason_chars": reason_chars, **results}, out)
    click.echo(f"wrote {out}")

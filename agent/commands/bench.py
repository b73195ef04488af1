"""`whyrec bench`: speed benchmarks, printed as a table and written as JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.command("bench")
@click.option("--only", default=None, metavar="NAMES",
              help="Comma-separated benchmarks to run (default: all). See the list below.")
@click.option("--quick", is_flag=True, help="A 3,000-item Steam sample instead of the full 32k (about a minute).")
@click.option("--items", type=click.IntRange(min=100), default=None,
              help="A fixed-seed sample of this many Steam items for index and retrieval (--quick: 3,000).")
@click.option("--turns", type=click.IntRange(min=1), default=None,
              help="Chat turns per turn benchmark (default 4 with --quick, 12 otherwise); tests use fewer.")
@click.option("--json", "as_json", is_flag=True, help="Print the results JSON instead of the table.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Where to write the results JSON (default: .whyrec/bench/latest.json).")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="Folder holding the steam dataset folder (default ../shared/data).")
@click.option("--readme", type=click.Path(path_type=Path, exists=True), default=None,
              help="Also rewrite this file's <!-- bench:begin --> … <!-- bench:end --> block with the figures.")
def command(only: str | None, quick: bool, items: int | None, turns: int | None, as_json: bool, out: Path | None,
            data_dir: Path | None, readme: Path | None) -> None:
    """Measure how fast whyrec is on this machine and write the figures as JSON.

    \b
    Benchmarks:
      index      Steam index build rate (items/s) and the raw MiniLM encode rate on the same texts in the same run;
                 build_over_encode is the figure that matters (the index adds little beyond encoding).
      retrieval  filtered top-50 candidates from the 32k-item Steam index: p50/p95 ms over a mix of filters
                 (query vectors precomputed), and with the query encoding included; in memory (the default, with
                 the snapshot's load time and resident memory) and, as chroma_*, through Chroma's HNSW index.
      turn       a chat turn, k=5 with reasons, on the embedded default (gift cards, local model): p50/p95 latency
                 and time to the first generated token.
      decode     the chain's decode tokens/s vs raw transformers generate on the same prompts (ratio).
      server_turn  the same turns through a vLLM server at WHYREC_OPENAI_BASE_URL, when one is running.
    The run also records the peak RSS and the machine (cores, CPU, load, date, git commit).

    Everything runs in a temporary Chroma directory: your own index is never touched.

    \b
    Examples:
      whyrec bench --quick
      whyrec bench --only retrieval --json
      whyrec bench --out eval/results/bench.json --readme README.md
    """
    from agent.settings import Settings
    from eval.bench import BENCHMARKS, format_table, run_benchmarks, unknown_benchmarks

    names = [n.strip() for n in only.split(",") if n.strip()] if only else None
    if names and (bad := unknown_benchmarks(names)):
        click.echo(f"error: unknown benchmark(s) {', '.join(bad)}; known: {', '.join(BENCHMARKS)}", err=True)
        sys.exit(2)
    settings = Settings(**({"data_dir": data_dir} if data_dir else {}))
    results = run_benchmarks(settings, names, quick=quick, turns=turns, items=items,
                             progress=lambda line: click.echo(line, err=True))
    out = out or settings.home / "bench" / "latest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    click.echo(json.dumps(results, indent=2) if as_json else format_table(results))
    click.echo(f"wrote {out}", err=True)
    if readme:
        from eval.figures import bench_table, update_readme

        update_readme(readme, bench_table(results, str(out)))
        click.echo(f"updated the figures in {readme}", err=True)

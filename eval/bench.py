"""Speed benchmarks: `run_benchmarks` runs the chosen registered benchmarks (eval/bench_registry.py) in one process
and adds the machine they ran on: CPU, its capability, the dtype, load, commit."""

from __future__ import annotations

import datetime as dt
import os
import platform
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.provenance import git_state
from agent.settings import Settings
from eval import bench_index, bench_turn  # noqa: F401  (each registers its benchmarks)
from eval.bench_registry import BENCH_DATASET, BENCHMARKS, BenchContext


def machine(settings: Settings | None = None) -> dict[str, Any]:
    """Where the figures come from: the CPU, its vector capability and the dtype the model runs in there (bf16 is
    5x slower than fp32 on a CPU that only emulates it, so a figure means little without both)."""
    from agent.llm.dtype import choose_dtype, choose_quantize, cpu_info
    from agent.llm.local import resolve_device

    cpu, settings = cpu_info(), settings or Settings()
    device = resolve_device(settings.device)
    return {
        "cores": os.cpu_count(),
        "cpu": cpu.model,
        "cpu_capability": cpu.capability,
        "device": device,
        "dtype": (dtype := choose_dtype(settings.dtype, device, cpu)),
        "dtype_setting": settings.dtype,
        "quantize": choose_quantize(settings.quantize, device, dtype),
        "quantize_setting": settings.quantize,
        "speculate": settings.speculate,
        "attention": settings.attention,
        "load_avg_1m_at_start": round(os.getloadavg()[0], 2),  # other work on the machine skews every figure
        "python": platform.python_version(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_commit": git_state().label(),
    }


def unknown_benchmarks(names: list[str]) -> list[str]:
    return [n for n in names if n not in BENCHMARKS]


def run_benchmarks(settings: Settings, names: list[str] | None = None, quick: bool = False, turns: int | None = None,
                   progress: Callable[[str], None] | None = None, items: int | None = None) -> dict[str, Any]:
    """Run the named benchmarks (all, in registration order, when None); returns the results document."""
    names = list(BENCHMARKS) if names is None else names
    if bad := unknown_benchmarks(names):
        raise KeyError(f"unknown benchmark(s) {bad}; known: {', '.join(BENCHMARKS)}")
    results: dict[str, Any] = {"machine": machine(settings), "quick": quick, "turns": turns, "dataset": BENCH_DATASET,
                               "benchmarks": {}}
    with tempfile.TemporaryDirectory(prefix="whyrec-bench-") as tmp:
        ctx = BenchContext(settings=settings, quick=quick, home=Path(tmp), turns=turns, items=items)
        results["sample_items"] = ctx.sample_items
        for name in names:
            if progress:
                progress(f"running {name}: {BENCHMARKS[name].description}")
            start = time.perf_counter()
            figures = BENCHMARKS[name].run(ctx)
            figures["wall_s"] = round(time.perf_counter() - start, 2)
            figures["peak_rss_mib_so_far"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
            results["benchmarks"][name] = figures
    # ru_maxrss is KiB on Linux: the peak of the whole run (model, catalogue, Chroma all live in this process)
    results["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return results


def format_table(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [f"whyrec bench ({'quick' if results['quick'] else 'full'}) on {m['cores']} cores, {m['cpu']} "
             f"({m.get('cpu_capability', '?')}), {m.get('dtype', '?')}, load {m['load_avg_1m_at_start']}, {m['date']}, commit {m['git_commit']}"]
    width = max((len(k) for figs in results["benchmarks"].values() for k in figs), default=10)
    for name, figures in results["benchmarks"].items():
        lines.append(f"\n[{name}]")
        lines += [f"  {key:<{width}}  {value}" for key, value in figures.items()]
    lines.append(f"\npeak RSS {results['peak_rss_mib']} MiB")
    return "\n".join(lines)

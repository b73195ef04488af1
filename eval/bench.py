"""Speed benchmarks: a small registry of named benchmarks, each a function of a BenchContext returning a flat dict of
figures. `run_benchmarks` runs the chosen ones in one process and adds the machine they ran on.

Every benchmark works inside a temporary home (its own Chroma), so the user's index is never touched. Benchmarks
may share work through the context (the Steam catalogue is loaded once; `retrieval` reuses the index `index` built,
or builds it, which is the same idempotent call).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import random
import resource
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from agent.settings import PROJECT_ROOT, Settings
from index.models import Dataset

BENCH_DATASET = "steam"  # the largest shipped catalogue: 32k items
QUICK_ITEMS = 3000


@dataclass
class BenchContext:
    settings: Settings  # the user's settings (data_dir, batch sizes)
    quick: bool
    home: Path  # a temporary home: the benchmark's own Chroma
    shared: dict[str, Any] = field(default_factory=dict)

    @property
    def bench_settings(self) -> Settings:
        return self.settings.model_copy(update={"home": self.home, "chroma_url": None})

    @cached_property
    def catalogue(self) -> tuple[Dataset, str, float]:
        """(dataset, fingerprint, load seconds): full Steam, or a fixed-seed sample of it with --quick."""
        from index.loaders import dataset_fingerprint, load_dataset

        start = time.perf_counter()
        dataset = load_dataset(BENCH_DATASET, self.settings.data_dir)
        load_s = time.perf_counter() - start
        fingerprint = dataset_fingerprint(BENCH_DATASET, self.settings.data_dir)
        if self.quick:
            items = random.Random(0).sample(dataset.items, min(QUICK_ITEMS, len(dataset.items)))
            dataset = dataset.model_copy(update={"items": items, "interactions": [], "bundles": []})
            fingerprint = f"{fingerprint}-sample{len(items)}"
        return dataset, fingerprint, load_s


@dataclass(frozen=True)
class Benchmark:
    name: str
    description: str
    run: Callable[[BenchContext], dict[str, Any]]


BENCHMARKS: dict[str, Benchmark] = {}


def register(name: str, description: str):
    def decorator(fn: Callable[[BenchContext], dict[str, Any]]):
        BENCHMARKS[name] = Benchmark(name, description, fn)
        return fn

    return decorator


@register("index", "Steam index build rate vs the raw MiniLM encode rate on the same texts (their ratio matters)")
def bench_index(ctx: BenchContext) -> dict[str, Any]:
    from index import embed
    from index.build import index_dataset

    dataset, fingerprint, load_s = ctx.catalogue
    texts = [i.text for i in dataset.items]
    batch = ctx.settings.embed_batch
    embed.encode(texts[:batch], batch_size=batch)  # load and warm the model so neither figure pays for it

    start = time.perf_counter()
    embed.encode(texts, batch_size=batch)
    encode_s = time.perf_counter() - start

    start = time.perf_counter()
    counts = index_dataset(dataset, ctx.bench_settings, fingerprint, progress=False)
    build_s = time.perf_counter() - start
    ctx.shared["indexed"] = True

    encode_rate, build_rate = len(texts) / encode_s, len(texts) / build_s
    return {
        "items": len(texts),
        "encoded": counts["encoded"],
        "embed_batch": batch,
        "load_s": round(load_s, 2),
        "encode_s": round(encode_s, 2),
        "build_s": round(build_s, 2),
        "encode_items_per_s": round(encode_rate, 1),
        "build_items_per_s": round(build_rate, 1),
        "build_over_encode": round(build_rate / encode_rate, 3),
        "build_with_load_items_per_s": round(len(texts) / (build_s + load_s), 1),
    }


# Filters fields, from broad to selective, as a chat produces them
_FILTER_MIX: list[dict[str, Any]] = [
    {},
    {"price_max": 10},
    {"genres": ["Action"]},
    {"genres": ["Action"], "tags": ["Co-op"]},
    {"tags": ["Multiplayer"], "specs": ["Multi-player"], "price_max": 20},
    {"genres": ["Indie"], "price_min": 5, "price_max": 15},
    {"genres": ["Strategy"], "tags": ["Turn-Based"], "specs": ["Single-player"]},
    {"genres": ["RPG"], "exclude_ids": "top50"},
]
_QUERIES = [
    "a relaxing puzzle game with a beautiful story", "fast multiplayer shooter to play with friends",
    "open world survival crafting", "turn-based strategy with deep tactics", "cute farming simulator",
    "horror game that is really scary", "retro platformer with pixel art", "space exploration and trading",
    "racing game with realistic cars", "card game roguelike", "city building management",
    "visual novel with romance", "co-op dungeon crawler", "sports game football", "free to play MMO fantasy",
]


@register("retrieval", "Filtered top-50 candidates from the Steam index: p50/p95 latency over a mix of filters, in "
                      "memory (the default) and in Chroma")
def bench_retrieval(ctx: BenchContext) -> dict[str, Any]:
    from index import embed
    from index.build import index_dataset
    from index.retrieve import Filters, Retriever

    dataset, fingerprint, _ = ctx.catalogue
    if not ctx.shared.get("indexed"):
        index_dataset(dataset, ctx.bench_settings, fingerprint, progress=False)
        ctx.shared["indexed"] = True
    memory = Retriever(BENCH_DATASET, ctx.bench_settings.model_copy(update={"retrieval": "memory"}))
    chroma = Retriever(BENCH_DATASET, ctx.bench_settings.model_copy(update={"retrieval": "chroma"}))
    vectors = embed.encode(_QUERIES, batch_size=len(_QUERIES))

    rss_before, start = _rss_mib(), time.perf_counter()
    memory.snapshot.get()
    snapshot_load_s, snapshot_rss_mib = time.perf_counter() - start, _rss_mib() - rss_before

    cases = []
    for vector in vectors:
        for mix in _FILTER_MIX:
            spec = dict(mix)
            if spec.get("exclude_ids") == "top50":  # a long exclusion list, as a user's history makes one
                spec["exclude_ids"] = [c.item.item_id for c in memory.candidates_for_vector(vector, None, 50)]
            cases.append((vector, Filters(**spec)))

    memory_ms, memory_returned = _time_candidates(memory, cases)
    chroma_ms, chroma_returned = _time_candidates(chroma, cases)

    # end to end as the chain calls it: a fresh query text (no cache hit) is encoded, then searched
    fresh = [f"{q} (variant {n})" for n in range(4) for q in _QUERIES][:50]
    end_to_end = []
    for n, text in enumerate(fresh):
        start = time.perf_counter()
        memory.candidates(text, cases[n % len(cases)][1], 50)
        end_to_end.append((time.perf_counter() - start) * 1000)

    return {
        "items": memory.items_col.count(),
        "queries": len(memory_ms),
        "filters_in_mix": len(_FILTER_MIX),
        "n": 50,
        "p50_ms": round(statistics.median(memory_ms), 2),
        "p95_ms": round(_percentile(memory_ms, 95), 2),
        "mean_ms": round(statistics.fmean(memory_ms), 2),
        "mean_returned": round(statistics.fmean(memory_returned), 1),
        "snapshot_load_s": round(snapshot_load_s, 2),
        "snapshot_rss_mib": round(snapshot_rss_mib, 1),
        "with_query_encode_p50_ms": round(statistics.median(end_to_end), 2),
        "with_query_encode_p95_ms": round(_percentile(end_to_end, 95), 2),
        "chroma_p50_ms": round(statistics.median(chroma_ms), 2),
        "chroma_p95_ms": round(_percentile(chroma_ms, 95), 2),
        "chroma_mean_returned": round(statistics.fmean(chroma_returned), 1),
        "chroma_exact_fallbacks": chroma.exact_fallbacks,
    }


def _time_candidates(retriever, cases: list) -> tuple[list[float], list[int]]:
    """Milliseconds per top-50 search and candidates returned, after a warm-up (caches, first-query paths)."""
    for vector, filters in cases[:16]:
        retriever.candidates_for_vector(vector, filters, 50)
    latencies, returned = [], []
    for vector, filters in cases:
        start = time.perf_counter()
        found = retriever.candidates_for_vector(vector, filters, 50)
        latencies.append((time.perf_counter() - start) * 1000)
        returned.append(len(found))
    return latencies, returned


def _rss_mib() -> float:
    """Resident memory now (not the peak): /proc/self/statm counts pages."""
    fields = _read("/proc/self/statm").split()
    return int(fields[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20 if len(fields) > 1 else 0.0


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def machine(settings: Settings | None = None) -> dict[str, Any]:
    """Where the figures come from: the CPU, its vector capability and the dtype the model runs in there (bf16 is
    5x slower than fp32 on a CPU that only emulates it, so a figure means little without both)."""
    from agent.llm.dtype import choose_dtype, cpu_info
    from agent.llm.local import resolve_device

    cpu, settings = cpu_info(), settings or Settings()
    device = resolve_device(settings.device)
    return {
        "cores": os.cpu_count(),
        "cpu": cpu.model,
        "cpu_capability": cpu.capability,
        "device": device,
        "dtype": choose_dtype(settings.dtype, device, cpu),
        "dtype_setting": settings.dtype,
        "load_avg_1m_at_start": round(os.getloadavg()[0], 2),  # other work on the machine skews every figure
        "python": platform.python_version(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
    }


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _git_commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=PROJECT_ROOT,
                              timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, cwd=PROJECT_ROOT,
                               timeout=5).stdout.strip()
        return f"{head}{'+dirty' if dirty else ''}" if head else "unknown"
    except OSError:
        return "unknown"


def unknown_benchmarks(names: list[str]) -> list[str]:
    return [n for n in names if n not in BENCHMARKS]


def run_benchmarks(settings: Settings, names: list[str] | None = None, quick: bool = False,
                   progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the named benchmarks (all, in registration order, when None); returns the results document."""
    names = list(BENCHMARKS) if names is None else names
    if bad := unknown_benchmarks(names):
        raise KeyError(f"unknown benchmark(s) {bad}; known: {', '.join(BENCHMARKS)}")
    results: dict[str, Any] = {"machine": machine(settings), "quick": quick, "dataset": BENCH_DATASET, "benchmarks": {}}
    with tempfile.TemporaryDirectory(prefix="whyrec-bench-") as tmp:
        ctx = BenchContext(settings=settings, quick=quick, home=Path(tmp))
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


from eval import bench_turn  # noqa: E402,F401  (registers turn, decode, server_turn; it imports this module)

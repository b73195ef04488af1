"""The benchmark registry: named benchmarks, each a function of a BenchContext returning a flat dict of figures
(eval/bench_index.py, eval/bench_turn.py register theirs; eval/bench.py runs them).

Every benchmark works inside a temporary home (its own Chroma), so the user's index is never touched. Benchmarks
may share work through the context (the Steam catalogue is loaded once; `retrieval` reuses the index `index` built,
or builds it, which is the same idempotent call).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from agent.settings import Settings
from index.models import Dataset

BENCH_DATASET = "steam"  # the largest shipped catalogue: 32k items
QUICK_ITEMS = 3000


@dataclass
class BenchContext:
    settings: Settings  # the user's settings (data_dir, batch sizes)
    quick: bool
    home: Path  # a temporary home: the benchmark's own Chroma
    turns: int | None = None  # chat turns per turn benchmark; None = 4 quick, 12 full
    items: int | None = None  # a fixed-seed sample of this many Steam items; None = QUICK_ITEMS quick, all full
    shared: dict[str, Any] = field(default_factory=dict)

    @property
    def sample_items(self) -> int | None:
        return self.items or (QUICK_ITEMS if self.quick else None)

    @property
    def n_turns(self) -> int:
        return self.turns or (4 if self.quick else 12)

    @property
    def bench_settings(self) -> Settings:
        return self.settings.model_copy(update={"home": self.home, "chroma_url": None})

    @cached_property
    def catalogue(self) -> tuple[Dataset, str, float]:
        """(dataset, fingerprint, load seconds): full Steam, or a fixed-seed sample of it (--quick, --items)."""
        from index.loaders import dataset_fingerprint, load_dataset

        start = time.perf_counter()
        dataset = load_dataset(BENCH_DATASET, self.settings.data_dir)
        load_s = time.perf_counter() - start
        fingerprint = dataset_fingerprint(BENCH_DATASET, self.settings.data_dir)
        if self.sample_items:
            items = random.Random(0).sample(dataset.items, min(self.sample_items, len(dataset.items)))
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


def rss_mib() -> float:
    """Resident memory now (not the peak): /proc/self/statm counts pages."""
    try:
        fields = Path("/proc/self/statm").read_text().split()
    except OSError:
        return 0.0
    return int(fields[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20 if len(fields) > 1 else 0.0


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]

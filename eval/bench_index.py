"""Index and retrieval benchmarks on the full Steam catalogue (32k items; a 3,000-item sample with --quick)."""

from __future__ import annotations

import statistics
import time
from typing import Any

from eval.bench_registry import BENCH_DATASET, BenchContext, percentile, register, rss_mib


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

    rss_before, start = rss_mib(), time.perf_counter()
    memory.snapshot.get()
    snapshot_load_s, snapshot_rss_mib = time.perf_counter() - start, rss_mib() - rss_before

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
        "p95_ms": round(percentile(memory_ms, 95), 2),
        "mean_ms": round(statistics.fmean(memory_ms), 2),
        "mean_returned": round(statistics.fmean(memory_returned), 1),
        "snapshot_load_s": round(snapshot_load_s, 2),
        "snapshot_rss_mib": round(snapshot_rss_mib, 1),
        "with_query_encode_p50_ms": round(statistics.median(end_to_end), 2),
        "with_query_encode_p95_ms": round(percentile(end_to_end, 95), 2),
        "chroma_p50_ms": round(statistics.median(chroma_ms), 2),
        "chroma_p95_ms": round(percentile(chroma_ms, 95), 2),
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

"""Ranking metrics for leave-last-out evaluation with ONE held-out positive per user. Each example is the
1-based `rank` of that positive among the scored candidates (ties already broken by a hash, never by id)."""

from __future__ import annotations

import math

from eval.metrics.registry import register


def hit_rate(rank: int, k: int) -> float:
    """HR@k = 1 if rank <= k else 0. Range [0, 1]."""
    return float(rank <= k)


def ndcg(rank: int, k: int) -> float:
    """NDCG@k with one relevant item: 1 / log2(rank + 1) if rank <= k else 0 (the ideal DCG is 1). [0, 1]."""
    return 1.0 / math.log2(rank + 1) if rank <= k else 0.0


@register("hr@1", group="ranking", higher_is_better=True, requires=("rank",))
def hr1(rank: int) -> float:
    """HR@1: the held-out item is ranked first. Range [0, 1]."""
    return hit_rate(rank, 1)


@register("hr@5", group="ranking", higher_is_better=True, requires=("rank",))
def hr5(rank: int) -> float:
    """HR@5: the held-out item is in the top 5. Range [0, 1]."""
    return hit_rate(rank, 5)


@register("hr@10", group="ranking", higher_is_better=True, requires=("rank",))
def hr10(rank: int) -> float:
    """HR@10: the held-out item is in the top 10. Range [0, 1]."""
    return hit_rate(rank, 10)


@register("ndcg@10", group="ranking", higher_is_better=True, requires=("rank",))
def ndcg10(rank: int) -> float:
    """NDCG@10 = 1/log2(rank+1) within the top 10, else 0. Range [0, 1]."""
    return ndcg(rank, 10)


@register("mrr", group="ranking", higher_is_better=True, requires=("rank",))
def mrr(rank: int) -> float:
    """MRR = 1/rank over the whole list (not truncated). Range (0, 1]."""
    return 1.0 / rank

"""Attention for the CPU decode loop: a few query tokens against a long KV cache.

A decode step feeds each row one token, or a few (forced text, guessed tokens). For such blocks torch's SDPA on the
CPU copies the key/value cache for every query head (`repeat_kv`: with a padding mask it cannot use grouped heads)
and runs its flash kernel, whose per-call setup dominates at this size: of a 5-row, 5-token step over a 560-token
cache, copies took 29 % and the flash kernel 19 % (torch.profiler, bf16, 2 cores). Here the grouped query heads are
folded onto their key/value head instead (no copy) and attention is two plain matmuls with the softmax in fp32:
transformers' eager attention, less the copy. Blocks longer than `SMALL_QUERY_TOKENS` (prefill) go to SDPA.

Registered with transformers' public `AttentionInterface` / `AttentionMaskInterface` under `SMALL_QUERY_ATTENTION`
and chosen per model load (`attn_implementation=`); `WHYREC_ATTENTION=sdpa` keeps SDPA throughout."""

from __future__ import annotations

from typing import Any

SMALL_QUERY_ATTENTION = "whyrec_small_query"
SMALL_QUERY_TOKENS = 8


def small_query_attention(module: Any, query: Any, key: Any, value: Any, attention_mask: Any,
                          dropout: float = 0.0, scaling: float | None = None, **kwargs: Any) -> tuple[Any, None]:
    """query (batch, heads, q, dim), key/value (batch, kv_heads, keys, dim), attention_mask boolean (batch, 1, q,
    keys; True = attend) or None (causal) -> output (batch, q, heads, dim), as transformers' attention functions."""
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    batch, heads, q, dim = query.shape
    if q > SMALL_QUERY_TOKENS or (dropout and module.training):
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      **kwargs)
    kv_heads, keys = key.shape[1], key.shape[2]
    group = heads // kv_heads
    scale = scaling if scaling is not None else dim ** -0.5
    folded = query.reshape(batch, kv_heads, group * q, dim)  # head h reads kv head h // group, as repeat_kv makes it
    scores = torch.matmul(folded, key.transpose(2, 3)) * scale  # (batch, kv_heads, group * q, keys)
    if attention_mask is None:
        attention_mask = torch.ones(q, keys, dtype=torch.bool, device=query.device).tril(keys - q)[None, None]
    allowed = attention_mask[..., :keys]
    if allowed.dtype != torch.bool:  # an additive float mask: 0 where attended
        allowed = allowed == 0
    allowed = allowed.unsqueeze(2).expand(allowed.shape[0], 1, group, q, keys).reshape(-1, 1, group * q, keys)
    scores = scores.masked_fill(~allowed, float("-inf"))
    weights = torch.softmax(scores, dim=-1, dtype=torch.float32).to(value.dtype)
    return torch.matmul(weights, value).reshape(batch, heads, q, dim).transpose(1, 2).contiguous(), None


def choose_attention(setting: str, device: str) -> str:
    """`attn_implementation` for a model load: this module's on a CPU under "auto", else transformers' SDPA."""
    if setting not in ("auto", "sdpa"):
        raise ValueError(f"attention must be auto or sdpa, not {setting!r}")
    return register() if setting == "auto" and device == "cpu" else "sdpa"


def register() -> str:
    """Make the implementation loadable by name (idempotent); returns the name for `attn_implementation`."""
    from transformers import AttentionInterface, AttentionMaskInterface
    from transformers.masking_utils import sdpa_mask

    AttentionInterface.register(SMALL_QUERY_ATTENTION, small_query_attention)
    AttentionMaskInterface.register(SMALL_QUERY_ATTENTION, sdpa_mask)  # boolean masks, as SDPA gets them
    return SMALL_QUERY_ATTENTION

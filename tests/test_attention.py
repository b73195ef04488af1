"""The decode loop's attention for few query tokens computes what SDPA computes: same padding, causality and grouped
heads, on random tensors in fp32 (no model)."""

from __future__ import annotations

import pytest
import torch
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from agent.llm.attention import SMALL_QUERY_TOKENS, small_query_attention

pytestmark = pytest.mark.fast


class GroupedAttention(torch.nn.Module):  # what transformers' attention functions read from the layer
    num_key_value_groups, is_causal = 3, True


def _inputs(batch: int, q: int, keys: int) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(q)
    query = torch.randn(batch, 9, q, 64, generator=g)
    key, value = torch.randn(batch, 3, keys, 64, generator=g), torch.randn(batch, 3, keys, 64, generator=g)
    return query, key, value


@pytest.mark.parametrize("q", [1, 3, SMALL_QUERY_TOKENS])
def test_few_query_tokens_attend_as_sdpa_does_with_padding_masked(q: int) -> None:
    query, key, value = _inputs(batch=2, q=q, keys=40)
    mask = torch.ones(2, 1, q, 40, dtype=torch.bool).tril(40 - q)  # causal within the new block
    mask[1, :, :, 5:9] = False  # row 1 had padding (or a rejected guess) there
    expected, _ = sdpa_attention_forward(GroupedAttention(), query, key, value, mask, scaling=0.125)
    got, _ = small_query_attention(GroupedAttention(), query, key, value, mask, scaling=0.125)
    assert got.shape == expected.shape == (2, q, 9, 64)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_without_a_mask_the_block_is_causal() -> None:
    # transformers leaves the mask out only where it is plain causal over the block itself (no cache before it)
    query, key, value = _inputs(batch=1, q=4, keys=4)
    expected, _ = sdpa_attention_forward(GroupedAttention(), query, key, value, None, scaling=0.125)
    got, _ = small_query_attention(GroupedAttention(), query, key, value, None, scaling=0.125)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_the_setting_picks_the_implementation_per_device() -> None:
    from agent.llm.attention import SMALL_QUERY_ATTENTION, choose_attention

    assert choose_attention("auto", "cpu") == SMALL_QUERY_ATTENTION
    assert choose_attention("auto", "cuda") == "sdpa"  # GPUs keep their fused kernels
    assert choose_attention("sdpa", "cpu") == "sdpa"
    with pytest.raises(ValueError, match="auto or sdpa"):
        choose_attention("flash", "cpu")

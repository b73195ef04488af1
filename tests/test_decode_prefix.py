"""Where prefill is split and what the prefix cache keeps: pure logic, no model."""

from __future__ import annotations

import pytest

from agent.llm.decode import PrefixCache, message_boundaries, shared_prefix_length

pytestmark = pytest.mark.fast
START = 1  # the chat template's message-start token


def test_prefill_splits_where_later_messages_start_but_not_at_the_generation_prompt() -> None:
    #        system        history      request           assistant
    ids = [START, 7, 7, START, 8, 8, START, 9, 9, 9, START, 5]
    assert message_boundaries(ids, START, end=len(ids)) == [3, 6]
    assert message_boundaries(ids, START, end=5) == [3]  # only inside the shared prefix
    assert message_boundaries(ids, None, end=len(ids)) == []


def test_shared_prefix_keeps_one_token_of_each_prompt() -> None:
    assert shared_prefix_length([[1, 2, 3, 4], [1, 2, 3, 5]]) == 3
    assert shared_prefix_length([[1, 2, 3], [1, 2, 3]]) == 2
    assert shared_prefix_length([[1, 2, 3]]) == 0


def test_prefix_cache_returns_copies_and_drops_the_least_recently_used() -> None:
    cache = PrefixCache(max_entries=2)
    cache.put([1], ["kv1"])
    cache.put([1, 2], ["kv12"])
    got = cache.get([1])
    got.append("changed")  # a caller extends its copy; the kept entry stays as it was
    assert cache.get([1]) == ["kv1"]
    cache.put([1, 3], ["kv13"])  # [1, 2] is now the least recently used
    assert cache.get([1, 2]) is None and cache.get([1, 3]) == ["kv13"] and cache.get([1]) == ["kv1"]

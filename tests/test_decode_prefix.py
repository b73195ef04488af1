"""Where prefill is split, what the prefix cache keeps and what speculation guesses: pure logic, no model."""

from __future__ import annotations

import pytest

from agent.llm.decode import PrefixCache, lookup_draft, message_boundaries, shared_prefix_length

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


def test_a_guess_is_what_followed_the_latest_earlier_occurrence_of_the_last_tokens() -> None:
    #          "Starbucks Card  is  a  coffee  gift" ...  "Starbucks Card"
    sequence = [10, 11, 12, 13, 14, 15, 20, 10, 11]
    assert lookup_draft(sequence, max_tokens=3) == [12, 13, 14]
    assert lookup_draft(sequence, max_tokens=1) == [12]
    assert lookup_draft([10, 11, 5, 10, 11, 6, 10, 11], max_tokens=2) == [6, 10]  # the latest occurrence wins


def test_the_longest_matching_tail_wins_and_a_lone_token_guesses_nothing() -> None:
    assert lookup_draft([1, 2, 3, 9, 2, 3, 8, 1, 2, 3], max_tokens=1) == [9]  # "1 2 3" beats the later "2 3"
    assert lookup_draft([1, 2, 3, 4, 3], max_tokens=2) == []  # only "3" recurs: too weak a guess
    assert lookup_draft([1, 2, 1, 2], max_tokens=0) == []
    assert lookup_draft([], max_tokens=4) == []


def test_the_output_layer_gets_its_input_with_plain_strides() -> None:
    import torch

    from agent.llm.local import _dense_input

    last = torch.zeros(1, 264, 8)[:, -1:, :]  # what logits_to_keep=1 hands the output layer
    assert last.contiguous().stride() == (264 * 8, 8, 1)  # "contiguous" already, strides of the whole sequence
    (dense,) = _dense_input(None, (last,))
    assert dense.stride() == (8, 8, 1) and torch.equal(dense, last)


def test_a_kept_reply_is_keyed_by_prompt_schema_cap_and_abandoning_and_handed_out_once() -> None:
    from agent.llm.prefetch import KeptReply, ReplyCache

    cache, fmt = ReplyCache(max_entries=2), {"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}}
    key = ReplyCache.key([1, 2, 3], fmt)
    cache.put(key, KeptReply("{}", {}))
    for other in (ReplyCache.key([1, 2, 4], fmt), ReplyCache.key([1, 2, 3], {}),
                  ReplyCache.key([1, 2, 3], {**fmt, "max_tokens": 8}),
                  ReplyCache.key([1, 2, 3], {**fmt, "abandon_if": len})):
        assert cache.take(other) is None
    assert cache.take(ReplyCache.key([1, 2, 3], dict(fmt))).text == "{}"
    assert cache.take(key) is None  # once
    for n in range(3):
        cache.put(n, KeptReply(str(n), {}))
    assert len(cache) == 2 and cache.take(0) is None  # the oldest went first


def test_a_prefetch_is_waited_for_only_by_the_turn_it_guessed_after_the_same_turn() -> None:
    from agent.conversation import Conversation
    from agent.llm.prefetch import give_way, start_prefetch

    before = Conversation(user_id="u1")
    run = start_prefetch(("u1", before.model_copy(deep=True)), ("cheaper",))
    assert run.guessed(("u1", before), "cheaper") is run.done["cheaper"]
    assert run.guessed(("u1", before), "not Amazon please") is None  # another message: it gives way
    assert run.guessed(("u2", Conversation(user_id="u2")), "cheaper") is None  # another shopper's turn
    give_way()
    assert run.guessed(("u1", before), "cheaper") is None  # stopped: nothing left to wait for

"""The LLM ranking signal sees the shortlist in a seeded neutral order, not whyrec's: a base model that answers the
first handles as shown must not look like it agrees with the ranker (agent/rank_llm.py `neutral_order`)."""

import json
import re

import pytest
from test_chain_logic import DATASET, ITEMS, MemoryRetriever, Scripted, ask, reply

from agent.catalogue import Catalogue
from agent.chain import build_chain
from agent.explain import Handles
from agent.rank_llm import llm_preference, neutral_order, neutral_seed
from agent.settings import Settings
from agent.understand import understand
from prompts.loader import get_template

pytestmark = pytest.mark.fast  # a canned LLM, no model decode

FIRST_THREE = json.dumps({"order": ["C1", "C2", "C3"]})  # a model with pure position bias


class Recording(Scripted):
    """`Scripted`, remembering the titles each rank prompt showed as C1, C2, … in that order."""

    shown: list = []

    def _call(self, messages, stop=None, run_manager=None, **kwargs):
        prompt = messages[-1].content
        if "\nC1: <data>" in prompt:
            self.shown.append(re.findall(r"^C\d+: <data>(.*?)(?:</data>|$)", prompt, re.MULTILINE))
        return super()._call(messages, stop, run_manager, **kwargs)


def ids(handles: Handles) -> list[str]:
    return [c.item_id for c in handles.candidates]


def test_the_shuffle_is_deterministic_for_a_seed_and_differs_between_seeds():
    handles = Handles(list(ITEMS), [], [])
    seed = neutral_seed("u1", "a gift card")
    assert seed == neutral_seed("u1", "a gift card") != neutral_seed("u2", "a gift card")
    assert ids(neutral_order(handles, seed)) == ids(neutral_order(handles, seed)) == ["B", "V", "A", "T", "S"]
    assert sorted(ids(neutral_order(handles, seed))) == sorted(ids(handles))  # a permutation, nothing lost
    assert len({tuple(ids(neutral_order(handles, s))) for s in range(10)}) > 1
    assert ids(handles) == ["A", "S", "V", "T", "B"]  # the caller's shortlist is left in whyrec's order


def test_the_first_three_handles_map_back_to_the_shuffled_items():
    catalogue = Catalogue(DATASET)
    handles = Handles(list(ITEMS), [], [])
    request = understand("a gift card", catalogue)
    order = llm_preference(Recording(order=FIRST_THREE), get_template("rank_default"), request, handles, 64,
                           seed=neutral_seed("u1", "a gift card"))
    assert order.error is None
    assert order.shown == ["B", "V", "A", "T", "S"]  # the order the prompt showed
    assert order.emitted == order.order == ["B", "V", "A"]  # C1..C3 of that order, as real item ids


def test_a_model_that_answers_the_first_three_no_longer_echoes_whyrecs_top_three():
    message = "a gift card"
    settings = Settings(k=3, rank_template="rank_default")
    settings.rank.llm = 10.0  # let the model's order dominate, to see what it picked
    llm = Recording(order=FIRST_THREE, default=reply(["a1"], "x"))
    chain = build_chain(llm, MemoryRetriever(), Catalogue(DATASET), get_template("explain_default"), settings)
    plain = build_chain(Scripted(default=reply(["a1"], "x")), MemoryRetriever(), Catalogue(DATASET),
                        get_template("explain_default"), Settings(k=4))
    whyrec = [r.title for r in ask(plain, message).recommendations]  # whyrec's own order, no LLM signal
    fused = [r.title for r in ask(chain, message).recommendations]
    shown = llm.shown[0]
    assert sorted(shown) == sorted(whyrec)  # the same shortlist (u1's past card excluded), another order
    assert fused == shown[:3]  # the model's "first three" are the shuffled ones, mapped back to the real items
    assert fused != whyrec[:3]
    assert ask(chain, message).recommendations[0].title == fused[0]  # the same request shows the same order
    assert llm.shown[1] == shown

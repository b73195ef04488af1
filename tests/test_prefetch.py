"""Prefetching the likely follow-up (settings.prefetch, agent/llm/prefetch.py) on the real model and data: while
the shopper reads an answer the chat decodes "cheaper"; sent, it shows exactly what it would have shown without
the prefetch, from the kept replies; any other turn stops the prefetch and answers as if there had been none."""

from __future__ import annotations

import pytest

from agent.conversation import Conversation
from agent.schemas import Answer
from agent.service import Whyrec

pytestmark = pytest.mark.slow
FIRST = "a thank-you gift for a teacher"


def _answer(app: Whyrec, message: str, user: str, conversation: Conversation) -> Answer:
    return [e for e in app.stream(message, user_id=user, conversation=conversation) if isinstance(e, Answer)][-1]


def _cards(answer: Answer) -> list[tuple[str, str, bool]]:
    return [(r.item_id, r.reasons[0].text, r.reasons[0].fallback) for r in answer.recommendations]


@pytest.fixture(scope="module")
def apps(gift_cards_index) -> tuple[Whyrec, Whyrec]:
    return Whyrec(gift_cards_index), Whyrec(gift_cards_index.model_copy(update={"prefetch": []}))


def test_the_prefetched_follow_up_shows_what_it_would_have_from_the_kept_replies(apps):
    prefetching, plain = apps
    user = plain.retriever.users(limit=1)[0]
    shown = {}
    for name, app in (("prefetching", prefetching), ("plain", plain)):
        conversation = Conversation(user_id=user)
        _answer(app, FIRST, user, conversation)
        assert app.wait_for_prefetch(timeout=120)  # the shopper reads the answer
        shown[name] = _answer(app, "cheaper", user, conversation)
    usage = shown["prefetching"].llm_usage
    assert usage["calls"] > 0 and usage["reused"] == usage["calls"]
    assert shown["plain"].llm_usage["reused"] == 0
    assert _cards(shown["prefetching"]) == _cards(shown["plain"])


def test_another_message_stops_the_prefetch_and_is_answered_as_without_it(apps):
    prefetching, plain = apps
    user = plain.retriever.users(limit=2)[1]
    shown = {}
    for name, app in (("prefetching", prefetching), ("plain", plain)):
        conversation = Conversation(user_id=user)
        _answer(app, FIRST, user, conversation)
        shown[name] = _answer(app, "not Amazon please", user, conversation)  # sent at once: the prefetch gives way
    assert prefetching.wait_for_prefetch(timeout=120)
    assert shown["prefetching"].llm_usage["reused"] == 0
    assert _cards(shown["prefetching"]) == _cards(shown["plain"])

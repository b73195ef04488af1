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


def _follow_up(apps: tuple[Whyrec, Whyrec], user: str, message: str, read: bool) -> dict[str, Answer]:
    """FIRST, then `message` in the same conversation, on the prefetching app and the plain one; `read`: the
    shopper reads the answer first (the prefetch ends), else the message is sent at once (the guessed one waits
    for its prefetch, another makes it give way)."""
    shown = {}
    for name, app in zip(("prefetching", "plain"), apps):
        conversation = Conversation(user_id=user)
        _answer(app, FIRST, user, conversation)
        if read:
            assert app.wait_for_prefetch(timeout=120)
        shown[name] = _answer(app, message, user, conversation)
    assert apps[0].wait_for_prefetch(timeout=120)
    return shown


def test_the_prefetched_follow_up_shows_what_it_would_have_from_the_kept_replies(apps):
    shown = _follow_up(apps, apps[1].retriever.users(limit=1)[0], "cheaper", read=True)
    usage = shown["prefetching"].llm_usage
    assert usage["calls"] > 0 and usage["reused"] == usage["calls"]
    assert shown["plain"].llm_usage["reused"] == 0
    assert _cards(shown["prefetching"]) == _cards(shown["plain"])


def test_the_guessed_follow_up_sent_at_once_waits_for_its_prefetch_and_reuses_every_reply(apps):
    shown = _follow_up(apps, apps[1].retriever.users(limit=3)[2], "cheaper", read=False)
    usage = shown["prefetching"].llm_usage
    assert usage["calls"] > 0 and usage["reused"] == usage["calls"]
    assert _cards(shown["prefetching"]) == _cards(shown["plain"])


def test_another_message_stops_the_prefetch_and_is_answered_as_without_it(apps):
    shown = _follow_up(apps, apps[1].retriever.users(limit=2)[1], "not Amazon please", read=False)
    assert shown["prefetching"].llm_usage["reused"] == 0
    assert _cards(shown["prefetching"]) == _cards(shown["plain"])

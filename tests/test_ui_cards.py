"""The chat's cards and turn handler, on hand-made Answers and a fake service (no model): escaping of untrusted
catalogue text, visible citations and unverified marks, and errors that reach the shopper as a sentence."""

from __future__ import annotations

import copy
import html
from types import SimpleNamespace

import click
import pytest

from agent.commands.chat import parse_auth
from agent.conversation import Conversation
from agent.schemas import Answer, Claim, Reason, Recommendation
from agent.service import Draft, Progress, Token
from agent.ui import DRAFTING, EMPTY_MESSAGE, Session, respond_events
from agent.ui_cards import CardContext, CitedPastItem, answer_html, highlight

pytestmark = pytest.mark.fast  # no model decode, no index build


def make_answer(title: str = "Amazon eGift Card", reason_text: str = "By Amazon, under $50.") -> Answer:
    return Answer(user_id="U1", message="a birthday gift card under $50", notes=["Few items match; I relaxed tag."],
                  recommendations=[Recommendation(
                      item_id="B0001", title=title, rank=1, score=0.9, price=25.0,
                      attributes=[("brand", "Amazon"), ("price", "$25.00"), ("category", "Gift Cards")],
                      reasons=[Reason(
                          text=reason_text,
                          claims=[Claim(kind="attribute", attribute="brand", value="Amazon", verdict="supported"),
                                  Claim(kind="history", history_item_id="B0PAST", attribute="brand", value="Amazon",
                                        verdict="supported"),
                                  Claim(kind="request", attribute="price_max", value="50", verdict="supported")],
                          unverified=[Claim(kind="attribute", attribute="brand", value="Visa", verdict="unsupported",
                                            why="item brand is Amazon")],
                          fallback=True)])])


def test_card_shows_price_citations_history_and_unverified_marks():
    ctx = CardContext(past={"B0PAST": CitedPastItem(title="Starbucks Card", rating=5.0)},
                      facet_labels={("price_max", "50"): "under $50"})
    page = answer_html(make_answer(), ctx)
    assert "item B0001" in page and '<span class="wr-price">$25.00</span>' in page
    assert '<mark class="wr-cite">Amazon</mark>' in page  # the cited value is highlighted in the reason text
    assert "you rated 5★: <span class=\"wr-past\">Starbucks Card</span>" in page
    assert "under $50, as you asked" in page
    assert "not verified: <s>brand = Visa</s>" in page and "1 claim not verified" in page
    assert "written from verified facts" in page  # Reason.fallback is visible
    assert "Few items match; I relaxed tag." in page
    assert "\n" not in page  # one line: Markdown in the chatbot must not split the HTML block


def test_catalogue_text_is_escaped_everywhere():
    evil = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
    answer = make_answer(title=evil, reason_text=f"Because {evil} by Amazon")
    answer.recommendations[0].attributes.append(("feature", evil))
    answer.recommendations[0].reasons[0].claims.append(Claim(kind="attribute", attribute="feature", value=evil))
    page = answer_html(answer, CardContext(past={"B0PAST": CitedPastItem(title=evil, rating=1)}))
    assert "<img" not in page and "<script" not in page
    assert "&lt;script&gt;" in page


def test_highlight_matches_raw_text_then_escapes():
    assert highlight("AT&T or at&t", ["AT&T"]) == ('<mark class="wr-cite">AT&amp;T</mark> or '
                                                   '<mark class="wr-cite">at&amp;t</mark>')
    assert highlight("a <b> c", []) == "a &lt;b&gt; c"


class FakeService:
    """Just enough of Whyrec for the handler: canned stream events, or an exception."""

    def __init__(self, events=None, error: Exception | None = None):
        self.events, self.error = events or [], error
        self.catalogue = SimpleNamespace(get=lambda item_id: None, stats=SimpleNamespace(binary_ratings=False))

    def stream(self, message, user_id, conversation):
        yield from self.events
        if self.error:
            raise self.error


def run_turn(service, message: str, seen_titles: list[str] | None = None):
    """Every state the chat showed; the titles of the progress bubble are noted as they are yielded."""
    steps = []
    session = Session(user_id="U1", conversation=Conversation(user_id="U1"))
    for history, session, answer_json in respond_events(service, message, [], session):
        if seen_titles is not None and "metadata" in history[-1]:
            seen_titles.append(history[-1]["metadata"]["title"])
        steps.append((copy.deepcopy(history), session, answer_json))  # the handler mutates one list in place
    return steps


def test_turn_streams_progress_then_cards_and_json():
    answer = make_answer()
    titles: list[str] = []
    tokens = [Token("xy", pieces=2), Token("x")]  # the service hands tokens over in bunches
    steps = run_turn(FakeService([Progress("understand", "Reading your request…"), *tokens, answer]), "a gift card",
                     titles)
    history, _, answer_json = steps[-1]
    assert history[0] == {"role": "user", "content": "a gift card"}
    assert history[1]["metadata"]["status"] == "done" and "Reading your request…" in history[1]["content"]
    assert 'class="wr-card"' in history[2]["content"]
    assert answer_json["recommendations"][0]["item_id"] == "B0001"
    assert titles[:4] == ["Working on it…", "Reading your request…", "Explaining with cited facts… (2 tokens)",
                          "Explaining with cited facts… (3 tokens)"]


def test_draft_cards_show_at_once_and_the_final_reasons_replace_them_in_place():
    draft, final = make_answer(reason_text="A fine pick."), make_answer(reason_text="A card you can send today.")
    steps = run_turn(FakeService([Progress("rank", "Ranking…"), Draft(draft, []), Token("x"), final]), "a gift card")
    shown_early = next(h for h, _, _ in steps if len(h) == 3)[2]["content"]
    assert html.escape(DRAFTING) in shown_early and "A fine pick." in shown_early  # cards before any token
    assert 'class="wr-draft"' in shown_early
    history, _, answer_json = steps[-1]
    assert len(history) == 3 and "A card you can send today." in history[2]["content"]
    assert html.escape(DRAFTING) not in history[2]["content"] and answer_json is not None


def test_errors_and_empty_messages_become_sentences():
    history, _, _ = run_turn(FakeService(), "   ")[-1]
    assert html.escape(EMPTY_MESSAGE) in history[-1]["content"] and len(history) == 1
    history, _, _ = run_turn(FakeService(error=ConnectionError("http://127.0.0.1:8000 refused")), "gift")[-1]
    shown = history[-1]["content"]
    assert "something went wrong on my side (ConnectionError)" in shown
    assert "Traceback" not in shown and "127.0.0.1" not in shown


def test_a_very_long_message_is_echoed_clipped():
    history, _, _ = run_turn(FakeService([make_answer()]), "x" * 10_000)[-1]
    assert "(10,000 characters)" in history[0]["content"] and len(history[0]["content"]) < 600


def test_auth_flag_needs_user_and_password():
    assert parse_auth("shopper:s3:cret") == ("shopper", "s3:cret")
    assert parse_auth(None) is None
    with pytest.raises(click.BadParameter):
        parse_auth("shopper")


def test_a_review_quote_is_shown_labelled_attributed_and_escaped():
    from agent.schemas import Quote

    answer = make_answer()
    answer.recommendations[0].quote = Quote(text='Loved it <script>alert(1)</script> & "more"',
                                            review_id="A9/B0001", rating=5.0, attribution="a 5★ review")
    out = answer_html(answer)
    assert '<blockquote class="wr-quote"' in out and "From a review:" in out and "— a 5★ review</cite>" in out
    assert "<script>" not in out and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;more&quot;" in out
    assert "wr-quote" not in answer_html(make_answer())  # no quote, no block


def test_a_steam_rating_reads_as_recommended_not_one_star():
    ctx = CardContext(past={"B0PAST": CitedPastItem(title="Terraria", rating=1.0)}, binary_ratings=True)
    out = answer_html(make_answer(), ctx)
    assert "you recommended it: " in out and "1★" not in out
    stars_ctx = CardContext(past={"B0PAST": CitedPastItem(title="Terraria", rating=1.0)})
    assert "you rated 1★: " in answer_html(make_answer(), stars_ctx)


def test_an_item_the_shopper_only_named_is_you_mentioned_not_your_history():
    ctx = CardContext(past={"B0PAST": CitedPastItem(title="Terraria", mentioned=True)})
    out = answer_html(make_answer(), ctx)
    assert "you mentioned: " in out and "from your history" not in out


def test_the_history_panel_says_recommended_on_steam_and_stars_elsewhere():
    from agent.conversation import Conversation
    from agent.ui import Session, history_panel

    session = Session(user_id="u1", conversation=Conversation(user_id="u1"), known=True,
                      past={"B0PAST": CitedPastItem(title="PAYDAY 2", rating=1.0)})
    steam = history_panel(session, binary_ratings=True)
    assert "recommended: </span>PAYDAY 2" in steam and "1★" not in steam
    assert "1★</span>PAYDAY 2" in history_panel(session)

"""The chain's logic with a canned LLM and an in-memory retriever (narrow unit tests; the real tiny model, real
Chroma and real data are exercised in test_ask.py)."""

import json
import re
import sys

import numpy as np
import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from agent.catalogue import Catalogue
from agent.chain import build_chain
from agent.conversation import Conversation
from agent.explain import Handles
from agent.rank_llm import neutral_order, neutral_seed
from agent.sentences import same_but_opening
from agent.steps import topic_note
from agent.settings import Settings
from index.models import Dataset, Interaction, Item, LoadReport
from index.retrieve import Candidate, HistoryEntry
from prompts.loader import get_template

pytestmark = pytest.mark.fast  # no model decode, no index build

def item(item_id, title, price, brand, category="Gift Cards"):
    attrs = [("brand", brand), ("price", f"${price:.2f}"), ("category", category)]
    return Item(item_id=item_id, title=title, text=title, price=price, source="t", attributes=attrs)


ITEMS = [item("A", "Amazon eGift Card", 50.0, "Amazon"), item("S", "Starbucks Card", 25.0, "Starbucks"),
         item("V", "Visa Gift Card", 40.0, "Visa"), item("T", "Target GiftCard", 20.0, "Target"),
         item("B", "Barnes & Noble Card", 15.0, "Barnes & Noble", "Books")]
DATASET = Dataset(name="t", items=ITEMS, report=LoadReport(dataset="t"),
                  interactions=[Interaction(user_id="u1", item_id="A", rating=5.0, timestamp=1)])
VECTORS = {i.item_id: np.eye(len(ITEMS))[n] for n, i in enumerate(ITEMS)}


class MemoryRetriever:
    """Duck-typed stand-in for index.retrieve.Retriever: same filters semantics, no Chroma."""

    def __init__(self):
        self.history_calls = []

    def candidates(self, query, filters, n):
        out = []
        for i in ITEMS:
            if i.item_id in filters.exclude_ids or (filters.price_max is not None and (i.price or 1e9) > filters.price_max):
                continue
            if i.first("brand") in filters.exclude_brands:
                continue
            out.append(Candidate(item=i, similarity=0.5))
        return out[:n]

    def has_user(self, user_id):
        return user_id == "u1"

    def snapshot_id(self):
        return "memory-retriever"

    def history(self, user_id):
        self.history_calls.append(user_id)
        return [HistoryEntry(item=ITEMS[0], rating=5.0, timestamp=1, review="great")] if user_id == "u1" else []

    def embeddings(self, ids):
        return {i: VECTORS[i] for i in ids if i in VECTORS}


class Scripted(FakeListChatModel):
    """Answers by what the prompt shows: an explain prompt gets the reply for its candidate's title (else
    `default`); the rank prompt (every candidate as C1, C2, ...) gets `order`. Calls may come concurrently."""

    responses: list = []
    by_title: dict[str, str] = {}
    default: str = ""
    order: str = ""

    def _call(self, messages, stop=None, run_manager=None, **kwargs):
        prompt = messages[-1].content
        if "\nC1: <data>" in prompt:
            return self.order
        title = re.search(r"^Candidate \d+: <data>(.*)$", prompt, re.M).group(1).removesuffix("</data>")
        return self.by_title.get(title, self.default)


def reply(claims, text):
    return json.dumps({"claims": claims, "text": text})


def chain_with(default="", k=2, **by_title):
    settings = Settings(k=k)
    llm = Scripted(default=default, by_title=by_title)
    retriever = MemoryRetriever()
    chain = build_chain(llm, retriever, Catalogue(DATASET), get_template("explain_default"), settings)
    return chain, retriever


def ask(chain, message, user="u1", conversation=None):
    return chain.invoke({"message": message, "user_id": user, "conversation": conversation})


def test_grounded_reply_is_kept_and_every_claim_verified():
    chain, _ = chain_with(**{"Target GiftCard": reply(["a1", "r1"], "A Target card at $20.00."),
                             "Visa Gift Card": reply(["a1"], "From Visa.")})
    answer = ask(chain, "a gift card under $45")
    assert [r.rank for r in answer.recommendations] == [1, 2]
    assert all(r.price <= 45 for r in answer.recommendations)
    assert "A" not in {r.item_id for r in answer.recommendations}  # already in u1's history
    for rec in answer.recommendations:
        assert rec.reasons[0].claims and all(c.verdict == "supported" for c in rec.reasons[0].claims)


def test_a_reply_that_stops_without_its_full_stop_is_shown_with_it():
    """The base model closed a true sentence after a quoted listing line or "(you rated it 5★)" and shown so, three of
    five cards of a chat answer read as cut off."""
    chain, _ = chain_with(**{"Starbucks Card": reply(["a1"], "It comes from Starbucks"),
                             "Visa Gift Card": reply(["a1"], "It comes from Visa.")})
    reasons = [r.reasons[0] for r in ask(chain, "a gift card under $45").recommendations]
    assert [r.text for r in reasons] == ["It comes from Starbucks.", "It comes from Visa."]
    assert not any(r.fallback for r in reasons)  # the model's words, shown as it wrote them


def test_reason_text_stating_a_value_the_item_lacks_is_replaced_by_verified_facts():
    chain, _ = chain_with(reply(["a1"], "A Starbucks treat for $3."), k=2)
    answer = ask(chain, "gift card under $45")
    first = answer.recommendations[0].reasons[0]
    assert first.fallback  # the model's sentence named a price and a brand the item lacks
    assert "Starbucks" not in first.text or answer.recommendations[0].title.startswith("Starbucks")
    assert "$3" not in first.text


def test_a_reason_that_says_what_a_shown_one_says_is_rendered_from_verified_facts(monkeypatch):
    """Two cards of one answer never say the same words in two frames (v24 wrote "It is tagged Horror, as you asked,
    and also VR." and "Picked for you: it is tagged Horror, as you asked, and also VR."; `sentences.same_but_opening`):
    the second is rendered from verified facts. A text that says other facts in the same frame stands."""
    import agent.steps

    own = {i.title: reply(["a1"], f"A {i.first('brand')} card at ${i.price:.2f}, under your budget.") for i in ITEMS}
    assert not any(r.reasons[0].fallback for r in ask(chain_with(**own)[0], "a gift card under $45").recommendations)
    monkeypatch.setattr(agent.steps, "same_but_opening", lambda a, b: True)  # as if each said what the first did
    first, second = [r.reasons[0] for r in ask(chain_with(**own)[0], "a gift card under $45").recommendations]
    assert not first.fallback and second.fallback and "under your budget" not in second.text and second.claims


def test_a_reason_saying_only_what_the_title_or_a_price_says_gives_way_to_a_telling_fact(monkeypatch):
    """The base model's "It comes from Applebee's." of the Applebee's card, "It is made by INT2000.": true, and
    nothing a shopper learns from. Where the card has a telling fact, its reason is rendered to say it; where it has
    none (every item above: a brand, a price, a category), the model's words stand."""
    here = sys.modules[__name__]
    starbucks = ITEMS[1].model_copy(update={"attributes": [*ITEMS[1].attributes, ("flavor", "Pumpkin Spice")]})
    items = [starbucks if i.item_id == "S" else i for i in ITEMS]
    monkeypatch.setattr(here, "ITEMS", items)  # what the retriever offers
    monkeypatch.setattr(here, "DATASET", DATASET.model_copy(update={"items": items}))
    own = {i.title: reply(["a1"], f"It comes from {i.first('brand')}.") for i in items}
    cards = {r.title: r.reasons[0] for r in ask(chain_with(**own)[0], "a gift card under $45").recommendations}

    assert cards["Starbucks Card"].fallback and "Pumpkin Spice" in cards["Starbucks Card"].text
    assert [r.text for title, r in cards.items() if title != "Starbucks Card"] == ["It comes from Visa."]


def test_a_pick_shown_again_in_the_chat_says_something_new():
    """The base model's IHOP card read "A pick that comes from IHOP, is also the choice of 3 shoppers who had your
    Applebee's card (you rated it 5★)." in two answers running, and the third time its rendered sentence said the
    second's facts after another opening (`whyrec ask`, Gift Cards): shown again, a pick's card says other verified
    facts, never an earlier sentence in other words, nor the same facts in another sentence."""
    own = {i.title: reply(["a1"], f"It comes from {i.first('brand')}.") for i in ITEMS}
    chain, _ = chain_with(**own)
    conversation = Conversation(user_id="u1")
    answers = [ask(chain, message, conversation=conversation)
               for message in ("a gift card under $45", "a gift card under $45 for a friend", "one under $45 again")]
    assert not any(r.reasons[0].fallback for r in answers[0].recommendations)
    said: dict[str, list[str]] = {}
    told: dict[str, set[tuple]] = {}
    for answer in answers:
        for rec in answer.recommendations:
            reason = rec.reasons[0]
            assert reason.claims and not any(same_but_opening(reason.text, t) for t in said.get(rec.item_id, []))
            assert reason.fallback or rec.item_id not in said
            if rec.item_id in told and len(said[rec.item_id]) == 1:  # shown a second time: a fact not said before
                assert {c.fact for c in reason.claims} - told[rec.item_id], reason.text
            said.setdefault(rec.item_id, []).append(reason.text)
            told.setdefault(rec.item_id, set()).update(c.fact for c in reason.claims)
    assert any(len(texts) == 3 for texts in said.values())  # a pick shown three times, three ways


def test_a_pick_shown_again_says_a_telling_fact_it_has_not_said(monkeypatch):
    """Shown again, a card whose reply says its earlier facts in other words says a telling fact not said yet: the
    Starbucks card's design after its flavor. With nothing left but a price ("Chosen because it costs $30.00." of
    the IHOP card, `whyrec ask`), the reply's own words stand: a price alone tells less than what was said."""
    here = sys.modules[__name__]
    extra = [("flavor", "Pumpkin Spice"), ("design", "Holiday Cup")]
    starbucks = ITEMS[1].model_copy(update={"attributes": [*ITEMS[1].attributes, *extra]})
    items = [starbucks if i.item_id == "S" else i for i in ITEMS]
    monkeypatch.setattr(here, "ITEMS", items)
    monkeypatch.setattr(here, "DATASET", DATASET.model_copy(update={"items": items}))
    conversation = Conversation(user_id="u1")

    def starbucks_card(text):
        chain, _ = chain_with(**{"Starbucks Card": reply(["a1"], text)})
        answer = ask(chain, "a gift card under $45", conversation=conversation)
        return next(r.reasons[0] for r in answer.recommendations if r.item_id == "S")

    first = starbucks_card("It is offered in Pumpkin Spice.")
    again = starbucks_card("Its flavor is Pumpkin Spice.")
    assert not first.fallback and again.fallback
    assert "Holiday Cup" in again.text and "Pumpkin Spice" not in again.text
    third = starbucks_card("It comes in Pumpkin Spice.")
    assert not third.fallback and third.text == "It comes in Pumpkin Spice."


def test_a_rendered_reason_opens_with_its_own_cards_plan():
    """The model's reply for the card at position k opens with plan k (agent/copy_guard.py plan_opening); a card
    rendered instead opens the same way, never with another card's opening: seeded by its item, a rendered reason
    opened "A pick that …" beside the third card's own "A pick that …"."""
    from agent.sentences import opening_of
    from agent.wording import PLAN_OPENINGS

    cards = ask(chain_with(reply(["zz"], "Trust me."), k=4)[0], "a gift card").recommendations
    assert len(cards) == 4 and all(r.reasons[0].fallback for r in cards)
    openings = [opening_of(r.reasons[0].text) for r in cards]
    assert len(set(openings)) == 4 and set(openings) <= set(PLAN_OPENINGS)
    assert openings[0] == PLAN_OPENINGS[0]  # the others move off their own where it reads like a shown reason


def test_claims_citing_unknown_handles_are_never_shown_as_fact():
    # a server that ignored the constraint: the reply model rejects handles this prompt never offered
    chain, _ = chain_with(reply(["a99", "h7", "zz"], "Trust me."))
    answer = ask(chain, "a gift card")
    assert any("partly unusable" in note for note in answer.notes)
    for rec in answer.recommendations:
        reason = rec.reasons[0]
        assert reason.fallback and "Trust me" not in reason.text
        assert all(c.verdict == "supported" for c in reason.claims) and reason.claims  # fallback facts are verified


def test_an_llm_that_is_down_still_gives_verified_reasons_and_a_note():
    class Down(FakeListChatModel):
        def _call(self, *a, **k):
            raise ConnectionError("server down")

    chain = build_chain(Down(responses=[""]), MemoryRetriever(), Catalogue(DATASET), get_template("explain_default"),
                        Settings(k=2))
    answer = ask(chain, "a gift card")
    assert len(answer.recommendations) == 2
    assert any("unavailable" in n for n in answer.notes)
    assert all(r.reasons[0].claims for r in answer.recommendations)


def test_multi_turn_cheaper_then_why_the_second_one():
    chain, _ = chain_with(reply(["a1"], "x"))
    conversation = Conversation(user_id="u1")
    first = ask(chain, "a gift card under $45", conversation=conversation)
    cheaper = ask(chain, "cheaper", conversation=conversation)
    assert max(r.price for r in cheaper.recommendations) < min(r.price for r in first.recommendations)
    why = ask(chain, "why the second one?", conversation=conversation)
    assert [r.item_id for r in why.recommendations] == [cheaper.recommendations[1].item_id]


def test_why_says_each_fact_once_in_sentences_asked_first():
    chain, _ = chain_with(reply(["a1"], "x"))
    conversation = Conversation(user_id="u1")
    ask(chain, "a gift card under $45", conversation=conversation)
    why = ask(chain, "why the first one?", conversation=conversation).recommendations[0]
    account, claims = why.reasons[0].text, why.reasons[0].claims
    assert account.startswith("It is under $45, as you asked. It ") and ": " not in account  # no "tag: X" dump
    facts = [(c.attribute, c.value, c.history_item_id) for c in claims]
    assert len(facts) == len(set(facts)) and all(str(c.value) in account for c in claims if c.kind == "attribute")


def test_a_conversation_of_another_user_is_not_carried_over():
    chain, retriever = chain_with(reply(["a1"], "x"))
    conversation = Conversation(user_id="u1")
    ask(chain, "a gift card under $45", conversation=conversation)
    answer = ask(chain, "cheaper", user="stranger", conversation=conversation)
    assert retriever.history_calls == ["u1"]  # the stranger's turn never read u1's history
    assert all(c.kind != "history" for r in answer.recommendations for c in r.reasons[0].claims)
    assert any("don't know shopper" in n for n in answer.notes)


def test_a_topical_request_shows_its_close_matches_first_and_says_how_many_there_are():
    class Topical(MemoryRetriever):  # "coffee" is close to the Starbucks card only
        def candidates(self, query, filters, n):
            close = {"S": 0.42} if "coffee" in query else {}
            return [c.model_copy(update={"similarity": close.get(c.item.item_id, 0.1)})
                    for c in super().candidates(query, filters, n)]

    chain = build_chain(Scripted(), Topical(), Catalogue(DATASET), get_template("explain_default"), Settings(k=2))
    answer = ask(chain, "something for a coffee lover")
    assert answer.recommendations[0].item_id == "S"
    assert "Only 1 of these picks closely matches what you asked; the other is the next best I found." in answer.notes
    assert not any("closely match" in n for n in ask(chain, "something nice").notes)  # no topic: no such note
    assert topic_note(0, 2) == "None of these picks closely matches what you asked; they are the next best I found."
    assert topic_note(3, 5).startswith("Only 3 of these picks closely match what you asked; the others are")


def test_the_llm_ranking_signal_reorders_when_a_rank_template_is_set():
    settings = Settings(k=2, rank_template="rank_default")
    settings.rank.llm = 10.0  # let the model's order dominate, to see it act
    explain = reply(["a1"], "x")
    chain = build_chain(Scripted(order=json.dumps({"order": ["C4", "C3"]}), default=explain), MemoryRetriever(),
                        Catalogue(DATASET), get_template("explain_default"), settings)
    without = build_chain(Scripted(default=explain), MemoryRetriever(), Catalogue(DATASET),
                          get_template("explain_default"), Settings(k=4))
    shortlist = [Catalogue(DATASET).get(r.item_id) for r in ask(without, "a gift card").recommendations]
    # the prompt shows the shortlist in a seeded neutral order (position bias must not look like agreement)
    shown = neutral_order(Handles(shortlist, [], []), neutral_seed("u1", "a gift card")).candidates
    assert [r.item_id for r in ask(chain, "a gift card").recommendations] == [shown[3].item_id, shown[2].item_id]


def test_a_batch_of_turns_answers_each_as_invoke_would_with_one_llm_batch():
    class Counting(Scripted):
        batches: list = []

        def generate_batch(self, calls, config=None):  # the local model's batch entry point
            self.batches.append(len(calls))
            return [self.bind(**options).invoke(messages) for messages, options in calls]

    llm = Counting(by_title={"Target GiftCard": reply(["a1"], "A Target card.")}, default=reply(["a2"], "$ fits."))
    chain = build_chain(llm, MemoryRetriever(), Catalogue(DATASET), get_template("explain_default"), Settings(k=2))
    inputs = [{"message": m, "user_id": u} for m, u in [("a gift card", "u1"), ("books", "stranger"),
                                                         ("a gift card under $30", "u1")]]
    alone = [chain.invoke(i) for i in inputs]
    llm.batches.clear()
    batched = chain.batch(inputs)
    assert llm.batches == [sum(len(a.recommendations) for a in alone)]  # every turn's calls in one LLM batch
    for a, b in zip(alone, batched):
        assert [(r.item_id, r.reasons[0].text) for r in a.recommendations] == \
               [(r.item_id, r.reasons[0].text) for r in b.recommendations]

    from agent.service import Whyrec  # the service's entry point for several shoppers at once

    app = Whyrec(Settings(k=2), llm=llm, catalogue=Catalogue(DATASET), retriever=MemoryRetriever())
    llm.batches.clear()
    many = app.ask_many([(i["message"], i["user_id"]) for i in inputs])
    assert llm.batches == [sum(len(a.recommendations) for a in alone)]
    assert [a.user_id for a in many] == ["u1", "stranger", "u1"]
    assert len({a.conversation_id for a in many}) == 3  # each turn starts its own conversation
    assert [[r.item_id for r in a.recommendations] for a in many] == \
           [[r.item_id for r in a.recommendations] for a in batched]


def test_a_candidate_with_nothing_to_cite_gets_no_llm_call_and_its_card_says_so():
    """An item whose data offers no fact (no attribute, no liked past item sharing one, no met request) is not
    sent to the model: no reply about it could be verified. Its card says there is nothing specific to cite."""
    from agent.explain import NOTHING_SPECIFIC

    bare = Item(item_id="N", title="Mystery Card", text="Mystery Card", price=None, source="t", attributes=[])

    class WithBare(MemoryRetriever):
        def candidates(self, query, filters, n):
            return [Candidate(item=bare, similarity=0.9)] + super().candidates(query, filters, n)

        def embeddings(self, ids):
            return super().embeddings(ids) | {"N": np.full(len(ITEMS), 0.5)}

    class Counting(Scripted):
        titles: list = []

        def _call(self, messages, stop=None, run_manager=None, **kwargs):
            title = re.search(r"^Candidate \d+: <data>(.*?)(</data>)?$", messages[-1].content, re.M).group(1)
            self.titles.append(title)
            return super()._call(messages, stop, run_manager, **kwargs)

    llm = Counting(default=reply(["a1"], "Bare claims."))
    dataset = DATASET.model_copy(update={"items": ITEMS + [bare]})
    chain = build_chain(llm, WithBare(), Catalogue(dataset), get_template("explain_default"),
                        Settings(k=len(ITEMS) + 1))  # the most similar, but picked only when nothing else fits
    answer = ask(chain, "a gift card", user="stranger")
    assert [r.item_id for r in answer.recommendations][-1] == "N"
    card = next(r for r in answer.recommendations if r.item_id == "N")
    assert card.reasons[0].text in NOTHING_SPECIFIC and card.reasons[0].claims == []
    assert "Mystery Card" not in llm.titles and len(llm.titles) == len(answer.recommendations) - 1
    assert not any("unusable" in n for n in answer.notes)
    # a met exclusion is true of every pick, so it is nothing to stand on: "not Starbucks" still leaves N last
    answer = ask(chain, "a gift card, not Starbucks", user="stranger")
    assert [r.item_id for r in answer.recommendations][-1] == "N"
    assert answer.recommendations[-1].reasons[0].text in NOTHING_SPECIFIC


def test_draft_cards_come_first_from_verified_facts_and_name_the_final_picks():
    from agent.service import Draft, Progress, Whyrec

    class Streaming(Scripted):  # streams its reply in pieces, as a real model does
        streaming: bool = False  # as ChatOpenAI's: set, every call streams (`whyrec serve`'s client sets it)

        def _stream(self, messages, stop=None, run_manager=None, **kwargs):
            from langchain_core.messages import AIMessageChunk
            from langchain_core.outputs import ChatGenerationChunk

            text = self._call(messages)
            for piece in (text[:5], text[5:]):
                if run_manager:
                    run_manager.on_llm_new_token(piece)
                yield ChatGenerationChunk(message=AIMessageChunk(content=piece))

    app = Whyrec(Settings(k=2), llm=Streaming(default=reply(["a1"], "x"), streaming=True), catalogue=Catalogue(DATASET),
                 retriever=MemoryRetriever())
    events = list(app.stream("a gift card under $45", user_id="u1"))
    kinds = [type(e).__name__ for e in events if not isinstance(e, Progress)]
    assert kinds[0] == "Draft" and "Token" in kinds and kinds[-1] == "Answer"
    draft, answer = events[[type(e) for e in events].index(Draft)].answer, events[-1]
    assert [r.item_id for r in draft.recommendations] == [r.item_id for r in answer.recommendations]
    for rec in draft.recommendations:  # before any LLM text: every shown fact is verified
        assert rec.reasons[0].fallback and rec.reasons[0].claims
        assert all(c.verdict == "supported" for c in rec.reasons[0].claims)


def test_a_card_carries_a_quote_from_another_shoppers_review_with_its_id(monkeypatch):
    monkeypatch.setattr("agent.chain._encode", lambda texts: np.ones((len(texts), 2)))  # no MiniLM in unit tests
    reviews = [Interaction(user_id="u1", item_id="S", rating=5.0, review="My own words about this nice card."),
               Interaction(user_id="u2", item_id="S", rating=5.0, review="My sister buys her latte with it daily."),
               Interaction(user_id="u3", item_id="V", rating=1.0, review="It never worked at any store I tried.")]
    dataset = DATASET.model_copy(update={"interactions": DATASET.interactions + reviews})
    chain = build_chain(Scripted(default=""), MemoryRetriever(), Catalogue(dataset), get_template("explain_default"),
                        Settings(k=4))
    answer = ask(chain, "a gift card")
    by_id = {r.item_id: r for r in answer.recommendations}
    assert by_id["S"].quote.text == "My sister buys her latte with it daily."
    assert by_id["S"].quote.review_id == "u2/S" and by_id["S"].quote.attribution == "a 5★ review"
    assert by_id["V"].quote is None  # its only review is a 1★ one
    assert all("latte" not in r.text for r in by_id["S"].reasons)  # a quote is never a reason's fact

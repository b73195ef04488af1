"""Soft wishes read as catalogue values through the real MiniLM (agent/wishes.py): "something scary" is the tag
Horror, "nothing scary" rules Horror out, "for kids" is only suggested (its similarity is not clearly high), and
words the rules already read (budgets, brands, negations, "cheaper", "like <title>") are never mapped. The last
test runs three turns through the chain (fake LLM, explain off) and checks that a mapped wish carries across turns
as a chip like any other constraint."""

import numpy as np
import pytest
from index_helpers import DATA_DIR
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from agent.catalogue import Catalogue
from agent.chain import build_chain
from agent.conversation import Conversation
from agent.settings import Settings
from agent.understand import understand
from agent.wishes import SUGGEST_THRESHOLD, WISH_THRESHOLD, read_wishes, vocabulary
from index.loaders import load_dataset
from index.models import Dataset, Item, LoadReport
from index.retrieve import Candidate

pytestmark = pytest.mark.fast  # real MiniLM (a fraction of a second), no model decode, no index build


def game(item_id, title, price, tags, genres=("Indie",)):
    attrs = [("genre", g) for g in genres] + [("tag", t) for t in tags]
    return Item(item_id=item_id, title=title, text=title, source="steam", price=price, attributes=attrs)


GAMES = [
    game("g1", "Night Terrors", 9.99, ["Horror", "Survival"]),
    game("g2", "Sunny Farm", 14.99, ["Relaxing", "Family Friendly", "Casual"], ["Casual"]),
    game("g3", "Bullet Storm Arena", 4.99, ["Shooter", "Difficult", "Violent"], ["Action"]),
    game("g4", "Puzzle Pals", 7.99, ["Puzzle", "Family Friendly", "Local Co-Op"], ["Casual"]),
    game("g5", "Haunted Manor", 19.99, ["Horror", "Puzzle"]),
    game("g6", "Star Courier", 12.99, ["Space", "Story Rich"], ["Adventure"]),
    game("g7", "Dungeon of Pain", 3.99, ["Rogue-like", "Difficult"], ["RPG"]),
]
STEAM = Catalogue(Dataset(name="steam", report=LoadReport(dataset="steam"), items=GAMES))


def pairs(request):
    return {(f.key, f.value) for f in request.facets}


def test_a_clear_wish_maps_to_the_catalogue_value_with_a_note_and_the_shoppers_words():
    request = understand("something scary", STEAM)
    assert pairs(request) == {("tag", "Horror")}
    facet = request.facets[0]
    assert facet.wish == "scary" and facet.label == "tag Horror"
    assert any("I read “scary” as the tag Horror" in note for note in request.notes), request.notes


def test_the_threshold_is_measured_not_guessed():
    """The similarities that set WISH_THRESHOLD, recomputed: clear wishes above it, the muddled band below."""
    assert SUGGEST_THRESHOLD < WISH_THRESHOLD
    for phrase, value in [("scary", "Horror"), ("challenging", "Difficult"), ("for the family", "Family Friendly")]:
        [wish] = read_wishes(f"something {phrase}" if not phrase.startswith("for") else phrase, STEAM)
        assert (wish.value, wish.sure) == (value, True) and wish.similarity >= WISH_THRESHOLD, wish


def test_a_wish_that_is_not_clearly_close_is_only_suggested_never_applied():
    request = understand("a game for kids", STEAM)
    assert ("tag", "Family Friendly") not in pairs(request)
    assert any("say “family friendly”" in note for note in request.notes), request.notes
    # the shopper takes the suggestion: the rules read the value by name
    assert ("tag", "Family Friendly") in pairs(understand("something family friendly", STEAM))


@pytest.mark.parametrize("message", ["something easy", "a good game", "for my dad", "something peaceful",
                                     "a nice game please"])
def test_a_wish_that_must_not_map(message):
    """Antonyms sit close in MiniLM ("easy" ~ Difficult 0.86, "peaceful" ~ Violent 0.77): never a constraint."""
    request = understand(message, STEAM)
    assert not request.facets, request.facets
    assert not any(note.startswith("I read") for note in request.notes), request.notes


@pytest.mark.parametrize("message", ["Recommend something for me based on my past purchases.",
                                     "something based on what I played", "a game like the ones I liked"])
def test_a_request_built_on_the_shoppers_history_is_no_wish(message):
    """Seen on Steam: "based on my past purchases" was offered as the tag Based On A Novel, "based on what I
    played" applied it."""
    steam = Catalogue(Dataset(name="steam", report=LoadReport(dataset="steam"),
                              items=[*GAMES, game("g8", "Old Tales", 5.99, ["Based On A Novel"])]))
    request = understand(message, steam)
    assert not request.facets and not request.notes, (request.facets, request.notes)


def test_words_the_rules_read_are_never_mapped_again():
    request = understand("a horror game under $10 like Night Terrors, not violent", STEAM)
    assert pairs(request) == {("tag", "Horror"), ("price_max", "10"), ("like_item", "Night Terrors"),
                              ("exclude_tag", "Violent")}
    assert not any(f.wish for f in request.facets) and not any("I read" in n for n in request.notes)


def test_a_ruled_out_wish_becomes_an_exclusion():
    request = understand("a puzzle game, nothing scary please", STEAM)
    assert {("tag", "Puzzle"), ("exclude_tag", "Horror")} <= pairs(request)
    assert "scary" not in request.query_text  # what is ruled out is not what to search for


def test_the_vocabulary_is_encoded_once_per_catalogue():
    first = vocabulary(STEAM)
    assert vocabulary(STEAM) is first and first.vectors.shape == (len(first.pairs), 384)
    assert np.allclose(np.linalg.norm(first.vectors, axis=1), 1.0, atol=1e-4)


class Shelf:
    """An in-memory retriever over GAMES: the index's filter semantics, in catalogue order."""

    def candidates(self, query, filters, n):
        return [Candidate(item=g, similarity=1.0 - i / 100) for i, g in enumerate(GAMES)
                if g.item_id not in filters.exclude_ids and (filters.price_max is None or g.price <= filters.price_max)
                ][:n]

    def has_user(self, user_id):
        return False

    def history(self, user_id):
        return []

    def snapshot_id(self):
        return "shelf"

    def embeddings(self, ids):
        return {g.item_id: np.eye(len(GAMES))[n] for n, g in enumerate(GAMES) if g.item_id in ids}


def test_a_mapped_wish_carries_across_turns_as_a_removable_chip():
    chain = build_chain(FakeListChatModel(responses=["{}"]), Shelf(), STEAM, _template(), Settings(k=3))
    conversation = Conversation()

    def turn(message):
        return chain.invoke({"message": message, "user_id": None, "conversation": conversation, "explain": False})

    first = turn("something scary")
    assert [(c.key, c.value) for c in first.constraints] == [("tag", "Horror")]
    assert {r.item_id for r in first.recommendations} == {"g1", "g5"}  # only the Horror games
    assert any("as the tag Horror" in n for n in first.notes)

    second = turn("under $15")  # a refinement: the wish stays, no second note
    assert {(c.key, c.value) for c in second.constraints} == {("tag", "Horror"), ("price_max", "15")}
    assert [r.item_id for r in second.recommendations] == ["g1"]
    assert not any("I read" in n for n in second.notes)

    conversation.remove("tag", "Horror")  # the shopper removes the chip
    third = turn("again")
    assert [(c.key, c.value) for c in third.constraints] == [("price_max", "15")]
    assert {"g2", "g3"} <= {r.item_id for r in third.recommendations}  # no longer only Horror


def _template():
    from prompts.loader import get_template

    return get_template("explain_default")



def test_how_a_card_is_sent_or_boxed_is_never_read_from_a_wish():
    """On the real Gift Cards catalogue "restaurant" sat near the packaging "gift tag" in MiniLM and was offered as
    a reading of it; delivery and packaging are asked for by name only."""
    catalogue = Catalogue(load_dataset("amazon2018_gift_cards", DATA_DIR))
    request = understand("a restaurant gift card", catalogue)
    assert not request.facets and not any("gift tag" in note for note in request.notes), request.notes
    assert ("packaging", "gift tag") in pairs(understand("a card in a gift tag", catalogue))

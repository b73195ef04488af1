"""Active constraints applied to candidates (agent/select.py): every one is hard, relaxations are stated, an item
with no listed price is never silently dropped nor silently shown under a budget."""

import numpy as np
import pytest

from agent.catalogue import Catalogue
from agent.select import meets, same_product, select
from agent.understand import understand
from index.models import Dataset, Item, LoadReport
from index.retrieve import Candidate, Filters

pytestmark = pytest.mark.fast  # no model decode, no index build

def item(item_id, title, price=None, **attrs):
    pairs = [(k, v) for k, vs in attrs.items() for v in (vs if isinstance(vs, list) else [vs])]
    return Item(item_id=item_id, title=title, text=title, source="t", price=price, attributes=pairs)


ITEMS = [
    item("p1", "Vegan Protein Powder Chocolate", None, brand="Orgain", item_form="Powder", flavor="Chocolate",
         diet_type="Gluten Free, Vegan"),
    item("p2", "Plant Protein Chocolate Fudge", None, brand="Garden", item_form="Capsules, Powder",
         flavor="Chocolate Fudge", diet_type="Vegan"),
    item("p3", "Whey Protein Vanilla", 30.0, brand="Optimum", item_form="Powder", flavor="Vanilla"),
    item("p4", "Chocolate Protein Bar", 20.0, brand="Quest", item_form="Bar", flavor="Peanut Butter"),
    item("g1", "Terraria", 9.99, genre=["Action", "Adventure"], tag=["Sandbox", "Co-op"]),
    item("g2", "Starbound", 14.99, genre=["Action", "Early Access"], tag=["Co-op", "Space"]),
    item("g3", "Stardew Valley", 14.99, genre=["RPG"], tag=["Relaxing", "Co-op"]),
    item("g4", "Stardew Valley", 14.99, genre=["RPG"], tag=["Relaxing", "Co-op"]),  # same product, second id
]
CATALOGUE = Catalogue(Dataset(name="t", report=LoadReport(dataset="t"), items=ITEMS))


def search(query: str, filters: Filters, n: int) -> list[Candidate]:
    """The index's semantics (price filter drops unknown prices, excluded ids and brands) in catalogue order."""
    out = []
    for i, it in enumerate(ITEMS):
        if it.item_id in filters.exclude_ids or (filters.price_max is not None and (it.price is None or
                                                                                   it.price > filters.price_max)):
            continue
        if it.first("brand") in filters.exclude_brands:
            continue
        out.append(Candidate(item=it, similarity=1.0 - i / 100, embedding=np.zeros(1)))
    return out[:n]


def test_unpriced_matches_are_shown_with_a_note_and_a_relaxation_not_dropped():
    request = understand("vegan protein powder, chocolate, under $40", CATALOGUE)
    assert {(f.key, f.value) for f in request.facets} >= {("diet_type", "Vegan"), ("item_form", "Powder"),
                                                         ("flavor", "Chocolate"), ("price_max", "40")}
    chosen = select(request, search, CATALOGUE, [], n=50, k=5)
    assert [c.item.item_id for c in chosen.items] == ["p1", "p2"]
    assert chosen.relaxed[0].key == "price_max" and chosen.relaxed[0].item_ids == ["p1", "p2"]
    assert "no price listed" in chosen.notes[0] and "Vegan Protein Powder Chocolate" in chosen.notes[0]


def test_an_exclusion_holds_and_a_stated_relaxation_names_what_was_dropped():
    request = understand("a co-op space game, not early access", CATALOGUE)
    assert ("exclude_genre", "Early Access") in {(f.key, f.value) for f in request.facets}
    chosen = select(request, search, CATALOGUE, [], n=50, k=5)
    assert "g2" not in [c.item.item_id for c in chosen.items]  # the only space game is early access
    assert [r.label for r in chosen.relaxed] == ["tag Space"]
    assert "I dropped tag Space" in chosen.notes[0]


def test_the_same_product_under_two_ids_is_picked_once():
    assert same_product(ITEMS[6], ITEMS[7])
    tin = item("t1", "Amazon.com Gift Card in a Holiday Tin (Santa Design)", 25.0, brand="Amazon")
    assert same_product(tin, item("t2", "Amazon.com Gift Card in a Holiday Tin (Snowman Design)", 25.0, brand="Amazon"))
    assert not same_product(tin, item("t3", "Amazon.com Gift Card in a Holiday Tin (Snowman Design)", 50.0,
                                      brand="Amazon"))  # another price is another choice
    assert not same_product(item("t4", "Amazon.com Gift Card in a Santa Tin", 25.0, brand="Amazon"),
                            item("t5", "Amazon.com Gift Card in a Birthday Cupcake Tin", 25.0, brand="Amazon"))
    assert not same_product(ITEMS[4], ITEMS[5])
    chosen = select(understand("a relaxing game", CATALOGUE), search, CATALOGUE, [], n=50, k=5)
    assert [c.item.item_id for c in chosen.items] == ["g3"]


def test_cheaper_never_shows_a_higher_price_and_says_when_nothing_is_cheaper():
    # seen on H&PC: "cheaper" than a $7.40 vegan powder showed a $48.95 one as "the closest price"
    request = understand("a co-op game under $9", CATALOGUE).model_copy(update={"cheaper_than": 9.0})
    chosen = select(request, search, CATALOGUE, [], n=50, k=2)
    assert chosen.items == [] and not chosen.relaxed
    assert chosen.notes == ["Nothing cheaper than $9.00 matches tag Co-op: the picks before were the cheapest."]
    # as cheap as the cheapest before: shown, and said
    request = request.model_copy(update={"cheaper_than": 14.99})
    chosen = select(request, search, CATALOGUE, ["g1"], n=50, k=2)
    assert {c.item.item_id for c in chosen.items} <= {"g2", "g3", "g4"} and chosen.relaxed
    assert chosen.notes == ["Nothing cheaper than $14.99 matches tag Co-op; shown instead: the same price as the "
                            "cheapest pick before."]


def test_an_excluded_flavor_named_in_the_title_is_excluded():
    request = understand("a protein snack, not chocolate", CATALOGUE)
    facet = next(f for f in request.facets if f.key == "exclude_flavor")
    assert meets(facet, ITEMS[3]) is False and meets(facet, ITEMS[2]) is True


CARDS = [item("e1", "Olive Garden - E-mail Delivery", None, brand="Olive Garden", delivery="e-mail"),
         item("t1", "Amazon.com Gift Card in a Santa Tin", 25.0, brand="Amazon", packaging="tin"),
         item("b1", "Amazon.com Gift Card in a Black Gift Box", 50.0, brand="Amazon", packaging="gift box"),
         item("e2", "Amazon eGift Card", None, brand="Amazon", delivery="e-mail")]
CARD_CATALOGUE = Catalogue(Dataset(name="c", report=LoadReport(dataset="c"), items=CARDS))


def card_search(query: str, filters: Filters, n: int) -> list[Candidate]:
    return [Candidate(item=it, similarity=1.0 - i / 100, embedding=np.zeros(1)) for i, it in enumerate(CARDS)
            if filters.price_max is None or (it.price is not None and it.price <= filters.price_max)][:n]


def test_a_card_sent_by_email_or_in_a_tin_is_asked_for_by_those_words():
    """Delivery and packaging are what a gift card shopper asks for ("something I can send by email"): each is a
    constraint the picks meet, and a budget on e-mail cards that list no price says so instead of finding none."""
    request = understand("something I can send by email", CARD_CATALOGUE)
    assert ("delivery", "e-mail") in {(f.key, f.value) for f in request.facets}
    chosen = select(request, card_search, CARD_CATALOGUE, [], n=50, k=5)
    assert [c.item.item_id for c in chosen.items] == ["e1", "e2"]

    tin = understand("a gift card in a tin", CARD_CATALOGUE)
    assert ("packaging", "tin") in {(f.key, f.value) for f in tin.facets}
    assert [c.item.item_id for c in select(tin, card_search, CARD_CATALOGUE, [], n=50, k=5).items] == ["t1"]

    budget = understand("an e-mail gift card under $30", CARD_CATALOGUE)
    chosen = select(budget, card_search, CARD_CATALOGUE, [], n=50, k=5)
    assert [c.item.item_id for c in chosen.items] == ["e1", "e2"]  # no price listed: shown, and said
    assert "no price listed" in chosen.notes[0]


@pytest.mark.parametrize("message", ["an e-gift card I can send today", "an eGift card", "a digital gift card",
                                     "an e-card for my mom"])
def test_the_shoppers_words_for_an_e_mail_card_ask_for_e_mail_delivery(message):
    request = understand(message, CARD_CATALOGUE)
    assert ("delivery", "e-mail") in {(f.key, f.value) for f in request.facets}
    assert [c.item.item_id for c in select(request, card_search, CARD_CATALOGUE, [], n=50, k=5).items] == ["e1", "e2"]
    assert [f.key for f in request.facets] == ["delivery"]  # and the words are not read again as a wish
    ruled_out = understand("not an e-gift card", CARD_CATALOGUE)
    assert ("exclude_delivery", "e-mail") in {(f.key, f.value) for f in ruled_out.facets}


@pytest.mark.parametrize("message", ["protein powder, not from Quest", "protein powder not made by Quest",
                                     "protein powder, nothing by Quest"])
def test_not_from_a_brand_rules_the_brand_out(message):
    """"a toothpaste, not from Colgate" was read as "from Colgate": the negation's "from" hid the brand from it."""
    facets = {(f.key, f.value) for f in understand(message, CATALOGUE).facets}
    assert ("exclude_brand", "Quest") in facets and ("brand", "Quest") not in facets

"""Reading a chat message: budgets, brand exclusions, catalogue words, 'like <title>', and refinements."""

import pytest

from agent.catalogue import Catalogue
from agent.conversation import Conversation
from agent.schemas import Answer, Recommendation
from agent.understand import _brand_named, understand
from index.models import Dataset, Item, LoadReport

pytestmark = pytest.mark.fast  # no model decode, no index build

def item(item_id, title, price=None, **attrs):
    pairs = [(k, v) for k, vs in attrs.items() for v in (vs if isinstance(vs, list) else [vs])]
    return Item(item_id=item_id, title=title, text=title, source="t", price=price, attributes=pairs)


CATALOGUE = Catalogue(Dataset(name="t", report=LoadReport(dataset="t"), items=[
    item("1", "Terraria", 9.99, genre=["Action", "Adventure"], tag=["Sandbox", "Co-op"]),
    item("2", "Starbound", 14.99, genre=["Action"], tag=["Co-op", "Space"]),
    item("3", "Amazon.com Gift Card", 50.0, brand="Amazon"),
    item("4", "Starbucks Card", 25.0, brand="Starbucks"),
]))


def facets(request):
    return {(f.key, f.value) for f in request.facets}


def test_budget_phrasings():
    assert facets(understand("a gift card for my nephew under $50", CATALOGUE)) == {("price_max", "50")}
    assert facets(understand("something $20 or less", CATALOGUE)) == {("price_max", "20")}
    assert facets(understand("between $10 and 30 dollars", CATALOGUE)) == {("price_min", "10"), ("price_max", "30")}
    assert understand("over 100 bucks", CATALOGUE).price_min() == 100.0


def test_brand_exclusion_uses_catalogue_brands_only():
    assert ("exclude_brand", "Amazon") in facets(understand("a gift card, not Amazon", CATALOGUE))
    assert not understand("not sure what to get", CATALOGUE).facets


def test_like_a_title_with_a_catalogue_tag():
    request = understand("something like Terraria but co-op", CATALOGUE)
    assert request.mentioned_item_ids == ["1"] and "1" in request.exclude_ids
    assert ("tag", "Co-op") in facets(request) and ("like_item", "Terraria") in facets(request)
    assert [f.handle for f in request.facets] == [f"r{i + 1}" for i in range(len(request.facets))]


def _after(first_message, shown):
    conversation = Conversation(user_id="u")
    conversation.add(understand(first_message, CATALOGUE), Answer(user_id="u", message=first_message, recommendations=[
        Recommendation(item_id=i.item_id, title=i.title, rank=n + 1, score=1.0, price=i.price, attributes=i.attributes)
        for n, i in enumerate(shown)]))
    return conversation


def test_cheaper_keeps_the_request_and_caps_below_the_cheapest_shown():
    conversation = _after("a gift card under $60", [CATALOGUE.get("3"), CATALOGUE.get("4")])
    request = understand("cheaper", CATALOGUE, conversation)
    assert request.query_text == "a gift card under $60"
    assert request.price_max() == 24.99


def test_another_brand_excludes_the_brands_and_items_shown():
    conversation = _after("a gift card", [CATALOGUE.get("4")])
    request = understand("another brand please", CATALOGUE, conversation)
    assert ("exclude_brand", "Starbucks") in facets(request) and "4" in request.exclude_ids


def test_why_the_second_one():
    conversation = _after("a gift card", [CATALOGUE.get("3"), CATALOGUE.get("4")])
    request = understand("why the second one?", CATALOGUE, conversation)
    assert request.intent == "why" and request.why_rank == 2


def test_a_new_request_replaces_what_the_item_is_and_keeps_the_budget_with_a_note():
    conversation = _after("a gift card under $60 with co-op", [CATALOGUE.get("3")])
    request = understand("an action game for my brother", CATALOGUE, conversation)
    assert request.price_max() == 60.0 and ("genre", "Action") in facets(request)
    assert ("tag", "Co-op") not in facets(request)
    assert request.notes == ["Kept from before: under $60 (remove any of them to widen the search)."]


def test_start_over_clears_the_constraints():
    conversation = _after("a gift card under $60, not Amazon", [CATALOGUE.get("4")])
    request = understand("start over: a sandbox game", CATALOGUE, conversation)
    assert facets(request) == {("tag", "Sandbox")}


def test_negations_exclude_any_catalogue_value_first_turn_and_later():
    assert facets(understand("an action game, not sandbox", CATALOGUE)) == {("genre", "Action"),
                                                                           ("exclude_tag", "Sandbox")}
    assert facets(understand("something that isn't co-op", CATALOGUE)) == {("exclude_tag", "Co-op")}
    assert facets(understand("a game without space please", CATALOGUE)) == {("exclude_tag", "Space")}
    assert facets(understand("no Starbucks or Amazon", CATALOGUE)) == {("exclude_brand", "Starbucks"),
                                                                      ("exclude_brand", "Amazon")}
    conversation = _after("an action game under $20", [CATALOGUE.get("1")])
    request = understand("not sandbox", CATALOGUE, conversation)
    assert facets(request) == {("genre", "Action"), ("price_max", "20"), ("exclude_tag", "Sandbox")}
    assert request.query_text == "an action game under $20"


def test_a_negation_is_not_a_price_phrase_nor_part_of_a_word():
    assert facets(understand("no more than $20, nothing sandboxy", CATALOGUE)) == {("price_max", "20")}


def test_refinements_keep_every_active_constraint():
    conversation = _after("a birthday gift card for my sister under $50", [CATALOGUE.get("4")])
    request = understand("not Amazon please", CATALOGUE, conversation)
    assert facets(request) == {("occasion", "birthday"), ("price_max", "50"), ("exclude_brand", "Amazon")}


def test_asking_for_an_excluded_value_lifts_the_exclusion():
    conversation = _after("a game, not sandbox", [CATALOGUE.get("2")])
    assert ("tag", "Sandbox") in facets(understand("ok, sandbox after all", CATALOGUE, conversation))
    assert ("exclude_tag", "Sandbox") not in facets(understand("ok, sandbox after all", CATALOGUE, conversation))


def test_a_removed_chip_is_not_carried():
    conversation = _after("an action game under $20", [CATALOGUE.get("1")])
    conversation.remove("price_max", "20")
    assert facets(understand("again", CATALOGUE, conversation)) == {("genre", "Action")}


def test_unreadable_input_keeps_everything_and_says_so():
    conversation = _after("an action game under $20", [CATALOGUE.get("1")])
    request = understand("🙂🙂", CATALOGUE, conversation)
    assert facets(request) == {("genre", "Action"), ("price_max", "20")}
    assert request.notes and "couldn't read a request" in request.notes[0]


def test_mentioned_items_stay_mentioned_across_refinements():
    conversation = _after("something like Terraria under $20", [CATALOGUE.get("2")])
    request = understand("cheaper", CATALOGUE, conversation)
    assert request.mentioned_item_ids == ["1"] and {"1", "2"} <= set(request.exclude_ids)
    assert request.price_max() == 14.98 and request.cheaper_than == 14.99


def test_why_carries_the_active_constraints():
    conversation = _after("an action game under $20", [CATALOGUE.get("1")])
    request = understand("why the first one?", CATALOGUE, conversation)
    assert request.intent == "why" and facets(request) == {("genre", "Action"), ("price_max", "20")}


def test_negation_words_and_aliases():
    catalogue = Catalogue(Dataset(name="t", report=LoadReport(dataset="t"), items=[
        item("1", "Doom", 9.99, tag=["Violent", "Shooter"], spec=["In-App Purchases"])]))
    assert facets(understand("a shooter, nothing violent", catalogue)) == {("tag", "Shooter"), ("exclude_tag", "Violent")}
    assert facets(understand("no violence please", catalogue)) == {("exclude_tag", "Violent")}
    assert facets(understand("without microtransactions", catalogue)) == {("exclude_spec", "In-App Purchases")}


def test_retrieval_embeds_what_sets_items_apart_not_the_budget_or_the_catalogues_own_noun():
    # seen: "a restaurant gift card under $40", embedded whole, was as close to a Santa tin as to BJ's Restaurant
    gift = Catalogue(Dataset(name="amazon2018_gift_cards", report=LoadReport(dataset="amazon2018_gift_cards"),
                             items=CATALOGUE.items.values()))
    assert understand("a restaurant gift card under $40", gift).search == "a restaurant"
    assert understand("a thank you gift card between $20 and $40", gift).search == "a thank you"
    request = understand("a gift card under $50", gift)  # nothing else: the query as it is
    assert request.search_text == "" and request.search == request.query_text
    assert understand("a co-op game under $10", CATALOGUE).search == "a co-op game"  # another catalogue's noun stays


PRODUCTS = Catalogue(Dataset(name="p", report=LoadReport(dataset="p"), items=[
    item("g1", "Melatonin Gummies, Strawberry", 9.99, item_form="Gummy"),
    item("g2", "Sleep Gummies with Melatonin", 12.0, item_form="Gummy"),
    item("t1", "Fluoride Toothpaste for Sensitive Teeth", 4.5, item_form="Paste"),
    item("t2", "Whitening Toothpaste, Mint", 3.0, item_form="Paste"),
    item("t3", "Charcoal Toothpaste", 6.0, item_form="Paste"),  # a bare word is a product once 3 titles say so
    item("b1", "Electric Toothbrush with 2 Heads", 29.0),
    item("b2", "Sonic Electric Toothbrush", 45.0),
    item("v1", "Vitamin C Capsules", 8.0, item_form="Capsule"),
]))


@pytest.mark.parametrize("message", ["an electric toothbrush", "a toothpaste", "toothpaste"])
def test_a_few_words_naming_another_product_are_a_new_request_not_a_refinement(message):
    """"an electric toothbrush" after "melatonin gummies" kept the gummies (three words, no catalogue value: read
    as a refinement), and the picks were gummies again."""
    conversation = _after("melatonin gummies under $20", [PRODUCTS.get("g1")])
    request = understand(message, PRODUCTS, conversation)
    assert "gumm" not in request.query_text.lower()
    assert ("item_form", "Gummy") not in facets(request) and request.price_max() == 20.0  # the budget is kept


def test_a_refinement_naming_the_same_product_or_none_stays_a_refinement():
    conversation = _after("a toothpaste under $10", [PRODUCTS.get("t1")])
    assert understand("cheaper toothpaste", PRODUCTS, conversation).query_text == "a toothpaste under $10"
    assert understand("mint", PRODUCTS, conversation).query_text.startswith("a toothpaste under $10")


def test_a_brand_spelled_two_ways_is_read_the_same_whatever_the_sets_order():
    """H&PC lists "BulkSupplements" and "Bulksupplements": the longest match won and a tie went to whichever the
    set gave first, so the training data's hash changed from one process to the next (two H&PC requests)."""
    spellings = ["Bulksupplements", "BulkSupplements", "Bulk"]
    read = {_brand_named("bulksupplements powder", order) for order in (spellings, spellings[::-1])}
    assert read == {"BulkSupplements"}

"""Reading a chat message: budgets, brand exclusions, catalogue words, 'like <title>', and refinements."""

from agent.catalogue import Catalogue
from agent.conversation import Conversation
from agent.schemas import Answer, Recommendation
from agent.understand import understand
from index.models import Dataset, Item, LoadReport


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


def test_a_new_request_starts_afresh():
    conversation = _after("a gift card under $60", [CATALOGUE.get("3")])
    request = understand("an action game with co-op", CATALOGUE, conversation)
    assert request.price_max() is None and ("genre", "Action") in facets(request)

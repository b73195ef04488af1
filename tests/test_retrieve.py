"""The retrieval API on real indexes (Gift Cards, a Steam subset), real Chroma and real MiniLM: filters return exactly
the matching items (as many as asked when that many match), similarity is the cosine, and a user's history holds
that user's rows and nothing else."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from index.build import build_index
from index.embed import encode_query
from index.loaders import load_dataset
from index.models import Item
from index.retrieve import Filters, Retriever, build_where
from index_helpers import DATA_DIR, GIFT_CARDS, settings_for, steam_subset

STEAM_LINES = 1200


def expected_ids(items: list[Item], f: Filters) -> set[str]:
    """The filter semantics spelled out in Python: what Chroma must agree with."""
    out = set()
    for item in items:
        brand = item.first("brand")
        if f.price_max is not None and (item.price is None or item.price > f.price_max):
            continue
        if f.price_min is not None and (item.price is None or item.price < f.price_min):
            continue
        if f.brand is not None and brand != f.brand:
            continue
        if brand is not None and brand in f.exclude_brands:
            continue
        if not (set(f.genres) <= set(item.values("genre")) and set(f.tags) <= set(item.values("tag"))
                and set(f.specs) <= set(item.values("spec"))):
            continue
        if item.item_id in f.exclude_ids:
            continue
        out.add(item.item_id)
    return out


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    root = tmp_path_factory.mktemp("retrieve")
    data_dir = steam_subset(root / "data", STEAM_LINES)
    build_index(GIFT_CARDS, settings_for(root / "home"), progress=False)
    build_index("steam", settings_for(root / "home", data_dir), progress=False)
    return root / "home", data_dir


@pytest.fixture(scope="module")
def gift(home):
    return Retriever(GIFT_CARDS, settings_for(home[0])), load_dataset(GIFT_CARDS, DATA_DIR)


@pytest.fixture(scope="module")
def steam(home):
    return Retriever("steam", settings_for(home[0], home[1])), load_dataset("steam", home[1])


def test_where_is_unwrapped_for_one_condition_and_anded_for_more():
    assert build_where(Filters()) is None
    assert build_where(Filters(price_max=50)) == {"price": {"$lte": 50.0}}
    assert build_where(Filters(brand="Starbucks", tags=["Co-op"])) == {
        "$and": [{"brand": {"$eq": "Starbucks"}}, {"tag:Co-op": {"$eq": True}}]}
    assert build_where(Filters(exclude_ids=["b", "a", "b"])) == {"item_id": {"$nin": ["a", "b"]}}


def test_price_cap_returns_every_item_at_or_under_it_and_nothing_else(gift):
    retriever, dataset = gift
    f = Filters(price_max=50)
    found = retriever.candidates("a gift card for a birthday", f, 500)
    assert {c.item.item_id for c in found} == expected_ids(dataset.items, f)
    assert all(c.item.price is not None and c.item.price <= 50 for c in found)


def test_brand_equality_and_exclusion(gift):
    retriever, dataset = gift
    brand, _ = Counter(i.first("brand") for i in dataset.items if i.first("brand")).most_common(1)[0]
    only = retriever.candidates("gift card", Filters(brand=brand), 500)
    assert {c.item.item_id for c in only} == expected_ids(dataset.items, Filters(brand=brand))
    without = retriever.candidates("gift card", Filters(exclude_brands=[brand]), 500)
    # items with no brand at all are kept: excluding a brand is not requiring one
    assert {c.item.item_id for c in without} == expected_ids(dataset.items, Filters(exclude_brands=[brand]))
    assert any(c.item.first("brand") is None for c in without)


@pytest.mark.parametrize("f", [
    Filters(genres=["Action"]),
    Filters(genres=["Action"], tags=["Co-op"]),
    Filters(tags=["Multiplayer"], specs=["Multi-player"], price_max=20),
    Filters(genres=["Indie"], price_min=5, price_max=15),
    Filters(genres=["Strategy"], tags=["Turn-Based"], specs=["Single-player"]),
], ids=["genre", "genre+tag", "tag+spec+price", "genre+price-range", "genre+tag+spec"])
def test_steam_facet_filters_return_n_matching_items_when_n_match(steam, f):
    retriever, dataset = steam
    expected = expected_ids(dataset.items, f)
    assert expected, "the subset should hold items for every filter in this test"
    found = retriever.candidates("a fun game to play with friends", f, 50)
    assert len(found) == min(50, len(expected))
    assert {c.item.item_id for c in found} <= expected


def test_excluded_ids_never_come_back_and_n_still_does(steam):
    retriever, dataset = steam
    f = Filters(genres=["Action"])
    top = [c.item.item_id for c in retriever.candidates("space shooter", f, 20)]
    found = retriever.candidates("space shooter", Filters(genres=["Action"], exclude_ids=top), 20)
    assert len(found) == 20 and not {c.item.item_id for c in found} & set(top)


def test_similarity_is_one_minus_cosine_distance_best_first(steam):
    retriever, dataset = steam
    target = dataset.items[7]
    found = retriever.candidates(target.text, Filters(), 10)
    assert found[0].item.item_id == target.item_id and found[0].similarity > 0.99
    query = encode_query(target.text)
    stored = retriever.embeddings([c.item.item_id for c in found])
    for c in found:
        assert c.similarity == pytest.approx(float(query @ stored[c.item.item_id]), abs=1e-4)
    assert [c.similarity for c in found] == sorted((c.similarity for c in found), reverse=True)


def test_history_holds_that_users_rows_and_nothing_else(gift):
    retriever, dataset = gift
    by_user: dict[str, list] = {}
    for i in dataset.interactions:
        by_user.setdefault(i.user_id, []).append(i)
    users = retriever.users()
    assert sorted(users) == sorted(by_user)
    for user in users[:3] + users[-3:]:
        got = retriever.history(user)
        assert Counter((h.item.item_id, h.timestamp, h.rating, h.review) for h in got) == \
            Counter((i.item_id, i.timestamp, i.rating, i.review) for i in by_user[user])
        assert [h.timestamp for h in got] == sorted(h.timestamp for h in got)
        assert retriever.has_user(user)


def test_unknown_or_odd_user_ids_see_no_history(gift):
    retriever, _ = gift
    for user in ["nobody", "", "' OR 1=1 --", '{"$ne": "x"}']:
        assert retriever.history(user) == [] and not retriever.has_user(user)


def test_users_most_active_first(gift):
    retriever, dataset = gift
    counts = Counter(i.user_id for i in dataset.interactions)
    top = retriever.users(5)
    assert len(top) == 5 and [counts[u] for u in top] == sorted(counts.values(), reverse=True)[:5]


def test_items_and_vectors_by_id(gift):
    retriever, dataset = gift
    ids = [dataset.items[3].item_id, "no-such-item", dataset.items[0].item_id]
    assert [i.item_id for i in retriever.get_items(ids)] == [ids[0], ids[2]]
    vectors = retriever.embeddings(ids)
    assert set(vectors) == {ids[0], ids[2]}
    assert all(v.shape == (384,) and abs(np.linalg.norm(v) - 1) < 1e-5 for v in vectors.values())

"""Memory retrieval (index/snapshot.py) on real indexes and real MiniLM: it returns exactly what brute force over the
stored rows returns, the same items as Chroma's own search, and it notices a re-index."""

from __future__ import annotations

import shutil
from collections import Counter

import numpy as np
import pytest

from index import store
from index.build import SNAPSHOT, build_index, index_dataset
from index.embed import encode_query
from index.loaders import dataset_fingerprint, load_dataset
from index.retrieve import Filters, Retriever
from index_helpers import DATA_DIR, GIFT_CARDS, settings_for, steam_subset

STEAM_LINES = 1200
N = 50  # candidates per search, as the chain asks
QUERIES = ["a birthday present", "co-op shooter to play with friends", "relaxing puzzle game with a story"]


def brute_force(rows: list[dict], vector: np.ndarray, f: Filters, n: int) -> list[str]:
    """The reference: every stored row's metadata checked against the filter in plain Python (what `build_where`
    asks Chroma for), float64 cosine, best first, ties in stored order."""
    query = vector.astype(np.float64) / np.linalg.norm(vector)
    facets = [store.facet_key("genre", v) for v in f.genres] + [store.facet_key("tag", v) for v in f.tags] + \
        [store.facet_key("spec", v) for v in f.specs]
    scored = []
    for order, row in enumerate(rows):
        meta, price = row["metadata"], row["metadata"].get("price")
        if f.price_max is not None and (price is None or price > f.price_max):
            continue
        if f.price_min is not None and (price is None or price < f.price_min):
            continue
        if f.brand and meta.get("brand") != f.brand:
            continue
        if meta.get("brand") in f.exclude_brands:  # an item with no brand is never excluded
            continue
        if not all(meta.get(key) is True for key in facets) or row["id"] in f.exclude_ids:
            continue
        vector_64 = np.asarray(row["embedding"], dtype=np.float64)
        scored.append((-float(vector_64 @ query) / np.linalg.norm(vector_64), order, row["id"]))
    return [row_id for _, _, row_id in sorted(scored)[:n]]


def stored_rows(settings, dataset: str) -> list[dict]:
    col = store.get_collection(store.open_client(settings), store.items_collection_name(dataset))
    return list(store.iter_rows(col, include=["metadatas", "embeddings"]))


def pair(settings, dataset: str) -> tuple[Retriever, Retriever]:
    """(memory, chroma) retrievers over the same index."""
    return (Retriever(dataset, settings.model_copy(update={"retrieval": "memory"})),
            Retriever(dataset, settings.model_copy(update={"retrieval": "chroma"})))


@pytest.fixture(scope="module")
def steam(tmp_path_factory):
    root = tmp_path_factory.mktemp("snapshot")
    settings = settings_for(root / "home", steam_subset(root / "data", STEAM_LINES))
    build_index("steam", settings, progress=False)
    return pair(settings, "steam"), stored_rows(settings, "steam")


@pytest.fixture(scope="module")
def gift(gift_cards_index):
    top_brand = Counter(row["metadata"].get("brand") for row in stored_rows(gift_cards_index, GIFT_CARDS)
                        if row["metadata"].get("brand")).most_common(1)[0][0]
    return pair(gift_cards_index, GIFT_CARDS), stored_rows(gift_cards_index, GIFT_CARDS), top_brand


def gift_filters(top_brand: str, top_ids: list[str]) -> list[Filters]:
    return [Filters(), Filters(price_max=25), Filters(price_min=20, price_max=50), Filters(brand=top_brand),
            Filters(exclude_brands=[top_brand, "No Such Brand"]), Filters(brand=top_brand, price_max=50),
            Filters(exclude_ids=top_ids)]


STEAM_FILTERS = [
    Filters(),
    Filters(price_max=10),
    Filters(genres=["Action"]),
    Filters(genres=["Action"], tags=["Co-op"]),
    Filters(tags=["Multiplayer"], specs=["Multi-player"], price_max=20),
    Filters(genres=["Indie"], price_min=5, price_max=15),
    Filters(genres=["Strategy"], tags=["Turn-Based"], specs=["Single-player"]),
    Filters(tags=["No Such Tag"]),
]


def all_cases(gift, steam) -> list[tuple[Retriever, Retriever, list[dict], np.ndarray, Filters]]:
    """(memory, chroma, stored rows, query vector, filters) for every query and filter on both datasets."""
    (gift_mem, gift_chroma), gift_rows, top_brand = gift
    (steam_mem, steam_chroma), steam_rows = steam
    cases = []
    for text in QUERIES:
        vector = encode_query(text)
        top_ids = [c.item.item_id for c in gift_mem.candidates_for_vector(vector, None, 10)]
        cases += [(gift_mem, gift_chroma, gift_rows, vector, f) for f in gift_filters(top_brand, top_ids)]
        top_ids = [c.item.item_id for c in steam_mem.candidates_for_vector(vector, Filters(genres=["RPG"]), N)]
        cases += [(steam_mem, steam_chroma, steam_rows, vector, f)
                  for f in STEAM_FILTERS + [Filters(genres=["RPG"], exclude_ids=top_ids)]]
    return cases


def test_memory_search_equals_brute_force_over_the_stored_rows(gift, steam):
    for memory, _, rows, vector, f in all_cases(gift, steam):
        found = memory.candidates_for_vector(vector, f, N)
        assert [c.item.item_id for c in found] == brute_force(rows, vector, f, N), f
        assert [c.similarity for c in found] == sorted((c.similarity for c in found), reverse=True)


def test_excluding_a_brand_keeps_items_without_one(gift):
    (memory, _), rows, top_brand = gift
    found = memory.candidates("gift card", Filters(exclude_brands=[top_brand]), len(rows))
    assert any(c.item.first("brand") is None for c in found)
    assert not any(c.item.first("brand") == top_brand for c in found)


def test_memory_is_never_worse_than_chroma_and_mostly_agrees_with_it(gift, steam):
    """Chroma's HNSW search is approximate even at 1,200 items (it missed 2 of the true top 50 in 2 of these cases
    when this was written). So: the exact result beats or ties Chroma's position by position, most candidates are
    the same, and a candidate both return is the same Candidate."""
    shared = total = 0
    for memory, chroma, _, vector, f in all_cases(gift, steam):
        mine = memory.candidates_for_vector(vector, f, N)
        theirs = {c.item.item_id: c for c in chroma.candidates_for_vector(vector, f, N)}
        my_vectors = memory.embeddings([c.item.item_id for c in mine])
        their_vectors = chroma.embeddings(list(theirs))
        assert len(mine) == len(theirs), f
        their_best = sorted((c.similarity for c in theirs.values()), reverse=True)
        assert all(a.similarity >= b - 1e-5 for a, b in zip(mine, their_best)), f
        for c in mine:
            if other := theirs.get(c.item.item_id):
                shared += 1
                assert c.item == other.item
                assert np.array_equal(my_vectors[c.item.item_id], their_vectors[c.item.item_id])
                assert c.similarity == pytest.approx(other.similarity, abs=1e-5)
        total += len(mine)
    assert shared / total >= 0.95


def test_items_and_vectors_by_id_come_from_the_snapshot_unchanged(gift):
    (memory, chroma), rows, _ = gift
    ids = [rows[3]["id"], "no-such-item", rows[0]["id"], rows[3]["id"]]
    assert memory.get_items(ids) == chroma.get_items(ids) and len(memory.get_items(ids)) == 3
    mine, theirs = memory.embeddings(ids), chroma.embeddings(ids)
    assert mine.keys() == theirs.keys() == {rows[0]["id"], rows[3]["id"]}
    assert all(np.array_equal(mine[i], theirs[i]) for i in mine)
    assert memory.snapshot.loads == 1  # one load per process, however many calls


@pytest.fixture
def gift_copy(gift_cards_index, tmp_path):
    """A private copy of the built Gift Cards index, to re-index freely."""
    shutil.copytree(gift_cards_index.chroma_path, tmp_path / "chroma")
    return settings_for(tmp_path)


def test_a_reindex_is_served_after_the_check_interval(gift_copy):
    eager = Retriever(GIFT_CARDS, gift_copy.model_copy(update={"snapshot_check_s": 0}))
    lazy = Retriever(GIFT_CARDS, gift_copy.model_copy(update={"snapshot_check_s": 3600}))
    dataset = load_dataset(GIFT_CARDS, DATA_DIR)
    removed, repriced = dataset.items[-1], dataset.items[0]
    for r in (eager, lazy):
        assert {i.item_id for i in r.get_items([removed.item_id, repriced.item_id])} == {removed.item_id,
                                                                                          repriced.item_id}

    dataset.items[0] = repriced.model_copy(update={"price": 1234.5})
    dataset.items.pop()
    dataset.interactions = [i for i in dataset.interactions if i.item_id != removed.item_id]
    index_dataset(dataset, gift_copy, dataset_fingerprint(GIFT_CARDS, DATA_DIR), progress=False)

    found = {c.item.item_id: c.item for c in eager.candidates("gift card", Filters(price_min=1000), 10)}
    assert list(found) == [repriced.item_id] and found[repriced.item_id].price == 1234.5
    assert eager.get_items([removed.item_id]) == [] and eager.snapshot.loads == 2
    assert lazy.get_items([removed.item_id]) != [] and lazy.snapshot.loads == 1  # within its interval: old copy


def test_a_build_under_way_keeps_serving_the_last_complete_copy(gift_copy):
    retriever = Retriever(GIFT_CARDS, gift_copy.model_copy(update={"snapshot_check_s": 0}))
    first = retriever.get_items([r["id"] for r in stored_rows(gift_copy, GIFT_CARDS)])
    col = store.get_collection(store.open_client(gift_copy), store.items_collection_name(GIFT_CARDS))
    col.modify(metadata={**col.metadata, SNAPSHOT: ""})  # what index_dataset does before it writes
    col.delete(ids=[first[0].item_id])

    assert retriever.get_items([first[0].item_id]) == [first[0]] and retriever.snapshot.loads == 1
    col.modify(metadata={**col.metadata, SNAPSHOT: "finished"})
    assert retriever.get_items([first[0].item_id]) == [] and retriever.snapshot.loads == 2


def test_every_item_reads_the_same_from_memory_and_from_chroma(gift):
    (memory, chroma), rows, _ = gift
    mine, theirs = memory.all_items(), chroma.all_items()
    assert len(mine) == len(theirs) == len(rows)
    assert {i.item_id: i for i in mine} == {i.item_id: i for i in theirs}

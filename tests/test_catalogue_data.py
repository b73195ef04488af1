"""What `whyrec index` stores beside the index for the chat (index/catalogue_data.py): co-occurrence counted by hand,
a round trip through the file, and the catalogue built from it equal to one built from the Dataset."""

from __future__ import annotations

import gzip

import pytest

from agent.catalogue import Catalogue
from index.catalogue_data import (
    FORMAT,
    catalogue_data,
    catalogue_data_path,
    cooccurrence_pairs,
    load_catalogue_data,
    save_catalogue_data,
)
from index.models import Bundle, Dataset, Interaction, Item, LoadReport

pytestmark = pytest.mark.fast


def item(item_id: str, title: str) -> Item:
    return Item(item_id=item_id, title=title, text=title, attributes=[("genre", "Action")], source="t")


# listed out of id order on purpose: the catalogue keeps the files' order, whatever order a store returns them in
ITEMS = [item("c", "Gamma Game"), item("a", "Alpha Game"), item("b", "Beta Game"), item("d", "Delta Game")]
DATASET = Dataset(
    name="t", items=ITEMS, report=LoadReport(dataset="t"),
    interactions=[Interaction(user_id="u1", item_id="a", rating=5, review="Great fun with friends every night."),
                  Interaction(user_id="u1", item_id="b", rating=2, review=""),
                  Interaction(user_id="u2", item_id="a", rating=4, review="   "),
                  Interaction(user_id="u2", item_id="b", rating=None, review="No rating, so no quote source."),
                  Interaction(user_id="u2", item_id="c", rating=1, review="Crashed on start, twice in a row.")],
    bundles=[Bundle(bundle_id="x", name="pack", item_ids=["a", "c", "d"])])


def test_cooccurrence_counts_users_and_bundles_once_per_pair():
    # u1: a-b; u2: a-b, a-c, b-c; bundle: a-c, a-d, c-d
    assert cooccurrence_pairs(DATASET.interactions, DATASET.bundles) == [
        ("a", "b", 2), ("a", "c", 2), ("a", "d", 1), ("b", "c", 1), ("c", "d", 1)]
    co = catalogue_data(DATASET).cooccurrence
    assert co["a"] == {"b": 2, "c": 2, "d": 1} and co["d"] == {"a": 1, "c": 1}


def test_shoppers_together_counts_users_only():
    # "the choice of 2 shoppers who had your Alpha Game" counts people: a bundle is no shopper
    together = catalogue_data(DATASET).shoppers_together
    assert together["a"] == {"b": 2, "c": 1} and "d" not in together
    stats = Catalogue(DATASET).stats
    assert stats.together("a", "b") == 2 and stats.together("a", "d") == 0
    assert stats.others_than_the_shopper().together("a", "b") == 1  # a training example's own shopper is not news


def test_a_giant_bundle_counts_for_nothing():
    giant = Bundle(bundle_id="g", name="everything", item_ids=[str(n) for n in range(201)])
    assert cooccurrence_pairs([], [giant]) == []


def test_stored_data_round_trips_and_names_its_files(tmp_path):
    info = save_catalogue_data(DATASET, tmp_path, "fp")
    assert info == {"pairs": 5, "reviews": 2}
    loaded = load_catalogue_data(tmp_path, "t")
    assert loaded == catalogue_data(DATASET, "fp")
    assert loaded.fingerprint == "fp" and loaded.item_ids == ["c", "a", "b", "d"] and loaded.max_rating == 5
    assert [(r.user_id, r.item_id) for r in loaded.reviews] == [("u1", "a"), ("u2", "c")]  # text and a rating
    assert load_catalogue_data(tmp_path, "other") is None
    assert not list(catalogue_data_path(tmp_path, "t").parent.glob(".*"))  # no temporary file left behind


def test_a_file_in_another_layout_reads_as_missing(tmp_path):
    save_catalogue_data(DATASET, tmp_path, "fp")
    path = catalogue_data_path(tmp_path, "t")
    with gzip.open(path, "rb") as f:
        raw = f.read()
    with gzip.open(path, "wb") as f:
        f.write(raw.replace(f'"format":{FORMAT}'.encode(), f'"format":{FORMAT + 1}'.encode()))
    assert load_catalogue_data(tmp_path, "t") is None
    path.write_bytes(b"not gzip at all")
    with pytest.raises(OSError):  # a damaged file is an error, not a silently empty catalogue
        load_catalogue_data(tmp_path, "t")


def test_catalogue_from_stored_data_equals_the_one_from_the_dataset():
    from_files = Catalogue(DATASET)
    shuffled = Dataset(name="t", items=sorted(ITEMS, key=lambda i: i.item_id), report=LoadReport(dataset="t"))
    from_index = Catalogue(shuffled, catalogue_data(DATASET, "fp"))  # what the service gets: items and stored data
    assert list(from_index.items) == list(from_files.items) == ["c", "a", "b", "d"]
    assert from_index.cooccurrence == from_files.cooccurrence
    assert from_index.reviews == from_files.reviews
    assert from_index.stats.binary_ratings is from_files.stats.binary_ratings is False
    assert from_index.vocabulary == from_files.vocabulary

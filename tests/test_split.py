"""The leave-last-out split on the real gift-card data: deterministic, hashed, and leak-free."""

from collections import defaultdict
from pathlib import Path

import pytest

from index.loaders import dataset_fingerprint, load_dataset
from index.models import Dataset, Interaction, Item, LoadReport
from index.split import held_out_pairs, known_interactions, load_split, make_split, save_split, split_path

pytestmark = pytest.mark.fast  # no model decode, no index build

DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"
NAME = "amazon2018_gift_cards"


@pytest.fixture(scope="module")
def dataset():
    return load_dataset(NAME, DATA_DIR)


@pytest.fixture(scope="module")
def split(dataset):
    return make_split(dataset, seed=0, fingerprint=dataset_fingerprint(NAME, DATA_DIR))


def test_same_data_and_seed_give_the_same_split_and_hash(dataset, split):
    again = make_split(dataset, seed=0, fingerprint=split.dataset_fingerprint)
    assert again == split and again.sha256 == split.content_hash()
    assert make_split(dataset, seed=1, fingerprint=split.dataset_fingerprint).sha256 != split.sha256


def test_every_gift_card_user_gets_one_test_and_one_validation_pair(split):
    assert len(split.test) == len(split.validation) == len(split.history) == 458
    assert len(held_out_pairs(split)) == 2 * 458
    assert len(held_out_pairs(split, include_validation=False)) == 458


def test_no_held_out_pair_is_among_the_training_pairs(dataset, split):
    training = {(u, i) for u, items in split.history.items() for i in items}
    assert not training & held_out_pairs(split)
    known = known_interactions(dataset, split, "validation")
    assert not {(i.user_id, i.item_id) for i in known} & held_out_pairs(split)
    assert not {(i.user_id, i.item_id) for i in known_interactions(dataset, split, "test")} & held_out_pairs(
        split, include_validation=False)


def test_test_is_the_latest_interaction_and_validation_the_one_before(dataset, split):
    when = defaultdict(dict)
    for it in dataset.interactions:
        when[it.user_id][it.item_id] = max(it.timestamp, when[it.user_id].get(it.item_id, 0))
    for test, val in zip(split.test, split.validation):
        assert test.user_id == val.user_id
        assert test.timestamp == max(when[test.user_id].values())
        assert val.timestamp <= test.timestamp
        assert all(when[val.user_id][i] <= val.timestamp for i in split.history[val.user_id])


def test_timestamp_ties_are_broken_by_a_seeded_hash_not_by_item_id():
    items = [Item(item_id=i, title=i, text=i, source="t") for i in ("A", "B", "C", "D")]
    same_day = [Interaction(user_id="u", item_id=i, timestamp=100) for i in ("A", "B", "C", "D")]
    dataset = Dataset(name="t", items=items, interactions=same_day, report=LoadReport(dataset="t"))
    chosen = {make_split(dataset, seed=seed).test[0].item_id for seed in range(20)}
    assert len(chosen) > 1  # an id order would pick the same item for every seed


def test_saved_split_round_trips_and_a_tampered_file_is_refused(split, tmp_path):
    path = save_split(split, tmp_path / "s.json")
    assert load_split(path) == split
    path.write_text(path.read_text().replace(split.test[0].item_id, "B000000000", 1))
    with pytest.raises(ValueError, match="does not match"):
        load_split(path)


def test_the_checked_in_split_is_the_one_the_code_makes(split):
    """eval/splits/ holds the split every result refers to; if this fails the data or the code changed."""
    assert load_split(split_path(NAME, 0)).sha256 == split.sha256

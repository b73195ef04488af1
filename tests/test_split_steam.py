"""The Steam leave-last-out split: users with >= 5 joined reviews, seeded, hashed, checked in, leak-free."""

from collections import defaultdict

import pytest

from agent.settings import Settings
from index.split import held_out_pairs, load_split, make_split, split_path
from index.loaders import dataset_fingerprint, load_dataset

DATA_DIR = Settings().data_dir
STEAM_SPLIT_SHA256 = "4ba443516503ca9e16e2751e0b0b007ff7fa506715cf828a6057a8e883472817"


@pytest.fixture(scope="module")
def dataset():
    return load_dataset("steam", DATA_DIR)


@pytest.fixture(scope="module")
def split(dataset):
    return make_split(dataset, seed=0, fingerprint=dataset_fingerprint("steam", DATA_DIR))


def test_the_checked_in_steam_split_is_the_one_the_code_makes(split):
    assert split.sha256 == STEAM_SPLIT_SHA256 == load_split(split_path("steam", 0)).sha256
    assert split.method.endswith("evaluated users have >= 5 items")


def test_every_user_with_five_reviews_is_evaluated_once(split):
    """2,797 users have >= 5 reviews of catalogue games (data README); the other 21,583 are training data only."""
    assert len(split.test) == len(split.validation) == 2797
    assert len(split.history) == 24380 and split.skipped == {"user_with_fewer_than_5_items": 21583}
    assert all(len(split.history[p.user_id]) >= 3 for p in split.test)
    assert len(held_out_pairs(split)) == 2 * 2797


def test_test_is_the_latest_review_and_never_in_training(dataset, split):
    when = defaultdict(dict)
    for it in dataset.interactions:
        when[it.user_id][it.item_id] = it.timestamp
    training = {(u, i) for u, items in split.history.items() for i in items}
    assert not training & held_out_pairs(split)
    for test, val in zip(split.test, split.validation):
        assert test.timestamp == max(when[test.user_id].values()) and val.timestamp <= test.timestamp


def test_the_minimum_is_a_parameter(dataset):
    three = make_split(dataset, seed=0, min_items=3)
    assert len(three.test) == 6628 and three.method == make_split(dataset, 0, min_items=3).method
    with pytest.raises(ValueError):
        make_split(dataset, seed=0, min_items=2)

"""Peers from maintained libraries on a tiny fixture whose answers are known by construction."""

import numpy as np
import pytest

from eval.peers import PEERS, TrainData, train

pytestmark = pytest.mark.fast

# A and B always go together; C is the most popular item; D is seen once.
SEQUENCES = {
    "u1": ["A", "B", "C"], "u2": ["A", "B", "C"], "u3": ["A", "B", "C"], "u4": ["C", "D"], "u5": ["C", "E"],
    "u6": ["C", "E"], "u7": ["A", "B"], "u8": ["B", "A"], "u9": ["C"], "probe": ["A"],
}


@pytest.fixture(scope="module")
def data():
    return TrainData(SEQUENCES)


def test_train_data_indexes_users_and_items(data):
    assert data.items == ["A", "B", "C", "D", "E"] and data.matrix.shape == (10, 5) and data.matrix.nnz == 21


def test_popularity_orders_items_by_count(data):
    peer, seconds = train("mostpop", data)
    scores = peer.scores(["probe"])[0]
    assert [data.items[i] for i in np.argsort(-scores, kind="stable")] == ["C", "A", "B", "E", "D"]
    assert scores[data.item_index["C"]] == 7 and seconds >= 0


def test_itemknn_recommends_the_co_occurring_item(data):
    peer, _ = train("itemknn", data, {"K": 10})
    scores = peer.scores(["probe"])[0]
    best = [i for i in np.argsort(-scores) if data.items[i] != "A"][0]
    assert data.items[best] == "B"
    assert scores[data.item_index["D"]] == 0.0  # D never co-occurs with A


def test_ease_recommends_the_co_occurring_item(data):
    peer, _ = train("ease", data, {"lamb": 1.0})
    scores = peer.scores(["probe"])[0]
    assert data.items[int(np.argmax(np.where(np.arange(5) == data.item_index["A"], -np.inf, scores)))] == "B"


def test_unknown_users_score_minus_infinity(data):
    peer, _ = train("mostpop", data)
    assert np.isneginf(peer.scores(["nobody"])).all()


@pytest.mark.parametrize("name", ["als", "bpr"])
def test_matrix_factorisation_peers_train_and_score_every_item(data, name):
    peer, _ = train(name, data, {"factors": 4, "iterations": 30})
    scores = peer.scores(["probe", "u4"])
    assert scores.shape == (2, 5) and np.isfinite(scores).all()


def test_registry_names_every_peer_and_its_grid():
    assert list(PEERS) == ["mostpop", "itemknn", "ease", "als", "bpr", "sasrec"]
    assert PEERS["ease"].configs()[0] == {"lamb": 50.0} and len(PEERS["als"].configs()) == 8 and PEERS["mostpop"].configs() == [{}]

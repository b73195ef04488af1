"""The vectorised ranking the evaluation uses at scale returns exactly agent.rank.rank()'s positions."""

import numpy as np
import pytest

from agent.catalogue import Catalogue
from agent.rank import history_similarity, rank
from agent.settings import RankWeights
from eval.ranking_eval import CatalogueArrays, fused_position, position_of, scorer_weights
from index.models import Dataset, Interaction, Item, LoadReport

pytestmark = pytest.mark.fast


@pytest.fixture(scope="module")
def world():
    rng = np.random.default_rng(0)
    items = [Item(item_id=f"i{n}", title=f"Item {n}", text="x", popularity=float(rng.integers(0, 5)), source="t")
             for n in range(60)]
    interactions = [Interaction(user_id=f"u{rng.integers(0, 15)}", item_id=f"i{rng.integers(0, 60)}")
                    for _ in range(120)]
    catalogue = Catalogue(Dataset(name="t", items=items, interactions=interactions, report=LoadReport(dataset="t")))
    raw = rng.normal(size=(60, 8)).astype(np.float32)
    vectors = {f"i{n}": v / np.linalg.norm(v) for n, v in enumerate(raw)}
    return catalogue, vectors, CatalogueArrays(catalogue, vectors), rng


def test_fused_position_equals_rank(world):
    catalogue, vectors, arrays, rng = world
    for trial in range(20):
        past = [f"i{n}" for n in rng.choice(60, size=4, replace=False)]
        ids = [i for i in catalogue.items if i not in past]
        cand = arrays.positions(ids)
        request = rng.random(len(ids)).round(1)  # coarse values: ties exercise the hash tie-break
        past_vecs = np.array([vectors[p] for p in past])
        hist = np.asarray(history_similarity(arrays.vectors[cand], past_vecs, [5.0, 1.0, None, 4.0]))
        co = arrays.cooccurrence(past)[cand]
        for weights in [*scorer_weights(RankWeights()).values(), RankWeights(request=0.0, history=0.0)]:
            order = [s.item.item_id for s in rank([catalogue.get(i) for i in ids], list(request), list(hist),
                                                  past, catalogue, weights)]
            for positive in (0, 7, len(ids) - 1):
                assert fused_position(arrays, cand, positive, request, hist, co, weights) == \
                    order.index(ids[positive]) + 1


def test_position_of_breaks_ties_by_hash_and_puts_unscored_items_last():
    hashes = np.array([5, 1, 9, 3], dtype=np.uint64)
    assert position_of(np.array([1.0, 1.0, 1.0, 0.0]), hashes, 0) == 2  # item 1 (hash 1) goes first
    assert position_of(np.array([-np.inf, 2.0, -np.inf, 1.0]), hashes, 2) == 4


def test_large_catalogues_draw_negatives_from_untouched_items_the_same_way_every_run():
    from types import SimpleNamespace

    from eval.ranking_eval import SORT_LIMIT, random_position, sample_negatives
    from index.split import Pair

    ids = [f"g{n}" for n in range(SORT_LIMIT + 500)]
    heldout = SimpleNamespace(catalogue=SimpleNamespace(items=dict.fromkeys(ids)), _touched={"u": {"g1", "g2"}})
    pair = Pair(user_id="u", item_id="g3", timestamp=0)
    drawn = sample_negatives(heldout, pair, 99, seed=0)
    assert len(set(drawn)) == 99 and not {"g1", "g2", "g3"} & set(drawn)
    assert drawn == sample_negatives(heldout, pair, 99, seed=0) != sample_negatives(heldout, pair, 99, seed=1)
    assert random_position(32000, "u", 0) == random_position(32000, "u", 0)
    assert 1 <= random_position(5, "u", 0) <= 5

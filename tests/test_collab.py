"""The index-time collaborative model (cornac EASE) stored beside the index and read back by the ranker."""

import pytest

from index.collab import build_collab, load_collab
from index.models import Dataset, Interaction, Item, LoadReport

pytestmark = pytest.mark.fast


def test_ease_is_stored_and_scores_the_co_occurring_item_first(tmp_path):
    pairs = [("u1", "A"), ("u1", "B"), ("u2", "A"), ("u2", "B"), ("u3", "A"), ("u3", "B"), ("u4", "C"), ("u4", "D"),
             ("u5", "C"), ("u6", "B"), ("u6", "A")]
    items = [Item(item_id=i, title=i, text=i, source="t") for i in "ABCDE"]
    dataset = Dataset(name="tiny", items=items, interactions=[Interaction(user_id=u, item_id=i) for u, i in pairs],
                      report=LoadReport(dataset="tiny"))
    info = build_collab(dataset, tmp_path, "fp")
    assert info["items"] == 4 and (tmp_path / "collab" / "tiny.npz").is_file()
    collab = load_collab(tmp_path, "tiny")
    assert collab is not None and collab.fingerprint == "fp"
    scores = dict(zip("BCDE", collab.scores(["A"], list("BCDE"))))
    assert scores["B"] > 0 and scores["C"] == scores["D"] == 0.0 and scores["E"] == 0.0  # E: never seen
    assert collab.scores([], ["B"]) == [0.0] and load_collab(tmp_path, "other") is None


def test_rank_fuses_the_collab_signal_only_when_given_and_weighted():
    from agent.catalogue import Catalogue
    from agent.rank import rank
    from agent.settings import RankWeights

    items = [Item(item_id=i, title=i, text=i, source="t") for i in "XY"]
    catalogue = Catalogue(Dataset(name="t", items=items, report=LoadReport(dataset="t")))
    args = (items, [1.0, 0.0], [0.0, 0.0], [], catalogue)
    assert [s.item.item_id for s in rank(*args, RankWeights())] == ["X", "Y"]
    assert [s.item.item_id for s in rank(*args, RankWeights(collab=2.0), collab=[0.0, 5.0])] == ["Y", "X"]
    assert [s.item.item_id for s in rank(*args, RankWeights(collab=0.0), collab=[0.0, 5.0])] == ["X", "Y"]

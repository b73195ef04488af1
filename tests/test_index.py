"""Building the Chroma index from real data with the real MiniLM: counts, idempotence, change detection, and resuming
after the indexing process is really killed."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from agent.cli import main as cli
from index import store
from index.build import IndexNotBuilt, build_index, index_dataset, index_snapshot
from index.loaders import dataset_fingerprint, load_dataset
from index.models import Item
from index.retrieve import Retriever
from index_helpers import DATA_DIR, GIFT_CARDS, answer_turn, settings_for, steam_subset

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def gift_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("gift_home")
    first = build_index(GIFT_CARDS, settings_for(home), progress=False)
    return home, first


def all_rows(settings, name):
    col = store.get_collection(store.open_client(settings), name)
    return {r["id"]: r for r in store.iter_rows(col, include=["metadatas", "documents", "embeddings"])}


def test_gift_cards_index_counts(gift_home):
    home, counts = gift_home
    assert (counts["items"], counts["interactions"], counts["users"]) == (148, 2972, 458)
    assert counts["encoded"] == 148 and counts["items_written"] == 148 and counts["history_written"] == 2972
    assert counts["collections"] == {f"{GIFT_CARDS}-items": 148, f"{GIFT_CARDS}-history": 2972}
    assert counts["lines_read"] == {"Gift_Cards_5.json.gz": 2972, "meta_Gift_Cards.json.gz": 1547}
    assert counts["snapshot"] == index_snapshot(GIFT_CARDS, settings_for(home))


def test_reindex_encodes_nothing_and_changes_nothing(gift_home):
    home, first = gift_home
    settings = settings_for(home)
    before = {name: all_rows(settings, name) for name in first["collections"]}
    meta_before = store.get_collection(store.open_client(settings), f"{GIFT_CARDS}-items").metadata

    again = build_index(GIFT_CARDS, settings, progress=False)

    assert (again["encoded"], again["items_written"], again["history_written"], again["deleted"]) == (0, 0, 0, 0)
    assert again["collections"] == first["collections"] and again["snapshot"] == first["snapshot"]
    after = {name: all_rows(settings, name) for name in first["collections"]}
    for name in before:
        assert after[name].keys() == before[name].keys()
        for row_id, row in before[name].items():
            assert after[name][row_id]["metadata"] == row["metadata"]
            assert after[name][row_id]["document"] == row["document"]
            assert np.array_equal(after[name][row_id]["embedding"], row["embedding"])
    assert store.get_collection(store.open_client(settings), f"{GIFT_CARDS}-items").metadata == meta_before


def test_items_rebuild_from_chroma_alone(gift_home):
    home, _ = gift_home
    loaded = load_dataset(GIFT_CARDS, DATA_DIR).items
    rebuilt = Retriever(GIFT_CARDS, settings_for(home)).get_items([i.item_id for i in loaded])
    assert rebuilt == loaded  # same ids, titles, texts, ordered attributes, price, popularity, source


def test_history_rows_reuse_their_items_vector(gift_home):
    home, _ = gift_home
    settings = settings_for(home)
    items = all_rows(settings, f"{GIFT_CARDS}-items")
    history = all_rows(settings, f"{GIFT_CARDS}-history")
    # the three same-day repeat reviews keep their own rows: 2,972 interactions -> 2,972 ids
    assert len(history) == 2972 and sum(1 for i in history if i.count("|") == 3) == 3
    for row in list(history.values())[:200]:
        assert np.array_equal(row["embedding"], items[row["metadata"]["item_id"]]["embedding"])
    norms = np.linalg.norm(np.stack([r["embedding"] for r in items.values()]), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-5)


def test_a_changed_item_is_re_encoded_and_a_removed_one_deleted(gift_home, tmp_path):
    shutil.copytree(gift_home[0] / "chroma", tmp_path / "chroma")  # a copy of the built index, to change freely
    settings = settings_for(tmp_path)
    dataset = load_dataset(GIFT_CARDS, DATA_DIR)
    fingerprint = dataset_fingerprint(GIFT_CARDS, DATA_DIR)
    snapshot = index_snapshot(GIFT_CARDS, settings)

    changed, removed = dataset.items[0], dataset.items[-1]
    dataset.items[0] = changed.model_copy(update={"text": changed.text + " Now with a festive envelope."})
    dataset.items.pop()
    dataset.interactions = [i for i in dataset.interactions if i.item_id != removed.item_id]
    counts = index_dataset(dataset, settings, fingerprint, progress=False)

    assert counts["encoded"] == 1 and counts["items_written"] == 1
    n_changed = sum(1 for i in dataset.interactions if i.item_id == changed.item_id)
    assert counts["history_written"] == n_changed  # their rows carry the item's new vector
    n_removed = 2972 - len(dataset.interactions)
    assert counts["deleted"] == 1 + n_removed
    assert counts["collections"] == {f"{GIFT_CARDS}-items": 147, f"{GIFT_CARDS}-history": 2972 - n_removed}
    assert index_snapshot(GIFT_CARDS, settings) != snapshot


def test_a_collection_chroma_cannot_read_is_rebuilt(gift_home, tmp_path):
    """A run killed while Chroma wrote a vector index file leaves it cut short (seen once in CI's kill test): Chroma
    then fails every read of that collection, so the next `whyrec index` drops it and writes its rows again."""
    shutil.copytree(gift_home[0] / "chroma", tmp_path / "chroma")
    settings = settings_for(tmp_path)
    cut_short = list((tmp_path / "chroma").glob("*/index_metadata.pickle"))
    assert cut_short, "the copied index has no vector index file to damage"
    for path in cut_short:
        path.write_bytes(path.read_bytes()[:100])
    history = store.get_collection(store.open_client(settings), f"{GIFT_CARDS}-history")
    with pytest.raises(Exception, match="hnsw segment reader"):
        history.count()
    with pytest.raises(IndexNotBuilt, match=f"cannot read {GIFT_CARDS}-history .* to rebuild it"):
        index_snapshot(GIFT_CARDS, settings)  # what the chat and `whyrec ask` say instead of a traceback

    counts = build_index(GIFT_CARDS, settings, progress=False)

    assert f"{GIFT_CARDS}-history" in counts["rebuilt"]
    assert counts["collections"] == gift_home[1]["collections"]
    assert counts["snapshot"] == gift_home[1]["snapshot"]
    rows = all_rows(settings, f"{GIFT_CARDS}-history")
    assert len(rows) == 2972 and all(row["metadata"][store.CONTENT_HASH] for row in rows.values())
    again = build_index(GIFT_CARDS, settings, progress=False)
    assert (again["rebuilt"], again["history_written"], again["items_written"]) == ([], 0, 0)


def test_index_snapshot_needs_a_complete_index(tmp_path):
    with pytest.raises(IndexNotBuilt, match="whyrec index --dataset steam"):
        index_snapshot("steam", settings_for(tmp_path))


def test_item_metadata_is_scalar_with_one_boolean_key_per_facet_value():
    item = Item(item_id="7", title="Co-op Quest", text="t", price=9.99, popularity=12, source="steam",
                attributes=[("genre", "Action"), ("genre", "RPG"), ("tag", "Co-op"), ("spec", "Multi-player"),
                            ("developer", "Dev & Co"), ("release_year", "2017"), ("price", "$9.99"),
                            ("feature", "A long bullet")])
    meta = store.item_metadata(item)
    assert all(isinstance(v, str | int | float | bool) for v in meta.values())
    assert meta["genre:Action"] is meta["genre:RPG"] is meta["tag:Co-op"] is meta["spec:Multi-player"] is True
    assert meta["price"] == 9.99 and meta["release_year"] == 2017 and meta["developer"] == "Dev & Co"
    assert "feature:A long bullet" not in meta and "price:$9.99" not in meta
    assert store.item_from_row("t", meta) == item


def test_resume_after_the_indexer_is_killed(tmp_path):
    data_dir = steam_subset(tmp_path / "data", 450)
    home = tmp_path / "home"
    settings = settings_for(home, data_dir)
    expected = {i.item_id for i in load_dataset("steam", data_dir).items}
    script = ("import sys; from agent.settings import Settings; from index.build import build_index; "
              "build_index('steam', Settings(home=sys.argv[1], data_dir=sys.argv[2]), chunk_rows=100)")
    proc = subprocess.Popen([sys.executable, "-c", script, str(home), str(data_dir)], cwd=ROOT,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    done = _wait_for_progress(proc, at_least=100)
    os.kill(proc.pid, signal.SIGKILL)  # no cleanup, no finally: the hardest way to stop
    proc.wait(timeout=30)
    assert done < len(expected), "the indexer finished before it could be killed"

    items_col = store.get_collection(store.open_client(settings), "steam-items")
    partial = {r["id"] for r in store.iter_rows(items_col, include=[])}
    assert 0 < len(partial) < len(expected) and partial <= expected
    with pytest.raises(IndexNotBuilt, match="incomplete"):
        index_snapshot("steam", settings)

    resumed = build_index("steam", settings, progress=False)

    assert resumed["encoded"] == len(expected) - len(partial)  # only the missing rows were encoded
    ids = [r["id"] for r in store.iter_rows(items_col, include=[])]
    assert len(ids) == len(set(ids)) and set(ids) == expected
    assert index_snapshot("steam", settings) == resumed["snapshot"]


def _wait_for_progress(proc: subprocess.Popen, at_least: int, timeout_s: float = 600) -> int:
    """Read the tqdm bar from stderr until it shows `at_least` items done; returns that count."""
    deadline, buffer = time.monotonic() + timeout_s, b""
    while time.monotonic() < deadline:
        chunk = proc.stderr.read1(4096)
        if not chunk:
            raise AssertionError(f"indexer exited early ({proc.poll()}): {buffer[-2000:].decode(errors='replace')}")
        buffer += chunk
        done = [int(m) for m in re.findall(rb"index items:.*?\| *(\d+)/\d+", buffer)]
        if done and max(done) >= at_least:
            return max(done)
    raise AssertionError("no progress from the indexer")


def test_cli_index_json_and_unknown_dataset(gift_home):
    home, first = gift_home
    env = {"WHYREC_HOME": str(home), "WHYREC_DATA_DIR": str(DATA_DIR)}
    ok = CliRunner().invoke(cli, ["index", "--dataset", GIFT_CARDS, "--json", "--quiet"], env=env)
    assert ok.exit_code == 0, ok.output
    counts = json.loads(ok.stdout)
    assert counts["encoded"] == 0 and counts["snapshot"] == first["snapshot"]

    bad = CliRunner().invoke(cli, ["index", "--dataset", "gift_cardz"], env=env)
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert "amazon2018_gift_cards" in bad.stderr and "steam" in bad.stderr

    help_text = CliRunner().invoke(cli, ["index", "--help"]).output
    assert "--dataset" in help_text and "--chroma-url" in help_text and "re-run" in help_text


def test_a_replica_with_only_the_index_answers_a_turn(gift_home, tmp_path):
    """No data files at all (an empty data dir): the catalogue, co-occurrence, rating scale and quotes come from
    Chroma and what `whyrec index` stored beside it, and equal what the data files give."""
    from agent.catalogue import Catalogue

    home, first = gift_home
    empty = tmp_path / "no_data"
    empty.mkdir()
    user = Retriever(GIFT_CARDS, settings_for(home)).users(1)[0]  # the most active shopper: history, co-occurrence

    whyrec, answer = answer_turn(settings_for(home, empty), "a coffee gift card under $50", user)

    assert answer.recommendations and answer.provenance.index_snapshot == first["snapshot"]
    past = {h.item.item_id for h in whyrec.retriever.history(user)}
    assert past and not past & {r.item_id for r in answer.recommendations}
    from_files = Catalogue(load_dataset(GIFT_CARDS, DATA_DIR))
    catalogue = whyrec.catalogue
    assert list(catalogue.items) == list(from_files.items)
    assert all(catalogue.items[i] == item for i, item in from_files.items.items())
    assert catalogue.cooccurrence == from_files.cooccurrence and catalogue.reviews == from_files.reviews
    assert catalogue.stats.binary_ratings is from_files.stats.binary_ratings is False


def test_a_replica_refuses_catalogue_data_from_other_files(gift_home):
    from index.catalogue_data import catalogue_data_path, save_catalogue_data

    home, _ = gift_home
    retriever = Retriever(GIFT_CARDS, settings_for(home))
    dataset = load_dataset(GIFT_CARDS, DATA_DIR)
    try:
        save_catalogue_data(dataset, home, "files that are not the index's")
        with pytest.raises(IndexNotBuilt, match="whyrec index --dataset"):
            retriever.catalogue_data()
        catalogue_data_path(home, GIFT_CARDS).unlink()
        with pytest.raises(IndexNotBuilt, match="missing"):
            retriever.catalogue_data()
    finally:  # the module's other tests read this home
        save_catalogue_data(dataset, home, dataset_fingerprint(GIFT_CARDS, DATA_DIR))
    assert retriever.catalogue_data().fingerprint == dataset_fingerprint(GIFT_CARDS, DATA_DIR)


def test_a_second_build_of_the_same_home_waits_for_the_first(tmp_path):
    """Two `build_index` processes on one embedded home and dataset: the second says it waits, runs after the first
    (so it finds every row current and encodes nothing), and the index is whole. The first holds the lock until the
    test lets it go, so the overlap is certain rather than a race."""
    data_dir = steam_subset(tmp_path / "data", 60)
    home, go = tmp_path / "home", tmp_path / "go"
    expected = {i.item_id for i in load_dataset("steam", data_dir).items}
    script = """
import json, sys, time
from pathlib import Path
from agent.settings import Settings
import index.build as build
home, data_dir, go = sys.argv[1:4]
if go != "-":  # the first run: hold the lock (taken before index_dataset runs) until the test says go
    real = build.index_dataset
    def held(*args, **kwargs):
        while not Path(go).exists():
            time.sleep(0.1)
        return real(*args, **kwargs)
    build.index_dataset = held
counts = build.build_index("steam", Settings(home=home, data_dir=data_dir), progress=False)
print(json.dumps({"encoded": counts["encoded"], "snapshot": counts["snapshot"]}))
"""
    run = [sys.executable, "-c", script, str(home), str(data_dir)]
    first = subprocess.Popen(run + [str(go)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = home / "locks" / "index-steam.lock"
    deadline = time.monotonic() + 120
    while not (lock.exists() and lock.read_text() == str(first.pid)):
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.1)
    second = subprocess.Popen(run + ["-"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    waiting = second.stderr.readline()  # blocks until the second run says something: it must be that it waits
    assert "waiting" in waiting and f"pid {first.pid}" in waiting and "steam" in waiting, waiting
    go.touch()
    out_first, err_first = first.communicate(timeout=600)
    out_second, err_second = second.communicate(timeout=600)
    assert first.returncode == 0, err_first
    assert second.returncode == 0, err_second
    one, two = json.loads(out_first), json.loads(out_second)
    assert one["encoded"] == len(expected) and two["encoded"] == 0 and one["snapshot"] == two["snapshot"]
    items_col = store.get_collection(store.open_client(settings_for(home, data_dir)), "steam-items")
    ids = [r["id"] for r in store.iter_rows(items_col, include=[])]
    assert len(ids) == len(set(ids)) and set(ids) == expected
    assert index_snapshot("steam", settings_for(home, data_dir)) == one["snapshot"]

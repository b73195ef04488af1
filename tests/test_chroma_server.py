"""The index and retrieval through a real `chroma run` server (chromadb.HttpClient), as a multi-machine deployment
uses them: one server holds several datasets; indexing is idempotent there too; filters and histories behave the
same as embedded."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from agent.cli import main as cli
from index import store
from index.build import build_index, index_snapshot
from index.loaders import load_dataset
from index.retrieve import Filters, Retriever
from index_helpers import DATA_DIR, GIFT_CARDS, answer_turn, settings_for, steam_subset

pytestmark = pytest.mark.server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory):
    """A real Chroma server on 127.0.0.1 (it has no auth: never bind it wider), stopped by its PID afterwards."""
    chroma = Path(sys.executable).parent / "chroma"
    assert chroma.exists(), f"no chroma executable next to {sys.executable}"
    path, port = tmp_path_factory.mktemp("chroma_server"), free_port()
    log = open(path / "server.log", "wb")
    proc = subprocess.Popen([str(chroma), "run", "--path", str(path / "db"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"chroma run did not start: {(path / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


@pytest.fixture(scope="module")
def indexed(chroma_url, tmp_path_factory):
    home = tmp_path_factory.mktemp("server_home")  # the index lives in the server; the home only what the build
    # stores beside it for the chat (catalogue data, collaborative model)
    data_dir = steam_subset(home / "data", 300)
    gift = build_index(GIFT_CARDS, settings_for(home, chroma_url=chroma_url), progress=False)
    steam = build_index("steam", settings_for(home, data_dir, chroma_url=chroma_url), progress=False)
    return home, data_dir, gift, steam


def test_one_server_holds_several_datasets_and_nothing_is_written_locally(chroma_url, indexed):
    home, data_dir, gift, steam = indexed
    assert gift["collections"] == {f"{GIFT_CARDS}-items": 148, f"{GIFT_CARDS}-history": 2972}
    assert steam["collections"]["steam-items"] == len(load_dataset("steam", data_dir).items)
    client = store.open_client(settings_for(home, chroma_url=chroma_url))
    names = {c.name for c in client.list_collections()}
    assert {f"{GIFT_CARDS}-items", f"{GIFT_CARDS}-history", "steam-items", "steam-history"} <= names
    assert not (home / "chroma").exists()
    assert index_snapshot(GIFT_CARDS, settings_for(home, chroma_url=chroma_url)) == gift["snapshot"]


def test_reindex_through_the_cli_encodes_nothing(chroma_url, indexed):
    home, _, gift, _ = indexed
    result = CliRunner().invoke(cli, ["index", "--dataset", GIFT_CARDS, "--chroma-url", chroma_url, "--json",
                                      "--quiet"], env={"WHYREC_HOME": str(home), "WHYREC_DATA_DIR": str(DATA_DIR)})
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)
    assert (counts["encoded"], counts["items_written"], counts["history_written"]) == (0, 0, 0)
    assert counts["collections"] == gift["collections"] and counts["snapshot"] == gift["snapshot"]


def test_filters_and_history_over_http(chroma_url, indexed):
    home, data_dir, _, _ = indexed
    gift = Retriever(GIFT_CARDS, settings_for(home, chroma_url=chroma_url))
    found = gift.candidates("a gift card for a coffee lover", Filters(price_max=50), 20)
    assert len(found) == 20 and all(c.item.price is not None and c.item.price <= 50 for c in found)
    user = gift.users(1)[0]
    rows = [i for i in load_dataset(GIFT_CARDS, DATA_DIR).interactions if i.user_id == user]
    history = gift.history(user)
    assert sorted((h.item.item_id, h.timestamp) for h in history) == sorted((i.item_id, i.timestamp) for i in rows)

    steam = Retriever("steam", settings_for(home, data_dir, chroma_url=chroma_url))
    action = steam.candidates("a fast shooter", Filters(genres=["Action"], price_max=20), 10)
    assert action and all("Action" in c.item.values("genre") and c.item.price <= 20 for c in action)


def test_a_replica_with_the_server_and_no_data_files_answers_a_turn(chroma_url, indexed, tmp_path):
    home, _, gift, steam = indexed
    empty = tmp_path / "no_data"
    empty.mkdir()
    user = Retriever(GIFT_CARDS, settings_for(home, chroma_url=chroma_url)).users(1)[0]
    for dataset, message, user_id, counts in ((GIFT_CARDS, "a coffee gift card under $50", user, gift),
                                              ("steam", "a co-op shooter", None, steam)):
        settings = settings_for(home, empty, chroma_url=chroma_url, dataset=dataset)
        whyrec, answer = answer_turn(settings, message, user_id)
        assert answer.recommendations, dataset
        assert answer.provenance.dataset == dataset and answer.provenance.index_snapshot == counts["snapshot"]
        assert len(whyrec.catalogue.items) == counts["items"]


def test_a_dead_server_is_a_clear_error(indexed):
    home = indexed[0]
    result = CliRunner().invoke(cli, ["index", "--dataset", GIFT_CARDS, "--chroma-url",
                                      f"http://127.0.0.1:{free_port()}"], env={"WHYREC_HOME": str(home)})
    assert result.exit_code == 1 and "no Chroma server at" in result.stderr and "Traceback" not in result.output

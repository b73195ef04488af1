"""The chat app's API through `gradio_client`, on the real embedded default: Gift Cards, real Chroma index, real
MiniLM, the local SmolLM2 backend. Answers are checked against the raw dataset files, read here directly."""

from __future__ import annotations

import socket
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import pytest
from index_helpers import read_jsonl_gz

from agent.settings import Settings

pytestmark = pytest.mark.slow

DATA = Settings().data_dir / "amazon2018_gift_cards"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def raw_histories() -> dict[str, set[str]]:
    """user -> the asins they reviewed, straight from the raw 5-core reviews file."""
    histories: dict[str, set[str]] = defaultdict(set)
    for review in read_jsonl_gz(DATA / "Gift_Cards_5.json.gz"):
        histories[review["reviewerID"]].add(review["asin"])
    return dict(histories)


@pytest.fixture(scope="module")
def raw_asins() -> set[str]:
    return {row["asin"] for row in read_jsonl_gz(DATA / "meta_Gift_Cards.json.gz")}


@pytest.fixture(scope="module")
def app_url():
    from agent.service import Whyrec
    from agent.ui import launch

    demo, url = launch(Whyrec(Settings()), port=free_port(), block=False)
    yield url
    demo.close()


def client(url: str):
    from gradio_client import Client

    return Client(url, verbose=False)


def all_claims(answer: dict) -> list[dict]:
    return [c for rec in answer["recommendations"] for r in rec["reasons"] for c in r["claims"]]


def test_recommend_returns_the_structured_verified_answer(app_url, raw_histories, raw_asins):
    user = max(raw_histories, key=lambda u: (len(raw_histories[u]), u))  # the shopper with the longest history
    started = time.perf_counter()
    answer = client(app_url).predict(user, "a birthday gift card under $50", api_name="/recommend")
    print(f"\n/recommend turn through gradio_client: {time.perf_counter() - started:.1f} s; "
          f"chain timings_ms={answer['timings_ms']}")

    assert answer["user_id"] == user and answer["message"] == "a birthday gift card under $50"
    recs = answer["recommendations"]
    assert len(recs) == Settings().k
    assert [r["rank"] for r in recs] == list(range(1, len(recs) + 1))
    assert {r["item_id"] for r in recs} <= raw_asins and len({r["item_id"] for r in recs}) == len(recs)
    assert not {r["item_id"] for r in recs} & raw_histories[user], "recommends what the shopper already has"
    assert all(r["price"] is None or r["price"] <= 50 for r in recs)
    claims = all_claims(answer)
    assert claims and all(c["verdict"] == "supported" for c in claims)
    assert answer["provenance"]["dataset"] == "amazon2018_gift_cards"
    assert answer["provenance"]["backend"] == "local"


def test_recommend_continues_a_conversation_by_its_id(app_url, raw_meta):
    """An API client passes the answer's conversation_id back: the budget stays, the brand goes, every pick holds
    both (checked against the raw metadata) or the answer states the relaxation."""
    user = "A1U1G73EI5IRZF"
    api = client(app_url)
    first = api.predict(user, "a birthday gift card for my sister under $50", "", api_name="/recommend")
    assert first["conversation_id"] and ("price_max", "50") in {(c["key"], c["value"]) for c in first["constraints"]}
    second = api.predict(user, "not Amazon please", first["conversation_id"], api_name="/recommend")
    assert second["conversation_id"] == first["conversation_id"]
    assert {("price_max", "50"), ("exclude_brand", "Amazon")} <= {(c["key"], c["value"]) for c in second["constraints"]}
    relaxed = {i for r in second["relaxed"] for i in r["item_ids"]}
    assert second["recommendations"]
    for rec in second["recommendations"]:
        raw = raw_meta[rec["item_id"]]
        assert raw.get("brand") != "Amazon" and "amazon" not in raw["title"].lower()
        price = float(raw["price"].lstrip("$").replace(",", "")) if raw.get("price") else None
        assert (price is not None and price <= 50) or rec["item_id"] in relaxed, (rec["item_id"], raw.get("price"))
    why = api.predict(user, "why the second one?", second["conversation_id"], api_name="/recommend")
    assert [r["item_id"] for r in why["recommendations"]] == [second["recommendations"][1]["item_id"]]
    texts = [r["text"] for r in why["recommendations"][0]["reasons"]]
    assert len(texts) == len(set(texts))  # its evidence once, then what sets it apart: never the same block twice
    other = api.predict("SOMEONE-ELSE", "cheaper", second["conversation_id"], api_name="/recommend")
    assert other["conversation_id"] != second["conversation_id"]  # another shopper never continues this chat


def test_empty_message_is_refused_with_a_sentence(app_url):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="Tell me what you're looking for"):
        client(app_url).predict("", "   ", api_name="/recommend")


def test_unknown_shopper_gets_request_only_picks_and_a_note(app_url):
    answer = client(app_url).predict("NOT-A-REAL-SHOPPER", "a gift card", api_name="/recommend")
    assert answer["recommendations"]
    assert any("NOT-A-REAL-SHOPPER" in note for note in answer["notes"])
    assert not [c for c in all_claims(answer) if c["kind"] == "history"]


def test_eight_chat_sessions_at_once_keep_their_own_shopper_and_conversation(app_url, raw_histories):
    """8 different real shoppers, each in its own client session, all at once: choose the shopper, ask, then ask
    "why the first one?". Every answer is for its shopper, the follow-up explains that session's own first pick
    (the conversation is per session), and every cited past item is in that shopper's own raw history."""
    users = sorted(raw_histories, key=lambda u: (-len(raw_histories[u]), u))[:8]
    occasions = ["a birthday", "a wedding", "a graduation", "a coffee lover", "a movie night", "a gamer",
                 "a thank-you", "a holiday"]
    requests = {user: f"a gift card for {occasion}" for user, occasion in zip(users, occasions)}

    def chat_session(user: str) -> tuple[dict, dict]:
        session = client(app_url)
        session.predict(user, api_name="/choose_shopper")
        _, first, _ = session.predict(requests[user], [], api_name="/respond")
        _, why, _ = session.predict("why the first one?", [], api_name="/respond")
        return first, why

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = dict(zip(users, pool.map(chat_session, users)))
    print(f"\n8 concurrent chat sessions (2 turns each) answered in {time.perf_counter() - started:.1f} s")

    history_citations = 0
    for user, (first, why) in answers.items():
        assert first["user_id"] == user and first["message"] == requests[user] and first["recommendations"]
        assert not {r["item_id"] for r in first["recommendations"]} & raw_histories[user]
        assert why["user_id"] == user
        assert [r["item_id"] for r in why["recommendations"]] == [first["recommendations"][0]["item_id"]]
        for answer in (first, why):
            for claim in all_claims(answer):
                if claim["kind"] == "history":
                    history_citations += 1
                    assert claim["history_item_id"] in raw_histories[user], (
                        f"{user}'s answer cites {claim['history_item_id']}, which is not in their history")
    assert history_citations > 0, "no answer cited a past item, so isolation was not exercised"


def test_a_dead_llm_server_still_gets_an_answer_from_verified_facts(raw_asins):
    """The openai backend pointed at a port nobody listens on: the page's API still answers, says the model is
    unavailable, and every reason is one rendered from verified facts."""
    from agent.service import Whyrec
    from agent.ui import launch

    settings = Settings(backend="openai", openai_base_url=f"http://127.0.0.1:{free_port()}/v1", request_timeout_s=5)
    demo, url = launch(Whyrec(settings), port=free_port(), block=False)
    try:
        answer = client(url).predict("", "a gift card under $30", api_name="/recommend")
    finally:
        demo.close()
    assert any("language model is unavailable" in note for note in answer["notes"])
    assert answer["recommendations"] and {r["item_id"] for r in answer["recommendations"]} <= raw_asins
    reasons = [reason for rec in answer["recommendations"] for reason in rec["reasons"]]
    assert all(reason["fallback"] for reason in reasons)
    assert all(c["verdict"] == "supported" for c in all_claims(answer))


def test_auth_keeps_strangers_out():
    """`whyrec chat --auth user:pass` passes Gradio auth: no login, no API; with it, the endpoints are there."""
    import httpx

    from agent.service import Whyrec
    from agent.ui import launch

    demo, url = launch(Whyrec(Settings()), port=free_port(), auth=("shopper", "s3cret"), block=False)
    try:
        assert httpx.get(f"{url}config").status_code == 401
        endpoints = client_with_login(url, ("shopper", "s3cret")).view_api(print_info=False, return_format="dict")
        assert "/recommend" in endpoints["named_endpoints"]
    finally:
        demo.close()


def client_with_login(url: str, login: tuple[str, str]):
    from gradio_client import Client

    return Client(url, auth=login, verbose=False)

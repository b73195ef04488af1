"""Load: 20 chat sessions at once through the Gradio API (gradio_client, one client and thread per shopper) on the
embedded default (local SmolLM2, embedded Chroma, default settings, one chain run at a time): 0 errors, every answer
is for its own shopper and cites only that shopper's past items; latency p50/p95 under that load is reported."""

from __future__ import annotations

import gzip
import json
import statistics
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

import pytest

from fault_server import free_port

pytestmark = pytest.mark.faults

SESSIONS = 20
REQUESTS = ["a birthday gift card", "a restaurant gift card under $50", "a coffee gift card", "a movie gift card",
            "a gift card for a gamer"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def test_twenty_concurrent_sessions(local_whyrec, gift_settings, figures):
    from gradio_client import Client

    from agent.ui import launch

    histories: dict[str, set[str]] = defaultdict(set)
    with gzip.open(gift_settings.dataset_dir / "Gift_Cards_5.json.gz", "rt") as f:
        for line in f:
            row = json.loads(line)
            histories[row["reviewerID"]].add(row["asin"])
    users = sorted(histories, key=lambda u: (-len(histories[u]), u))[:SESSIONS]
    demo, url = launch(local_whyrec, port=free_port(), block=False)

    def session(n: int) -> tuple[str, str, dict | None, str | None, float]:
        user, message = users[n], REQUESTS[n % len(REQUESTS)]
        started = time.perf_counter()
        try:
            answer = Client(url, verbose=False).predict(user, message, api_name="/recommend")
            return user, message, answer, None, time.perf_counter() - started
        except Exception as e:  # counted, never hidden
            return user, message, None, f"{type(e).__name__}: {e}", time.perf_counter() - started

    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=SESSIONS) as pool:
            results = list(pool.map(session, range(SESSIONS)))
        wall = time.perf_counter() - started
    finally:
        demo.close()

    errors = {user: error for user, _, _, error, _ in results if error}
    wrong = []
    history_claims = 0
    for user, message, answer, error, _ in results:
        if answer is None:
            continue
        if answer["user_id"] != user or answer["message"] != message or not answer["recommendations"]:
            wrong.append(f"{user}: answer for {answer['user_id']!r} / {answer['message']!r}")
        for rec in answer["recommendations"]:
            if rec["item_id"] in histories[user]:
                wrong.append(f"{user}: recommends {rec['item_id']}, already in their history")
            for reason in rec["reasons"]:
                for claim in reason["claims"]:
                    if claim["kind"] == "history":
                        history_claims += 1
                        if claim["history_item_id"] not in histories[user]:
                            wrong.append(f"{user}: cites {claim['history_item_id']}, not in their history")
    latencies = [seconds for *_, seconds in results]
    figures.record("load", sessions=SESSIONS, errors=len(errors), wrong_answers=len(wrong),
                   history_claims_checked=history_claims, wall_s=round(wall, 1),
                   latency_p50_s=round(statistics.median(latencies), 2),
                   latency_p95_s=round(percentile(latencies, 0.95), 2), latency_max_s=round(max(latencies), 2),
                   turns_per_min=round(SESSIONS / wall * 60, 1), chat_concurrency=1,
                   k=local_whyrec.settings.k, error_details=errors)
    assert not errors, errors
    assert not wrong, wrong
    assert history_claims > 0

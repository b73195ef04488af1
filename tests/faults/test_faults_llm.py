"""The openai backend pointed at servers that fail on purpose (tests/faults/fault_server.py, on 127.0.0.1): down at
start, killed mid-reply, slower than `request_timeout_s`, replying in prose, truncated JSON, or valid JSON that
ignores the schema. Every time the shopper gets an answer within the timeout plus a small margin, a note that says
what happened, reasons built from verified facts, and nothing unverified shown as verified. The CLI exits 0 with
that message and no traceback.

Real Gift Cards index, real MiniLM, real chain; only the LLM server is the fault injector.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from agent.schemas import Answer
from agent.service import Whyrec
from fault_server import LIE_TEXT, PROSE, FaultServer, free_port

pytestmark = pytest.mark.faults

TIMEOUT_S = 3.0
EXPLAIN_MARGIN_S = 1.5  # the explain step (the LLM call and its fallback) ends this soon after the timeout
TURN_MARGIN_S = 10.0  # the whole turn: retrieval, ranking and verification on a shared 2-core machine
MESSAGE = "a birthday gift card under $50"
UNAVAILABLE = "language model is unavailable"
UNUSABLE = "partly unusable"
WHYREC = str(Path(sys.executable).with_name("whyrec"))


@pytest.fixture(scope="module")
def raw_history(gift_settings) -> dict[str, set[str]]:
    histories: dict[str, set[str]] = defaultdict(set)
    with gzip.open(gift_settings.dataset_dir / "Gift_Cards_5.json.gz", "rt") as f:
        for line in f:
            row = json.loads(line)
            histories[row["reviewerID"]].add(row["asin"])
    return histories


@pytest.fixture(scope="module")
def shopper(raw_history) -> str:
    return max(raw_history, key=lambda u: (len(raw_history[u]), u))


def openai_whyrec(whyrec_with, url: str) -> Whyrec:
    return whyrec_with(backend="openai", openai_base_url=url, openai_model="whyrec", request_timeout_s=TIMEOUT_S)


def assert_honest(answer: Answer, catalogue, history: set[str], note: str | tuple[str, ...] | None) -> dict:
    """Picks exist, the note says what happened, and every claim shown as verified really holds."""
    assert answer.recommendations, "no answer at all"
    if note is None:
        assert not any(UNAVAILABLE in n or UNUSABLE in n for n in answer.notes), answer.notes
    else:
        wanted = note if isinstance(note, tuple) else (note,)
        assert any(w in n for w in wanted for n in answer.notes), f"no {note!r} note in {answer.notes}"
    shown, fallback = 0, 0
    for rec in answer.recommendations:
        item = catalogue.get(rec.item_id)
        assert item is not None
        for reason in rec.reasons:
            fallback += reason.fallback
            assert reason.text and PROSE[:30] not in reason.text and LIE_TEXT not in reason.text
            for claim in reason.claims:
                shown += 1
                assert claim.verdict == "supported", claim
                if claim.kind == "attribute":
                    assert (claim.attribute, claim.value) in item.attributes, claim
                elif claim.kind == "history":
                    assert claim.history_item_id in history, claim
            assert all(c.verdict == "unsupported" for c in reason.unverified)
    return {"claims_shown": shown, "fallback_reasons": fallback,
            "reasons": sum(len(r.reasons) for r in answer.recommendations)}


def timed_turn(whyrec: Whyrec, user: str, stream: bool) -> tuple[Answer, float]:
    started = time.perf_counter()
    if stream:
        answers = [e for e in whyrec.stream(MESSAGE, user_id=user) if isinstance(e, Answer)]
        assert len(answers) == 1
        answer = answers[0]
    else:
        answer = whyrec.ask(MESSAGE, user_id=user)
    return answer, time.perf_counter() - started


FAULTS = [  # (mode, how the turn is run, the note the shopper must see; None = no failure note)
    ("ok", "ask", None),
    ("down", "ask", UNAVAILABLE),
    ("down", "stream", UNAVAILABLE),
    # the server client streams on every path (so the chat sees tokens): a stream cut off mid-reply reaches it as a
    # truncated reply (the SDK sees no error), so either note is honest
    ("kill", "ask", (UNAVAILABLE, UNUSABLE)),
    ("kill", "stream", (UNAVAILABLE, UNUSABLE)),
    ("slow", "ask", UNAVAILABLE),
    ("slow", "stream", UNAVAILABLE),
    ("prose", "ask", UNUSABLE),
    ("truncated", "ask", UNUSABLE),
    ("truncated", "stream", UNUSABLE),
    ("lies", "ask", UNUSABLE),
]


@pytest.mark.parametrize("mode,path,note", FAULTS, ids=[f"{m}-{p}" for m, p, _ in FAULTS])
def test_llm_fault_gives_a_bounded_honest_answer(mode, path, note, whyrec_with, shopper, raw_history, figures):
    server = FaultServer(mode if mode != "down" else "ok", delay_s=10 * TIMEOUT_S)
    url = f"http://127.0.0.1:{free_port()}/v1" if mode == "down" else server.url
    whyrec = openai_whyrec(whyrec_with, url)
    if mode == "down":
        answer, seconds = timed_turn(whyrec, shopper, path == "stream")
    else:
        with server:
            answer, seconds = timed_turn(whyrec, shopper, path == "stream")
    explain_s = answer.timings_ms.get("explain", 0.0) / 1000
    print(f"\n{mode}/{path}: turn {seconds:.2f} s, explain {explain_s:.2f} s, notes {answer.notes}")

    figures_row = assert_honest(answer, whyrec.catalogue, raw_history[shopper], note)
    assert explain_s <= TIMEOUT_S + EXPLAIN_MARGIN_S, f"the LLM step took {explain_s:.1f} s (timeout {TIMEOUT_S} s)"
    assert seconds <= TIMEOUT_S + TURN_MARGIN_S, f"the turn took {seconds:.1f} s"
    if mode == "ok":
        assert any(not r.fallback for rec in answer.recommendations for r in rec.reasons), "control: model text used"
    else:  # the reply model rejects a reply that ignored the schema (lies): every reason is rendered from facts
        assert all(r.fallback for rec in answer.recommendations for r in rec.reasons)
    figures.record("llm_faults", **{f"{mode}/{path}": {
        "turn_s": round(seconds, 2), "explain_s": round(explain_s, 2), "timeout_s": TIMEOUT_S,
        "note": next((n for n in answer.notes if UNAVAILABLE in n or UNUSABLE in n), ""),
        **figures_row, "unverified_shown_as_verified": 0}})


CLI_FAULTS = ["down", "slow"]  # the other faults take the same path in-process above; each CLI run costs a start-up


@pytest.mark.parametrize("mode", CLI_FAULTS)
def test_cli_ask_survives_a_failing_server(mode, gift_settings, figures):
    server = FaultServer(mode if mode != "down" else "ok", delay_s=10 * TIMEOUT_S)
    url = f"http://127.0.0.1:{free_port()}/v1" if mode == "down" else server.url
    env = {**os.environ, "WHYREC_HOME": str(gift_settings.home), "WHYREC_REQUEST_TIMEOUT_S": str(TIMEOUT_S)}
    cmd = [WHYREC, "ask", "--dataset", gift_settings.dataset, "--backend", "openai", "--base-url", url, "--model",
           "whyrec", MESSAGE]
    started = time.perf_counter()
    if mode == "down":
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    else:
        with server:
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    seconds = time.perf_counter() - started
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Traceback" not in out.stdout + out.stderr
    note = UNAVAILABLE if mode != "truncated" else UNUSABLE
    assert note in out.stdout, out.stdout
    assert "1. " in out.stdout and "(built from verified facts)" in out.stdout
    figures.record("llm_faults", **{f"{mode}/cli": {"exit_code": out.returncode, "turn_s": round(seconds, 2),
                                                    "timeout_s": TIMEOUT_S, "traceback": False,
                                                    "note": note}})

"""Every model computation runs on the one torch thread, whichever thread asks (index/torch_thread.py): results and
errors come back to the caller, streamed items in order."""

from __future__ import annotations

import threading

import pytest

from index import torch_thread

pytestmark = pytest.mark.fast


def test_calls_from_any_thread_run_on_the_same_thread_and_return_there() -> None:
    seen = []
    ran_on = lambda: threading.current_thread().name  # noqa: E731
    seen.append(torch_thread.run(ran_on))
    worker = threading.Thread(target=lambda: seen.append(torch_thread.run(ran_on)))
    worker.start()
    worker.join()
    assert len(set(seen)) == 1 and seen[0].startswith("whyrec-torch")
    assert torch_thread.run(lambda: torch_thread.run(ran_on)) == seen[0]  # a nested call runs inline, no deadlock


def test_errors_reach_the_caller() -> None:
    def fail() -> None:
        raise ValueError("no model at /nowhere")

    with pytest.raises(ValueError, match="no model"):
        torch_thread.run(fail)

    def stream():
        yield 1
        raise RuntimeError("decode failed")

    got = []
    with pytest.raises(RuntimeError, match="decode failed"):
        for item in torch_thread.iterate(stream):
            got.append(item)
    assert got == [1]


def test_a_streamed_generator_runs_on_the_torch_thread_and_keeps_its_order() -> None:
    def rows(n: int):
        for i in range(n):
            yield i, threading.current_thread().name

    items = list(torch_thread.iterate(rows, 5))
    assert [i for i, _ in items] == [0, 1, 2, 3, 4]
    assert {name for _, name in items} == {torch_thread.run(lambda: threading.current_thread().name)}

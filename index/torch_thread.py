"""One thread for every torch computation in the process: the encoder's and the local LLM's.

Why: torch's CPU ops run on an OpenMP team that belongs to the thread calling them, and the team lives as long as
that thread. Once two teams exist (the chat's worker threads, a benchmark's main thread beside a turn's thread),
libgomp manages more threads than there are cores and stops spinning between parallel regions, for every team: on
2 cores a 5-row decode step took 83-110 ms in the only thread that had run torch, and 130-200 ms in a second one
or in the first once a second had run (same process, alternating). A torch op is a parallel region, a decode step
is thousands of them. So model calls hop onto this one thread and the caller waits for the result; a call made on
the thread itself runs inline.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
_THREAD_NAME = "whyrec-torch"
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=_THREAD_NAME)


def on_torch_thread() -> bool:
    return threading.current_thread().name.startswith(_THREAD_NAME)


def run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """fn(*args, **kwargs) on the torch thread; its exception is raised here."""
    if on_torch_thread():
        return fn(*args, **kwargs)
    return _executor.submit(fn, *args, **kwargs).result()


class _Raised:
    def __init__(self, error: BaseException):
        self.error = error


_END = object()


def iterate(generator: Callable[..., Iterator[T]], *args: Any) -> Iterator[T]:
    """The items of generator(*args), computed on the torch thread and yielded here as they come. Stopping early
    does not stop the generator: it runs to its end on the torch thread (a decode batch finishes its rows)."""
    if on_torch_thread():
        yield from generator(*args)
        return
    items: queue.Queue = queue.Queue()

    def pump() -> None:
        try:
            for item in generator(*args):
                items.put(item)
        except BaseException as e:  # re-raised in the caller's thread below
            items.put(_Raised(e))
        finally:
            items.put(_END)

    _executor.submit(pump)
    while (item := items.get()) is not _END:
        if isinstance(item, _Raised):
            raise item.error
        yield item

"""Replies decoded before they are asked for: the follow-up a shopper is likely to send next ("cheaper", a chip the
chat offers), decoded while they read the answer (agent/service.py `Whyrec.stream`), and kept until a turn sends
the same prompt.

Local decoding is greedy, so the reply to the same prompt ids and options, decoded in the same batch, is the reply
that turn would decode itself: it is handed out once, then forgotten. A prefetch gives way to any other real turn:
once `Prefetch.cancel` is set its rows stop at the next decode step (finish reason CANCELLED), a stopped reply is
never kept, and the explain step ends the prefetch's chain (PrefetchCancelled). The turn it guessed, sent before it
ends, waits for it instead (`Prefetch.done`): the work done while the shopper read counts. Bookkeeping only;
agent/llm/local.py decodes.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

CONFIG_KEY = "whyrec_prefetch"  # config["configurable"][CONFIG_KEY]: the Prefetch a run decodes for
CANCELLED = "cancelled"  # finish reason of a prefetched row stopped for a real turn


class PrefetchCancelled(Exception):
    """A real turn arrived: the prefetch's chain stops here, before it verifies or encodes review quotes."""


@dataclass(eq=False)  # compared and hashed by identity: each run is its own
class Prefetch:
    """One prefetching run: its LLM calls keep their replies; `cancel` stops it. `after` is the turn it guessed
    from (whatever identifies it to the caller); `done[message]` is set once that guess's chain has ended."""

    after: Any = None
    done: dict[str, threading.Event] = field(default_factory=dict)
    cancel: threading.Event = field(default_factory=threading.Event)

    def guessed(self, after: Any, message: str) -> threading.Event | None:
        """The event to wait on when the turn sent is one this run guesses, after the same turn; else None."""
        return self.done.get(message) if self.after == after and not self.cancel.is_set() else None


_running: weakref.WeakSet[Prefetch] = weakref.WeakSet()  # the process's prefetches: they share its one torch thread


def start_prefetch(after: Any = None, messages: tuple[str, ...] = ()) -> Prefetch:
    run = Prefetch(after, {m: threading.Event() for m in messages})
    _running.add(run)
    return run


def give_way() -> None:
    """A real turn is starting, in any service of the process: every prefetch stops at its next decode step."""
    for run in list(_running):
        run.cancel.set()


def prefetch_of(config: Any) -> Prefetch | None:
    """The Prefetch a run's config carries, if the run is one."""
    return ((config or {}).get("configurable") or {}).get(CONFIG_KEY)


@dataclass
class KeptReply:
    text: str
    metadata: dict[str, Any]  # as the decode reported it (usage, finish reason)


class ReplyCache:
    """Prefetched replies by (prompt ids, options); the oldest go first beyond `max_entries`."""

    def __init__(self, max_entries: int = 64):
        self.max_entries = max_entries
        self._replies: OrderedDict[Hashable, KeptReply] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(prompt_ids: list[int], options: dict[str, Any]) -> Hashable:
        """What decides a greedy reply: the prompt, the schema it is held to, its token cap, whether it may be
        abandoned, whether its copied values are guarded (`abandon_if` and `copy_guard` read the same handles the
        prompt shows)."""
        schema = json.dumps(options.get("response_format"), sort_keys=True, default=str)
        return (tuple(prompt_ids), schema, options.get("max_tokens"), options.get("abandon_if") is not None,
                options.get("copy_guard") is not None)

    def put(self, key: Hashable, reply: KeptReply) -> None:
        with self._lock:
            self._replies[key] = reply
            self._replies.move_to_end(key)
            while len(self._replies) > self.max_entries:
                self._replies.popitem(last=False)

    def take(self, key: Hashable) -> KeptReply | None:
        with self._lock:
            return self._replies.pop(key, None)

    def __len__(self) -> int:
        return len(self._replies)

"""The composition root: build everything a turn needs once per process (catalogue, index, model, chain) and
answer turns. CLI, chat UI, evaluation and benchmarks all go through here. Everything is read from the index (Chroma
and the files `whyrec index` stores beside it under the home), never from the data files."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable

from agent.catalogue import Catalogue
from agent.chain import ChainParts, build_chain_parts
from agent.conversation import Conversation
from agent.llm.prefetch import CONFIG_KEY, Prefetch, PrefetchCancelled, give_way, start_prefetch
from agent.schemas import Answer
from agent.settings import Settings
from index.retrieve import Retriever
from prompts.loader import get_template

log = logging.getLogger("whyrec.service")
# A turn that waits for the prefetch of itself stops waiting after this (a stuck guess must not hold the shopper).
PREFETCH_JOIN_TIMEOUT_S = 30.0
STEP_LABELS = {"understand": "Reading your request…", "retrieve": "Retrieving candidates…",
               "rank": "Ranking…", "explain": "Explaining with cited facts…", "verify": "Verifying every claim…"}


@dataclass
class Progress:
    step: str
    label: str


@dataclass
class Token:
    """The model's text since the last Token event (every reply's pieces, interleaved) and how many pieces."""

    text: str
    pieces: int = 1


@dataclass
class Draft:
    """The ranked cards with reasons from verified facts only, sent before the model writes its own; `facets`
    are the turn's request facets (cards label request claims with them)."""

    answer: Answer
    facets: list


class _ShownEvents(BaseCallbackHandler):
    """What the chat shows of a running turn, put on a queue from the thread that runs it: each step starting, the
    draft cards, and the model's tokens at most every `token_interval_s` (the chat re-renders the whole
    conversation per event)."""

    token_interval_s = 0.1

    def __init__(self, events: queue.Queue):
        self.events, self.names = events, {}
        self.tokens: list[str] = []
        self.last_put = 0.0

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: UUID, name: str | None = None,
                       **kwargs: Any) -> None:
        self.names[run_id] = name
        if name in STEP_LABELS:
            self.events.put(Progress(step=name, label=STEP_LABELS[name]))

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        if self.names.pop(run_id, None) == "draft" and outputs.draft is not None:  # none for "why the second one?"
            self.events.put(Draft(answer=outputs.draft, facets=outputs.request.facets))

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self.names.pop(run_id, None)

    def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        if token:
            self.tokens.append(token)
            if time.perf_counter() - self.last_put >= self.token_interval_s:
                self.flush()

    def flush(self) -> None:
        if self.tokens:
            self.events.put(Token(text="".join(self.tokens), pieces=len(self.tokens)))
            self.tokens, self.last_put = [], time.perf_counter()


class Whyrec:
    """One dataset, one backend, one template: ready to answer turns. Safe to share across chat sessions:
    per-user state lives only in the Conversation each caller passes in."""

    def __init__(self, settings: Settings, llm: BaseChatModel | None = None, catalogue: Catalogue | None = None,
                 retriever: Retriever | None = None):
        self.settings = settings
        self._llm = llm
        self._catalogue = catalogue
        self._retriever = retriever
        self._conversations: OrderedDict[str, Conversation] = OrderedDict()
        self._conversations_lock = threading.Lock()
        self._prefetching: threading.Thread | None = None  # the latest prefetch (`prefetch`) and its run
        self._prefetch_run: Prefetch | None = None

    max_conversations = 1000  # API conversations kept in memory, least recently used dropped first

    def conversation(self, conversation_id: str | None, user_id: str | None) -> Conversation:
        """The API's conversation with this id, or a new one (an unknown id, or one that belongs to another shopper:
        a conversation never carries into someone else's). Kept in memory, least recently used dropped first."""
        with self._conversations_lock:
            found = self._conversations.get(conversation_id or "")
            if found is None or found.user_id != user_id:
                found = Conversation(user_id=user_id)
            self._conversations[found.conversation_id] = found
            self._conversations.move_to_end(found.conversation_id)
            while len(self._conversations) > self.max_conversations:
                self._conversations.popitem(last=False)
            return found

    @cached_property
    def catalogue(self) -> Catalogue:
        """From the index alone (Chroma and what `whyrec index` stored beside it): a replica needs no data files."""
        return Catalogue.from_index(self.retriever) if self._catalogue is None else self._catalogue

    @cached_property
    def retriever(self) -> Retriever:
        return self._retriever or Retriever(self.settings.dataset, self.settings)

    @cached_property
    def llm(self) -> BaseChatModel:
        if self._llm is None:
            from agent.llm import build_llm

            self._llm = build_llm(self.settings)
        return self._llm

    @cached_property
    def parts(self) -> ChainParts:
        """The chain and its sub-chains (recommend, draft, reasons), built once."""
        from agent.llm import describe

        return build_chain_parts(self.llm, self.retriever, self.catalogue, get_template(self.settings.template),
                                 self.settings, index_snapshot=self.retriever.snapshot_id(), backend=describe(self.llm))

    @property
    def chain(self) -> Runnable:
        return self.parts.chain

    def ask(self, message: str, user_id: str | None = None, conversation: Conversation | None = None) -> Answer:
        self._before_turn(message, user_id, conversation)
        return self.chain.invoke(self._inputs(message, user_id, conversation))

    def ask_many(self, requests: Sequence[tuple[str, str | None]]) -> list[Answer]:
        """Several shoppers' turns (message, user id) at once, each in a new conversation: one decode batch on the
        local model (`chain.batch`), concurrent requests to a server."""
        give_way()
        return self.chain.batch([self._inputs(message, user_id, None) for message, user_id in requests])

    def stream(self, message: str, user_id: str | None = None,
               conversation: Conversation | None = None) -> Iterator[Progress | Draft | Token | Answer]:
        """Progress as each step starts, the Draft cards once ranked, the model's tokens as they come, then the
        Answer. The chain runs in a helper thread and a callback handler hands over what is shown (LangChain's
        `astream_events` did this before: an event loop and an event for every runnable, for four kinds we show).
        A running prefetch gives way first (or is waited for, `_before_turn`); after the answer, the likely
        follow-ups are prefetched (`prefetch`).
        """
        self._before_turn(message, user_id, conversation)
        events: queue.Queue = queue.Queue()
        shown = _ShownEvents(events)

        def run() -> None:
            try:
                answer = self.chain.invoke(self._inputs(message, user_id, conversation), config={"callbacks": [shown]})
                shown.flush()
                events.put(answer)
            except BaseException as e:  # re-raised in the caller's thread below
                events.put(e)

        threading.Thread(target=run, name="whyrec-turn", daemon=True).start()
        while True:
            event = events.get()
            if isinstance(event, BaseException):
                raise event
            if isinstance(event, Answer):
                self.prefetch(event, user_id, conversation)
                yield event
                return
            yield event

    def prefetch(self, answer: Answer, user_id: str | None, conversation: Conversation | None) -> None:
        """Decode the follow-ups of `settings.prefetch` ("cheaper") in the background while the shopper reads
        `answer`, on a copy of the conversation: if the next turn sends one of them, its prompts are these and the
        local model hands out the kept replies (agent/llm/prefetch.py). Only on the local backend (a server's
        capacity is shared) and after an answer the model wrote reasons for; the next turn of any service in the
        process stops it (they share one torch thread)."""
        from agent.llm import describe

        if (not self.settings.prefetch or describe(self.llm)[0] != "local" or conversation is None
                or not answer.recommendations or not answer.llm_usage.get("calls")):
            return
        state = conversation.model_copy(deep=True)
        run = start_prefetch((user_id, state), tuple(self.settings.prefetch))
        config = {"configurable": {CONFIG_KEY: run}, "run_name": "prefetch"}

        def decode() -> None:
            try:
                for message in self.settings.prefetch:
                    if run.cancel.is_set():
                        return
                    try:
                        self.chain.invoke(self._inputs(message, user_id, state.model_copy(deep=True)), config=config)
                    except PrefetchCancelled:
                        return
                    except Exception:  # noqa: BLE001 — a failed guess costs nothing but the guess
                        log.debug("prefetch of %r failed", message, exc_info=True)
                    finally:
                        run.done[message].set()
            finally:
                for event in run.done.values():  # nobody waits on a guess that will not come
                    event.set()

        self._prefetching = threading.Thread(target=decode, name="whyrec-prefetch", daemon=True)
        self._prefetch_run = run
        self._prefetching.start()

    def _before_turn(self, message: str, user_id: str | None, conversation: Conversation | None) -> None:
        """The turn the running prefetch guessed (this shopper, this conversation as it was, this message) waits for
        that guess to end: its replies are this turn's, and the time the shopper read counts. Then every prefetch of
        the process gives way (they share one torch thread)."""
        run = self._prefetch_run
        if run is not None and conversation is not None:
            if (guess := run.guessed((user_id, conversation), message)) is not None:
                guess.wait(PREFETCH_JOIN_TIMEOUT_S)
        give_way()

    def wait_for_prefetch(self, timeout: float | None = None) -> bool:
        """Wait until the latest prefetch has ended (benchmarks and tests: the shopper reading); True if it has."""
        thread = self._prefetching
        if thread is not None:
            thread.join(timeout)
        return thread is None or not thread.is_alive()

    def _inputs(self, message: str, user_id: str | None, conversation: Conversation | None) -> dict[str, Any]:
        return {"message": message, "user_id": user_id, "conversation": conversation or Conversation(user_id=user_id)}

"""The chain, composed in LCEL from the steps in agent/steps.py as named sub-chains:

    start ▶ recommend (understand ▶ retrieve ▶ rank) ▶ draft ▶ reasons (explain ▶ verify) ▶ answer

`build_chain(...).invoke({"message": ..., "user_id": ..., "conversation": ...})` returns an Answer; its callbacks
see each step starting, the draft cards (verified facts only) once ranked, and the LLM's tokens as they come (the
chat UI streams those, `Whyrec.stream`); `batch` explains several turns in one LLM batch. The evaluation builds its
Turns with `steps.given_turn` and runs only the `reasons` sub-chain (`build_chain_parts`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
from langchain_core.runnables.config import get_callback_manager_for_config, get_config_list, patch_config

from agent import steps
from agent.catalogue import Catalogue
from agent.quotes import QuoteFinder, stored_vectors_path
from agent.schemas import Answer
from agent.settings import Settings
from agent.steps import ChainDeps, Turn
from agent.verify import TextChecker
from index.retrieve import Retriever
from prompts.loader import Template, get_template


class BatchedStep(Runnable):
    """A chain step written over a list of inputs, `func(inputs, configs) -> outputs`. `invoke` runs it on one;
    `chain.batch(...)` runs each step over all inputs in turn, so this step sees every input at once (the explain
    step sends all their LLM calls as one batch)."""

    def __init__(self, func: Callable[[list, list[RunnableConfig]], list], name: str):
        self.func, self.name = func, name

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return self.batch([input], config)[0]

    def batch(self, inputs: list, config: RunnableConfig | list[RunnableConfig] | None = None, *,
              return_exceptions: bool = False, **kwargs: Any) -> list:
        """Each input is its own chain run for callbacks (events, tracing), as RunnableLambda's would be; the
        function sees them all at once. Built on langchain_core's public config helpers."""
        if not inputs:
            return []
        configs = get_config_list(config, len(inputs))
        runs = [get_callback_manager_for_config(c).on_chain_start(None, x, name=c.get("run_name") or self.name,
                                                                   run_id=c.get("run_id"))
                for c, x in zip(configs, inputs)]
        try:
            outputs = self.func(inputs, [patch_config(c, callbacks=run.get_child()) for c, run in zip(configs, runs)])
        except BaseException as e:
            for run in runs:
                run.on_chain_error(e)
            if return_exceptions:
                return [e] * len(inputs)
            raise
        for run, output in zip(runs, outputs):
            run.on_chain_end(output)
        return outputs


def _encode(texts: list[str]) -> np.ndarray:
    """MiniLM, imported on first use: a catalogue without review text never loads it for quotes."""
    from index.embed import encode

    return encode(texts)


@dataclass(frozen=True)
class ChainParts:
    """The sub-chains, each Turn -> Turn except `chain` (inputs -> Answer), and the dependencies they share."""

    deps: ChainDeps
    recommend: Runnable  # understand ▶ retrieve ▶ rank: the turn's candidates, ordered, with their handles
    draft: Runnable  # cards with reasons from verified facts only, before the model writes
    reasons: Runnable  # explain ▶ verify: the model's reasons, checked, as the Answer
    chain: Runnable  # the whole turn

    def given_turn(self, message: str, user_id: str | None, candidate_ids: list[str], history: list) -> Turn:
        return steps.given_turn(message, user_id, candidate_ids, history, self.deps)


def build_chain_parts(
    llm: BaseChatModel,
    retriever: Retriever | None,
    catalogue: Catalogue,
    template: Template,
    settings: Settings,
    index_snapshot: str = "unknown",
    backend: tuple[str, str, str | None] = ("local", "unknown", None),
) -> ChainParts:
    deps = ChainDeps(llm=llm, retriever=retriever, catalogue=catalogue, template=template, settings=settings,
                     checker=TextChecker(catalogue.vocabulary, max_chars=template.generation.reason_max_chars),
                     # a review sentence per card, for the request
                     quotes=QuoteFinder(catalogue, encode=_encode,
                                        stored=stored_vectors_path(settings.home, catalogue.name)),
                     rank_template=get_template(settings.rank_template) if settings.rank_template else None,
                     backend=backend, index_snapshot=index_snapshot)

    def step(fn: Callable[..., Turn], name: str) -> Runnable:
        return RunnableLambda(partial(fn, deps=deps), name=name)

    def rank(turn: Turn, config: RunnableConfig) -> Turn:  # the LLM ordering signal's calls join this run
        return steps.rank_step(turn, deps, config)

    def answer(turn: Turn) -> Answer:
        turn.conversation.add(turn.request, turn.answer)
        return turn.answer

    recommend = (step(steps.understand_step, "understand") | step(steps.retrieve_step, "retrieve")
                 | RunnableLambda(rank, name="rank")).with_config(run_name="recommend")
    draft = step(steps.draft_step, "draft")
    reasons = (BatchedStep(partial(steps.explain_turns, deps=deps), name="explain")
               | step(steps.verify_step, "verify")).with_config(run_name="reasons")
    chain = (step(steps.start, "start") | recommend | draft | reasons
             | RunnableLambda(answer, name="answer")).with_config(run_name="whyrec")
    return ChainParts(deps, recommend, draft, reasons, chain)


def build_chain(llm: BaseChatModel, retriever: Retriever | None, catalogue: Catalogue, template: Template,
                settings: Settings, index_snapshot: str = "unknown",
                backend: tuple[str, str, str | None] = ("local", "unknown", None)) -> Runnable:
    """The whole turn: inputs {"message", "user_id", "conversation"} -> Answer."""
    return build_chain_parts(llm, retriever, catalogue, template, settings, index_snapshot, backend).chain

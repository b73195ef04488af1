"""The LLM preference signal: the model orders the candidate handles (C1, C2, …) by fit, under a schema that
enumerates exactly those handles. `agent.rank.rank(..., llm_order=...)` fuses the order as a reciprocal rank.

The reply is validated by the same model that constrained it (agent/reply_models.py `rank_order`). A reply that
breaks it (a server that ignored the constraint) is no ordering, but the ids it emitted are still read, so the
evaluation can count RecLM-eval item-id errors (ids outside the candidates, repeated ids, ids from the history)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig

from agent.explain import Handles, ranking_inputs
from agent.llm import invoke_all
from agent.reply_models import parse_reply, rank_order, response_format
from agent.understand import Request
from prompts.loader import Template, prompt_hash


@dataclass
class LlmOrder:
    order: list[str] = field(default_factory=list)  # candidate ids in the model's order, repeats dropped
    emitted: list[str] = field(default_factory=list)  # every id the model emitted, repeats and strays included
    raw_reply: str = ""
    prompt_hash: str = ""
    error: str | None = None


def emitted_ids(handles_out: list[str], handles: Handles) -> list[str]:
    """Map handles to item ids: C-handles to candidates, h-handles to history items; anything else kept as is."""
    ids = []
    for h in handles_out:
        h = str(h).strip()
        if (m := re.fullmatch(r"[Cc](\d+)", h)) and 0 < int(m.group(1)) <= len(handles.candidates):
            ids.append(handles.candidates[int(m.group(1)) - 1].item_id)
        elif (m := re.fullmatch(r"h(\d+)", h)) and 0 < int(m.group(1)) <= len(handles.history):
            ids.append(handles.history[int(m.group(1)) - 1].item.item_id)
        else:
            ids.append(h)
    return ids


def llm_preference(llm: BaseChatModel, template: Template, request: Request, handles: Handles,
                   max_new_tokens: int, config: RunnableConfig | None = None) -> LlmOrder:
    """Ask the model for its order of `handles.candidates`. Never raises: a dead server or a bad reply gives an
    empty order (the ranking then rests on the other signals) and says why in `error`."""
    return llm_preferences(llm, template, [(request, handles)], max_new_tokens, config)[0]


def llm_preferences(llm: BaseChatModel, template: Template, asks: list[tuple[Request, Handles]],
                    max_new_tokens: int, config: RunnableConfig | None = None) -> list[LlmOrder]:
    """`llm_preference` for several (request, shortlist) pairs at once: one LLM batch."""
    prompts = [template.render(**ranking_inputs(request, handles)) for request, handles in asks]
    calls = [(messages, {"response_format": response_format(rank_order(len(handles.candidates))),
                         "max_tokens": template.generation.max_new_tokens or max_new_tokens})
             for messages, (_, handles) in zip(prompts, asks)]
    replies = invoke_all(llm, calls, config)
    return [read_order(reply, handles, prompt_hash(messages))
            for reply, (_, handles), messages in zip(replies, asks, prompts)]


def read_order(reply: Any, handles: Handles, hash_of_prompt: str) -> LlmOrder:
    result = LlmOrder(prompt_hash=hash_of_prompt)
    if isinstance(reply, Exception):  # a ranking hint must never cost the answer
        result.error = f"{type(reply).__name__}: {reply}"[:300]
        return result
    result.raw_reply = str(reply.content)
    order, problems = parse_reply(rank_order(len(handles.candidates)), result.raw_reply)
    result.emitted = emitted_ids(order.order if order else _stray_ids(result.raw_reply), handles)
    if order is None:
        result.error = "; ".join(problems)[:300]
        return result
    result.order = list(dict.fromkeys(result.emitted))
    return result


def _stray_ids(raw: str) -> list[str]:
    """What an invalid reply emitted as its order, for the item-id error counts only (never used to rank)."""
    try:
        order = json.loads(raw).get("order")
    except (ValueError, AttributeError):
        return []
    return [str(h) for h in order] if isinstance(order, list) else []

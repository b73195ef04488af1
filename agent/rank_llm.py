"""The LLM preference signal: the model orders the candidate handles (C1, C2, …) by fit, under a schema that
enumerates exactly those handles. `agent.rank.rank(..., llm_order=...)` fuses the order as a reciprocal rank.

The reply is validated by the same model that constrained it (agent/reply_models.py `rank_order`). A reply that
breaks it (a server that ignored the constraint) is no ordering, but the ids it emitted are still read, so the
evaluation can count RecLM-eval item-id errors (ids outside the candidates, repeated ids, ids from the history).

The shortlist is shown in a seeded neutral order (`neutral_order`), not whyrec's: a base model tends to answer the
first handles as shown, and in whyrec's order that position bias would read as agreement. The seed comes from the
request (`neutral_seed`: the chat uses the shopper id and message, the evaluation its grid seed and the user id),
so the same request shows the same order in any process and the prompt hash is reproducible. The model's C-handles
are mapped back through the shuffled shortlist, so `order` and `emitted` are always real item ids."""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
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
    shown: list[str] = field(default_factory=list)  # candidate ids in the order the prompt showed them (C1, C2, …)
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


def neutral_seed(*parts: str) -> int:
    """A seed from the request's parts (shopper id, message, grid seed). sha256, not `hash()`: str hashes are
    salted per process, and the shown order must be the same on every run for the prompt hash to be."""
    return int.from_bytes(hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()[:8], "big")


def neutral_order(handles: Handles, seed: int) -> Handles:
    """The shortlist in a seeded shuffle of whyrec's order, so C1 is whyrec's best only by chance and a model that
    just answers the first handles as shown no longer looks like it agrees with the ranker."""
    positions = list(range(len(handles.candidates)))
    random.Random(seed).shuffle(positions)
    return replace(handles, candidates=[handles.candidates[i] for i in positions])


def llm_preference(llm: BaseChatModel, template: Template, request: Request, handles: Handles,
                   max_new_tokens: int, config: RunnableConfig | None = None, *, seed: int) -> LlmOrder:
    """Ask the model for its order of `handles.candidates`, shown in the neutral order of `seed`. Never raises: a
    dead server or a bad reply gives an empty order (the ranking then rests on the other signals) and says why in
    `error`."""
    return llm_preferences(llm, template, [(request, handles)], max_new_tokens, config, seeds=[seed])[0]


def llm_preferences(llm: BaseChatModel, template: Template, asks: list[tuple[Request, Handles]],
                    max_new_tokens: int, config: RunnableConfig | None = None, *,
                    seeds: Sequence[int]) -> list[LlmOrder]:
    """`llm_preference` for several (request, shortlist) pairs at once: one LLM batch, one seed per pair."""
    shown = [(request, neutral_order(handles, seed)) for (request, handles), seed in zip(asks, seeds, strict=True)]
    prompts = [template.render(**ranking_inputs(request, handles)) for request, handles in shown]
    calls = [(messages, {"response_format": response_format(rank_order(len(handles.candidates))),
                         "max_tokens": template.generation.max_new_tokens or max_new_tokens})
             for messages, (_, handles) in zip(prompts, shown)]
    replies = invoke_all(llm, calls, config)
    return [read_order(reply, handles, prompt_hash(messages))
            for reply, (_, handles), messages in zip(replies, shown, prompts)]


def read_order(reply: Any, handles: Handles, hash_of_prompt: str) -> LlmOrder:
    """The model's reply read against the shortlist as it was shown (C-handles index `handles.candidates`)."""
    result = LlmOrder(prompt_hash=hash_of_prompt, shown=[c.item_id for c in handles.candidates])
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

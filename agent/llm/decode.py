"""Greedy decoding of several prompts as one batch over a shared KV cache, each row under its own grammar.

Why a hand-written loop: on 2 CPU cores a forward pass of the 135M model costs ~40 ms whatever the batch (it is
bound by per-layer overhead, not arithmetic), so five reasons decoded side by side cost little more than one.
Prompts that start alike (same system text, request and history; only the candidate differs) share that prefix:
it is prefilled once and its cache copied to every row.

Prefill is split where chat messages start (and at the end of the shared prefix), whatever is cached, and the KV
cache at each message boundary is kept in a small LRU (`PrefixCache`): the system text is prefilled once per
process, and a message that stays the same across a shopper's turns (their history, when the template puts it in
its own message) once per conversation. Because the split points depend only on the prompt, a prompt's output never
depends on what was decoded before it.

Rows advance in lock-step, but each feeds its own number of tokens per step (the chosen token plus any text its
grammar forces: jump-forward), so one step's block is right-padded. Padding columns stay masked for ever after, and
positions count only real tokens, so every row sees exactly its own sequence.

Prompt-lookup speculation (`speculate` > 0): a reason mostly copies what its prompt holds (titles, values, handles),
so each row also feeds a guess of what comes next: the tokens that followed the latest earlier occurrence of its
last few tokens (`lookup_draft`). One pass scores the guess; the row keeps the guessed tokens the model itself
chooses (greedy, under its grammar) and the model's token where the guess first goes wrong. A rejected guess's
columns are masked like padding, so the text is the model's greedy choice either way; only the number of passes
changes. A guess is not free: the block is as wide as its widest row (on 2 cores five rows of five tokens cost ~1.5x
five rows of one), so a row guesses one token more than it last got right (`_guess`).

Copy guard (a row's `guard`, agent/copy_guard.py): while a row copies a value after a lead-in ("is tagged"), its
token is the likeliest one that still spells one of the values that lead-in can take, and what every such value
goes on with is fed like the grammar's jump-forward. Guessed tokens are then kept where that guarded choice agrees.
"""

from __future__ import annotations

import copy
import json
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass
class DecodeStats:
    start: float = field(default_factory=time.perf_counter)
    first_token_s: float | None = None
    tokens_by_first: int = 0  # output tokens known after the first forward pass (forced prefix + first token)
    forced_tokens: int = 0  # tokens the grammar or a copy guard dictated (jump-forward), fed without a decode step each
    forced_by_first: int = 0
    shared_prefix_tokens: int = 0  # prompt tokens prefilled once for every row of the batch
    guessed_tokens: int = 0  # speculation: tokens fed as guesses, and how many of them the model chose
    guessed_kept: int = 0
    guarded_tokens: int = 0  # tokens a copy guard chose over the model's first choice (agent/copy_guard.py)
    finish_reason: str = "length"

    def metadata(self, model_name: str, prompt_tokens: int, completion_tokens: int,
                 constrained: bool) -> dict[str, Any]:
        total_s = time.perf_counter() - self.start
        decode_s = total_s - (self.first_token_s or 0.0)
        # output tokens after the first forward pass over the time after it: the output rate, free of prefill
        after_first = completion_tokens - self.tokens_by_first
        chosen_after_first = after_first - (self.forced_tokens - self.forced_by_first)  # tokens the model picked
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                 "total_tokens": prompt_tokens + completion_tokens}
        return {
            "usage_metadata": {"input_tokens": prompt_tokens, "output_tokens": completion_tokens,
                               "total_tokens": usage["total_tokens"]},
            "response_metadata": {
                "model_name": model_name, "model_provider": "whyrec-local", "finish_reason": self.finish_reason,
                "token_usage": usage, "constrained": constrained, "forced_tokens": self.forced_tokens,
                "shared_prefix_tokens": self.shared_prefix_tokens,
                "guessed_tokens": self.guessed_tokens, "guessed_kept": self.guessed_kept,
                "guarded_tokens": self.guarded_tokens,
                "timing": {"first_token_s": self.first_token_s, "total_s": total_s, "tokens_after_first": after_first,
                           "chosen_after_first": chosen_after_first,
                           "tokens_per_s": after_first / decode_s if after_first > 0 and decode_s > 0 else None},
            },
        }


@dataclass
class Row:
    """One prompt being decoded."""

    prompt_ids: list[int]
    constraint: Any  # TokenConstraint or None
    limit: int
    stop_ids: list[int]
    stats: DecodeStats = field(default_factory=DecodeStats)
    guard: Any = None  # CopyGuard: `.pending(text so far)` -> None, or the value being copied (`allows`, `forced`)
    copying: Any = None  # what `guard.pending` said of the row's output so far, asked once per step
    produced: int = 0
    pending: list[int] = field(default_factory=list)  # tokens to feed at the next step
    drafts: list[int] = field(default_factory=list)  # guessed tokens fed after `pending`, kept only if the model agrees
    guess_len: int | None = None  # how many to guess next: one more than the last guess kept (None: the most allowed)
    output: list[int] = field(default_factory=list)  # every token produced so far (where guesses are looked up)
    done: bool = False


@dataclass
class PrefixCache:
    """KV caches of prompt prefixes that end at a message boundary, by their token ids; least recently used out."""

    max_entries: int = 8  # the system prompt plus a few conversations' history messages (~15 MB each in fp32)
    entries: OrderedDict[tuple[int, ...], Any] = field(default_factory=OrderedDict)

    def get(self, ids: list[int]) -> Any:
        cache = self.entries.get(tuple(ids))
        if cache is None:
            return None
        self.entries.move_to_end(tuple(ids))
        return copy.deepcopy(cache)

    def put(self, ids: list[int], cache: Any) -> None:
        self.entries[tuple(ids)] = copy.deepcopy(cache)
        self.entries.move_to_end(tuple(ids))
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)

    def clear(self) -> None:
        self.entries.clear()


def message_boundaries(ids: list[int], message_start_id: int | None, end: int) -> list[int]:
    """Positions in (0, end) where a chat message starts, the fixed places prefill is split. The last message start
    of the prompt (the generation prompt) is left out: the prefix before it holds this call's own request."""
    starts = [i for i, t in enumerate(ids) if t == message_start_id and i > 0][:-1]
    return [i for i in starts if i < end]


def shared_prefix_length(prompts: list[list[int]]) -> int:
    """Tokens every prompt starts with, keeping at least one token of each prompt for its own first step."""
    if len(prompts) < 2:
        return 0
    n = min(len(p) for p in prompts) - 1
    first = prompts[0]
    for i in range(max(n, 0)):
        if any(p[i] != first[i] for p in prompts[1:]):
            return i
    return max(n, 0)


def lookup_draft(sequence: list[int], max_tokens: int, max_ngram: int = 3, min_ngram: int = 2) -> list[int]:
    """Up to `max_tokens` guessed next tokens: what followed the latest earlier occurrence of the sequence's last n
    tokens, longest n first. A single-token match guesses too often wrongly to pay for its columns."""
    if max_tokens <= 0:
        return []
    for n in range(max_ngram, min_ngram - 1, -1):
        if len(sequence) <= n:
            continue
        tail = sequence[-n:]
        for start in range(len(sequence) - n - 1, -1, -1):
            if sequence[start:start + n] == tail:
                return sequence[start + n:start + n + max_tokens]
    return []


def greedy_batch(lm: Any, rows: list[Row], tokenizer: Any, speculate: int = 0) -> Iterator[tuple[int, list[int]]]:
    """Decode every row greedily; yields (row index, token ids that row just added) as they come.

    A row ends at a stop token, at its `limit`, or when its grammar is complete. Rows share one forward pass per
    step; a finished row is dropped from the batch (and its KV cache), so the rest decode at the cost of fewer rows.
    With `speculate` > 0 each row also feeds up to that many guessed tokens per step (see the module's notes)."""
    import torch
    from transformers import DynamicCache

    model, device = lm.model, lm.device
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else lm.stop_token_ids[0]
    first = rows[0].prompt_ids
    shared = shared_prefix_length([r.prompt_ids for r in rows]) if len(rows) > 1 else len(first) - 1

    def prefill(ids: list[int], cache: Any) -> None:
        if ids:
            model(input_ids=torch.tensor([ids], device=device), past_key_values=cache, use_cache=True,
                  logits_to_keep=1)

    # the longest cached prefix ending at a message boundary, then the rest, split at every later boundary
    boundaries = message_boundaries(first, lm.message_start_id, shared)
    cache, done = None, 0
    for end in reversed(boundaries):
        if (cache := lm.prefix.get(first[:end])) is not None:
            done = end
            break
    cache = cache if cache is not None else DynamicCache()
    for end in [b for b in boundaries if b > done]:
        prefill(first[done:end], cache)
        lm.prefix.put(first[:end], cache)
        done = end
    prefill(first[done:shared], cache)  # the rest of the common prefix, once for every row
    if len(rows) > 1:
        cache.batch_repeat_interleave(len(rows))
    mask = torch.ones(len(rows), shared, dtype=torch.long, device=device)
    positions = [shared] * len(rows)

    for n, row in enumerate(rows):
        row.pending = row.prompt_ids[shared:]
        row.stats.shared_prefix_tokens = shared if len(rows) > 1 else 0
        if row.constraint is not None:  # e.g. '{"claims":["' is forced before the model chooses anything
            forced = row.constraint.jump_forward(tokenizer, row.limit)
            row.stats.forced_tokens, row.produced = len(forced), len(forced)
            row.pending = row.pending + forced
            row.output = list(forced)
            row.done = row.produced >= row.limit
            if forced:
                yield n, forced
        row.drafts = _guess(row, speculate)

    active = list(range(len(rows)))  # rows still decoding, in cache order
    while True:
        live = [n for n in active if not rows[n].done]
        if not live:
            return
        if len(live) < len(active):  # a finished row leaves the batch: later steps compute only live rows
            keep_rows = torch.tensor([active.index(n) for n in live], device=device)
            cache.batch_select_indices(keep_rows)
            mask = mask[keep_rows]
            active = live
        block = [rows[n].pending + rows[n].drafts for n in active]
        width, fed_before = max(len(b) for b in block), mask.shape[1]
        ids = torch.tensor([b + [pad_id] * (width - len(b)) for b in block], device=device)
        valid = torch.tensor([[1] * len(b) + [0] * (width - len(b)) for b in block], dtype=torch.long, device=device)
        mask = torch.cat([mask, valid], dim=1)
        pos = torch.tensor([[positions[n] + min(j, len(b) - 1) for j in range(width)] for n, b in zip(active, block)],
                           device=device)
        # logits where each row's next token is chosen: after its last pending token, and after each guessed one
        wanted = [[len(rows[n].pending) - 1 + j for j in range(len(rows[n].drafts) + 1)] for n in active]
        keep = sorted({col for cols in wanted for col in cols})
        out = model(input_ids=ids, attention_mask=mask, position_ids=pos, past_key_values=cache, use_cache=True,
                    logits_to_keep=torch.tensor(keep, device=device))
        logits = out.logits.float()
        for slot, n in enumerate(active):
            row = rows[n]
            fed, drafts, accepted = len(row.pending), row.drafts, 0
            for j, col in enumerate(wanted[slot]):
                new_ids = _next(row, logits[slot, keep.index(col)].unsqueeze(0), tokenizer)
                if new_ids:
                    yield n, new_ids
                if j == len(drafts) or new_ids[:1] != [drafts[j]]:
                    break
                accepted += 1
                row.pending = new_ids[1:]  # the guessed token is in the cache already; forced text is still to feed
                if row.pending or row.done:
                    break
            if accepted < len(drafts):  # fed but not the row's text: hidden from every later step, like padding
                mask[slot, fed_before + fed + accepted:fed_before + fed + len(drafts)] = 0
            positions[n] += fed + accepted
            row.stats.guessed_tokens += len(drafts)
            row.stats.guessed_kept += accepted
            if drafts:
                row.guess_len = accepted + 1
            row.drafts = [] if row.done else _guess(row, speculate)


def _guess(row: Row, speculate: int) -> list[int]:
    """Guessed tokens to feed after the row's pending ones, within what the row may still produce: one more than
    the row last got right, so a row copying a title guesses long and one writing its own words guesses one token."""
    budget = min(speculate if row.guess_len is None else row.guess_len, speculate, row.limit - row.produced)
    return lookup_draft(row.prompt_ids + row.output, budget) if budget > 0 else []


GUARD_CANDIDATES = 16  # the model's best tokens a copy guard looks through, beside the first token of each value


def _guarded(row: Row, logits: Any, tokenizer: Any, token: int) -> int:
    """The likeliest token (grammar allowing) that keeps a value the row is copying whole: among the model's best
    GUARD_CANDIDATES and the first token of every value it may still become. The model's own first choice when it
    is copying nothing, or when no candidate fits."""
    copying = row.copying
    if copying is None or copying.allows(tokenizer.decode(row.output + [token], skip_special_tokens=True)):
        return token  # most steps: the model's own choice is fine, no need to look through its best tokens
    scores = logits[0]
    candidates = set(scores.topk(GUARD_CANDIDATES).indices.tolist())
    for rest in copying.rests:
        if rest and (ids := tokenizer.encode(rest, add_special_tokens=False)):
            candidates.add(ids[0])
    for candidate in sorted(candidates, key=lambda t: -float(scores[t])):
        if float(scores[candidate]) == float("-inf"):
            break
        if copying.allows(tokenizer.decode(row.output + [candidate], skip_special_tokens=True)):
            row.stats.guarded_tokens += candidate != token
            return candidate
    return token


def _copy_forward(row: Row, tokenizer: Any, step: list[int]) -> list[int]:
    """Tokens of what a value being copied must go on with (a past item's title once only one fits), fed without
    a decode step each; as many as the grammar (the reason's length cap) and the row's token limit allow. Leaves
    in `row.copying` what the guard says of the output after them, for the next step's choice."""
    row.copying = row.guard.pending(tokenizer.decode(row.output + step, skip_special_tokens=True))
    text = row.copying.forced() if row.copying is not None else ""
    if not text:
        return []
    ids = tokenizer.encode(json.dumps(text, ensure_ascii=False)[1:-1], add_special_tokens=False)
    ids = ids[:max(row.limit - row.produced - len(step), 0)]
    ids = row.constraint.accept_while(ids) if row.constraint is not None else ids
    row.copying = row.guard.pending(tokenizer.decode(row.output + step + ids, skip_special_tokens=True))
    return ids


def _next(row: Row, logits: Any, tokenizer: Any) -> list[int]:
    """Choose this row's next token (plus forced text); mark it done when it ends. Returns what it added."""
    if row.constraint is not None:
        row.constraint.mask_(logits)
    token = int(logits.argmax(dim=-1))
    if row.guard is not None:
        token = _guarded(row, logits, tokenizer, token)
    stats = row.stats
    if stats.first_token_s is None:
        stats.first_token_s, stats.tokens_by_first = time.perf_counter() - stats.start, row.produced + 1
        stats.forced_by_first = stats.forced_tokens
    if token in row.stop_ids:
        stats.finish_reason, row.done = "stop", True
        return []
    step = [token]
    if row.constraint is not None:
        row.constraint.accept(token)
        forced = row.constraint.jump_forward(tokenizer, row.limit - row.produced - 1)
        stats.forced_tokens += len(forced)
        step += forced
    if row.guard is not None:
        copied = _copy_forward(row, tokenizer, step)
        stats.forced_tokens += len(copied)
        step += copied
    row.produced += len(step)
    row.pending = step
    row.output += step
    if row.produced >= row.limit:
        row.done = True
    elif row.constraint is not None and row.constraint.only_stop_allowed():
        stats.finish_reason, row.done = "stop", True  # the JSON is closed: skip the pass that would pick <|im_end|>
    return step

"""Chat-turn benchmarks on the embedded default (gift cards, local backend): turn latency, time to the first
generated token, and the chain's decode rate against raw `generate` on the same prompts. Registered into
eval/bench.py's registry; `server_turn` measures the same turns through a running vLLM server, if one answers."""

from __future__ import annotations

import statistics
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

from agent.sentences import ASKED
from agent.settings import REASONS_ADAPTER
from eval.bench_registry import BenchContext, percentile, register
from index import torch_thread

TURN_DATASET = "amazon2018_gift_cards"
MESSAGES = ["a birthday gift card under $50", "something for a coffee lover", "a thank-you gift for a teacher",
            "a restaurant gift card, not Amazon", "an e-gift card I can send today under $25",
            "a gift card for my nephew who loves games", "a wedding present", "a holiday gift under $100"]


def _app(ctx: BenchContext, **overrides: Any):
    from agent.quotes import store_quote_vectors
    from agent.service import Whyrec
    from index.build import build_index

    settings = ctx.bench_settings.model_copy(update={"dataset": TURN_DATASET,
                                                     "model_dir": ctx.settings.base_model_dir, **overrides})
    if not ctx.shared.get("turn_indexed"):  # what `whyrec index` does
        build_index(TURN_DATASET, settings, progress=False)
        store_quote_vectors(settings)
        ctx.shared["turn_indexed"] = True
    return Whyrec(settings)


FOLLOW_UP = "cheaper"


def _alternating(ctx: BenchContext, apps: dict[Any, Any]) -> Iterator[tuple[int, str, list[Any]]]:
    """Compare settings on the same turns: warm every app up (model load, grammar compiles, the cached system
    prompt), then for each of `ctx.n_turns` real users yield (i, user, the settings in the order to run them),
    the order alternating from one user to the next (the clock drifts)."""
    first = next(iter(apps.values()))
    users = first.retriever.users(limit=ctx.n_turns + 1)
    for app in apps.values():
        app.ask(MESSAGES[-1], user_id=users[-1])
    for i, user in enumerate(users[:-1]):
        yield i, user, sorted(apps, key=str, reverse=i % 2 == 1)


def _turns(app, n: int, follow_up: str | None = None) -> list[dict[str, float]]:
    """n timed turns (after one warm-up), streamed as the chat UI streams them: each a different message and a
    different real user. Times are from the call to the Draft cards (ranked, reasons from verified facts), to the
    first streamed token (the grammar-forced JSON opening counts), and to the final Answer. With `follow_up`, each
    turn is followed by that message in the same conversation, timed as `follow_up_s`."""
    from agent.conversation import Conversation

    users = app.retriever.users(limit=n + 1)
    app.ask(MESSAGES[-1], user_id=users[-1])  # warm-up: model load, grammar compile, caches
    rows = []
    for i in range(n):
        user, conversation = users[i % len(users)], Conversation(user_id=users[i % len(users)])
        row = _timed_turn(app, MESSAGES[i % len(MESSAGES)], user, conversation)
        if follow_up:
            followed = _timed_turn(app, follow_up, user, conversation)
            row["follow_up_s"], row["follow_up_k"] = followed["total_s"], followed["k"]
        rows.append(row)
    return rows


def _timed_turn(app, message: str, user: str, conversation) -> dict[str, Any]:
    from agent.schemas import Answer
    from agent.service import Draft, Token

    start, marks, answer = time.perf_counter(), {}, None
    for event in app.stream(message, user_id=user, conversation=conversation):
        kind = {Draft: "first_card_s", Token: "first_token_s"}.get(type(event))
        if kind and kind not in marks:
            marks[kind] = time.perf_counter() - start
        if isinstance(event, Answer):
            answer = event
    total = time.perf_counter() - start
    usage = answer.llm_usage
    before_llm_s = sum(ms for step, ms in answer.timings_ms.items() if step not in ("explain", "verify")) / 1000
    return {"total_s": total, "first_card_s": marks.get("first_card_s", total),
            "first_token_s": marks.get("first_token_s", total),
            # the first token the model chose (not grammar-forced): the steps before the LLM + its own clock
            "first_chosen_token_s": before_llm_s + (usage.get("first_token_s") or 0.0),
            "completion_tokens": usage.get("completion_tokens") or 0, "abandoned": usage.get("abandoned") or 0,
            "tokens_per_s": usage.get("tokens_per_s") or 0.0, "k": len(answer.recommendations), "answer": answer}


def _summary(rows: list[dict[str, float]]) -> dict[str, Any]:
    out: dict[str, Any] = {"turns": len(rows), "k": rows[0]["k"] if rows else 0}
    for name, key in (("turn", "total_s"), ("first_card", "first_card_s"), ("first_token", "first_token_s"),
                      ("first_chosen_token", "first_chosen_token_s")):
        values = [r[key] for r in rows]
        out |= {f"{name}_p50_s": round(statistics.median(values), 3), f"{name}_p95_s": round(percentile(values, 95), 3)}
    if follow_ups := [r["follow_up_s"] for r in rows if "follow_up_s" in r]:
        out |= {"follow_up_message": FOLLOW_UP, "follow_up_p50_s": round(statistics.median(follow_ups), 3),
                "follow_up_p95_s": round(percentile(follow_ups, 95), 3)}
        out |= {"follow_up_over_first": round(out["follow_up_p50_s"] / out["turn_p50_s"], 3),  # of the shown p50s
                # "cheaper" shows only what is cheaper, so a follow-up may show (and explain) fewer cards
                "follow_up_cards_mean": round(statistics.fmean(r["follow_up_k"] for r in rows), 1)}
    return out | {"completion_tokens_mean": round(statistics.fmean(r["completion_tokens"] for r in rows), 1),
                  "abandoned_per_turn": round(statistics.fmean(r["abandoned"] for r in rows), 2)}


@register("turn", "Chat turn, k=5 with reasons, embedded default, streamed: p50/p95 latency, time to the first "
                  "cards (verified facts) and to the first generated token")
def bench_turn(ctx: BenchContext) -> dict[str, Any]:
    app = _app(ctx)
    rows = _turns(app, ctx.n_turns, follow_up=FOLLOW_UP)
    ctx.shared["turn_rows"] = rows
    ctx.shared["turn_app"] = app
    return {"backend": "local", **_summary(rows)}


@register("decode", "Decode tokens/s of the chain (constrained, batched) vs raw transformers generate on the same "
                    "prompts, batched the same way")
def bench_decode(ctx: BenchContext) -> dict[str, Any]:
    """A turn's explain step decodes one prompt per candidate as one batch, so raw `generate` gets the same
    prompts as one (left-padded) batch and writes as many tokens per prompt as the chain's reply to it had (the
    replies re-tokenized): the same prompts and the same output lengths, unconstrained. Rates are output tokens
    after the first over the time after it, for the whole batch; the chain's is given with and without the tokens
    its grammar forced (jump-forward)."""
    import torch

    from agent.llm.local import ROLES

    app = ctx.shared.get("turn_app") or _app(ctx)
    lm = app.llm.loaded()
    users = app.retriever.users(limit=ctx.n_turns)
    chain_rates, chosen_rates, raw_rates, batch_sizes, lengths = [], [], [], [], []
    for i, user in enumerate(users):
        message = MESSAGES[i % len(MESSAGES)]
        shown = app.ask(message, user_id=user)
        picks = [r.item_id for r in shown.recommendations]
        turn = app.parts.reasons.invoke(app.parts.given_turn(message, user, picks, history=[]))
        usage = turn.llm_usage
        if not usage.get("tokens_per_s"):
            continue
        chain_rates.append(usage["tokens_per_s"])
        chosen_rates.append(usage["chosen_tokens_per_s"] or 0.0)
        row_tokens = [max(2, len(lm.tokenizer(turn.raw_replies[i], add_special_tokens=False).input_ids))
                      for i in turn.asked]
        texts = [lm.tokenizer.apply_chat_template([{"role": ROLES.get(m.type, m.type), "content": m.text}
                                                   for m in prompt], add_generation_prompt=True, tokenize=False)
                 for prompt in turn.prompts]
        lm.tokenizer.padding_side = "left"
        batch = lm.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(lm.device)
        def timed_generate(lengths_now: list[int]) -> float:
            start = time.perf_counter()
            with torch.inference_mode():
                lm.model.generate(**batch, max_new_tokens=max(lengths_now) + 1, do_sample=False,
                                  logits_processor=[_EndAt(lengths_now, batch["input_ids"].shape[1],
                                                           lm.stop_token_ids[0])],
                                  pad_token_id=lm.tokenizer.pad_token_id or lm.stop_token_ids[0])
            return time.perf_counter() - start

        # on the torch thread, as the chain decodes (index/torch_thread.py)
        timings = {max(n): torch_thread.run(timed_generate, n) for n in ([1] * len(texts), row_tokens)}
        raw_rates.append(sum(n - 1 for n in row_tokens) / (timings[max(row_tokens)] - timings[1]))
        batch_sizes.append(len(texts))
        lengths.append(statistics.median(row_tokens))
    chain_rate, raw_rate = statistics.median(chain_rates), statistics.median(raw_rates)
    return {**{f"forward_ms_batch{b}": torch_thread.run(_forward_ms, lm, b) for b in (1, 5)}, "turns": len(chain_rates), "prompts_per_batch": statistics.median(batch_sizes),
            "tokens_per_prompt": statistics.median(lengths),
            "chain_tokens_per_s": round(chain_rate, 1), "chain_chosen_tokens_per_s": round(statistics.median(chosen_rates), 1),
            "raw_generate_tokens_per_s": round(raw_rate, 1), "chain_over_raw": round(chain_rate / raw_rate, 3),
            "chain_chosen_over_raw": round(statistics.median(chosen_rates) / raw_rate, 3)}


@register("speculation", "The same chat turns with and without prompt-lookup speculation, alternating: turn "
                         "p50, the share of guessed tokens kept, displayed reasons that differ")
def bench_speculation(ctx: BenchContext) -> dict[str, Any]:
    """Speculation keeps a guessed token only where the model's greedy choice agrees, so it should change the time,
    not the text; a wider block's rounding can still tip a near-tie, and this counts the reasons it changed."""
    guess = ctx.settings.speculate or 4
    apps = {0: _app(ctx, speculate=0), guess: _app(ctx, speculate=guess)}
    times: dict[int, list[float]] = {0: [], guess: []}
    differ = reasons = kept = guessed = 0
    for i, user, order in _alternating(ctx, apps):
        answers = {}
        for setting in order:
            start = time.perf_counter()
            answers[setting] = apps[setting].ask(MESSAGES[i % len(MESSAGES)], user_id=user)
            times[setting].append(time.perf_counter() - start)
        shown = {setting: [[r.text for r in rec.reasons] for rec in answer.recommendations]
                 for setting, answer in answers.items()}
        differ += sum(a != b for a, b in zip(shown[0], shown[guess]))
        reasons += len(shown[0])
        kept += answers[guess].llm_usage.get("guessed_kept") or 0
        guessed += answers[guess].llm_usage.get("guessed_tokens") or 0
    plain_p50, guess_p50 = (round(statistics.median(times[s]), 3) for s in (0, guess))  # the ratio of the shown figures
    return {"guessed_per_step": guess, "turns": len(times[0]), "turn_plain_p50_s": plain_p50,
            "turn_speculating_p50_s": guess_p50, "speculating_over_plain": round(guess_p50 / plain_p50, 3),
            "guessed_tokens": guessed, "guessed_kept_share": round(kept / guessed, 3) if guessed else None,
            "cards": reasons, "cards_whose_reasons_differ": differ}


@register("abandon", "The same chat turns and \"cheaper\" follow-ups with and without abandoning doomed replies, "
                     "alternating: turn and follow-up p50, tokens decoded, replies abandoned, cards that differ")
def bench_abandon(ctx: BenchContext) -> dict[str, Any]:
    """A reply is abandoned once its sentence is degenerate in a way no continuation undoes, so its card falls
    back as it would have; this measures the time it saves and counts the cards it changed anyway (a fallback
    naming another verified fact, a batch near-tie)."""
    from agent.conversation import Conversation

    apps = {False: _app(ctx, abandon_doomed=False), True: _app(ctx, abandon_doomed=True)}
    turns: dict[bool, list[float]] = {False: [], True: []}
    follow_ups: dict[bool, list[float]] = {False: [], True: []}
    tokens: dict[bool, int] = {False: 0, True: 0}
    abandoned = differ = fallbacks_differ = cards = 0
    for i, user, order in _alternating(ctx, apps):
        shown = {}
        for setting in order:
            conversation, shown[setting] = Conversation(user_id=user), []
            for message, times in ((MESSAGES[i % len(MESSAGES)], turns), (FOLLOW_UP, follow_ups)):
                row = _timed_turn(apps[setting], message, user, conversation)
                times[setting].append(row["total_s"])
                tokens[setting] += int(row["completion_tokens"])
                abandoned += int(row["abandoned"]) if setting else 0
                shown[setting] += [(rec.item_id, rec.reasons[0].text, rec.reasons[0].fallback)
                                   for rec in row["answer"].recommendations]
        differ += sum(a != b for a, b in zip(shown[False], shown[True]))
        fallbacks_differ += sum(a[2] != b[2] for a, b in zip(shown[False], shown[True]))
        cards += len(shown[False])
    p50 = {name: {s: round(statistics.median(v[s]), 3) for s in v} for name, v in
           (("turn", turns), ("follow_up", follow_ups))}
    return {"turns": len(turns[False]), "follow_up_message": FOLLOW_UP,
            "turn_whole_p50_s": p50["turn"][False], "turn_abandoning_p50_s": p50["turn"][True],
            "follow_up_whole_p50_s": p50["follow_up"][False], "follow_up_abandoning_p50_s": p50["follow_up"][True],
            "abandoning_over_whole_turn": round(p50["turn"][True] / p50["turn"][False], 3),
            "abandoning_over_whole_follow_up": round(p50["follow_up"][True] / p50["follow_up"][False], 3),
            "tokens_whole": tokens[False], "tokens_abandoning": tokens[True], "replies_abandoned": abandoned,
            "cards": cards, "cards_whose_reasons_differ": differ, "cards_whose_fallback_differs": fallbacks_differ}


READ_S = 3.0  # the shopper reading an answer before sending the follow-up: five cards take longer than this


@register("prefetch", "The same first turns and \"cheaper\" follow-ups with and without prefetching it, "
                      "alternating: follow-up p50 sent after the shopper reads the answer and sent at once, over "
                      "the first turn's p50; replies reused; cards that differ")
def bench_prefetch(ctx: BenchContext) -> dict[str, Any]:
    """While the shopper reads an answer the chat decodes the follow-up it offers ("cheaper"); sent, that turn
    hands out the kept replies. Measured both ways a shopper sends it: after reading (READ_S) and at once (the
    prefetch gives way at its next decode step: what that costs). Each app's prefetch ends before the other app's
    turn is timed (they share the process's torch thread)."""
    from agent.conversation import Conversation

    apps = {False: _app(ctx, prefetch=[]), True: _app(ctx, prefetch=[FOLLOW_UP])}
    first: dict[bool, list[float]] = {False: [], True: []}
    after_reading: dict[bool, list[float]] = {False: [], True: []}
    at_once: dict[bool, list[float]] = {False: [], True: []}
    reused = calls = differ = cards = prefetch_unfinished = 0
    for i, user, order in _alternating(ctx, apps):
        message, shown = MESSAGES[i % len(MESSAGES)], {}
        for setting in order:
            app = apps[setting]
            conversation = Conversation(user_id=user)
            _timed_turn(app, message, user, conversation)
            at_once[setting].append(_timed_turn(app, FOLLOW_UP, user, conversation)["total_s"])
            conversation = Conversation(user_id=user)
            first[setting].append(_timed_turn(app, message, user, conversation)["total_s"])
            time.sleep(READ_S)
            prefetch_unfinished += not app.wait_for_prefetch(0)
            row = _timed_turn(app, FOLLOW_UP, user, conversation)
            after_reading[setting].append(row["total_s"])
            usage = row["answer"].llm_usage
            reused += int(usage.get("reused") or 0) if setting else 0
            calls += int(usage.get("calls") or 0) if setting else 0
            shown[setting] = [(r.item_id, r.reasons[0].text) for r in row["answer"].recommendations]
            app.wait_for_prefetch()  # the next timed turn is the other app's: this one's prefetch ends first
        differ += sum(a != b for a, b in zip(shown[False], shown[True]))
        cards += len(shown[False])
    p50 = {name: {s: round(statistics.median(v[s]), 3) for s in v}
           for name, v in (("first", first), ("after_reading", after_reading), ("at_once", at_once))}
    return {"turns": len(first[False]), "follow_up_message": FOLLOW_UP, "read_s": READ_S,
            "first_p50_s": p50["first"][True], "first_plain_p50_s": p50["first"][False],
            "follow_up_after_reading_p50_s": p50["after_reading"][True],
            "follow_up_after_reading_plain_p50_s": p50["after_reading"][False],
            "follow_up_after_reading_over_first": round(p50["after_reading"][True] / p50["first"][True], 3),
            "follow_up_at_once_p50_s": p50["at_once"][True], "follow_up_at_once_plain_p50_s": p50["at_once"][False],
            "prefetches_unfinished_after_reading": prefetch_unfinished, "replies_reused": reused, "replies": calls,
            "cards": cards, "cards_whose_reasons_differ": differ}


@register("adapter", "The same chat turns on the base model and with the reasons adapter (agent/train), "
                     "alternating: turn p50 and the share of cards whose reason the model wrote")
def bench_adapter(ctx: BenchContext) -> dict[str, Any]:
    """A LoRA adapter must not slow the chat down (it adds a low-rank product to each adapted layer) and should
    write more of the reasons shown. Skipped where no adapter has been trained."""
    from agent.conversation import Conversation

    path = ctx.settings.adapter or REASONS_ADAPTER
    if not (path / "adapter_config.json").exists():
        return {"skipped": f"no adapter at {path} (`whyrec train` makes it)"}
    # no prefetch: a guess decoding after one app's answer would share the CPU with the other app's turn
    apps = {"base": _app(ctx, adapter=None, prefetch=[]), "adapter": _app(ctx, adapter=path, prefetch=[])}
    times: dict[str, list[float]] = {s: [] for s in apps}
    explain: dict[str, list[float]] = {s: [] for s in apps}
    written: dict[str, int] = {s: 0 for s in apps}
    cards: dict[str, int] = {s: 0 for s in apps}
    tokens: dict[str, int] = {s: 0 for s in apps}
    # what a shopper reads: an answer whose every card says "…, as you asked" repeats its chips (v26), so count them
    asked: dict[str, int] = {s: 0 for s in apps}
    samples: dict[str, list[list[str]]] = {s: [] for s in apps}
    for i, user, order in _alternating(ctx, apps):
        for setting in order:
            message = MESSAGES[i % len(MESSAGES)]
            row = _timed_turn(apps[setting], message, user, Conversation(user_id=user))
            times[setting].append(row["total_s"])
            explain[setting].append(row["answer"].timings_ms.get("explain", 0.0) / 1000)
            tokens[setting] += int(row["completion_tokens"])
            shown = row["answer"].recommendations
            written[setting] += sum(not r.reasons[0].fallback for r in shown)
            asked[setting] += sum(ASKED in r.reasons[0].text for r in shown)
            cards[setting] += len(shown)
            if len(samples[setting]) < 3:
                samples[setting].append([message] + [r.reasons[0].text for r in shown])
    p50 = {s: round(statistics.median(v), 3) for s, v in times.items()}
    # where the difference is: the explain step (prefill + decode) and the tokens decoded per card
    return {"adapter": str(path), "turns": len(times["base"]), "turn_base_p50_s": p50["base"],
            "turn_adapter_p50_s": p50["adapter"], "adapter_over_base": round(p50["adapter"] / p50["base"], 3),
            **{f"explain_{s}_p50_s": round(statistics.median(explain[s]), 3) for s in apps},
            **{f"tokens_per_card_{s}": round(tokens[s] / cards[s], 1) if cards[s] else None for s in apps},
            **{f"model_written_{s}": round(written[s] / cards[s], 3) if cards[s] else None for s in apps},
            **{f"cards_saying_asked_per_answer_{s}": round(asked[s] / len(times[s]), 2) for s in apps},
            "cards": cards["base"], "samples": samples}


@register("guard", "The same chat turns with and without the copy guard (agent/copy_guard.py), on the reasons "
                   "adapter where one is trained, alternating: turn p50, cards whose reason the model wrote, cards "
                   "that differ")
def bench_guard(ctx: BenchContext) -> dict[str, Any]:
    """The guard looks through a few tokens whenever a value is being copied and feeds what every possible value goes
    on with in one pass: this measures what that costs or saves per turn, and how many cards it changed."""
    from agent.conversation import Conversation

    path = ctx.settings.adapter or REASONS_ADAPTER
    adapter = path if (path / "adapter_config.json").exists() else None
    apps = {False: _app(ctx, adapter=adapter, copy_guard=False, prefetch=[]),
            True: _app(ctx, adapter=adapter, copy_guard=True, prefetch=[])}
    times: dict[bool, list[float]] = {False: [], True: []}
    written: dict[bool, int] = {False: 0, True: 0}
    differ = cards = guarded = 0
    for i, user, order in _alternating(ctx, apps):
        shown = {}
        for setting in order:
            row = _timed_turn(apps[setting], MESSAGES[i % len(MESSAGES)], user, Conversation(user_id=user))
            times[setting].append(row["total_s"])
            shown[setting] = [(r.item_id, r.reasons[0].text) for r in row["answer"].recommendations]
            written[setting] += sum(not r.reasons[0].fallback for r in row["answer"].recommendations)
            guarded += int(row["answer"].llm_usage.get("guarded_tokens") or 0) if setting else 0
        differ += sum(a != b for a, b in zip(shown[False], shown[True]))
        cards += len(shown[False])
    p50 = {s: round(statistics.median(v), 3) for s, v in times.items()}
    return {"adapter": str(adapter) if adapter else None, "turns": len(times[False]),
            "turn_unguarded_p50_s": p50[False], "turn_guarded_p50_s": p50[True],
            "guarded_over_unguarded": round(p50[True] / p50[False], 3),
            "model_written_unguarded": round(written[False] / cards, 3) if cards else None,
            "model_written_guarded": round(written[True] / cards, 3) if cards else None,
            "tokens_guarded": guarded, "cards": cards, "cards_whose_reasons_differ": differ}


class _EndAt:
    """A `generate` logits processor: row i writes exactly lengths[i] tokens, then its end-of-text token."""

    def __init__(self, lengths: list[int], prompt_length: int, eos_id: int):
        self.lengths, self.prompt_length, self.eos_id = lengths, prompt_length, eos_id

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        written = input_ids.shape[1] - self.prompt_length
        for row, length in enumerate(self.lengths):
            if written >= length:
                scores[row, :] = float("-inf")
                scores[row, self.eos_id] = 0.0
            else:
                scores[row, self.eos_id] = float("-inf")
        return scores


def _forward_ms(lm: Any, batch: int, context: int = 300, steps: int = 10) -> float:
    """Median ms of one decode step (one new token per row) after a `context`-token prompt: the profile fact that
    makes batching pay (the cost barely grows with the rows on a CPU)."""
    import torch
    from transformers import DynamicCache

    ids = torch.randint(100, lm.model.config.vocab_size - 100, (batch, context), generator=torch.Generator().manual_seed(0))
    times = []
    with torch.inference_mode():
        cache = DynamicCache()
        lm.model(input_ids=ids.to(lm.device), past_key_values=cache, use_cache=True, logits_to_keep=1)
        step = ids[:, -1:].to(lm.device)
        for _ in range(steps):
            start = time.perf_counter()
            lm.model(input_ids=step, past_key_values=cache, use_cache=True)
            times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 1)


def _server_up(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(base_url.rstrip("/").removesuffix("/v1") + "/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@register("server_turn", "The same chat turns through a running vLLM server (WHYREC_OPENAI_*), if one answers")
def bench_server_turn(ctx: BenchContext) -> dict[str, Any]:
    if not _server_up(ctx.settings.openai_base_url):
        return {"skipped": f"no server answering at {ctx.settings.openai_base_url} (start one with `whyrec serve`)"}
    app = _app(ctx, backend="openai")
    return {"backend": "openai", "base_url": ctx.settings.openai_base_url, "model": ctx.settings.openai_model,
            **_summary(_turns(app, ctx.n_turns))}

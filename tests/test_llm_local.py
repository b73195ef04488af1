"""The local backend on the real converted SmolLM2-135M: schema-constrained JSON, streaming, LoRA adapters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from agent.llm import build_llm, describe
from agent.llm.convert import convert_gguf
from agent.llm.local import LocalChatModel
from agent.settings import Settings

pytestmark = pytest.mark.slow

GIFT_CARDS = {
    "type": "object",
    "properties": {
        "item_id": {"type": "string", "enum": ["B00PG40N7I", "B004LLIKVU", "B00A48G0D4"]},
        "reason": {"type": "string", "maxLength": 40},
    },
    "required": ["item_id", "reason"],
    "additionalProperties": False,
}
CLAIMS = {
    "type": "object",
    "properties": {
        "claims": {
            "type": "array", "minItems": 1, "maxItems": 2,
            "items": {
                "type": "object",
                "properties": {"handle": {"type": "string", "enum": ["a1", "a2", "h1"]},
                               "kind": {"type": "string", "enum": ["attribute", "history"]}},
                "required": ["handle", "kind"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["claims"],
    "additionalProperties": False,
}
RATING = {
    "type": "object",
    "properties": {"stars": {"type": "integer", "enum": [1, 2, 3, 4, 5]},
                   "mood": {"type": "string", "enum": ["happy", "neutral", "upset"]}},
    "required": ["stars", "mood"],
    "additionalProperties": False,
}
PROMPTS = [
    [SystemMessage("Answer in JSON."), HumanMessage("Pick the best gift card for a coffee lover: B00PG40N7I "
                                                    "(Starbucks), B004LLIKVU (Amazon), B00A48G0D4 (Visa).")],
    [HumanMessage("Which one would you recommend, and why? Reply with JSON.")],
]


def response_format(name: str, schema: dict) -> dict:
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}


@pytest.fixture(scope="module")
def model_dir() -> Path:
    # idempotent: instant when `whyrec setup` already ran, a one-time ~25 s conversion otherwise
    return convert_gguf(Settings().default_model_dir).model_dir


@pytest.fixture(scope="module")
def llm(model_dir: Path) -> LocalChatModel:
    return LocalChatModel(model_dir=model_dir, max_new_tokens=96)


def assert_obeys(schema: dict, value: object) -> None:
    """A tiny check of exactly what these schemas use: required keys, nothing extra, enums, array bounds."""
    if "enum" in schema:
        assert value in schema["enum"]
    elif schema["type"] == "object":
        assert isinstance(value, dict) and set(value) == set(schema["required"])
        for key, sub in schema["properties"].items():
            assert_obeys(sub, value[key])
    elif schema["type"] == "array":
        assert schema["minItems"] <= len(value) <= schema["maxItems"]
        for element in value:
            assert_obeys(schema["items"], element)
    elif schema["type"] == "string":
        assert isinstance(value, str) and len(value) <= schema.get("maxLength", len(value))


@pytest.mark.parametrize("name,schema", [("gift_card", GIFT_CARDS), ("claims", CLAIMS), ("rating", RATING)])
def test_constrained_reply_is_json_that_obeys_the_schema_every_time(llm: LocalChatModel, name: str,
                                                                    schema: dict) -> None:
    constrained = llm.bind(response_format=response_format(name, schema))
    for messages in PROMPTS:
        reply = constrained.invoke(messages)
        assert_obeys(schema, json.loads(reply.content))
        assert reply.response_metadata["finish_reason"] == "stop"
        assert reply.response_metadata["constrained"] is True
        usage = reply.usage_metadata
        assert usage["input_tokens"] > 10 and 0 < usage["output_tokens"] <= 96
        assert reply.response_metadata["timing"]["tokens_per_s"] > 0


def test_greedy_decoding_is_deterministic(llm: LocalChatModel) -> None:
    constrained = llm.bind(response_format=response_format("gift_card", GIFT_CARDS))
    assert constrained.invoke(PROMPTS[0]).content == constrained.invoke(PROMPTS[0]).content


def test_stream_yields_pieces_that_join_to_the_invoke_reply(llm: LocalChatModel) -> None:
    constrained = llm.bind(response_format=response_format("gift_card", GIFT_CARDS))
    chunks = list(constrained.stream(PROMPTS[0]))

    assert sum(1 for chunk in chunks if chunk.content) > 1
    assert "".join(chunk.content for chunk in chunks) == constrained.invoke(PROMPTS[0]).content
    merged = sum(chunks[1:], chunks[0])
    assert merged.usage_metadata["output_tokens"] >= sum(1 for chunk in chunks if chunk.content)
    assert merged.response_metadata["timing"]["first_token_s"] > 0


def test_max_tokens_cuts_the_reply_and_says_so(llm: LocalChatModel) -> None:
    reply = llm.bind(response_format=response_format("gift_card", GIFT_CARDS), max_tokens=3).invoke(PROMPTS[0])
    assert reply.usage_metadata["output_tokens"] == 3
    assert reply.response_metadata["finish_reason"] == "length"
    with pytest.raises(json.JSONDecodeError):  # the raw, cut text is returned as is: the chain counts it
        json.loads(reply.content)


def test_unconstrained_call_returns_free_text(llm: LocalChatModel) -> None:
    reply = llm.invoke(PROMPTS[0], max_tokens=12)
    assert reply.content and reply.response_metadata["constrained"] is False


def test_model_is_loaded_once_per_process(model_dir: Path, llm: LocalChatModel) -> None:
    twin = LocalChatModel(model_dir=model_dir, max_new_tokens=8)
    assert twin.loaded() is llm.loaded()


def test_models_first_used_from_many_threads_load_once_each_and_later_loads_work(model_dir: Path) -> None:
    """A grid's batch or eight chat sessions may all ask a cold model at once. Two `from_pretrained` calls in
    parallel once left torch's meta-device context behind, and every later load in the process failed."""
    from concurrent.futures import ThreadPoolExecutor

    from agent.llm.local import load_model

    keys = [(str(model_dir.resolve()), None, "cpu", "float32", q) for q in ("none", "int8", "none", "int8")]
    with ThreadPoolExecutor(4) as pool:
        loaded = list(pool.map(lambda key: load_model(*key), keys))
    assert loaded[0] is loaded[2] and loaded[1] is loaded[3] and loaded[0] is not loaded[1]
    reply = LocalChatModel(model_dir=model_dir, dtype="float32", quantize="int8",
                           max_new_tokens=8).invoke([HumanMessage("Hi")])
    assert reply.content.strip()


def test_build_llm_and_describe_from_settings(model_dir: Path) -> None:
    llm = build_llm(Settings(backend="local", model_dir=model_dir))
    assert isinstance(llm, LocalChatModel)
    assert describe(llm.bind(max_tokens=4)) == ("local", "SmolLM2-135M-Instruct", None)


def test_lora_adapter_is_applied_and_output_stays_valid_json(model_dir: Path, tmp_path: Path,
                                                             llm: LocalChatModel) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.bfloat16)
    # init_lora_weights=False: B is random too, so the adapter really changes the weights (default B = 0)
    config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], init_lora_weights=False,
                        task_type="CAUSAL_LM")
    get_peft_model(base, config).save_pretrained(tmp_path / "adapter")

    tuned = LocalChatModel(model_dir=model_dir, adapter=tmp_path / "adapter", max_new_tokens=96)
    layer = 0
    base_q = llm.loaded().model.model.layers[layer].self_attn.q_proj.weight
    tuned_q = tuned.loaded().model.model.layers[layer].self_attn.q_proj.weight
    assert not torch.equal(base_q, tuned_q)
    assert describe(tuned) == ("local", "SmolLM2-135M-Instruct", "adapter")

    reply = tuned.bind(response_format=response_format("rating", RATING)).invoke(PROMPTS[1])
    assert_obeys(RATING, json.loads(reply.content))


def candidate_prompt(title: str) -> list:
    """Prompts that differ only at the end, as the chain's per-candidate prompts do."""
    return [SystemMessage("Answer in JSON."),
            HumanMessage(f"A shopper wants a gift for a coffee lover.\nCandidate: {title}\nWhy does it fit?")]


def test_a_batch_answers_every_call_under_its_own_schema(llm: LocalChatModel) -> None:
    schemas = [GIFT_CARDS, CLAIMS, RATING]
    calls = [(candidate_prompt(t), {"response_format": response_format(f"s{n}", s)})
             for n, (t, s) in enumerate(zip(["Starbucks card", "Amazon card", "Visa card"], schemas))]
    replies = llm.generate_batch(calls)
    assert len(replies) == 3
    for schema, reply in zip(schemas, replies):
        assert_obeys(schema, json.loads(reply.content))
        assert reply.response_metadata["finish_reason"] == "stop"
        assert reply.response_metadata["shared_prefix_tokens"] > 20  # system text + the shopper's line, once


def test_a_batch_row_decodes_what_it_would_alone(llm: LocalChatModel) -> None:
    # Padding and a shared prefix must not leak between rows. bf16 sums can differ in the last bit between a
    # batch and a lone call, which may flip a near-tie, so most rows (not necessarily all) must match exactly.
    titles = ["Starbucks card", "Amazon eGift card", "Visa prepaid card", "Home Depot card"]
    fmt = {"response_format": response_format("claims", CLAIMS)}
    batch = llm.generate_batch([(candidate_prompt(t), fmt) for t in titles])
    alone = [llm.bind(**fmt).invoke(candidate_prompt(t)) for t in titles]
    assert sum(b.content == a.content for b, a in zip(batch, alone)) >= 3


def test_a_row_the_caller_abandons_ends_there_and_the_others_decode_as_before(llm: LocalChatModel) -> None:
    titles = ["Starbucks card", "Amazon eGift card", "Visa prepaid card"]
    fmt = {"response_format": response_format("claims", CLAIMS)}
    whole = llm.generate_batch([(candidate_prompt(t), fmt) for t in titles])
    seen: list[str] = []

    def after_ten_characters(text: str) -> bool:
        seen.append(text)
        return len(text) >= 10

    cut = llm.generate_batch([(candidate_prompt(titles[0]), {**fmt, "abandon_if": after_ten_characters})]
                             + [(candidate_prompt(t), fmt) for t in titles[1:]])
    assert cut[0].response_metadata["finish_reason"] == "abandoned"
    assert len(cut[0].content) >= 10 and whole[0].content.startswith(cut[0].content) and cut[0].content == seen[-1]
    assert cut[0].usage_metadata["output_tokens"] < whole[0].usage_metadata["output_tokens"]
    assert [r.content for r in cut[1:]] == [r.content for r in whole[1:]]


def test_speculation_changes_the_number_of_passes_not_the_text(model_dir: Path, llm: LocalChatModel) -> None:
    # Guessed tokens are kept only where the model's own greedy choice agrees, so the text is what plain decoding
    # writes; a wider block's rounding may tip a near-tie in bf16, as in the batch test above.
    speculating = LocalChatModel(model_dir=model_dir, max_new_tokens=96, speculate=4)
    titles = ["Starbucks card", "Amazon eGift card", "Visa prepaid card", "Home Depot card"]
    fmt = {"response_format": response_format("gift_card", GIFT_CARDS)}
    plain = llm.generate_batch([(candidate_prompt(t), fmt) for t in titles])
    guessed = speculating.generate_batch([(candidate_prompt(t), fmt) for t in titles])
    assert sum(g.content == p.content for g, p in zip(guessed, plain)) >= 3
    meta = [g.response_metadata for g in guessed]
    assert sum(m["guessed_kept"] for m in meta) > 0  # the item ids and titles it copies were guessed right
    assert all(0 <= m["guessed_kept"] <= m["guessed_tokens"] for m in meta)
    assert all(p.response_metadata["guessed_tokens"] == 0 for p in plain)


def test_the_cached_system_prompt_never_changes_an_answer(llm: LocalChatModel) -> None:
    constrained = llm.bind(response_format=response_format("gift_card", GIFT_CARDS))
    llm.loaded().prefix.clear()  # cold: the system prompt is prefilled in this call
    cold = constrained.invoke(PROMPTS[0]).content
    assert llm.loaded().prefix.entries  # ... and kept
    assert constrained.invoke(PROMPTS[0]).content == cold  # warm: copied from the cache, same answer


def test_a_message_shared_across_turns_is_prefilled_once_and_never_changes_an_answer(llm: LocalChatModel) -> None:
    history = HumanMessage("Past items: <data>h1: Starbucks card (rated 5)</data>")

    def turn(request: str) -> list:
        return [SystemMessage("Answer in JSON."), history, HumanMessage(request)]

    constrained = llm.bind(response_format=response_format("gift_card", GIFT_CARDS))
    lm = llm.loaded()
    lm.prefix.clear()
    cold = constrained.invoke(turn("cheaper please")).content
    lm.prefix.clear()
    constrained.invoke(turn("a gift card for a coffee lover"))
    kept = {len(ids) for ids in lm.prefix.entries}
    assert len(kept) == 2  # the system message, and system + history: the follow-up starts from the latter
    assert constrained.invoke(turn("cheaper please")).content == cold


def test_a_batch_streams_each_call_as_its_own_run(llm: LocalChatModel) -> None:
    from langchain_core.callbacks import BaseCallbackHandler

    class Counter(BaseCallbackHandler):
        def __init__(self):
            self.tokens: dict = {}

        def on_llm_new_token(self, token, *, run_id, **kwargs):
            self.tokens[run_id] = self.tokens.get(run_id, "") + token

    counter = Counter()
    fmt = {"response_format": response_format("rating", RATING)}
    replies = llm.generate_batch([(candidate_prompt(t), fmt) for t in ("A", "B")], {"callbacks": [counter]})
    assert sorted(counter.tokens.values()) == sorted(r.content for r in replies)


def test_a_prefetched_batch_is_handed_out_once_to_the_same_prompts_and_a_cancelled_one_is_never_kept(
        model_dir: Path) -> None:
    import threading

    from agent.llm.prefetch import CONFIG_KEY, Prefetch

    llm = LocalChatModel(model_dir=model_dir, max_new_tokens=96)  # its own cache of kept replies
    fmt = {"response_format": response_format("claims", CLAIMS)}
    calls = [(candidate_prompt(t), fmt) for t in ["Starbucks card", "Amazon eGift card"]]
    ahead = llm.generate_batch(calls, {"configurable": {CONFIG_KEY: Prefetch()}})
    assert len(llm._kept) == 2 and not any(r.response_metadata.get("reused") for r in ahead)
    later = llm.generate_batch(calls)  # the turn the shopper sends: the same prompts
    assert [r.content for r in later] == [r.content for r in ahead]
    assert all(r.response_metadata["reused"] and r.response_metadata["timing"]["total_s"] == 0.0 for r in later)
    assert [r.usage_metadata for r in later] == [r.usage_metadata for r in ahead]
    assert len(llm._kept) == 0  # handed out once
    again = llm.generate_batch(calls)
    assert not any(r.response_metadata.get("reused") for r in again)
    assert [r.content for r in again] == [r.content for r in ahead]  # decoding it anew gives the same reply

    stopped = Prefetch(cancel=threading.Event())
    stopped.cancel.set()  # a real turn came first
    cancelled = llm.generate_batch(calls, {"configurable": {CONFIG_KEY: stopped}})
    assert {r.response_metadata["finish_reason"] for r in cancelled} == {"cancelled"}
    assert len(llm._kept) == 0


def test_a_reply_is_held_to_the_json_its_adapter_was_taught(llm: LocalChatModel) -> None:
    """The reasons adapter's targets are compact JSON ('{"claims":["h6","a2"],"text":…'), tokenized whole: '","'
    and '"]' are single tokens there. The grammar writes the same separators, and never forces a handle's closing
    quote alone (a token split v15 never saw, after which it cited a third handle, or one twice): the model picks
    '","' or '"]' itself."""
    from agent.llm.grammar import GrammarCache, TokenConstraint

    lm = llm.loaded()
    tokenizer = lm.tokenizer
    schema = {"type": "object", "properties": {
        "claims": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "string", "enum": ["a1", "h6"]}},
        "text": {"type": "string", "maxLength": 40}}, "required": ["claims", "text"], "additionalProperties": False}
    constraint = TokenConstraint(GrammarCache(tokenizer, lm.model.config.vocab_size, lm.stop_token_ids)
                                 .compile(response_format("reply", schema)), lm.model.config.vocab_size)
    assert tokenizer.decode(constraint.jump_forward(tokenizer, 32)) == '{"claims":["'
    for token in tokenizer.encode("h", add_special_tokens=False):
        constraint.accept(token)
    assert tokenizer.decode(constraint.jump_forward(tokenizer, 32)) == "6"  # not '6"'
    taught = tokenizer.encode('","', add_special_tokens=False)
    assert len(taught) == 1
    constraint.accept(taught[0])  # allowed: the grammar held the quote back
    for token in tokenizer.encode('a1"]', add_special_tokens=False):
        constraint.accept(token)
    assert tokenizer.decode(constraint.jump_forward(tokenizer, 32)) == ',"text":"'

"""In-process backend: transformers + optional peft LoRA + xgrammar, as a LangChain chat model.

Greedy decoding in a hand-written loop over the KV cache rather than `generate`: it streams token by token
without a helper thread, applies the grammar mask directly, and reports prefill and decode time separately
(prefill of a long prompt is what a 2 s chat turn is spent on).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

ROLES = {"system": "system", "human": "user", "ai": "assistant", "tool": "tool"}


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    device: str
    stop_token_ids: list[int]
    grammars: Any  # GrammarCache, built on first constrained call
    lock: threading.Lock  # one generation at a time: two would only fight over the same cores


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@functools.lru_cache(maxsize=4)
def load_model(model_dir: str, adapter: str | None, device: str, dtype: str) -> LoadedModel:
    """Load once per process per (model, adapter, device, dtype); every LocalChatModel with these shares it."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if not (Path(model_dir) / "config.json").is_file():
        raise FileNotFoundError(f"no model at {model_dir}; run `whyrec setup` to convert the shipped SmolLM2")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=getattr(torch, dtype)).to(device)
    if adapter is not None:
        from peft import PeftModel

        # merged into the base weights: same outputs, no per-layer LoRA matmuls on every decoded token
        model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    model.eval()
    stop_ids = {tokenizer.eos_token_id, *_as_list(model.generation_config.eos_token_id)}
    return LoadedModel(model, tokenizer, device, sorted(i for i in stop_ids if i is not None), None, threading.Lock())


def _as_list(value: int | list[int] | None) -> list[int]:
    if value is None:
        return []
    return [value] if isinstance(value, int) else list(value)


class LocalChatModel(BaseChatModel):
    """SmolLM2 (or any local causal LM with a chat template) run in this process, greedy and deterministic.

    `.bind(response_format={"type": "json_schema", "json_schema": {"name": ..., "schema": {...}}})` constrains
    the output to the schema; the reply's `content` is the raw JSON text. `max_tokens` may be bound per call.
    """

    model_dir: Path = Field(description="folder of a transformers causal LM (safetensors + tokenizer)")
    adapter: Path | None = Field(None, description="peft LoRA adapter folder, merged at load")
    device: str = Field("auto", description="auto | cpu | cuda")
    dtype: str = Field("bfloat16", description="torch dtype name; bf16 is fastest on these CPUs")
    max_new_tokens: int = Field(320, description="default cap on generated tokens")

    @property
    def _llm_type(self) -> str:
        return "whyrec-local"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_dir": str(self.model_dir), "adapter": str(self.adapter) if self.adapter else None,
                "device": self.device, "dtype": self.dtype, "max_new_tokens": self.max_new_tokens}

    @property
    def model_name(self) -> str:
        return self.model_dir.name

    def loaded(self) -> LoadedModel:
        return load_model(str(self.model_dir.resolve()), str(self.adapter.resolve()) if self.adapter else None,
                          resolve_device(self.device), self.dtype)

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        text, metadata = "", {}
        for piece, final in self._decode(messages, stop, **kwargs):
            text += piece
            metadata = final or metadata
        message = AIMessage(content=text, response_metadata=metadata["response_metadata"],
                            usage_metadata=metadata["usage_metadata"])
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None,
                run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        for piece, final in self._decode(messages, stop, **kwargs):
            if final:
                chunk = AIMessageChunk(content=piece, response_metadata=final["response_metadata"],
                                       usage_metadata=final["usage_metadata"], chunk_position="last")
            else:
                chunk = AIMessageChunk(content=piece)
            if run_manager and piece:
                run_manager.on_llm_new_token(piece, chunk=ChatGenerationChunk(message=chunk))
            yield ChatGenerationChunk(message=chunk)

    def _decode(self, messages: list[BaseMessage], stop: list[str] | None, *,
                response_format: dict[str, Any] | None = None, max_tokens: int | None = None,
                **_openai_only: Any) -> Iterator[tuple[str, dict[str, Any] | None]]:
        """Yield (new text, None) as tokens are decoded, then ("", metadata) once at the end.

        Options only a server understands (temperature, ...) are ignored: local decoding is always greedy.
        """
        import torch

        from agent.llm.grammar import GrammarCache, TokenConstraint

        lm = self.loaded()
        chat = [{"role": ROLES.get(m.type, m.type), "content": m.text} for m in messages]
        prompt = lm.tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
        prompt_ids = lm.tokenizer(prompt, add_special_tokens=False).input_ids
        text, generated = "", []

        with lm.lock, torch.inference_mode():
            stats = DecodeStats()  # timed from here: grammar compile counts, waiting for the lock does not
            constraint = None
            if response_format is not None:
                if lm.grammars is None:
                    lm.grammars = GrammarCache(lm.tokenizer, lm.model.config.vocab_size, lm.stop_token_ids)
                constraint = TokenConstraint(lm.grammars.compile(response_format), lm.grammars.vocab_size)

            for new_ids in greedy_steps(lm, prompt_ids, constraint, max_tokens or self.max_new_tokens, stats):
                generated += new_ids
                # decode the whole tail so a character split over two tokens comes out whole
                full = lm.tokenizer.decode(generated, skip_special_tokens=True)
                if full.endswith("\ufffd"):
                    continue
                cut = min((full.find(s) for s in stop or [] if s in full), default=-1)
                if cut >= 0:  # a caller's stop string: end before it (what was already streamed stays)
                    yield full[len(text):cut], None
                    text, stats.finish_reason = full[:cut], "stop"
                    break
                yield full[len(text):], None
                text = full

        yield "", stats.metadata(self.model_name, len(prompt_ids), len(generated), constraint is not None)


@dataclass
class DecodeStats:
    start: float = field(default_factory=time.perf_counter)
    first_token_s: float | None = None
    tokens_by_first: int = 0  # output tokens known after the first forward pass (forced prefix + first token)
    forced_tokens: int = 0  # tokens the grammar dictated (jump-forward), fed in without a decode step each
    finish_reason: str = "length"

    def metadata(self, model_name: str, prompt_tokens: int, completion_tokens: int,
                 constrained: bool) -> dict[str, Any]:
        total_s = time.perf_counter() - self.start
        decode_s = total_s - (self.first_token_s or 0.0)
        # output tokens after the first forward pass over the time after it: the output rate, free of prefill
        after_first = completion_tokens - self.tokens_by_first
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                 "total_tokens": prompt_tokens + completion_tokens}
        return {
            "usage_metadata": {"input_tokens": prompt_tokens, "output_tokens": completion_tokens,
                               "total_tokens": usage["total_tokens"]},
            "response_metadata": {
                "model_name": model_name, "model_provider": "whyrec-local", "finish_reason": self.finish_reason,
                "token_usage": usage, "constrained": constrained, "forced_tokens": self.forced_tokens,
                "timing": {"first_token_s": self.first_token_s, "total_s": total_s,
                           "tokens_per_s": after_first / decode_s if after_first > 0 and decode_s > 0 else None},
            },
        }


def greedy_steps(lm: LoadedModel, prompt_ids: list[int], constraint: Any, limit: int,
                 stats: DecodeStats) -> Iterator[list[int]]:
    """Greedy decoding over the KV cache; yields the token ids each step adds (the chosen token plus any text
    the grammar forces after it). Ends at a stop token, at `limit` tokens, or when the grammar is complete."""
    import torch

    produced, step = 0, list(prompt_ids)
    if constraint is not None:
        prefix = constraint.jump_forward(lm.tokenizer, limit)  # e.g. '{"recommendations": [{"item_id": "'
        stats.forced_tokens, produced, step = len(prefix), len(prefix), step + prefix
        if prefix:
            yield prefix
    cache = None
    while produced < limit:
        out = lm.model(input_ids=torch.tensor([step], device=lm.device), past_key_values=cache, use_cache=True)
        cache = out.past_key_values
        logits = out.logits[:, -1, :].float()
        if constraint is not None:
            constraint.mask_(logits)
        token = int(logits.argmax(dim=-1))
        if stats.first_token_s is None:
            stats.first_token_s, stats.tokens_by_first = time.perf_counter() - stats.start, produced + 1
        if token in lm.stop_token_ids:
            stats.finish_reason = "stop"
            return
        step = [token]
        if constraint is not None:
            constraint.accept(token)
            forced = constraint.jump_forward(lm.tokenizer, limit - produced - 1)
            stats.forced_tokens += len(forced)
            step += forced
        produced += len(step)
        yield step
        if constraint is not None and constraint.only_stop_allowed():
            stats.finish_reason = "stop"  # the JSON is closed: skip the forward pass that would pick <|im_end|>
            return

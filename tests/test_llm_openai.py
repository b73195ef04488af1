"""The openai backend sends our json_schema as `response_format` and hands back the raw reply text.

A narrow unit test against a canned OpenAI-compatible endpoint (stdlib http.server on 127.0.0.1); the contract
test against a real vLLM server lives with the server tests.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from agent.llm import build_llm, describe
from agent.settings import Settings

pytestmark = pytest.mark.fast  # a canned HTTP server, no model

SCHEMA = {
    "type": "object",
    "properties": {"item_id": {"type": "string", "enum": ["B001", "B002"]}},
    "required": ["item_id"],
    "additionalProperties": False,
}
RESPONSE_FORMAT = {"type": "json_schema", "json_schema": {"name": "pick", "schema": SCHEMA, "strict": True}}
REPLY = '{"item_id": "B002"}'


class CannedServer:
    """Records each request body; answers like vLLM (plain JSON, or SSE chunks when `stream` is set)."""

    def __init__(self, finish_reason: str = "stop") -> None:
        self.requests: list[dict] = []
        self.finish_reason = finish_reason
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                if body.get("stream"):
                    self._send("text/event-stream", server.sse(body))
                else:
                    self._send("application/json", json.dumps(server.completion(body)).encode())

            def _send(self, content_type: str, data: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def completion(self, body: dict) -> dict:
        return {
            "id": "cmpl-1", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": self.finish_reason,
                         "message": {"role": "assistant", "content": REPLY}}],
            "usage": {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49},
        }

    def sse(self, body: dict) -> bytes:
        def chunk(delta: dict, finish: str | None = None, usage: dict | None = None) -> str:
            choices = [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish}]
            event = {"id": "cmpl-1", "object": "chat.completion.chunk", "created": 0, "model": body["model"],
                     "choices": choices, "usage": usage}
            return f"data: {json.dumps(event)}\n\n"

        pieces = [REPLY[:8], REPLY[8:]]
        events = [chunk({"role": "assistant", "content": ""})]
        events += [chunk({"content": piece}) for piece in pieces]
        events += [chunk({}, finish=self.finish_reason),
                   chunk({}, usage={"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49}),
                   "data: [DONE]\n\n"]
        return "".join(events).encode()

    def __enter__(self) -> CannedServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[CannedServer]:
    with CannedServer() as running:
        yield running


def openai_settings(url: str) -> Settings:
    return Settings(backend="openai", openai_base_url=url, openai_model="whyrec-lora", max_new_tokens=99)


MESSAGES = [SystemMessage("Pick one item."), HumanMessage("Which gift card?")]


def test_invoke_sends_our_json_schema_as_response_format_and_returns_raw_text(server: CannedServer) -> None:
    llm = build_llm(openai_settings(server.url))
    reply = llm.bind(response_format=RESPONSE_FORMAT).invoke(MESSAGES)

    body = server.requests[-1]
    assert body["response_format"] == RESPONSE_FORMAT
    assert "guided_json" not in body  # vLLM >= 0.12 ignores it silently
    assert body["model"] == "whyrec-lora"  # a LoRA module name is just the model name
    assert body["temperature"] == 0
    assert body["max_completion_tokens"] == 99
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert reply.content == REPLY
    assert reply.usage_metadata["input_tokens"] == 42 and reply.usage_metadata["output_tokens"] == 7
    assert reply.response_metadata["timing"]["total_s"] > 0


def test_a_server_never_gets_the_local_only_abandon_option(server: CannedServer) -> None:
    from agent.llm import invoke_all

    replies = invoke_all(build_llm(openai_settings(server.url)),
                         [(MESSAGES, {"response_format": RESPONSE_FORMAT, "abandon_if": lambda text: True})])
    assert replies[0].content == REPLY  # decoded whole, by the server
    assert "abandon_if" not in server.requests[-1] and server.requests[-1]["response_format"] == RESPONSE_FORMAT


def test_stream_sends_response_format_and_chunks_concatenate_to_the_reply(server: CannedServer) -> None:
    llm = build_llm(openai_settings(server.url)).bind(response_format=RESPONSE_FORMAT)
    chunks = list(llm.stream(MESSAGES))

    body = server.requests[-1]
    assert body["stream"] is True and body["response_format"] == RESPONSE_FORMAT
    assert sum(1 for c in chunks if c.content) == 2
    merged = sum(chunks[1:], chunks[0])
    assert merged.content == REPLY
    assert merged.usage_metadata["output_tokens"] == 7
    assert merged.response_metadata["timing"]["first_token_s"] is not None


def test_truncated_reply_still_comes_back_as_raw_text() -> None:
    """The SDK's parse helper raises on finish_reason=length; the chain must see the cut JSON to count it."""
    with CannedServer(finish_reason="length") as server:
        reply = build_llm(openai_settings(server.url)).bind(response_format=RESPONSE_FORMAT).invoke(MESSAGES)
    assert reply.content == REPLY
    assert reply.response_metadata["finish_reason"] == "length"


def test_describe_names_backend_and_model_through_bind(server: CannedServer) -> None:
    llm = build_llm(openai_settings(server.url))
    assert describe(llm.bind(response_format=RESPONSE_FORMAT)) == ("openai", "whyrec-lora", None)

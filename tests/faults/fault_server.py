"""A fault injector that speaks just enough of the OpenAI chat-completions API to misbehave on purpose.

Not a stand-in for vLLM (the real server has its own tests): each mode is one way a real server or the network
fails, so the chain's handling of it can be tested on 127.0.0.1 in milliseconds.

    ok         a schema-valid reply built from the request's own schema (so the happy path is known to work)
    prose      HTTP 200 with chatty prose instead of JSON (a server that ignored response_format)
    truncated  JSON cut off mid-string, finish_reason "length"
    lies       valid JSON that ignores the schema: an unknown key, unknown handles, a made-up price in the text
    slow       sleeps `delay_s` before answering (longer than the client's timeout)
    kill       sends the headers and part of the body (or of the SSE stream), then drops the connection
"""

from __future__ import annotations

import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PROSE = ("Sure! Here are some wonderful gift ideas for you. The first card is perfect for birthdays and it is "
         "totally free today. Let me know if you need anything else!")
LIE_TEXT = "Costs only $0.01 and is made by Starbucks, as you asked."


def free_port() -> int:
    """A port nothing listens on (bound, read and released), for the 'server is down' case."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reply_for(mode: str, body: dict) -> str:
    """One candidate's reason (the chain asks once per candidate, under that candidate's schema)."""
    schema = (body.get("response_format") or {}).get("json_schema", {}).get("schema", {})
    if mode == "prose":
        return PROSE
    if mode == "truncated":
        return '{"claims": ["a1"], "text": "A lovely card that'
    if mode == "lies":
        return json.dumps({"claims": ["a99", "h42", "r7"], "text": LIE_TEXT, "item_id": "C99"})
    # ok: the first handle the candidate may cite, and a sentence of the words the prompt shows for it
    # ("  a1: comes from Starbucks")
    handle = schema["properties"]["claims"]["items"]["enum"][0]
    prompt = str((body.get("messages") or [{}])[-1].get("content", ""))
    said = re.search(rf"^\s*{handle}: (.*?)(?:</data>)?$", prompt, re.M)
    return json.dumps({"claims": [handle], "text": f"A good match: it {said.group(1) if said else 'fits'}."})


class FaultServer:
    """`with FaultServer("slow", delay_s=10) as server: settings.openai_base_url = server.url`."""

    def __init__(self, mode: str = "ok", delay_s: float = 30.0):
        self.mode = mode
        self.delay_s = delay_s
        self.requests: list[dict] = []
        self.stopping = threading.Event()
        fault = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802  /v1/models, for clients that probe
                self._send(200, "application/json", json.dumps({"data": [{"id": "whyrec"}]}).encode())

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                body.update(body.pop("extra_body", None) or {})
                fault.requests.append(body)
                if fault.mode == "slow" and fault.stopping.wait(fault.delay_s):
                    return
                content = reply_for(fault.mode, body)
                if body.get("stream"):
                    data = fault.sse(body, content)
                    if fault.mode == "kill":
                        return self._drop(200, "text/event-stream", data[: len(data) // 3])
                    return self._send(200, "text/event-stream", data)
                finish = "length" if fault.mode == "truncated" else "stop"
                data = json.dumps(completion(body, content, finish)).encode()
                if fault.mode == "kill":
                    return self._drop(200, "application/json", data, cut=len(data) // 2)
                self._send(200, "application/json", data)

            def _send(self, status: int, content_type: str, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _drop(self, status: int, content_type: str, data: bytes, cut: int | None = None) -> None:
                """Promise the whole body, send part of it, then close the socket: a server killed mid-reply."""
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                if cut is not None:
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[:cut] if cut is not None else data)
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.connection.close()
                self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @staticmethod
    def sse(body: dict, content: str) -> bytes:
        def event(delta: dict, finish: str | None = None) -> str:
            chunk = {"id": "f-1", "object": "chat.completion.chunk", "created": 0, "model": body.get("model", ""),
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            return f"data: {json.dumps(chunk)}\n\n"

        pieces = [content[i:i + 12] for i in range(0, len(content), 12)]
        out = [event({"role": "assistant", "content": ""})] + [event({"content": p}) for p in pieces]
        out += [event({}, "stop"), "data: [DONE]\n\n"]
        return "".join(out).encode()

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def completion(body: dict, content: str, finish: str) -> dict:
    return {"id": "f-1", "object": "chat.completion", "created": 0, "model": body.get("model", ""),
            "choices": [{"index": 0, "finish_reason": finish, "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}}

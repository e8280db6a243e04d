"""A real HTTP server that answers OpenAI-style requests from a script, for retry tests.

It speaks HTTP on a local port, so the openai client, its timeouts and connection handling
run for real; only the replies (statuses, delays, bodies) are made up.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


def chat_reply(text: str = "I argue for A.", prompt_tokens: int = 7) -> Reply:
    return Reply(
        body={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": 3,
                "total_tokens": prompt_tokens + 3,
            },
        }
    )


def logprobs_reply(first: tuple[str, float], top: list[tuple[str, float]]) -> Reply:
    def entry(token: str, lp: float) -> dict[str, Any]:
        return {"token": token, "logprob": lp, "bytes": None}

    content = [{**entry(*first), "top_logprobs": [entry(t, lp) for t, lp in top]}]
    reply = chat_reply(first[0])
    assert reply.body is not None
    reply.body["choices"][0]["logprobs"] = {"content": content}
    return reply


def error_reply(status: int, message: str = "scripted error", **headers: str) -> Reply:
    return Reply(
        status=status, body={"error": {"message": message, "code": status}}, headers=headers
    )


class ScriptedServer:
    """Answers the n-th POST with ``script(n, body)`` (a list is replayed, its last reply kept).

    ``GET /v1/models`` lists ``models`` (as vLLM does, with ``max_model_len``) when given, and
    is a 404 otherwise, as on servers that list none."""

    def __init__(
        self,
        script: list[Reply] | Callable[[int, dict[str, Any]], Reply],
        *,
        models: list[dict[str, Any]] | None = None,
    ) -> None:
        self.script = script
        self.models = models
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with outer._lock:
                    n = len(outer.seen)
                    outer.seen.append(
                        Seen(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                reply = outer._reply(n, body)
                time.sleep(reply.delay_s)
                payload = json.dumps(reply.body or {}).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(payload)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client timed out
                    pass

            def do_GET(self) -> None:
                listed = outer.models is not None and self.path.rstrip("/") == "/v1/models"
                body = {"object": "list", "data": outer.models} if listed else {"error": "no"}
                payload = json.dumps(body).encode()
                self.send_response(200 if listed else 404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _reply(self, n: int, body: dict[str, Any]) -> Reply:
        if callable(self.script):
            return self.script(n, body)
        return self.script[min(n, len(self.script) - 1)]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

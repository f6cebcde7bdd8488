"""A fault-injecting OpenAI-compatible chat server on 127.0.0.1, for the rephrase tests.

Real HTTP (http.server in a thread), so the real openai client and curate's retry loop run
unchanged. The document inside each prompt (the text after the last "Passage:\n") decides
what happens, so outcomes do not depend on the order concurrent requests arrive in. Markers:

    [[429x2]]        the first 2 requests for this chunk get 429 (no Retry-After), then a normal answer
    [[429rax1]]      the first one gets 429 with Retry-After: 1
    [[500x1]] [[503x2]]   the first N get that 5xx status
    [[slowx1]]       the first one waits `slow_s` before answering (past the client's timeout)
    [[malformedx1]]  the first one gets a 200 with a broken JSON body
    [[always500]]    every request gets 500
    [[delay0.3]]     every answer waits 0.3 s (later documents finish first)
    [[length]] [[echo]] [[refuse]] [[empty]]   a finish_reason=length / echoing / refusing / empty answer

A normal answer is the chunk's words in reverse order (a "rewrite" sharing no 4-gram with the
source), with usage prompt_tokens = words in the prompt, completion_tokens = words in the answer.
`die_after=N`: after N requests the server stops listening and drops every open request.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MARKER = re.compile(r"\[\[([a-z0-9]+?)(?:x(\d+))?\]\]")
DELAY = re.compile(r"\[\[delay([0-9.]+)\]\]")


def document_of(prompt: str) -> str:
    return prompt.rsplit("Passage:\n", 1)[-1]


def reverse_words(text: str) -> str:
    return " ".join(reversed(text.split()))


class FaultServer:
    def __init__(self, api_key: str | None = None, die_after: int | None = None, slow_s: float = 2.0,
                 model: str = "fault-model"):
        self.api_key, self.die_after, self.slow_s, self.model = api_key, die_after, slow_s, model
        self.requests = 0  # chat requests received (every attempt)
        self.answered = 0  # chat requests answered 200 with a well-formed completion
        self.answered_docs: set[str] = set()
        self.seen: Counter[str] = Counter()  # requests per document chunk
        self.times: dict[str, list[float]] = {}  # when each request for a chunk arrived
        self.done_at: dict[str, float] = {}  # when the chunk's last answer was sent
        self.auth_headers: set[str] = set()
        self.dead = False
        self._lock = threading.Lock()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._http.daemon_threads = True
        self.port = self._http.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "FaultServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        if not self.dead:
            self.dead = True
            threading.Thread(target=self._shutdown, daemon=True).start()
        self._thread.join(timeout=10)

    def _shutdown(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    # --- request handling --------------------------------------------------------------------
    def _decide(self, prompt: str) -> tuple[int, dict, bytes, float]:
        """(status, headers, body, delay) for one chat request."""
        doc = document_of(prompt)
        with self._lock:
            self.requests += 1
            self.seen[doc] += 1
            self.times.setdefault(doc, []).append(time.monotonic())
            attempt = self.seen[doc]
            if self.die_after is not None and self.requests > self.die_after:
                self.stop()
                return 0, {}, b"", 0.0
        delay = float(m.group(1)) if (m := DELAY.search(doc)) else 0.0
        for name, count in MARKER.findall(doc):
            limit = int(count) if count else 0
            if name == "always500":
                return 500, {}, b'{"error": {"message": "always failing"}}', 0.0
            if limit and attempt <= limit:
                if name in ("429", "500", "503"):
                    return int(name), {}, b'{"error": {"message": "injected"}}', 0.0
                if name == "429ra":
                    return 429, {"Retry-After": "1"}, b'{"error": {"message": "slow down"}}', 0.0
                if name == "slow":
                    delay = max(delay, self.slow_s)
                if name == "malformed":
                    return 200, {}, b'{"id": "x", "choices": [{"index": 0, "mess', delay
        finish, answer = "stop", reverse_words(doc)
        if "[[length]]" in doc:
            finish = "length"
        elif "[[echo]]" in doc:
            answer = doc
        elif "[[refuse]]" in doc:
            answer = "I'm sorry, but I can't help with rewriting this text."
        elif "[[empty]]" in doc:
            answer = ""
        body = {"id": f"chatcmpl-{attempt}", "object": "chat.completion", "created": 0, "model": self.model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": finish}],
                "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": len(answer.split()),
                          "total_tokens": len(prompt.split()) + len(answer.split())}}
        return 200, {}, json.dumps(body).encode(), delay

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, status: int, body: bytes, headers: dict | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def _authorised(self) -> bool:
                header = self.headers.get("Authorization", "")
                server.auth_headers.add(header)
                if server.api_key and header != f"Bearer {server.api_key}":
                    self._send(401, b'{"error": {"message": "bad key"}}')
                    return False
                return True

            def do_GET(self):
                if server.dead:
                    return
                if not self._authorised():
                    return
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, json.dumps({"object": "list", "data": [{"id": server.model, "object": "model"}]}).encode())
                else:
                    self._send(404, b'{"error": {"message": "not found"}}')

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                payload = json.loads(self.rfile.read(length) or b"{}")
                if server.dead or not self._authorised():
                    return
                prompt = payload["messages"][-1]["content"]
                status, headers, body, delay = server._decide(prompt)
                if delay:
                    time.sleep(delay)
                if status == 0 or server.dead:
                    return  # crashed: the connection closes without an answer
                try:
                    self._send(status, body, headers)
                    if status == 200 and body.endswith(b"}"):
                        with server._lock:
                            server.answered += 1
                            server.answered_docs.add(document_of(prompt))
                            server.done_at[document_of(prompt)] = time.monotonic()
                except OSError:
                    pass  # the client gave up (timeout)

        return Handler

"""``python -m skeletonllm.teacherbench``: requests/s of the OpenAI-compatible teacher against a stub
chat endpoint on loopback that answers after a fixed latency (a stand-in for a model server), one
request at a time (the baseline, as the teacher worked before) beside ``--concurrency`` at once.

The stub (:func:`stub_server`) is also what the tests use: it counts requests and the most in flight,
and can fail the first requests with a given status to exercise the retries.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class StubState:
    def __init__(self, latency: float, fail_first: int = 0, fail_status: int = 503, text="ok"):
        self.latency, self.fail_first, self.fail_status, self.text = (
            latency,
            fail_first,
            fail_status,
            text,
        )
        self.lock = threading.Lock()
        self.requests = self.in_flight = self.max_in_flight = 0
        self.bodies: list[dict] = []


def stub_server(latency: float = 0.05, **kw) -> tuple[ThreadingHTTPServer, StubState, str]:
    """A started chat-completions stub on 127.0.0.1 (a free port); returns (server, state, base_url).
    Call ``server.shutdown(); server.server_close()`` when done."""
    state = StubState(latency, **kw)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real endpoints do

        def log_message(self, *a):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with state.lock:
                state.requests += 1
                n = state.requests
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
                state.bodies.append(body)
            try:
                time.sleep(state.latency)
                if n <= state.fail_first:
                    self._send(state.fail_status, {"error": "busy"}, {"Retry-After": "0"})
                    return
                label = body["messages"][0]["content"][0]["text"].split("'")[1]
                doc = {"choices": [{"message": {"content": f"{state.text} {label}"}}]}
                self._send(200, doc)
            finally:
                with state.lock:
                    state.in_flight -= 1

        def _send(self, status, doc, headers=None):
            data = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    return server, state, f"http://{host}:{port}/v1"


def measure(n: int, concurrency: int, latency: float, transport: str = "auto") -> dict:
    from skelformats import synth

    from .teachers import openai as oa

    motions = [synth.generate("wave", layout="ntu25", seed=i) for i in range(n)]
    labels = ["wave"] * n
    server, state, url = stub_server(latency)
    try:
        t = oa.OpenAITeacher(url, frames=1, size=(32, 32), concurrency=concurrency, retries=0)
        if transport == "stdlib":
            t._transport = oa._StdlibTransport()
        t0 = time.perf_counter()
        out = t.rationales(motions, labels)
        dt = time.perf_counter() - t0
        t.close()
    finally:
        server.shutdown()
        server.server_close()
    assert len(out) == n
    return {
        "concurrency": concurrency,
        "transport": type(t._transport).__name__ if t._transport else transport,
        "requests": n,
        "seconds": round(dt, 3),
        "requests_per_s": round(n / dt, 2),
        "max_in_flight": state.max_in_flight,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m skeletonllm.teacherbench", description=__doc__)
    p.add_argument("--requests", type=int, default=64)
    p.add_argument("--latency", type=float, default=0.1, help="stub answer latency (s)")
    p.add_argument("--concurrency", type=int, default=16)
    a = p.parse_args(argv)
    base = measure(max(4, a.requests // 8), 1, a.latency)  # the old one-at-a-time path
    print(json.dumps({"baseline": True, **base}), flush=True)
    for transport in ("auto", "stdlib"):
        row = measure(a.requests, a.concurrency, a.latency, transport)
        row["speedup_vs_serial"] = round(row["requests_per_s"] / base["requests_per_s"], 2)
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

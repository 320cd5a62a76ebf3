"""Live recognition over HTTP: frames go up as a chunked request body, labels come back as a chunked
response while the frames still arrive (stdlib server, one thread per stream).

``POST /v1/stream?layout=ntu25&fps=30[&labels=walk,wave][&window=2][&stride=0.5]`` with
``Transfer-Encoding: chunked`` (or a plain body) of newline-delimited JSON, one frame per line:
``[[x, y, z], ...]`` or ``{"joints": [[x, y, z], ...], "confidence": [c, ...]}``. The response
(``application/x-ndjson``, chunked) carries one line per label as soon as it is emitted,
``{"first", "last", "start", "end", "label", "score", "latency"}`` (:class:`skeletonllm.streaming.Event`),
then ``{"done": true, "frames": N}``. A bad query is a 400 before anything streams; a bad frame later
ends the stream with an ``{"error": ...}`` line. The model is shared through a lock, so streams
take turns at scoring; ``max_streams`` streams run at once (more get a 503).

``python -m skeletonllm.live_http --model CKPT [--port 8001] [--labels a,b,c]``
"""

from __future__ import annotations

import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

MAX_LINE = 1 << 20  # bytes of one frame line
MAX_FRAMES = 1_000_000  # frames in one stream


class _Locked:
    """The model's ``score`` behind a lock (one scoring at a time across streams)."""

    def __init__(self, model):
        self.model, self.lock = model, threading.Lock()

    def score(self, *a, **kw):
        with self.lock:
            return self.model.score(*a, **kw)


def _chunks(rfile, chunked: bool, length: int | None):
    """Raw body bytes as they arrive (chunked transfer decoding or a Content-Length body)."""
    if not chunked:
        left = length or 0
        while left > 0:
            data = rfile.read1(min(left, 65536)) if hasattr(rfile, "read1") else rfile.read(left)
            if not data:
                return
            left -= len(data)
            yield data
        return
    while True:
        size_line = rfile.readline(1024)
        if not size_line:
            return
        size = int(size_line.split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return
        data = rfile.read(size)
        rfile.readline(8)  # CRLF after the chunk
        yield data


def _lines(chunks):
    buf = b""
    for data in chunks:
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.strip():
                yield line
        if len(buf) > MAX_LINE:
            raise ValueError(f"a frame line is longer than {MAX_LINE} bytes")
    if buf.strip():
        yield buf


def _frame(line: bytes):
    doc = json.loads(line)
    if isinstance(doc, dict):
        return doc.get("joints"), doc.get("confidence")
    return doc, None


def make_handler(model, labels, *, max_streams: int = 4, window: float = 2.0, stride: float = 0.5):
    from skelformats import get_layout

    from .streaming import StreamingRecognizer
    from .timeline import _check_labels

    shared = _Locked(model)
    slots = threading.BoundedSemaphore(max_streams)
    default_labels = _check_labels(labels)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # quiet: errors go back to the client
            pass

        def _json(self, status: int, doc: dict) -> None:
            body = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

        def _line(self, doc: dict) -> None:
            data = json.dumps(doc).encode() + b"\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def do_POST(self):
            url = urlparse(self.path)
            if url.path != "/v1/stream":
                return self._json(404, {"error": f"no endpoint {url.path}; POST /v1/stream"})
            q = {k: v[-1] for k, v in parse_qs(url.query).items()}
            try:
                layout = get_layout(q["layout"])
                fps = float(q["fps"])
                lab = _check_labels(q["labels"]) if "labels" in q else default_labels
                rec = StreamingRecognizer(
                    shared,
                    lab,
                    layout=layout,
                    fps=fps,
                    window=float(q.get("window", window)),
                    stride=float(q.get("stride", stride)),
                )
            except KeyError as e:
                return self._json(400, {"error": f"query parameter {e} is required"})
            except (ValueError, TypeError) as e:
                return self._json(400, {"error": str(e)})
            chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
            length = self.headers.get("Content-Length")
            if not chunked and length is None:
                return self._json(411, {"error": "send a chunked body or a Content-Length"})
            if not slots.acquire(blocking=False):
                return self._json(503, {"error": f"{max_streams} streams already running"})
            try:
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                n = 0
                try:
                    for line in _lines(_chunks(self.rfile, chunked, int(length or 0))):
                        joints, conf = _frame(line)
                        if n >= MAX_FRAMES:
                            raise ValueError(f"more than {MAX_FRAMES} frames")
                        ev = rec.push(joints, conf)
                        n += 1
                        if ev is not None:
                            self._line(ev.to_dict())
                    self._line({"done": True, "frames": n})
                except (ValueError, TypeError) as e:  # json errors are ValueErrors
                    self._line({"error": f"frame {n}: {e}", "frames": n})
                self.wfile.write(b"0\r\n\r\n")
            finally:
                slots.release()

    return Handler


def make_server(model, labels, host: str = "127.0.0.1", port: int = 8001, **kw):
    """A ThreadingHTTPServer (not yet serving); ``server.server_address`` has the bound port."""
    return ThreadingHTTPServer((host, port), make_handler(model, labels, **kw))


def main(argv: list[str] | None = None) -> int:
    import argparse

    from .model import SkeletonLLM
    from .timeline import default_labels

    ap = argparse.ArgumentParser(prog="python -m skeletonllm.live_http", description=__doc__)
    ap.add_argument("--model", required=True, help="checkpoint directory")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8001)
    ap.add_argument("--labels", default=None, help="default labels (comma-separated)")
    ap.add_argument("--max-streams", type=int, default=4)
    args = ap.parse_args(argv)
    model = SkeletonLLM.from_pretrained(args.model).eval()
    labels = args.labels.split(",") if args.labels else default_labels()
    srv = make_server(model, labels, args.host, args.port, max_streams=args.max_streams)
    print(f"streaming on http://{srv.server_address[0]}:{srv.server_address[1]}/v1/stream")
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

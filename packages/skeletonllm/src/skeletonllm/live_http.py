"""Live recognition over HTTP: frames go up as a chunked request body, labels come back as a chunked
response while the frames still arrive.

``POST /v1/stream?layout=ntu25&fps=30[&labels=walk,wave][&window=2][&stride=0.5]`` with
``Transfer-Encoding: chunked`` (or a plain body) of newline-delimited JSON, one frame per line:
``[[x, y, z], ...]`` or ``{"joints": [[x, y, z], ...], "confidence": [c, ...]}``. The response
(``application/x-ndjson``, chunked) carries one line per label as soon as it is emitted,
``{"first", "last", "start", "end", "label", "score", "latency"}`` (:class:`skeletonllm.streaming.Event`),
then ``{"done": true, "frames": N}``. A bad query is a 400 before anything streams; a bad frame or
chunk, or a stream past its frame or time limit, ends the stream with an ``{"error": ...}`` line.

The pieces here (chunk decoding with a size bound, frame lines, the query, ``pump``) are what
``skeletonllm serve`` answers ``/v1/stream`` with (:mod:`skeletonllm.serve`, which adds its connection
pool, deadlines and FIFO model lock). ``make_server`` below is a small standalone server on the same
pieces (one thread per stream, the model behind a plain lock, ``max_streams`` at once, more get a 503).

``python -m skeletonllm.live_http --model CKPT [--port 8001] [--labels a,b,c]``
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

MAX_LINE = 1 << 20  # bytes of one frame line
MAX_CHUNK = 1 << 20  # bytes of one chunk of a chunked body
MAX_FRAMES = 1_000_000  # frames in one stream
MAX_LABELS = 256
MAX_LABEL_CHARS = 256
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,8}")


class StreamError(ValueError):
    """A stream cut short: message, machine-readable code, frames taken before it."""

    def __init__(self, message: str, code: str = "invalid_frame", frames: int = 0):
        super().__init__(message)
        self.message, self.code, self.frames = message, code, frames


class _Locked:
    """The model's ``score`` behind a lock (one scoring at a time across streams)."""

    def __init__(self, model):
        self.model, self.lock = model, threading.Lock()

    def score(self, *a, **kw):
        with self.lock:
            return self.model.score(*a, **kw)


def read_chunks(rfile, chunked: bool, length: int | None, *, max_chunk: int = MAX_CHUNK):
    """Raw body bytes as they arrive (chunked transfer decoding or a Content-Length body).

    A chunk larger than ``max_chunk``, a malformed chunk header, or a body that ends before its last
    chunk raises StreamError before the chunk is read.
    """
    if not chunked:
        left = length or 0
        while left > 0:
            data = rfile.read1(min(left, 65536)) if hasattr(rfile, "read1") else rfile.read(left)
            if not data:
                raise StreamError(f"the body ended {left} bytes short", "incomplete_body")
            left -= len(data)
            yield data
        return
    while True:
        size_line = rfile.readline(1024)
        if not size_line:
            raise StreamError("the body ended before its last (0-size) chunk", "incomplete_body")
        head = size_line.split(b";")[0].strip()
        if not _CHUNK_SIZE.fullmatch(head):
            raise StreamError(f"malformed chunk size line {size_line[:40]!r}", "invalid_chunk")
        size = int(head, 16)
        if size > max_chunk:
            raise StreamError(
                f"a chunk of {size} bytes exceeds the limit of {max_chunk}", "chunk_too_large"
            )
        if size == 0:
            for _ in range(64):  # trailers, up to the blank line
                if rfile.readline(1024) in (b"\r\n", b"\n", b""):
                    break
            return
        data = rfile.read(size)
        if len(data) != size or rfile.readline(8).strip():
            raise StreamError(f"a chunk of {size} bytes was cut short or overran", "invalid_chunk")
        yield data


def frame_lines(chunks, *, max_line: int = MAX_LINE):
    """Non-empty lines of the body, each at most ``max_line`` bytes (else StreamError)."""
    buf = b""
    for data in chunks:
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.strip():
                yield line
        if len(buf) > max_line:
            raise StreamError(f"a frame line is longer than {max_line} bytes", "line_too_long")
    if buf.strip():
        yield buf


def parse_frame(line: bytes, num_joints: int | None = None):
    """One frame line -> (joints, confidence or None); ValueError when it is not a frame."""
    try:
        doc = json.loads(line)
    except RecursionError:
        raise ValueError("frame JSON nested too deeply") from None
    joints, conf = (
        (doc.get("joints"), doc.get("confidence")) if isinstance(doc, dict) else (doc, None)
    )
    if not isinstance(joints, list) or not joints:
        raise ValueError("a frame is a list of joints [[x, y, z], ...] or {'joints': [...]}")
    if num_joints is not None and len(joints) != num_joints:
        raise ValueError(f"{len(joints)} joints; the layout has {num_joints}")
    return joints, conf


def stream_options(
    query: str,
    default_labels,
    *,
    window: float = 2.0,
    stride: float = 0.5,
    max_window_frames: int | None = None,
    max_labels: int = MAX_LABELS,
    max_label_chars: int = MAX_LABEL_CHARS,
) -> dict:
    """The URL query -> StreamingRecognizer keywords (layout, fps, labels, window, stride).

    ValueError/KeyError name the parameter; everything is checked before a frame is read.
    """
    from skelformats import SkelFormatError, get_layout

    from .timeline import _check_labels

    q = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    for key in ("layout", "fps"):
        if key not in q:
            raise KeyError(key)
    try:
        layout = get_layout(q["layout"])
    except (KeyError, SkelFormatError, ValueError) as e:
        raise ValueError(f"layout: unknown layout {q['layout'][:100]!r} ({e})") from None

    def number(key, default):
        try:
            v = float(q.get(key, default))
        except ValueError:
            raise ValueError(f"{key}: not a number: {q[key][:40]!r}") from None
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"{key}: must be a positive number, got {v}")
        return v

    fps, win, st = number("fps", None), number("window", window), number("stride", stride)
    if max_window_frames is not None and win * fps > max_window_frames:
        raise ValueError(
            f"window: {win:g} s at {fps:g} fps is {round(win * fps)} frames; "
            f"the limit is {max_window_frames}"
        )
    labels = _check_labels(q["labels"] if "labels" in q else default_labels)
    if len(labels) > max_labels or any(len(x) > max_label_chars for x in labels):
        raise ValueError(
            f"labels: at most {max_labels} labels of at most {max_label_chars} characters each"
        )
    return {"layout": layout, "fps": fps, "labels": labels, "window": win, "stride": st}


def pump(
    rec,
    lines,
    emit,
    *,
    max_frames: int = MAX_FRAMES,
    max_seconds: float | None = None,
    clock=time.monotonic,
) -> int:
    """Push every frame line into the StreamingRecognizer ``rec``, ``emit`` each label as a dict;
    returns the frame count. A bad line or chunk, more than ``max_frames`` frames, or a stream
    still going after ``max_seconds`` raises StreamError (with the frames taken)."""
    n, t0 = 0, clock()
    num_joints = getattr(rec.layout, "num_joints", None)
    it = iter(lines)
    while True:
        try:
            line = next(it)
        except StopIteration:
            return n
        except StreamError as e:
            e.frames = n
            e.message = f"after frame {n}: {e.message}"
            raise
        if n >= max_frames:
            raise StreamError(
                f"the stream passed the limit of {max_frames} frames", "too_many_frames", n
            )
        if max_seconds is not None and clock() - t0 > max_seconds:
            raise StreamError(
                f"the stream passed the limit of {max_seconds:g} s", "stream_too_long", n
            )
        try:
            joints, conf = parse_frame(line, num_joints)
            ev = rec.push(joints, conf)
        except (ValueError, TypeError) as e:  # json errors are ValueErrors
            raise StreamError(f"frame {n}: {e}", "invalid_frame", n) from None
        n += 1
        if ev is not None:
            emit(ev.to_dict())


def write_chunk(wfile, doc: dict | None) -> None:
    """One NDJSON line as an HTTP chunk (``None``: the terminating chunk)."""
    if doc is None:
        wfile.write(b"0\r\n\r\n")
    else:
        data = json.dumps(doc).encode() + b"\n"
        wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
    wfile.flush()


def make_handler(model, labels, *, max_streams: int = 4, window: float = 2.0, stride: float = 0.5):
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

        def do_POST(self):
            url = urlparse(self.path)
            if url.path != "/v1/stream":
                return self._json(404, {"error": f"no endpoint {url.path}; POST /v1/stream"})
            try:
                opts = stream_options(url.query, default_labels, window=window, stride=stride)
                rec = StreamingRecognizer(shared, opts.pop("labels"), **opts)
            except KeyError as e:
                return self._json(400, {"error": f"query parameter {e} is required"})
            except (ValueError, TypeError) as e:
                return self._json(400, {"error": str(e)})
            chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
            length = self.headers.get("Content-Length")
            if not chunked and (length is None or not length.strip().isdigit()):
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
                lines = frame_lines(read_chunks(self.rfile, chunked, int(length or 0)))
                try:
                    n = pump(rec, lines, lambda doc: write_chunk(self.wfile, doc))
                    write_chunk(self.wfile, {"done": True, "frames": n})
                except StreamError as e:
                    write_chunk(
                        self.wfile, {"error": e.message, "code": e.code, "frames": e.frames}
                    )
                write_chunk(self.wfile, None)
            finally:
                slots.release()

    return Handler


def make_server(model, labels, host: str = "127.0.0.1", port: int = 8001, **kw):
    """A ThreadingHTTPServer (not yet serving); ``server.server_address`` has the bound port."""
    return ThreadingHTTPServer((host, port), make_handler(model, labels, **kw))


def main(argv: list[str] | None = None) -> int:
    """Serve ``/v1/stream`` alone; ``skeletonllm serve`` answers it beside the chat endpoint."""
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


__all__ = [
    "StreamError",
    "frame_lines",
    "make_handler",
    "make_server",
    "parse_frame",
    "pump",
    "read_chunks",
    "stream_options",
    "write_chunk",
]

if __name__ == "__main__":
    raise SystemExit(main())

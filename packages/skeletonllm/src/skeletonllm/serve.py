"""An OpenAI-compatible ``/v1/chat/completions`` endpoint for a SkeletonLLM checkpoint (stdlib HTTP server).

The last user message carries the question as ``text`` parts and one skeleton as either

- ``{"type": "skeleton", "skeleton": {"layout": "ntu25", "joints": [[[x, y, z], ...], ...], "fps": 30,
  "confidence": [[...]]}}`` — joints ``(T, J, C)`` or ``(M, T, J, C)`` in a registered layout, or
- ``{"type": "file", "file": {"filename": "walk.bvh", "file_data": "<base64 or data: URL>"}}`` — any file
  format ``skelformats.load`` reads (the OpenAI file-input part).

``image_url`` parts are accepted and ignored (the model reads skeletons, not pictures). An optional
``candidates`` list turns the request into closed-set scoring: the answer is the most likely candidate.

Every request gets a JSON answer; errors are ``{"error": {"message", "type", "param", "code"}}`` with a
4xx (bad input, checked before any work: body size, JSON nesting and integer length, question length,
candidate count, upload size and frames) or a 5xx (503 when busy, 500 for an unexpected failure; the
server keeps serving). Resources are bounded: a fixed pool of ``max_connections`` connection threads
with ``max_pending`` accepted connections waiting (beyond that: an immediate 503), a
``request_timeout`` for each connection to deliver a request (then 408 and close), at most
``max_concurrency`` requests past parsing, and the model held per batch of work through a FIFO lock
that waits at most ``queue_timeout`` seconds (then 503).

``POST /v1/stream?layout=&fps=[&labels=][&window=][&stride=]`` is live recognition
(:mod:`skeletonllm.live_http`): newline-delimited JSON frames go up as a chunked body, label lines come
back chunked while the frames still arrive. At most ``max_streams`` streams run at once (more: 503);
each is cut with an error line past ``max_stream_frames`` frames or ``max_stream_seconds`` seconds, on a
chunk over ``max_chunk_bytes``, a malformed chunk or frame, or ``request_timeout`` seconds without a
chunk. Streams share the model with chat requests through the same FIFO lock, held per scored window.
"""

from __future__ import annotations

import base64
import binascii
import collections
import io
import json
import os
import queue
import re
import socket
import tempfile
import threading
import time
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_FRAMES = 2000
MAX_JOINTS = 200
MAX_PEOPLE = 4
MAX_NEW_TOKENS = 512
MAX_CANDIDATES = 256
MAX_CANDIDATE_CHARS = 256
MAX_QUESTION_CHARS = 4000
MAX_JSON_DEPTH = 32
MAX_INT_DIGITS = 18  # any JSON integer longer than this is refused before int() sees it
MAX_DECODED_BYTES = 64 * 1024 * 1024  # an upload after decompression
SCORE_BATCH = 32  # candidates scored per hold of the model
# Concurrent requests answered by one model call: 1 (one call per request) for the library;
# ``skeletonllm serve`` batches up to 8 unless told otherwise (--max-batch).
MAX_BATCH = 1
BATCH_WAIT = 0.005  # seconds a batch stays open for requests to join
MAX_STREAMS = 4
MAX_STREAM_FRAMES = 108_000  # an hour at 30 frames/s
MAX_STREAM_SECONDS = 3600.0
MAX_CHUNK_BYTES = 1 << 20  # one chunk of a streamed body, and one frame line


class RequestError(Exception):
    """A client error: HTTP status, message, offending parameter."""

    def __init__(
        self, status: int, message: str, param: str | None = None, code: str | None = None
    ):
        super().__init__(message)
        self.status, self.message, self.param, self.code = int(status), message, param, code


def _bad(message: str, param: str | None = None, code: str = "invalid_request") -> RequestError:
    return RequestError(400, message, param, code)


# ------------------------------------------------------------------------------------- JSON bodies
_STRING = re.compile(rb'"[^"]*"')
_KEEP = bytes(range(256)).translate(None, b'[]{}"')  # every byte but brackets and quotes


def json_depth(raw: bytes) -> int:
    """Nesting depth of the JSON text ``raw`` in linear time, without parsing it."""
    # Escaped backslashes, then escaped quotes, go (left to right, as a parser pairs them); then
    # only []{}" remain.
    s = raw.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _KEEP)
    s = _STRING.sub(b"", s)  # brackets inside strings do not nest
    depth, deepest = 0, 0
    for k in range(0, len(s), 1 << 20):
        a = np.frombuffer(s[k : k + (1 << 20)], np.uint8)
        steps = np.where((a == 91) | (a == 123), 1, -1)  # [ { open, ] } close
        run = depth + np.cumsum(steps)
        deepest, depth = max(deepest, int(run.max(initial=depth))), int(run[-1])
    return deepest


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _bad(f"an integer of {len(text)} characters; at most {MAX_INT_DIGITS} digits")
    return int(text)


def parse_json(raw: bytes, *, max_depth: int = MAX_JSON_DEPTH):
    """Decode a request body: depth and integer sizes are checked before anything is built."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _bad(
            f"the body is not valid JSON: not UTF-8 ({e.reason})", code="invalid_json"
        ) from None
    depth = json_depth(raw)
    if depth > max_depth:
        raise _bad(
            f"JSON nested {depth} levels deep; the limit is {max_depth}", code="too_deeply_nested"
        )
    try:
        return json.loads(text, parse_int=_bounded_int)
    except json.JSONDecodeError as e:
        raise _bad(f"the body is not valid JSON: {e}", code="invalid_json") from None
    except RecursionError:  # below max_depth it cannot happen; never let it escape anyway
        raise _bad("JSON nested too deeply", code="too_deeply_nested") from None


# ------------------------------------------------------------------------------------- skeletons
def _decode_base64(data: str, param: str) -> bytes:
    if not isinstance(data, str) or not data:
        raise _bad("file_data must be a non-empty base64 string or data: URL", param)
    if data.startswith("data:"):
        head, sep, data = data.partition(",")
        if not sep or ";base64" not in head:
            raise _bad(
                "file_data data: URL must be base64-encoded (data:<type>;base64,<data>)", param
            )
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise _bad("file_data is not valid base64", param) from None


def motion_from_joints(part: dict, *, max_frames: int = MAX_FRAMES):
    """A ``skeleton`` content part -> skelformats.Motion (validated)."""
    from skelformats import Motion, SkelFormatError, get_layout

    if not isinstance(part, dict):
        raise _bad("skeleton must be an object with 'layout' and 'joints'", "skeleton")
    layout_name = part.get("layout")
    if not isinstance(layout_name, str):
        raise _bad("skeleton.layout must be a layout name string", "skeleton.layout")
    try:
        layout = get_layout(layout_name)
    except (KeyError, SkelFormatError, ValueError) as e:
        raise _bad(
            f"unknown layout {layout_name[:100]!r}: {e}", "skeleton.layout", "unknown_layout"
        ) from None
    joints = part.get("joints")
    if not isinstance(joints, list) or not joints:
        raise _bad(
            "skeleton.joints must be a non-empty nested list (T, J, C) or (M, T, J, C)",
            "skeleton.joints",
        )
    try:
        data = np.asarray(joints, dtype=np.float32)
    except (ValueError, TypeError, OverflowError):
        raise _bad(
            "skeleton.joints must be a rectangular nested list of numbers", "skeleton.joints"
        ) from None
    if data.ndim not in (3, 4):
        raise _bad(
            f"skeleton.joints must have 3 or 4 dimensions, got shape {list(data.shape)}",
            "skeleton.joints",
        )
    _check_size(data.shape, max_frames, "skeleton.joints")
    conf = part.get("confidence")
    if conf is not None:
        try:
            conf = np.asarray(conf, dtype=np.float32)
        except (ValueError, TypeError, OverflowError):
            raise _bad(
                "skeleton.confidence must be a rectangular nested list of numbers",
                "skeleton.confidence",
            ) from None
    fps = part.get("fps", 30.0)
    if isinstance(fps, bool) or not isinstance(fps, (int, float)):
        raise _bad("skeleton.fps must be a number", "skeleton.fps")
    try:
        return Motion(data, layout, fps=float(fps), confidence=conf, meta={"source": "request"})
    except (SkelFormatError, ValueError, TypeError) as e:
        raise _bad(f"invalid skeleton: {e}", "skeleton") from None


def _check_size(shape, max_frames: int, param: str) -> None:
    t, j = shape[-3], shape[-2]
    m = shape[0] if len(shape) == 4 else 1
    if t > max_frames:
        raise RequestError(
            413, f"{t} frames exceed the limit of {max_frames}", param, "too_many_frames"
        )
    if j > MAX_JOINTS or m > MAX_PEOPLE:
        raise RequestError(
            413, f"{m} people x {j} joints exceed the limits ({MAX_PEOPLE} x {MAX_JOINTS})", param
        )


_SAFE_SUFFIX = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def motion_from_file(part: dict, *, max_frames: int = MAX_FRAMES, max_bytes: int = MAX_BODY_BYTES):
    """A ``file`` content part -> skelformats.Motion (the first person/sequence of the file).

    The upload's size is checked before it is decoded to disk, and the reader runs under
    ``skelformats.use_limits`` (frames, bodies, decompressed bytes, JSON depth), so a small hostile
    file is refused before it allocates more than its limits allow.
    """
    from skelformats import SkelFormatError, load, use_limits

    if not isinstance(part, dict):
        raise _bad("file must be an object with 'filename' and 'file_data'", "file")
    name = part.get("filename") or "upload"
    if not isinstance(name, str):
        raise _bad("file.filename must be a string", "file.filename")
    data = part.get("file_data")
    if isinstance(data, str) and len(data) * 3 // 4 > max_bytes + 64:  # before decoding anything
        raise RequestError(
            413,
            f"the uploaded file has about {len(data) * 3 // 4} bytes; the limit is {max_bytes}",
            "file.file_data",
            "too_large",
        )
    raw = _decode_base64(data, "file.file_data")
    if not raw:
        raise _bad("the uploaded file is empty", "file.file_data")
    if len(raw) > max_bytes:
        raise RequestError(
            413,
            f"the uploaded file has {len(raw)} bytes; the limit is {max_bytes}",
            "file.file_data",
            "too_large",
        )
    base = os.path.basename(name.replace("\\", "/"))[:200]
    suffix = "".join(Path(base).suffixes[-2:]) if _SAFE_SUFFIX.match(base) else ""
    limits = dict(
        max_frames=max_frames,
        max_bodies=4 * MAX_PEOPLE,
        max_bytes=max(MAX_DECODED_BYTES, 4 * max_bytes),
        max_json_depth=MAX_JSON_DEPTH,
    )
    with tempfile.TemporaryDirectory(prefix="skeletonllm-upload-") as d:
        path = Path(d) / ("upload" + suffix)
        path.write_bytes(raw)
        try:
            with use_limits(**limits):
                motion = load(path)
        except SkelFormatError as e:
            msg = str(e).replace(str(path), base)
            over = "skelformats.limits" in msg
            raise RequestError(
                413 if over else 400,
                f"cannot read {base!r}: {msg}",
                "file",
                "limit_exceeded" if over else "unreadable_skeleton",
            ) from None
        except MemoryError:
            raise RequestError(
                413, f"cannot read {base!r}: too large to load", "file", "limit_exceeded"
            ) from None
        except (ValueError, OSError, KeyError, IndexError, TypeError, RecursionError) as e:
            raise RequestError(
                400, f"cannot read {base!r}: {type(e).__name__}: {e}", "file", "unreadable_skeleton"
            ) from None
    if isinstance(motion, list):
        if not motion:
            raise _bad(f"{base!r} holds no skeleton sequence", "file")
        motion = motion[0]
    _check_size(np.shape(motion.data), max_frames, "file")
    return motion


# ------------------------------------------------------------------------------------- requests
def parse_request(
    doc,
    *,
    max_frames: int = MAX_FRAMES,
    max_bytes: int = MAX_BODY_BYTES,
    max_candidates: int = MAX_CANDIDATES,
    max_question_chars: int = MAX_QUESTION_CHARS,
) -> dict:
    """Validate a chat-completions request -> {"motion", "question", "max_tokens", "candidates", "model"}.

    Every cheap field (question, candidates, max_tokens) is checked before the skeleton is built.
    """
    if not isinstance(doc, dict):
        raise _bad("the request body must be a JSON object")
    if doc.get("stream"):
        raise _bad("streaming is not supported; send stream=false", "stream", "unsupported")
    msgs = doc.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise _bad("'messages' must be a non-empty list", "messages")
    user = [m for m in msgs if isinstance(m, dict) and m.get("role") == "user"]
    if not user:
        raise _bad("no message with role 'user'", "messages")
    content = user[-1].get("content")
    if isinstance(content, str):
        content = [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise _bad(
            "message content must be a string or a list of content parts", "messages.content"
        )
    texts, skeleton = [], None
    for k, part in enumerate(content):
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise _bad(f"content part {k} must be an object with a 'type'", "messages.content")
        kind = part["type"]
        if kind == "text":
            if not isinstance(part.get("text"), str):
                raise _bad(f"content part {k}: 'text' must be a string", "messages.content")
            texts.append(part["text"])
        elif kind in ("skeleton", "file", "input_file"):
            if skeleton is not None:
                raise _bad("send exactly one skeleton per request", "messages.content")
            skeleton = part
        elif kind in ("image_url", "input_image"):
            continue
        else:
            raise _bad(
                f"content part {k}: unsupported type {kind[:64]!r}",
                "messages.content",
                "unsupported_content",
            )
    if sum(len(t) for t in texts) > max_question_chars:
        raise _bad(
            f"the question has {sum(len(t) for t in texts)} characters; "
            f"the limit is {max_question_chars}",
            "messages.content",
            "question_too_long",
        )
    max_tokens = doc.get("max_tokens", doc.get("max_completion_tokens"))
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        raise _bad("max_tokens must be a positive integer", "max_tokens")
    cands = doc.get("candidates")
    if cands is not None:
        if not isinstance(cands, list) or not cands:
            raise _bad("candidates must be a non-empty list of strings", "candidates")
        if len(cands) > max_candidates:
            raise _bad(
                f"{len(cands)} candidates; the limit is {max_candidates}",
                "candidates",
                "too_many_candidates",
            )
        if not all(isinstance(c, str) and 0 < len(c) <= MAX_CANDIDATE_CHARS for c in cands):
            raise _bad(
                f"candidates must be non-empty strings of at most {MAX_CANDIDATE_CHARS} characters",
                "candidates",
            )
    if skeleton is None:
        raise _bad(
            "no skeleton in the request: add a 'skeleton' (joints + layout) or 'file' content part",
            "messages.content",
            "missing_skeleton",
        )
    question = "\n".join(t.strip() for t in texts if t.strip())
    if not question:
        raise _bad("no question: add a 'text' content part", "messages.content", "missing_question")
    if skeleton["type"] == "skeleton":
        motion = motion_from_joints(skeleton.get("skeleton"), max_frames=max_frames)
    else:
        motion = motion_from_file(
            skeleton.get("file", skeleton), max_frames=max_frames, max_bytes=max_bytes
        )
    return {
        "motion": motion,
        "question": question,
        "max_tokens": None if max_tokens is None else min(int(max_tokens), MAX_NEW_TOKENS),
        "candidates": cands,
        "model": doc.get("model"),
    }


# ------------------------------------------------------------------------------------- the model
class FairLock:
    """A FIFO lock whose ``acquire`` gives up after a timeout: waiters are served in arrival order,
    so a request that releases between batches cannot starve the others."""

    def __init__(self):
        self._cond = threading.Condition()
        self._waiting: collections.deque = collections.deque()
        self._held = False

    def acquire(self, timeout: float) -> bool:
        me = object()
        with self._cond:
            self._waiting.append(me)
            ok = self._cond.wait_for(
                lambda: not self._held and self._waiting[0] is me, max(0.0, timeout)
            )
            if not ok:
                self._waiting.remove(me)
                self._cond.notify_all()
                return False
            self._waiting.popleft()
            self._held = True
            return True

    def release(self) -> None:
        with self._cond:
            self._held = False
            self._cond.notify_all()


class SkeletonService:
    """The model side: torch modules are not re-entrant, so one batch of work at a time.

    The model is held per batch (one generation, or ``score_batch`` candidates); a request that cannot
    get it within ``queue_timeout`` seconds gets a 503. Up to ``max_batch`` concurrent requests of one
    kind (the same candidates, or generation with the same ``max_tokens``) and prompt length, arriving
    within ``batch_wait`` seconds or while the model is busy, share one model call
    (:mod:`skeletonllm.batching`); equal prompt lengths mean no padding, so each answer is the one
    the request would have got alone.
    """

    def __init__(
        self,
        model,
        *,
        name: str = "skeletonllm",
        queue_timeout: float = 30.0,
        score_batch: int = SCORE_BATCH,
        max_batch: int = MAX_BATCH,
        batch_wait: float = BATCH_WAIT,
    ):
        from .batching import MicroBatcher

        self.model = model.eval() if hasattr(model, "eval") else model
        self.name = name
        self.queue_timeout = float(queue_timeout)
        self.score_batch = max(1, int(score_batch))
        self._lock = FairLock()
        self._batcher = MicroBatcher(max_batch=max_batch, wait_s=batch_wait)

    def _run(self, fn, *args, take=None, **kw):
        import torch

        if not self._lock.acquire(self.queue_timeout):
            raise RequestError(503, "the server is busy; retry later", code="busy")
        try:
            if take is not None:  # a micro-batch closes once the model is ours
                args = (take(),)
            with torch.no_grad():
                return fn(*args, **kw)
        finally:
            self._lock.release()

    def _prompt_key(self, question: str):
        # Requests batch only with prompts of the same token length: no padding, so each gets
        # exactly the answer it would have got alone.
        text = getattr(self.model, "text", None)
        return len(text.prompt_ids(question)) if hasattr(text, "prompt_ids") else question

    def _batched(self, key, item, call):
        """``call(items) -> results`` for ``item`` in a micro-batch of requests sharing ``key``."""
        return self._batcher.submit(key, item, lambda take: self._run(call, take=take))

    def score(self, motions, prompts, candidates):
        """Candidate scores, holding the model for this one call (a live stream's window)."""
        return self._run(self.model.score, motions, prompts, candidates)

    def answer(self, req: dict) -> str:
        import torch

        motion, question, cands = req["motion"], req["question"], req["candidates"]
        plen = self._prompt_key(question)
        if cands:
            scores = []
            for k in range(0, len(cands), self.score_batch):
                chunk = list(cands[k : k + self.score_batch])

                def call(items, chunk=chunk):
                    s = self.model.score([m for m, _ in items], [q for _, q in items], chunk)
                    return list(torch.as_tensor(s))

                key = ("score", plen, tuple(chunk))
                scores.append(self._batched(key, (motion, question), call))
            return cands[int(torch.cat(scores).argmax())]
        kw = {} if req["max_tokens"] is None else {"max_new_tokens": req["max_tokens"]}

        def generate(items):
            return self.model.generate([m for m, _ in items], [q for _, q in items], **kw)

        return self._batched(("generate", plen, req["max_tokens"]), (motion, question), generate)


# ------------------------------------------------------------------------------------- HTTP
_CONTENT_LENGTH = re.compile(r"[0-9]{1,15}")  # ASCII digits only: int() would accept '²'-like text


class _DeadlineReader(io.RawIOBase):
    """Socket reads that share one deadline per request, so a client sending a byte at a time
    cannot hold its connection longer than the request timeout."""

    def __init__(self, sock: socket.socket):
        self.sock, self.deadline, self.received = sock, None, 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        left = self.deadline - time.monotonic()
        # Past the deadline, only bytes that already arrived are taken (a connection that waited in
        # the queue still gets its request read); a client still sending is cut off.
        self.sock.settimeout(max(left, 0.0))
        try:
            n = self.sock.recv_into(b)
        except BlockingIOError:
            raise TimeoutError("request timed out") from None
        self.received += n
        return n


_STREAM_LIMITS = ("too_many_frames", "stream_too_long", "chunk_too_large", "line_too_long")


def _error_doc(err: RequestError) -> dict:
    kind = "invalid_request_error" if err.status < 500 else "server_error"
    return {"error": {"message": err.message, "type": kind, "param": err.param, "code": err.code}}


def _raw_response(status: int, doc: dict) -> bytes:
    body = json.dumps(doc).encode()
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\nRetry-After: 1\r\n\r\n"
    )
    return head.encode() + body


def make_handler(
    service: SkeletonService,
    *,
    max_concurrency: int,
    max_body_bytes: int,
    max_frames: int,
    queue_timeout: float,
    max_candidates: int = MAX_CANDIDATES,
    max_question_chars: int = MAX_QUESTION_CHARS,
    max_json_depth: int = MAX_JSON_DEPTH,
    request_timeout: float = 30.0,
    labels=None,
    max_streams: int = MAX_STREAMS,
    max_stream_frames: int = MAX_STREAM_FRAMES,
    max_stream_seconds: float = MAX_STREAM_SECONDS,
    max_chunk_bytes: int = MAX_CHUNK_BYTES,
):
    from .timeline import _check_labels, default_labels

    slots = threading.BoundedSemaphore(max(1, int(max_concurrency)))
    streams = threading.BoundedSemaphore(max(1, int(max_streams)))
    stream_labels = _check_labels(default_labels() if labels is None else labels)

    class Handler(BaseHTTPRequestHandler):
        server_version = "skeletonllm-serve/0.2"
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # quiet by default; errors are returned to the client
            if getattr(self.server, "verbose", False):
                super().log_message(fmt, *args)

        def setup(self):
            super().setup()
            self.rfile.close()  # replaced by reads that share the request's deadline
            self._reader = _DeadlineReader(self.connection)
            self.rfile = io.BufferedReader(self._reader, 65536)

        def handle(self):
            self.close_connection = True
            # The first request's clock starts when the connection was accepted, not when a worker
            # took it from the queue.
            self._start = getattr(self.server, "accepted_at", time.monotonic)()
            self.handle_one_request()
            while not self.close_connection:
                self._start = time.monotonic()
                self.handle_one_request()

        def handle_one_request(self):
            self._reader.deadline = self._start + request_timeout
            self._reader.received, self._responded = 0, False
            self.request_version, self.command, self.requestline = "HTTP/1.1", "", ""
            try:
                self.raw_requestline = self.rfile.readline(65537)
                if len(self.raw_requestline) > 65536:
                    self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
                    return
                if not self.raw_requestline:
                    self.close_connection = True
                    return
                if not self.parse_request():  # it has answered (send_error)
                    return
                if self.request_version == "HTTP/0.9":
                    self.send_error(HTTPStatus.BAD_REQUEST, "HTTP/0.9 requests are not supported")
                    return
                method = getattr(self, "do_" + self.command, None)
                if method is None:
                    self.send_error(
                        HTTPStatus.NOT_IMPLEMENTED, f"unsupported method {self.command[:32]!r}"
                    )
                    return
                method()
                self.wfile.flush()
                if getattr(self.server, "has_waiting", lambda: False)():
                    self.close_connection = True  # free this thread for a waiting connection
            except TimeoutError:
                self.close_connection = True
                if self._reader.received and not self._responded:
                    self._error(
                        RequestError(
                            408,
                            f"the request did not arrive within {request_timeout:g} s",
                            code="request_timeout",
                        )
                    )
            except (ConnectionError, BrokenPipeError):
                self.close_connection = True
            except Exception as e:  # noqa: BLE001 - answer, then drop the connection
                self.close_connection = True
                if not self._responded:
                    self._error(
                        RequestError(
                            500, f"internal error: {type(e).__name__}", code="internal_error"
                        )
                    )

        def send_response(self, code, message=None):
            self._responded = True
            super().send_response(code, message)

        def send_error(self, code, message=None, explain=None):
            """Errors found by the HTTP layer itself (request line, headers): JSON, then close."""
            code = int(code)
            if self.request_version in ("", "HTTP/0.9"):  # a status line must still be written
                self.request_version = "HTTP/1.1"
            self.close_connection = True
            try:
                phrase = HTTPStatus(code).phrase
            except ValueError:
                phrase = ""
            slug = phrase.lower().replace(" ", "_").replace("-", "_") or "http_error"
            self._error(RequestError(code, message or phrase or "bad request", code=slug))

        def _send(self, status: int, doc: dict, headers: dict | None = None) -> None:
            body = json.dumps(doc).encode()
            try:
                self.connection.settimeout(request_timeout)  # a client that never reads
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if self.close_connection:
                    self.send_header("Connection", "close")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()
            except OSError:  # the client went away or stopped reading
                self.close_connection = True

        def _error(self, err: RequestError, headers: dict | None = None) -> None:
            if err.status == 503:
                headers = {"Retry-After": "1", **(headers or {})}
            self._send(err.status, _error_doc(err), headers)

        def do_GET(self):
            path = self.path.split("?", 1)[0].rstrip("/")
            if path in ("/health", "/v1/health"):
                self._send(200, {"status": "ok", "model": service.name})
            elif path == "/v1/models":
                self._send(
                    200,
                    {
                        "object": "list",
                        "data": [
                            {"id": service.name, "object": "model", "owned_by": "skeletonllm"}
                        ],
                    },
                )
            else:
                self._error(RequestError(404, f"no route {self.path[:200]}", code="not_found"))

        def do_POST(self):
            url = urlparse(self.path)
            if url.path.rstrip("/") == "/v1/stream":
                self._stream(url.query)
                return
            if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
                self._drain()
                self._error(
                    RequestError(
                        404,
                        f"no route {self.path[:200]}; use /v1/chat/completions or /v1/stream",
                        code="not_found",
                    )
                )
                return
            try:
                raw = self._read_body()
            except RequestError as e:
                self.close_connection = True
                self._error(e)
                return
            if not slots.acquire(timeout=queue_timeout):
                self._error(RequestError(503, "the server is busy; retry later", code="busy"))
                return
            try:
                doc = parse_json(raw, max_depth=max_json_depth)
                del raw
                req = parse_request(
                    doc,
                    max_frames=max_frames,
                    max_bytes=max_body_bytes,
                    max_candidates=max_candidates,
                    max_question_chars=max_question_chars,
                )
                del doc
                t0 = time.time()
                text = service.answer(req)
                self._send(
                    200,
                    {
                        "id": "chatcmpl-" + uuid.uuid4().hex[:24],
                        "object": "chat.completion",
                        "created": int(t0),
                        "model": service.name,
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": text},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                    },
                )
            except RequestError as e:
                self._error(e)
            except MemoryError:
                self._error(
                    RequestError(503, "out of memory for this request", code="out_of_memory")
                )
            except Exception as e:  # noqa: BLE001 - a model failure must not take the server down
                self._error(
                    RequestError(
                        500, f"internal error: {type(e).__name__}: {e}", code="internal_error"
                    )
                )
            finally:
                slots.release()

        def _stream(self, query: str) -> None:
            """Live recognition: the query is checked before anything streams (JSON 4xx); then
            label lines, and a last ``done`` or ``error`` line."""
            from .live_http import stream_options
            from .streaming import StreamingRecognizer
            from .timeline import DEFAULT_STRIDE, DEFAULT_WINDOW

            self.close_connection = (
                True  # the body is read as it streams; the connection ends with it
            )
            te = (self.headers.get("Transfer-Encoding") or "").strip().lower()
            try:
                if te and te != "chunked":
                    raise RequestError(
                        501,
                        f"Transfer-Encoding {te[:40]!r} is not supported; send chunked",
                        code="unsupported_transfer_encoding",
                    )
                length = None if te else self._content_length()
                if not te and length is None:
                    raise RequestError(
                        411,
                        "send a chunked body (Transfer-Encoding: chunked) or a Content-Length",
                        code="length_required",
                    )
                try:
                    opts = stream_options(
                        query,
                        stream_labels,
                        window=DEFAULT_WINDOW,
                        stride=DEFAULT_STRIDE,
                        max_window_frames=max_frames,
                        max_labels=max_candidates,
                        max_label_chars=MAX_CANDIDATE_CHARS,
                    )
                except KeyError as e:
                    raise _bad(
                        f"query parameter {e.args[0]!r} is required", e.args[0], "missing_parameter"
                    ) from None
                except (ValueError, TypeError) as e:
                    param = str(e).split(":", 1)[0]
                    raise _bad(str(e), param if param.isidentifier() else None) from None
                rec = StreamingRecognizer(service, opts.pop("labels"), **opts)
            except RequestError as e:
                self._error(e)
                return
            if not streams.acquire(blocking=False):
                self._error(
                    RequestError(
                        503, f"{max_streams} streams are running; retry later", code="busy"
                    )
                )
                return
            try:
                self._pump(rec, bool(te), length)
            finally:
                streams.release()

        def _pump(self, rec, chunked: bool, length: int | None) -> None:
            from .live_http import StreamError, frame_lines, pump, read_chunks, write_chunk

            def emit(doc):
                self.connection.settimeout(request_timeout)  # a client that never reads
                write_chunk(self.wfile, doc)

            end = time.monotonic() + max_stream_seconds

            def chunks():  # each chunk within request_timeout, all of them before the end
                it = read_chunks(self.rfile, chunked, length, max_chunk=max_chunk_bytes)
                while True:
                    self._reader.deadline = min(end, time.monotonic() + request_timeout)
                    try:
                        data = next(it)
                    except StopIteration:
                        return
                    yield data

            lines = frame_lines(chunks(), max_line=max_chunk_bytes)
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                try:
                    n = pump(
                        rec,
                        lines,
                        emit,
                        max_frames=max_stream_frames,
                        max_seconds=max_stream_seconds,
                    )
                    emit({"done": True, "frames": n})
                    emit(None)
                    return
                except StreamError as e:
                    status = 413 if e.code in _STREAM_LIMITS else 400
                    err, n = RequestError(status, e.message, "body", e.code), e.frames
                except TimeoutError:
                    n = rec.frames_seen
                    if time.monotonic() >= end:
                        msg = f"the stream passed the limit of {max_stream_seconds:g} s"
                        err = RequestError(413, msg, "body", "stream_too_long")
                    else:
                        msg = f"no data for {request_timeout:g} s"
                        err = RequestError(408, msg, "body", "request_timeout")
                except RequestError as e:  # the model stayed busy past queue_timeout
                    err, n = e, rec.frames_seen
                except MemoryError:
                    err = RequestError(503, "out of memory for this stream", code="out_of_memory")
                    n = rec.frames_seen
                except (ConnectionError, BrokenPipeError):
                    raise
                except Exception as e:  # noqa: BLE001 - a model failure must not take the server down
                    msg = f"internal error: {type(e).__name__}: {e}"
                    err, n = RequestError(500, msg, code="internal_error"), rec.frames_seen
                emit({**_error_doc(err), "frames": n})
                emit(None)
                self._discard_input()
            except OSError:  # the client went away or stopped reading
                self.close_connection = True

        def _discard_input(self, seconds: float = 1.0, limit: int = 1 << 20) -> None:
            """Read (a bounded amount of) what the client is still sending, so that closing the
            connection does not reset the error line away before the client reads it."""
            stop, got = time.monotonic() + seconds, 0
            try:
                while got < limit and (left := stop - time.monotonic()) > 0:
                    self.connection.settimeout(left)
                    data = self.connection.recv(65536)
                    if not data:
                        break
                    got += len(data)
            except OSError:
                pass

        def _content_length(self) -> int | None:
            values = self.headers.get_all("Content-Length") or []
            if self.headers.get("Transfer-Encoding"):
                raise RequestError(
                    501, "Transfer-Encoding is not supported; send Content-Length", code="chunked"
                )
            if not values:
                return None
            if len(set(v.strip() for v in values)) != 1 or not _CONTENT_LENGTH.fullmatch(
                values[0].strip()
            ):
                raise _bad(
                    f"invalid Content-Length {values[0][:40]!r}", code="invalid_content_length"
                )
            return int(values[0].strip())

        def _drain(self) -> None:
            try:
                n = self._content_length()
            except RequestError:
                n = None
            if n is not None and n <= max_body_bytes:
                self.rfile.read(n)
            else:
                self.close_connection = True

        def _read_body(self) -> bytes:
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            n = self._content_length()
            if n is None:
                raise RequestError(
                    411, "a Content-Length header is required", code="length_required"
                )
            if n > max_body_bytes:
                raise RequestError(
                    413,
                    f"request body of {n} bytes exceeds the limit of {max_body_bytes}",
                    code="too_large",
                )
            if ctype != "application/json":
                raise RequestError(
                    415,
                    f"Content-Type must be application/json, got {ctype[:64] or 'none'!r}",
                    code="unsupported_media_type",
                )
            raw = self.rfile.read(n)
            if len(raw) != n:
                raise _bad(f"the body ended after {len(raw)} of {n} bytes", code="incomplete_body")
            return raw

    return Handler


class PooledHTTPServer(HTTPServer):
    """An HTTP server with a fixed pool of connection threads and a bounded accept queue.

    A connection that finds the queue full gets an immediate 503 and is closed; no thread is started
    per connection, so many slow or idle clients cannot exhaust threads or memory.
    """

    allow_reuse_address = True
    request_queue_size = 128  # listen() backlog

    def __init__(self, address, handler, *, workers: int = 16, max_pending: int = 64):
        super().__init__(address, handler)
        self.verbose = False
        self._local = threading.local()
        self._pending: queue.Queue = queue.Queue(maxsize=max(1, int(max_pending)))
        self._workers = [
            threading.Thread(target=self._work, name=f"skeletonllm-serve-{i}", daemon=True)
            for i in range(max(1, int(workers)))
        ]
        for t in self._workers:
            t.start()

    def has_waiting(self) -> bool:
        return not self._pending.empty()

    def accepted_at(self) -> float:
        """When the connection this thread is handling was accepted (time.monotonic)."""
        return getattr(self._local, "accepted_at", None) or time.monotonic()

    def process_request(self, request, client_address):
        try:
            self._pending.put_nowait((request, client_address, time.monotonic()))
        except queue.Full:
            self._refuse(request)

    def _refuse(self, request) -> None:
        err = RequestError(503, "too many connections; retry later", code="busy")
        try:
            request.setblocking(False)
            try:  # read what has arrived (up to 1 MB), so closing does not reset the answer away
                for _ in range(16):
                    if not request.recv(65536):
                        break
            except OSError:
                pass
            request.settimeout(1.0)
            request.sendall(_raw_response(503, _error_doc(err)))
        except OSError:
            pass
        finally:
            self.shutdown_request(request)

    def _work(self) -> None:
        while True:
            item = self._pending.get()
            if item is None:
                return
            request, address, self._local.accepted_at = item
            try:
                self.finish_request(request, address)
            except Exception:  # noqa: BLE001 - one connection's failure must not stop the worker
                if self.verbose:
                    self.handle_error(request, address)
            finally:
                self.shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        while True:  # close connections still waiting, then stop the workers
            try:
                item = self._pending.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                self.shutdown_request(item[0])
        for _ in self._workers:
            try:
                self._pending.put(None, timeout=1.0)
            except queue.Full:
                break


def check_settings(**settings) -> None:
    """Refuse non-positive counts and timeouts (ValueError naming the setting)."""
    for key, v in settings.items():
        if key.endswith(("_timeout", "_seconds")):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < float("inf"):
                raise ValueError(f"{key} must be a positive number of seconds, got {v!r}")
        elif isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{key} must be a positive integer, got {v!r}")


def make_server(
    model,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    name: str = "skeletonllm",
    max_concurrency: int = 2,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_frames: int = MAX_FRAMES,
    queue_timeout: float = 30.0,
    max_candidates: int = MAX_CANDIDATES,
    max_question_chars: int = MAX_QUESTION_CHARS,
    max_json_depth: int = MAX_JSON_DEPTH,
    request_timeout: float = 30.0,
    max_connections: int = 16,
    max_pending: int = 64,
    score_batch: int = SCORE_BATCH,
    max_batch: int = MAX_BATCH,
    batch_wait: float = BATCH_WAIT,
    labels=None,
    max_streams: int = MAX_STREAMS,
    max_stream_frames: int = MAX_STREAM_FRAMES,
    max_stream_seconds: float = MAX_STREAM_SECONDS,
    max_chunk_bytes: int = MAX_CHUNK_BYTES,
    verbose: bool = False,
) -> PooledHTTPServer:
    """A ready-to-run server (``serve_forever``); ``port=0`` picks a free port (``server.server_address``).

    max_connections: connection threads; max_pending: accepted connections waiting for one;
    request_timeout: seconds a connection has to deliver each request; queue_timeout: seconds a request
    waits for a processing slot and for the model. labels: what ``/v1/stream`` scores when the
    request names none (default: the synthetic action vocabulary); max_streams, max_stream_frames,
    max_stream_seconds, max_chunk_bytes: its limits. max_batch, batch_wait: concurrent requests of one
    kind (scoring the same candidates, or generating with the same max_tokens) answered by one model
    call, and the seconds a batch waits for them (``max_batch=1``: no batching).
    """
    check_settings(
        max_concurrency=max_concurrency,
        max_body_bytes=max_body_bytes,
        max_frames=max_frames,
        max_candidates=max_candidates,
        max_question_chars=max_question_chars,
        max_json_depth=max_json_depth,
        max_connections=max_connections,
        max_pending=max_pending,
        score_batch=score_batch,
        max_batch=max_batch,
        max_streams=max_streams,
        max_stream_frames=max_stream_frames,
        max_chunk_bytes=max_chunk_bytes,
        queue_timeout=queue_timeout,
        request_timeout=request_timeout,
        max_stream_seconds=max_stream_seconds,
    )
    if isinstance(batch_wait, bool) or not isinstance(batch_wait, (int, float)):
        raise ValueError(f"batch_wait must be a number of seconds, got {batch_wait!r}")
    service = SkeletonService(
        model,
        name=name,
        queue_timeout=queue_timeout,
        score_batch=score_batch,
        max_batch=max_batch,
        batch_wait=batch_wait,
    )
    handler = make_handler(
        service,
        max_concurrency=max_concurrency,
        max_body_bytes=max_body_bytes,
        max_frames=max_frames,
        queue_timeout=queue_timeout,
        max_candidates=max_candidates,
        max_question_chars=max_question_chars,
        max_json_depth=max_json_depth,
        request_timeout=request_timeout,
        labels=labels,
        max_streams=max_streams,
        max_stream_frames=max_stream_frames,
        max_stream_seconds=max_stream_seconds,
        max_chunk_bytes=max_chunk_bytes,
    )
    server = PooledHTTPServer(
        (host, port), handler, workers=max_connections, max_pending=max_pending
    )
    server.verbose = verbose
    return server


def serve(model_path: str, host: str = "127.0.0.1", port: int = 8000, **kwargs) -> None:
    """Load a checkpoint and serve it until interrupted."""
    from .model import SkeletonLLM

    device, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
    skip = ("name", "verbose", "labels", "batch_wait")
    check_settings(**{k: v for k, v in kwargs.items() if k not in skip})
    model = SkeletonLLM.from_pretrained(model_path, device=device, dtype=dtype)
    server = make_server(
        model, host, port, name=kwargs.pop("name", None) or Path(model_path).name, **kwargs
    )
    h, p = server.server_address[:2]
    print(f"serving {model_path} on http://{h}:{p}/v1/chat/completions and /v1/stream", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


__all__ = [
    "FairLock",
    "PooledHTTPServer",
    "RequestError",
    "SkeletonService",
    "json_depth",
    "make_server",
    "motion_from_file",
    "motion_from_joints",
    "parse_json",
    "parse_request",
    "serve",
]

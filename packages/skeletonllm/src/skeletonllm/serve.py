"""An OpenAI-compatible ``/v1/chat/completions`` endpoint for a SkeletonLLM checkpoint (stdlib HTTP server).

The last user message carries the question as ``text`` parts and one skeleton as either

- ``{"type": "skeleton", "skeleton": {"layout": "ntu25", "joints": [[[x, y, z], ...], ...], "fps": 30,
  "confidence": [[...]]}}`` — joints ``(T, J, C)`` or ``(M, T, J, C)`` in a registered layout, or
- ``{"type": "file", "file": {"filename": "walk.bvh", "file_data": "<base64 or data: URL>"}}`` — any file
  format ``skelformats.load`` reads (the OpenAI file-input part).

``image_url`` parts are accepted and ignored (the model reads skeletons, not pictures). An optional
``candidates`` list turns the request into closed-set scoring: the answer is the most likely candidate.

Every bad request gets a 4xx JSON error ``{"error": {"message", "type", "param", "code"}}``; unexpected
failures get a 500 and the server keeps serving. At most ``max_concurrency`` requests are processed at
once; others wait up to ``queue_timeout`` seconds and then get a 503.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_FRAMES = 2000
MAX_JOINTS = 200
MAX_PEOPLE = 4
MAX_NEW_TOKENS = 512


class RequestError(Exception):
    """A client error: HTTP status, message, offending parameter."""

    def __init__(
        self, status: int, message: str, param: str | None = None, code: str | None = None
    ):
        super().__init__(message)
        self.status, self.message, self.param, self.code = int(status), message, param, code


def _bad(message: str, param: str | None = None, code: str = "invalid_request") -> RequestError:
    return RequestError(400, message, param, code)


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
            f"unknown layout {layout_name!r}: {e}", "skeleton.layout", "unknown_layout"
        ) from None
    joints = part.get("joints")
    if not isinstance(joints, list) or not joints:
        raise _bad(
            "skeleton.joints must be a non-empty nested list (T, J, C) or (M, T, J, C)",
            "skeleton.joints",
        )
    try:
        data = np.asarray(joints, dtype=np.float32)
    except (ValueError, TypeError):
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
        except (ValueError, TypeError):
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
    """A ``file`` content part -> skelformats.Motion (the first person/sequence of the file)."""
    from skelformats import SkelFormatError, load

    if not isinstance(part, dict):
        raise _bad("file must be an object with 'filename' and 'file_data'", "file")
    name = part.get("filename") or "upload"
    if not isinstance(name, str):
        raise _bad("file.filename must be a string", "file.filename")
    raw = _decode_base64(part.get("file_data"), "file.file_data")
    if not raw:
        raise _bad("the uploaded file is empty", "file.file_data")
    if len(raw) > max_bytes:
        raise RequestError(
            413,
            f"the uploaded file has {len(raw)} bytes; the limit is {max_bytes}",
            "file.file_data",
        )
    base = os.path.basename(name.replace("\\", "/"))
    suffix = "".join(Path(base).suffixes[-2:]) if _SAFE_SUFFIX.match(base) else ""
    with tempfile.TemporaryDirectory(prefix="skeletonllm-upload-") as d:
        path = Path(d) / ("upload" + suffix)
        path.write_bytes(raw)
        try:
            motion = load(path)
        except SkelFormatError as e:
            msg = str(e).replace(str(path), base)
            raise RequestError(
                400, f"cannot read {base!r}: {msg}", "file", "unreadable_skeleton"
            ) from None
        except (ValueError, OSError, KeyError, IndexError, TypeError) as e:
            raise RequestError(
                400, f"cannot read {base!r}: {type(e).__name__}: {e}", "file", "unreadable_skeleton"
            ) from None
    if isinstance(motion, list):
        if not motion:
            raise _bad(f"{base!r} holds no skeleton sequence", "file")
        motion = motion[0]
    _check_size(np.shape(motion.data), max_frames, "file")
    return motion


def parse_request(doc, *, max_frames: int = MAX_FRAMES, max_bytes: int = MAX_BODY_BYTES) -> dict:
    """Validate a chat-completions request -> {"motion", "question", "max_tokens", "candidates", "model"}."""
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
    texts, motion = [], None
    for k, part in enumerate(content):
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise _bad(f"content part {k} must be an object with a 'type'", "messages.content")
        kind = part["type"]
        if kind == "text":
            if not isinstance(part.get("text"), str):
                raise _bad(f"content part {k}: 'text' must be a string", "messages.content")
            texts.append(part["text"])
        elif kind in ("skeleton", "file", "input_file"):
            if motion is not None:
                raise _bad("send exactly one skeleton per request", "messages.content")
            if kind == "skeleton":
                motion = motion_from_joints(part.get("skeleton"), max_frames=max_frames)
            else:
                motion = motion_from_file(
                    part.get("file", part), max_frames=max_frames, max_bytes=max_bytes
                )
        elif kind in ("image_url", "input_image"):
            continue
        else:
            raise _bad(
                f"content part {k}: unsupported type {kind!r}",
                "messages.content",
                "unsupported_content",
            )
    if motion is None:
        raise _bad(
            "no skeleton in the request: add a 'skeleton' (joints + layout) or 'file' content part",
            "messages.content",
            "missing_skeleton",
        )
    question = "\n".join(t.strip() for t in texts if t.strip())
    if not question:
        raise _bad("no question: add a 'text' content part", "messages.content", "missing_question")
    max_tokens = doc.get("max_tokens", doc.get("max_completion_tokens"))
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        raise _bad("max_tokens must be a positive integer", "max_tokens")
    cands = doc.get("candidates")
    if cands is not None and (
        not isinstance(cands, list) or not cands or not all(isinstance(c, str) and c for c in cands)
    ):
        raise _bad("candidates must be a non-empty list of strings", "candidates")
    return {
        "motion": motion,
        "question": question,
        "max_tokens": None if max_tokens is None else min(int(max_tokens), MAX_NEW_TOKENS),
        "candidates": cands,
        "model": doc.get("model"),
    }


class SkeletonService:
    """The model side: one request at a time through the model (torch modules are not re-entrant)."""

    def __init__(self, model, *, name: str = "skeletonllm"):
        self.model = model.eval() if hasattr(model, "eval") else model
        self.name = name
        self._lock = threading.Lock()

    def answer(self, req: dict) -> str:
        import torch

        with self._lock, torch.no_grad():
            if req["candidates"]:
                scores = self.model.score(
                    [req["motion"]], [req["question"]], list(req["candidates"])
                )
                return req["candidates"][int(torch.as_tensor(scores)[0].argmax())]
            kw = {} if req["max_tokens"] is None else {"max_new_tokens": req["max_tokens"]}
            return self.model.generate([req["motion"]], [req["question"]], **kw)[0]


def make_handler(
    service: SkeletonService,
    *,
    max_concurrency: int,
    max_body_bytes: int,
    max_frames: int,
    queue_timeout: float,
):
    slots = threading.BoundedSemaphore(max(1, int(max_concurrency)))

    class Handler(BaseHTTPRequestHandler):
        server_version = "skeletonllm-serve/0.1"
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # quiet by default; errors are returned to the client
            if getattr(self.server, "verbose", False):
                super().log_message(fmt, *args)

        def _send(self, status: int, doc: dict, headers: dict | None = None) -> None:
            body = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _error(self, err: RequestError, headers: dict | None = None) -> None:
            kind = "invalid_request_error" if err.status < 500 else "server_error"
            self._send(
                err.status,
                {
                    "error": {
                        "message": err.message,
                        "type": kind,
                        "param": err.param,
                        "code": err.code,
                    }
                },
                headers,
            )

        def do_GET(self):
            if self.path.rstrip("/") in ("/health", "/v1/health"):
                self._send(200, {"status": "ok", "model": service.name})
            elif self.path.rstrip("/") == "/v1/models":
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
                self._error(RequestError(404, f"no route {self.path}", code="not_found"))

        def do_POST(self):
            if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
                self._drain()
                self._error(
                    RequestError(
                        404, f"no route {self.path}; use /v1/chat/completions", code="not_found"
                    )
                )
                return
            try:
                doc = self._read_json()
            except RequestError as e:
                self.close_connection = True
                self._error(e)
                return
            if not slots.acquire(timeout=queue_timeout):
                self._error(
                    RequestError(503, "the server is busy; retry later", code="busy"),
                    {"Retry-After": "1"},
                )
                return
            try:
                req = parse_request(doc, max_frames=max_frames, max_bytes=max_body_bytes)
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
            except Exception as e:  # noqa: BLE001 - a model failure must not take the server down
                self._error(
                    RequestError(
                        500, f"internal error: {type(e).__name__}: {e}", code="internal_error"
                    )
                )
            finally:
                slots.release()

        def _drain(self) -> None:
            n = self.headers.get("Content-Length")
            if n and n.isdigit() and int(n) <= max_body_bytes:
                self.rfile.read(int(n))
            else:
                self.close_connection = True

        def _read_json(self):
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            n = self.headers.get("Content-Length")
            if n is None or not n.strip().isdigit():
                raise RequestError(
                    411, "a Content-Length header is required", code="length_required"
                )
            n = int(n)
            if n > max_body_bytes:
                raise RequestError(
                    413,
                    f"request body of {n} bytes exceeds the limit of {max_body_bytes}",
                    code="too_large",
                )
            raw = self.rfile.read(n)
            if ctype != "application/json":
                raise RequestError(
                    415,
                    f"Content-Type must be application/json, got {ctype or 'none'!r}",
                    code="unsupported_media_type",
                )
            try:
                return json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise RequestError(
                    400, f"the body is not valid JSON: {e}", code="invalid_json"
                ) from None

    return Handler


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
    verbose: bool = False,
) -> ThreadingHTTPServer:
    """A ready-to-run server (``serve_forever``); ``port=0`` picks a free port (``server.server_address``)."""
    handler = make_handler(
        SkeletonService(model, name=name),
        max_concurrency=max_concurrency,
        max_body_bytes=max_body_bytes,
        max_frames=max_frames,
        queue_timeout=queue_timeout,
    )
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    server.verbose = verbose
    return server


def serve(model_path: str, host: str = "127.0.0.1", port: int = 8000, **kwargs) -> None:
    """Load a checkpoint and serve it until interrupted."""
    from .model import SkeletonLLM

    model = SkeletonLLM.from_pretrained(model_path)
    server = make_server(
        model, host, port, name=kwargs.pop("name", None) or Path(model_path).name, **kwargs
    )
    h, p = server.server_address[:2]
    print(f"serving {model_path} on http://{h}:{p}/v1/chat/completions", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


__all__ = [
    "RequestError",
    "SkeletonService",
    "make_server",
    "motion_from_file",
    "motion_from_joints",
    "parse_request",
    "serve",
]

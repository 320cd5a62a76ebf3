"""A teacher behind any OpenAI-compatible chat endpoint (vLLM, a hosted API, ``skeletonllm serve``).

The request carries the rendered frames as PNG ``image_url`` parts plus the true label in the text, and asks
for a step-by-step rationale ending with ``Answer: <label>``. Skeleton-aware endpoints (``skeletonllm
serve``) can also receive the joints themselves (``attach_skeleton=True``) as a ``skeleton`` content part.

:meth:`OpenAITeacher.rationales` sends up to ``concurrency`` requests at once (a batch of ``distill``
is one round; the output file stays resumable per batch). Transient failures (connection errors,
timeouts, HTTP 408/409/429/5xx) are retried with exponential backoff and jitter, honouring
``Retry-After``. HTTP goes through ``httpx`` (pooled keep-alive connections) when it is installed,
else through the standard library.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .base import ANSWER_PREFIX, Teacher, answer_line
from .images import png_data_url, render_frames

PROMPT = (
    "The images are {n} frames, in time order, of a rendered skeleton performing the action '{label}'. "
    "Explain step by step why the movement is '{label}': first the observations (which body parts move, when, "
    "in which direction, how many times), then the causal chain between body parts, then the conclusion. "
    "Use only what the skeleton shows. End with the line '{answer}'."
)


def skeleton_part(motion) -> dict:
    """A ``skeleton`` content part: joints as nested lists with the layout name and fps."""
    part = {
        "layout": motion.layout.name,
        "fps": float(motion.fps),
        "joints": np.round(np.asarray(motion.data, dtype=np.float64), 5).tolist(),
    }
    if motion.confidence is not None:
        part["confidence"] = np.asarray(motion.confidence, dtype=np.float64).round(4).tolist()
    return {"type": "skeleton", "skeleton": part}


RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class _HTTPError(Exception):
    def __init__(self, status: int, detail: str, retry_after: float | None = None):
        super().__init__(f"HTTP {status}: {detail}")
        self.status, self.detail, self.retry_after = status, detail, retry_after


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:  # an HTTP date: fall back to our own backoff
        return None


class _StdlibTransport:
    """One POST per call through urllib (a new connection each time)."""

    def post(self, url: str, body: bytes, headers: dict, timeout: float) -> bytes:
        req = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.read()
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")[:500]
            raise _HTTPError(e.code, detail, _retry_after(e.headers.get("Retry-After"))) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
            raise ConnectionError(str(getattr(e, "reason", e))) from None

    def close(self) -> None:
        pass


class _HttpxTransport:
    """Pooled keep-alive connections shared by the worker threads (``httpx.Client`` is thread-safe)."""

    def __init__(self, limit: int):
        import httpx

        self.httpx = httpx
        self.client = httpx.Client(
            limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit)
        )

    def post(self, url: str, body: bytes, headers: dict, timeout: float) -> bytes:
        try:
            r = self.client.post(url, content=body, headers=headers, timeout=timeout)
        except self.httpx.HTTPError as e:
            raise ConnectionError(str(e) or type(e).__name__) from None
        if r.status_code >= 400:
            raise _HTTPError(
                r.status_code, r.text[:500], _retry_after(r.headers.get("Retry-After"))
            )
        return r.content

    def close(self) -> None:
        self.client.close()


def _transport(limit: int):
    try:
        return _HttpxTransport(limit)
    except ImportError:
        return _StdlibTransport()


class OpenAITeacher(Teacher):
    """``base_url`` ends before ``/chat/completions`` (e.g. ``http://127.0.0.1:8000/v1``); ``api_key``
    defaults to ``$OPENAI_API_KEY``. ``concurrency`` requests run at once in :meth:`rationales`;
    each is tried ``retries + 1`` times, waiting ``backoff * 2**attempt`` seconds (at most
    ``max_backoff``, with jitter) between tries."""

    name = "openai"

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8000/v1",
        model: str = "skeletonllm",
        *,
        api_key: str | None = None,
        frames: int = 4,
        size: tuple[int, int] = (128, 128),
        attach_skeleton: bool = False,
        max_tokens: int = 256,
        temperature: float = 0.0,
        timeout: float = 120.0,
        retries: int = 2,
        concurrency: int = 8,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
    ):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.frames = int(frames)
        self.size = tuple(size)
        self.attach_skeleton = bool(attach_skeleton)
        self.max_tokens = int(max_tokens)
        self.temperature = float(temperature)
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.concurrency = int(concurrency)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        if self.concurrency < 1 or self.retries < 0 or self.backoff < 0:
            raise ValueError(
                f"concurrency must be >= 1, retries and backoff >= 0; got {self.concurrency}, "
                f"{self.retries}, {self.backoff}"
            )
        self._transport = None
        self._lock = threading.Lock()

    def _http(self):
        with self._lock:
            if self._transport is None:
                self._transport = _transport(self.concurrency)
            return self._transport

    def close(self) -> None:
        """Close pooled connections (a later request opens new ones)."""
        with self._lock:
            if self._transport is not None:
                self._transport.close()
                self._transport = None

    def messages(self, motion, label: str) -> list[dict]:
        """The chat messages sent for one sample."""
        imgs = render_frames(motion, self.frames, self.size)
        text = PROMPT.format(
            n=len(imgs), label=str(label).replace("_", " "), answer=answer_line(label)
        )
        content: list[dict] = [{"type": "text", "text": text}]
        content += [{"type": "image_url", "image_url": {"url": png_data_url(im)}} for im in imgs]
        if self.attach_skeleton:
            content.append(skeleton_part(motion))
        return [{"role": "user", "content": content}]

    def _wait(self, attempt: int, retry_after: float | None) -> None:
        delay = min(self.backoff * 2.0**attempt, self.max_backoff)
        delay *= 0.5 + random.random() / 2  # jitter: parallel workers do not retry in lockstep
        if retry_after is not None:
            delay = min(max(delay, retry_after), max(self.max_backoff, 0.0))
        time.sleep(delay)

    def chat(self, messages: list[dict]) -> str:
        """POST one chat completion; returns the assistant text. HTTP errors name the status and message."""
        body = json.dumps(
            {
                "model": self.model,
                "messages": messages,
                "max_tokens": self.max_tokens,
                "temperature": self.temperature,
            }
        ).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        url = self.base_url + "/chat/completions"
        http = self._http()
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            retry_after = None
            try:
                doc = json.loads(http.post(url, body, headers, self.timeout).decode())
                return doc["choices"][0]["message"]["content"] or ""
            except _HTTPError as e:
                last = RuntimeError(f"{url}: HTTP {e.status}: {e.detail}")
                if e.status not in RETRY_STATUS:
                    break  # the request itself is wrong; retrying cannot help
                retry_after = e.retry_after
            except (ConnectionError, TimeoutError) as e:
                last = RuntimeError(f"{url}: {e}")
            except (KeyError, IndexError, TypeError, UnicodeDecodeError, json.JSONDecodeError) as e:
                last = RuntimeError(f"{url}: malformed chat completion response ({e!r})")
                break
            if attempt < self.retries:
                self._wait(attempt, retry_after)
        assert last is not None
        raise last

    def rationale(self, motion, label: str) -> str:
        text = self.chat(self.messages(motion, label)).strip()
        # The student must always see the true answer last, whatever the endpoint wrote.
        lines = [ln for ln in text.splitlines() if not ln.strip().startswith(ANSWER_PREFIX)]
        return "\n".join(lines + [answer_line(label)]).strip()

    def rationales(self, motions, labels) -> list[str]:
        """Up to ``concurrency`` requests at once; results in input order. The first request that
        still fails after its retries raises (the others of the batch finish first, so nothing is
        left running)."""
        if len(motions) != len(labels):
            raise ValueError(f"{len(motions)} motions but {len(labels)} labels")
        if self.concurrency == 1 or len(motions) <= 1:
            return [self.rationale(m, lab) for m, lab in zip(motions, labels)]
        with ThreadPoolExecutor(min(self.concurrency, len(motions))) as pool:
            futures = [pool.submit(self.rationale, m, lab) for m, lab in zip(motions, labels)]
        return [f.result() for f in futures]

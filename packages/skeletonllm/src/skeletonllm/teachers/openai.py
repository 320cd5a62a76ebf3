"""A teacher behind any OpenAI-compatible chat endpoint (vLLM, a hosted API, ``skeletonllm serve``).

The request carries the rendered frames as PNG ``image_url`` parts plus the true label in the text, and asks
for a step-by-step rationale ending with ``Answer: <label>``. Skeleton-aware endpoints (``skeletonllm
serve``) can also receive the joints themselves (``attach_skeleton=True``) as a ``skeleton`` content part.
Only the standard library is used for HTTP.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request

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


class OpenAITeacher(Teacher):
    """``base_url`` ends before ``/chat/completions`` (e.g. ``http://127.0.0.1:8000/v1``); ``api_key``
    defaults to ``$OPENAI_API_KEY``."""

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
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            req = urllib.request.Request(url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as r:
                    doc = json.loads(r.read().decode())
                return doc["choices"][0]["message"]["content"] or ""
            except urllib.error.HTTPError as e:
                detail = e.read().decode(errors="replace")[:500]
                last = RuntimeError(f"{url}: HTTP {e.code}: {detail}")
                if e.code < 500 and e.code != 429:
                    break  # the request itself is wrong; retrying cannot help
            except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
                last = RuntimeError(f"{url}: {e}")
            except (KeyError, IndexError, TypeError, json.JSONDecodeError) as e:
                last = RuntimeError(f"{url}: malformed chat completion response ({e!r})")
                break
            time.sleep(min(2.0**attempt, 8.0))
        assert last is not None
        raise last

    def rationale(self, motion, label: str) -> str:
        text = self.chat(self.messages(motion, label)).strip()
        # The student must always see the true answer last, whatever the endpoint wrote.
        lines = [ln for ln in text.splitlines() if not ln.strip().startswith(ANSWER_PREFIX)]
        return "\n".join(lines + [answer_line(label)]).strip()

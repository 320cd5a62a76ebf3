"""``skeletonllm serve`` on loopback: OpenAI-compatible answers, 4xx on malformed input, bounded concurrency,
and the ``openai`` teacher talking to it over real HTTP."""

from __future__ import annotations

import base64
import http.client
import io
import json
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image
from skeletonllm import SkeletonLLM, SkeletonLLMConfig
from skeletonllm.serve import make_server, parse_request
from skeletonllm.teachers import OpenAITeacher, get_teacher
from skelformats import save, synth


@pytest.fixture(scope="module")
def model():
    return SkeletonLLM(
        SkeletonLLMConfig(renderer={"frames": 4, "size": (28, 28)}, max_new_tokens=8)
    )


def start(model, **kw):
    server = make_server(model, "127.0.0.1", 0, **kw)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    return server, f"http://{host}:{port}"


@pytest.fixture(scope="module")
def url(model):
    server, base = start(model, max_body_bytes=300_000, max_frames=400)
    yield base
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def motion():
    return synth.generate("wave", seed=0, side="right", repetitions=2)


def skeleton_part(m, **over):
    part = {"layout": m.layout.name, "fps": m.fps, "joints": np.round(m.data, 4).tolist()}
    part.update(over)
    return {"type": "skeleton", "skeleton": part}


def chat(url, content, **extra):
    return {"model": "tiny", "messages": [{"role": "user", "content": content}], **extra}


def post(url, body, *, path="/v1/chat/completions", content_type="application/json"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(
        url + path, data=data, headers={"Content-Type": content_type}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def direct_answer(model, body):
    """What the model itself generates for the request's skeleton, question and token limit."""
    req = parse_request(body)
    kw = {} if req["max_tokens"] is None else {"max_new_tokens": req["max_tokens"]}
    return model.generate([req["motion"]], [req["question"]], **kw)[0]


def test_joints_json_request(model, url, motion):
    body = chat(
        url,
        [
            {"type": "text", "text": "What action is the person performing?"},
            skeleton_part(motion),
        ],
        max_tokens=4,
    )
    status, doc = post(url, body)
    assert status == 200, doc
    assert (
        doc["object"] == "chat.completion" and doc["choices"][0]["message"]["role"] == "assistant"
    )
    # the answer is the model's own greedy generation for this skeleton and question
    assert doc["choices"][0]["message"]["content"] == direct_answer(model, body)


def test_closed_set_candidates(url, motion):
    cands = ["wave", "clap", "kick"]
    status, doc = post(
        url,
        chat(
            url,
            [{"type": "text", "text": "Which action?"}, skeleton_part(motion)],
            candidates=cands,
        ),
    )
    assert status == 200 and doc["choices"][0]["message"]["content"] in cands


def test_file_upload(model, url, tmp_path):
    path = tmp_path / "kick.npz"
    save(synth.generate("kick", seed=1, num_frames=40), path)
    b64 = base64.b64encode(path.read_bytes()).decode()
    for data in (b64, "data:application/octet-stream;base64," + b64):
        content = [
            {"type": "text", "text": "Name the action."},
            {"type": "file", "file": {"filename": "kick.npz", "file_data": data}},
        ]
        status, doc = post(url, chat(url, content, max_tokens=2))
        assert status == 200, doc
        assert doc["choices"][0]["message"]["content"] == direct_answer(
            model, chat(url, content, max_tokens=2)
        )


def text_part(t="What action?"):
    return {"type": "text", "text": t}


@pytest.mark.parametrize(
    "body,status,needle",
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "JSON object"),
        ({"messages": []}, 400, "messages"),
        ({"messages": [{"role": "system", "content": "hi"}]}, 400, "role 'user'"),
        ("NO_SKELETON", 400, "no skeleton"),
        ("NO_QUESTION", 400, "no question"),
        ("UNKNOWN_LAYOUT", 400, "unknown layout"),
        ("WRONG_JOINTS", 400, "joints"),
        ("RAGGED", 400, "rectangular"),
        ("BAD_BASE64", 400, "base64"),
        ("CORRUPT_FILE", 400, "cannot read 'walk.bvh'"),
        ("TOO_MANY_FRAMES", 413, "frames exceed"),
        ("TWO_SKELETONS", 400, "exactly one skeleton"),
        ("BAD_PART", 400, "unsupported type"),
        ("STREAM", 400, "streaming"),
        ("BAD_MAX_TOKENS", 400, "max_tokens"),
        ("NAN_FPS", 400, "fps"),
    ],
)
def test_malformed_requests_get_4xx(url, motion, body, status, needle):
    sk = skeleton_part(motion)
    bodies = {
        "NO_SKELETON": chat(
            url,
            [
                text_part(),
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}},
            ],
        ),
        "NO_QUESTION": chat(url, [sk]),
        "UNKNOWN_LAYOUT": chat(url, [text_part(), skeleton_part(motion, layout="no_such_layout")]),
        "WRONG_JOINTS": chat(url, [text_part(), skeleton_part(motion, layout="coco17")]),
        "RAGGED": chat(url, [text_part(), skeleton_part(motion, joints=[[[0, 0, 0]], [[0, 0]]])]),
        "BAD_BASE64": chat(
            url, [text_part(), {"type": "file", "file": {"filename": "a.bvh", "file_data": "@@@"}}]
        ),
        "CORRUPT_FILE": chat(
            url,
            [
                text_part(),
                {
                    "type": "file",
                    "file": {
                        "filename": "walk.bvh",
                        "file_data": base64.b64encode(b"HIERARCHY\nROOT broken {").decode(),
                    },
                },
            ],
        ),
        "TOO_MANY_FRAMES": chat(
            url, [text_part(), skeleton_part(motion, joints=np.zeros((401, 25, 3)).tolist())]
        ),
        "TWO_SKELETONS": chat(url, [text_part(), sk, sk]),
        "BAD_PART": chat(url, [text_part(), {"type": "audio"}]),
        "STREAM": chat(url, [text_part(), sk], stream=True),
        "BAD_MAX_TOKENS": chat(url, [text_part(), sk], max_tokens=-3),
        "NAN_FPS": chat(url, [text_part(), skeleton_part(motion, fps="fast")]),
    }
    got, doc = post(url, bodies.get(body, body) if isinstance(body, str) else body)
    assert got == status, doc
    assert needle in doc["error"]["message"]
    assert doc["error"]["type"] == "invalid_request_error"


def test_http_level_errors_and_the_server_survives(url):
    assert post(url, {"x": 1}, path="/v1/nothing")[0] == 404
    status, doc = post(url, b"{}", content_type="text/plain")
    assert status == 415 and "application/json" in doc["error"]["message"]
    status, doc = post(url, b"x" * 300_001)
    assert status == 413
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.putrequest("POST", "/v1/chat/completions")
    conn.putheader("Content-Type", "application/json")
    conn.endheaders()  # no body, no Content-Length
    resp = conn.getresponse()
    assert resp.status == 411 and "Content-Length" in json.loads(resp.read())["error"]["message"]
    conn.close()
    with urllib.request.urlopen(url + "/health", timeout=10) as r:
        assert json.loads(r.read())["status"] == "ok"
    with urllib.request.urlopen(url + "/v1/models", timeout=10) as r:
        assert json.loads(r.read())["data"][0]["object"] == "model"


class Slow:
    """The real model behind a delay, to hold the single processing slot."""

    def __init__(self, model, delay):
        self.model, self.delay = model, delay

    def eval(self):
        return self

    def generate(self, *a, **kw):
        time.sleep(self.delay)
        return self.model.generate(*a, **kw)


def test_bounded_concurrency(model, motion):
    server, base = start(Slow(model, 1.5), max_concurrency=1, queue_timeout=0.3)
    try:
        body = chat(base, [text_part(), skeleton_part(motion)], max_tokens=1)
        with ThreadPoolExecutor(3) as ex:
            results = list(ex.map(lambda _: post(base, body), range(3)))
        codes = sorted(s for s, _ in results)
        assert codes.count(200) >= 1 and 503 in codes
        busy = [d for s, d in results if s == 503][0]
        assert busy["error"]["code"] == "busy"
    finally:
        server.shutdown()
        server.server_close()


class WritesAnAnswer:
    """The real model, whose generation ends with an answer line of its own (a wrong one)."""

    def __init__(self, model):
        self.model = model

    def eval(self):
        return self

    def generate(self, *a, **kw):
        return [
            f"{t}\nAnswer: clap\nThe hand moves side to side."
            for t in self.model.generate(*a, **kw)
        ]


def test_openai_teacher_against_the_local_server(model, url, motion):
    teacher = get_teacher(
        "openai",
        base_url=url + "/v1",
        model="tiny",
        frames=2,
        size=(28, 28),
        attach_skeleton=True,
        max_tokens=6,
    )
    assert isinstance(teacher, OpenAITeacher)
    msgs = teacher.messages(motion, "wave")
    images = [p for p in msgs[0]["content"] if p["type"] == "image_url"]
    assert len(images) == 2
    png = base64.b64decode(images[0]["image_url"]["url"].split(",", 1)[1])
    assert Image.open(io.BytesIO(png)).size == (28, 28)
    assert "'wave'" in msgs[0]["content"][0]["text"]  # the true label goes to the teacher
    # The endpoint's text is kept (greedy decoding repeats it) and the true answer line closes it.
    generated = teacher.chat(msgs).strip()
    assert generated and "Answer:" not in generated
    assert teacher.rationale(motion, "wave") == f"{generated}\nAnswer: wave"
    # An answer line the endpoint writes is dropped for the true one; the rest of its text stays.
    server, base = start(WritesAnAnswer(model))
    try:
        teacher.base_url = base + "/v1"
        assert teacher.rationale(motion, "wave") == (
            f"{generated}\nThe hand moves side to side.\nAnswer: wave"
        )
    finally:
        server.shutdown()
        server.server_close()
    teacher.base_url = url + "/v1"
    # batched form over HTTP, and a clear error when the endpoint rejects the request
    assert len(teacher.rationales([motion, motion], ["wave", "clap"])) == 2
    plain = get_teacher("openai", base_url=url + "/v1", frames=1, size=(28, 28), retries=0)
    with pytest.raises(RuntimeError, match="HTTP 400.*no skeleton"):
        plain.rationale(motion, "wave")


def test_serve_cli_on_loopback(model, motion, tmp_path):
    ckpt = tmp_path / "ckpt"
    model.save_pretrained(ckpt)
    proc = subprocess.Popen(
        [sys.executable, "-m", "skeletonllm.cli", "serve", "--model", str(ckpt), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        line = ""
        deadline = time.time() + 120
        while "serving" not in line and time.time() < deadline:
            line = proc.stdout.readline()
            assert line or proc.poll() is None, "server exited"
        base = line.split(" on ")[1].split("/v1/")[0]
        body = chat(base, [text_part(), skeleton_part(motion)], max_tokens=2)
        status, doc = post(base, body)
        assert status == 200, doc
        assert doc["choices"][0]["message"]["content"] == direct_answer(model, body)
        assert post(base, b"nope")[0] == 400
    finally:
        proc.terminate()
        proc.wait(timeout=30)

"""Request micro-batching in ``skeletonllm serve``: concurrent requests of one kind share a model call,
each still gets the answer it would have got alone, and the queue timeout still answers 503."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from helpers import tiny_model
from skeletonllm.batching import MicroBatcher
from skeletonllm.serve import RequestError, SkeletonService, make_server
from skelformats import synth

ACTIONS = ["wave", "walk", "squat", "jump", "clap", "wave"]
CANDS = ["wave", "walk", "sit down", "jump up"]


class Spy:
    """The real model, counting its calls and the batch size of each."""

    def __init__(self, model, delay: float = 0.0):
        self.model, self.delay, self.sizes = model, delay, []
        self.text, self.tokenizer = model.text, model.tokenizer

    def eval(self):
        return self

    def generate(self, motions, prompts, **kw):
        self.sizes.append(len(motions))
        time.sleep(self.delay)
        return self.model.generate(motions, prompts, **kw)

    def score(self, motions, prompts, candidates, **kw):
        self.sizes.append(len(motions))
        time.sleep(self.delay)
        return self.model.score(motions, prompts, candidates, **kw)


@pytest.fixture(scope="module")
def model():
    return tiny_model(renderer={"frames": 4, "size": [28, 28]}, max_new_tokens=6)


@pytest.fixture(scope="module")
def motions():
    return [synth.generate(a, layout="ntu25", seed=k) for k, a in enumerate(ACTIONS)]


def body(m, **extra) -> bytes:
    part = {"layout": m.layout.name, "fps": m.fps, "joints": np.round(m.data, 4).tolist()}
    content = [{"type": "text", "text": "What action?"}, {"type": "skeleton", "skeleton": part}]
    doc = {"model": "tiny", "messages": [{"role": "user", "content": content}], **extra}
    return json.dumps(doc).encode()


def post(url: str, data: bytes):
    req = urllib.request.Request(
        url + "/v1/chat/completions", data, {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def serving(model, **kw):
    server = make_server(model, "127.0.0.1", 0, max_concurrency=8, **kw)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    return server, f"http://{host}:{port}"


def answers(url, bodies):
    with ThreadPoolExecutor(len(bodies)) as ex:
        return list(ex.map(lambda b: post(url, b), bodies))


def content(result) -> str:
    assert result[0] == 200, result
    return result[1]["choices"][0]["message"]["content"]


@pytest.mark.parametrize("extra", [{"max_tokens": 4}, {"candidates": CANDS}])
def test_concurrent_requests_share_model_calls_and_answer_as_alone(model, motions, extra):
    bodies = [body(m, **extra) for m in motions]
    alone = Spy(model)
    server, url = serving(alone, max_batch=1)
    try:
        sequential = [content(post(url, b)) for b in bodies]
    finally:
        server.shutdown()
        server.server_close()
    assert alone.sizes == [1] * len(bodies)

    spy = Spy(model, delay=0.2)  # the first call holds the model while the others gather
    server, url = serving(spy, max_batch=8, batch_wait=0.05)
    try:
        batched = [content(r) for r in answers(url, bodies)]
    finally:
        server.shutdown()
        server.server_close()
    assert batched == sequential
    assert sum(spy.sizes) == len(bodies) and len(spy.sizes) < len(bodies), spy.sizes
    assert max(spy.sizes) > 1


def test_a_batch_mate_failing_validation_does_not_affect_the_others(model, motions):
    bad = json.loads(body(motions[0], max_tokens=4))
    bad["messages"][0]["content"][1]["skeleton"]["layout"] = "no-such-layout"
    bodies = [body(m, max_tokens=4) for m in motions[:3]]
    alone = [content(post_one(model, b)) for b in bodies]
    spy = Spy(model, delay=0.2)
    server, url = serving(spy, max_batch=8, batch_wait=0.05)
    try:
        got = answers(url, [bodies[0], json.dumps(bad).encode(), bodies[1], bodies[2]])
    finally:
        server.shutdown()
        server.server_close()
    assert got[1][0] == 400 and got[1][1]["error"]["code"] == "unknown_layout"
    assert [content(got[k]) for k in (0, 2, 3)] == alone
    assert sum(spy.sizes) == 3 and len(spy.sizes) < 3


def post_one(model, b: bytes):
    server, url = serving(model, max_batch=1)
    try:
        return post(url, b)
    finally:
        server.shutdown()
        server.server_close()


def test_a_batch_that_cannot_get_the_model_answers_503_to_every_member(model, motions):
    from skeletonllm.serve import parse_request

    service = SkeletonService(Spy(model), queue_timeout=0.3, max_batch=8, batch_wait=0.05)
    reqs = [parse_request(json.loads(body(m, max_tokens=2))) for m in motions[:3]]
    assert service._lock.acquire(1.0)  # someone else holds the model
    try:
        with ThreadPoolExecutor(3) as ex:
            futures = [ex.submit(service.answer, r) for r in reqs]
            errors = []
            for f in futures:
                with pytest.raises(RequestError) as e:
                    f.result(timeout=10)
                errors.append(e.value)
    finally:
        service._lock.release()
    assert {(e.status, e.code) for e in errors} == {(503, "busy")}
    assert service.answer(reqs[0])  # the model, free again, answers


def test_the_batcher_returns_each_item_its_own_result_under_contention():
    batcher = MicroBatcher(max_batch=4, wait_s=0.01)
    lock, calls = threading.Lock(), []

    def run(take):
        with lock:
            items = take()
            calls.append(len(items))
            return [x * x for x in items]

    with ThreadPoolExecutor(16) as ex:
        got = list(ex.map(lambda x: batcher.submit(x % 3, x, run), range(60)))
    assert got == [x * x for x in range(60)]
    assert sum(calls) == 60 and max(calls) <= 4 and len(calls) < 60


def test_a_failing_batch_raises_in_every_member():
    batcher = MicroBatcher(max_batch=8, wait_s=0.05)

    def run(take):
        take()
        raise RuntimeError("model failed")

    def one(x):
        with pytest.raises(RuntimeError, match="model failed"):
            batcher.submit("k", x, run)
        return True

    with ThreadPoolExecutor(4) as ex:
        assert all(ex.map(one, range(4)))
    with pytest.raises(ValueError, match="max_batch"):
        MicroBatcher(max_batch=0)


def test_the_asgi_app_batches_too(model, motions):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient
    from skeletonllm.asgi import create_app

    bodies = [body(m, candidates=CANDS) for m in motions[:4]]
    alone = [content(post_one(model, b)) for b in bodies]
    spy = Spy(model, delay=0.2)
    client = TestClient(create_app(spy, max_concurrency=8, max_batch=8, batch_wait=0.05))
    headers = {"Content-Type": "application/json"}

    def one(b):
        r = client.post("/v1/chat/completions", content=b, headers=headers)
        return r.status_code, r.json()

    with ThreadPoolExecutor(len(bodies)) as ex:
        got = [content(r) for r in ex.map(one, bodies)]
    assert got == alone
    assert sum(spy.sizes) == len(bodies) and len(spy.sizes) < len(bodies), spy.sizes


def main() -> None:
    """Requests/s at 8 concurrent clients on loopback, batching on (8) vs off (1), same run."""
    model = tiny_model(renderer={"frames": 4, "size": [28, 28]}, max_new_tokens=6)
    ms = [synth.generate(a, layout="ntu25", seed=k) for k, a in enumerate(ACTIONS * 2)]
    for label, extra in [
        ("generate max_tokens=4", {"max_tokens": 4}),
        ("4 candidates", {"candidates": CANDS}),
    ]:
        bodies = [body(ms[k % len(ms)], **extra) for k in range(96)]
        for max_batch in (1, 8):
            spy = Spy(model)
            server, url = serving(spy, max_batch=max_batch, max_connections=16)
            try:
                answers(url, bodies[:8])  # warm-up
                spy.sizes.clear()
                t0 = time.perf_counter()
                with ThreadPoolExecutor(8) as ex:
                    codes = [r[0] for r in ex.map(post, [url] * len(bodies), bodies)]
                dt = time.perf_counter() - t0
            finally:
                server.shutdown()
                server.server_close()
            assert codes == [200] * len(bodies)
            print(
                f"{label:22s} --max-batch {max_batch}: {len(bodies) / dt:6.1f} req/s "
                f"({len(bodies)} requests, {len(spy.sizes)} model calls, "
                f"mean batch {np.mean(spy.sizes):.2f})",
                flush=True,
            )


if __name__ == "__main__":
    main()

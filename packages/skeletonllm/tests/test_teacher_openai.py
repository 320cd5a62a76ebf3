"""The OpenAI-compatible teacher against a stub endpoint on loopback: requests run concurrently (bounded),
answers come back in input order, transient failures are retried with backoff, client errors are not,
and distillation stays resumable. Both transports (httpx when installed, the standard library)."""

import json

import pytest
from skeletonllm.distill import distill, synthetic_samples
from skeletonllm.teacherbench import stub_server
from skeletonllm.teachers import openai as oa


@pytest.fixture(params=["httpx", "stdlib"])
def transport(request):
    if request.param == "httpx":
        pytest.importorskip("httpx")
        return lambda limit: oa._HttpxTransport(limit)
    return lambda limit: oa._StdlibTransport()


@pytest.fixture
def stub():
    servers = []

    def start(**kw):
        server, state, url = stub_server(**kw)
        servers.append(server)
        return state, url

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


@pytest.fixture(scope="module")
def motions():
    from skelformats import synth

    return [synth.generate("wave", layout="ntu25", seed=i, num_frames=12) for i in range(6)]


def _teacher(url, transport, monkeypatch, **kw):
    monkeypatch.setattr(oa, "_transport", transport)
    return oa.OpenAITeacher(url, frames=1, size=(16, 16), **kw)


def test_concurrent_and_in_order(stub, transport, motions, monkeypatch):
    state, url = stub(latency=0.15)
    labels = ["wave", "clap", "kick", "jump", "sit", "run"]
    t = _teacher(url, transport, monkeypatch, concurrency=3)
    out = t.rationales(motions, labels)
    assert out == [f"ok {x}\nAnswer: {x}" for x in labels]
    assert state.requests == 6 and 2 <= state.max_in_flight <= 3
    serial = _teacher(url, transport, monkeypatch, concurrency=1)
    state.max_in_flight = 0
    serial.rationales(motions[:2], labels[:2])
    assert state.max_in_flight == 1


def test_transient_failures_are_retried(stub, transport, motions, monkeypatch):
    state, url = stub(latency=0.0, fail_first=2, fail_status=503)
    t = _teacher(url, transport, monkeypatch, concurrency=1, retries=2, backoff=0.01)
    assert t.rationale(motions[0], "wave") == "ok wave\nAnswer: wave"
    assert state.requests == 3
    state2, url2 = stub(latency=0.0, fail_first=5, fail_status=429)
    t = _teacher(url2, transport, monkeypatch, retries=1, backoff=0.01)
    with pytest.raises(RuntimeError, match="HTTP 429"):
        t.rationale(motions[0], "wave")
    assert state2.requests == 2


def test_client_errors_are_not_retried(stub, transport, motions, monkeypatch):
    state, url = stub(latency=0.0, fail_first=1, fail_status=400)
    t = _teacher(url, transport, monkeypatch, retries=3, backoff=0.01)
    with pytest.raises(RuntimeError, match="HTTP 400"):
        t.rationale(motions[0], "wave")
    assert state.requests == 1


def test_unreachable_endpoint_names_the_url(transport, motions, monkeypatch):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = _teacher(f"http://127.0.0.1:{port}/v1", transport, monkeypatch, retries=1, backoff=0.01)
    with pytest.raises(RuntimeError, match=f"127.0.0.1:{port}/v1/chat/completions"):
        t.rationale(motions[0], "wave")


def test_distill_with_concurrent_teacher_resumes(stub, tmp_path, monkeypatch):
    state, url = stub(latency=0.02)
    t = oa.OpenAITeacher(url, frames=1, size=(16, 16), concurrency=4)
    samples = synthetic_samples(1, actions=["wave", "clap", "kick", "jump"], seed=0)
    out = tmp_path / "r.jsonl"
    assert distill(samples[:2], t, out, batch_size=4, progress=False)["written"] == 2
    res = distill(samples, t, out, batch_size=4, progress=False)
    assert res == {"written": 2, "skipped": 2, "path": str(out)}
    assert state.requests == 4  # the two already written were not asked again
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == [s.id for s in samples]
    assert all(r["rationale"].endswith(f"Answer: {r['label']}") for r in rows)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="concurrency"):
        oa.OpenAITeacher(concurrency=0)

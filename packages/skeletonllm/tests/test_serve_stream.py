"""``/v1/stream`` on ``skeletonllm serve``'s port: labels come back while the chunked body is still
open, bad chunks and streams past the limits end with a JSON error line, and the server keeps
answering (the model is held per scored window, so chat requests get through during a stream)."""

from __future__ import annotations

import io
import json
import socket
import threading
import urllib.request

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from skeletonllm import SkeletonLLM, SkeletonLLMConfig
from skeletonllm.live_http import StreamError, frame_lines, read_chunks
from skeletonllm.serve import make_server
from skelformats import synth

LABELS = ["wave", "walk"]
QUERY = "/v1/stream?layout=ntu25&fps=30&window=1&stride=0.5&labels=wave,walk"


@pytest.fixture(scope="module")
def model():
    return SkeletonLLM(
        SkeletonLLMConfig(renderer={"frames": 4, "size": (28, 28)}, max_new_tokens=4)
    )


@pytest.fixture(scope="module")
def server(model):
    srv = make_server(
        model, "127.0.0.1", 0, max_stream_frames=60, max_chunk_bytes=4096, request_timeout=20
    )
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[:2]
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def frames():
    m = synth.generate("wave", seed=0, side="right", repetitions=3)
    return [np.round(f, 3).tolist() for f in m.data]  # ntu25 at 30 frames/s


def chunk(frame) -> bytes:
    data = (json.dumps(frame) + "\n").encode()
    return b"%x\r\n%s\r\n" % (len(data), data)


class Stream:
    """A raw chunked POST: send frames at will, read label lines as they come."""

    def __init__(self, address, path=QUERY):
        self.sock = socket.create_connection(address, timeout=30)
        self.f = self.sock.makefile("rb")
        self.sock.sendall(
            b"POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" % path.encode()
        )
        self.status = None

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def head(self) -> dict:
        self.status = int(self.f.readline().split()[1])
        headers = {}
        while line := self.f.readline().strip():
            k, v = line.decode().split(":", 1)
            headers[k.lower()] = v.strip()
        return headers

    def line(self):
        size = int(self.f.readline().strip(), 16)
        data = self.f.read(size)
        self.f.readline()
        return json.loads(data) if size else None

    def rest(self) -> list:
        out = []
        while (doc := self.line()) is not None:
            out.append(doc)
        return out

    def close(self):
        self.sock.close()


def chat(address, frames) -> tuple[int, dict]:
    body = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is the person doing?"},
                    {"type": "skeleton", "skeleton": {"layout": "ntu25", "joints": frames}},
                ],
            }
        ],
        "candidates": LABELS,
    }
    req = urllib.request.Request(
        "http://{}:{}/v1/chat/completions".format(*address),
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_labels_arrive_before_the_body_ends_and_chat_gets_through(server, frames):
    s = Stream(server)
    s.send(b"".join(chunk(f) for f in frames[:30]))  # one full 1 s window
    headers = s.head()
    assert s.status == 200 and headers["content-type"] == "application/x-ndjson"
    first = s.line()  # the request body is still open
    assert first["first"] == 0 and first["last"] == 29 and first["label"] in LABELS
    assert 0 < first["score"] <= 1 and first["latency"] >= 0
    # The stream holds the model only while a window is scored: a chat request is answered now.
    status, doc = chat(server, frames[:20])
    assert status == 200 and doc["choices"][0]["message"]["content"] in LABELS
    s.send(b"".join(chunk(f) for f in frames[30:45]) + b"0\r\n\r\n")
    rest = s.rest()
    s.close()
    assert [e["last"] for e in rest[:-1]] == [44]
    assert rest[-1] == {"done": True, "frames": 45}


def test_malformed_chunk_ends_the_stream_and_the_server_keeps_answering(server, frames):
    s = Stream(server)
    s.send(b"".join(chunk(f) for f in frames[:5]) + b"zz\r\n{}\r\n")
    s.head()
    lines = s.rest()
    s.close()
    assert s.status == 200 and len(lines) == 1
    err = lines[0]
    assert err["frames"] == 5 and err["error"]["code"] == "invalid_chunk"
    assert err["error"]["type"] == "invalid_request_error" and "chunk" in err["error"]["message"]
    # A frame that is not JSON, then a chunk over the size bound: error lines too.
    s = Stream(server)
    s.send(chunk(frames[0]) + b"6\r\n{oops\n\r\n")
    s.head()
    err = s.rest()[-1]
    s.close()
    assert err["frames"] == 1 and err["error"]["code"] == "invalid_frame"
    s = Stream(server)
    s.send(b"%x\r\n" % 5000 + b"[" * 5000 + b"\r\n")
    s.head()
    err = s.rest()[-1]
    s.close()
    assert err["error"]["code"] == "chunk_too_large" and "4096" in err["error"]["message"]
    status, _ = chat(server, frames[:20])
    assert status == 200
    with urllib.request.urlopen("http://{}:{}/health".format(*server), timeout=30) as r:
        assert r.status == 200


def test_stream_past_the_frame_limit_is_cut(server, frames):
    s = Stream(server)
    s.send(b"".join(chunk(f) for f in frames[:80]) + b"0\r\n\r\n")
    s.head()
    lines = s.rest()
    s.close()
    *events, err = lines
    assert [e["last"] for e in events] == [29, 44, 59]  # every label up to the limit came back
    assert err["frames"] == 60 and err["error"]["code"] == "too_many_frames"
    assert "60 frames" in err["error"]["message"]


def test_bad_query_is_a_json_error_before_anything_streams(server):
    for path, param in [
        ("/v1/stream?fps=30", "layout"),
        ("/v1/stream?layout=nope&fps=30", "layout"),
        ("/v1/stream?layout=ntu25&fps=-1", "fps"),
        ("/v1/stream?layout=ntu25&fps=30&labels=a,a", "labels"),
        ("/v1/stream?layout=ntu25&fps=30&window=100", "window"),  # over max_frames per window
    ]:
        s = Stream(server, path)
        s.head()
        doc = json.loads(s.f.read())
        s.close()
        assert s.status == 400 and doc["error"]["param"] == param, doc


def test_idle_and_overlong_streams_are_cut(model, frames):
    srv = make_server(model, "127.0.0.1", 0, request_timeout=0.5, max_stream_seconds=1.5)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        s = Stream(srv.server_address[:2])
        s.send(b"".join(chunk(f) for f in frames[:5]))  # then nothing
        s.head()
        err = s.rest()[-1]
        s.close()
        assert err["frames"] == 5 and err["error"]["code"] == "request_timeout"
        s = Stream(srv.server_address[:2])  # a frame every 0.3 s: never idle, but too long
        s.sock.settimeout(10)
        sent = 0
        try:
            for f in frames[:10]:
                s.send(chunk(f))
                sent += 1
                threading.Event().wait(0.3)
        except OSError:  # the server may close before the last frames
            pass
        s.head()
        err = s.rest()[-1]
        s.close()
        assert err["error"]["code"] == "stream_too_long" and 0 < err["frames"] < 10
    finally:
        srv.shutdown()
        srv.server_close()


@settings(max_examples=60, deadline=None)
@given(
    lines=st.lists(
        st.binary(min_size=1, max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=8
    ),
    cuts=st.lists(st.integers(1, 30), max_size=20),
    ext=st.booleans(),
)
def test_chunk_boundaries_do_not_change_the_frame_lines(lines, cuts, ext):
    """However the body is cut into chunks (chunk extensions or not), the same lines come out."""
    body = b"".join(x + b"\n" for x in lines)
    pieces, k = [], 0
    for c in cuts + [len(body)]:
        if k < len(body):
            pieces.append(body[k : k + c])
            k += c
    wire = b"".join(b"%x%s\r\n%s\r\n" % (len(x), b";x=1" if ext else b"", x) for x in pieces)
    got = list(frame_lines(read_chunks(io.BytesIO(wire + b"0\r\n\r\n"), True, None)))
    assert got == [x for x in lines if x.strip()]
    with pytest.raises(StreamError) as e:  # no final 0-size chunk: the body was cut
        list(read_chunks(io.BytesIO(wire), True, None))
    assert e.value.code == "incomplete_body"

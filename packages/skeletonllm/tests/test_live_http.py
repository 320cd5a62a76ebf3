"""Chunked HTTP streaming: frames up as a chunked body, labels back while the body still streams."""

from __future__ import annotations

import http.client
import json
import socket
import threading

import numpy as np
import pytest
import torch
from skeletonllm.live_http import make_server


class Scorer:
    """Prefers 'up' when joint 0 rises over the window, else 'down'."""

    def __init__(self):
        self.calls = 0

    def score(self, motions, prompts, candidates):
        self.calls += 1
        out = []
        for m in motions:
            rise = float(m.data[-1, 0, 1] - m.data[0, 0, 1])
            out.append([rise if c == "up" else -rise for c in candidates])
        return torch.tensor(out)


@pytest.fixture
def server():
    scorer = Scorer()
    srv = make_server(scorer, ["up", "down"], port=0, max_streams=1)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv, scorer
    srv.shutdown()
    srv.server_close()


def _frames(n=90, j=25):
    y = np.concatenate([np.linspace(0, 1, n // 2), np.linspace(1, 0, n - n // 2)])
    return [np.tile([[0.0, v, 0.0]], (j, 1)).tolist() for v in y]


def _post(srv, query, body, **kw):
    conn = http.client.HTTPConnection(*srv.server_address, timeout=30)
    conn.request("POST", "/v1/stream?" + query, body=body, **kw)
    return conn.getresponse()


def _chunk(frame) -> bytes:
    data = (json.dumps(frame) + "\n").encode()
    return b"%x\r\n%s\r\n" % (len(data), data)


def _read_chunk(f) -> bytes:
    size = int(f.readline().strip(), 16)
    data = f.read(size)
    f.readline()
    return data


def test_labels_stream_back_while_frames_are_sent(server):
    srv, _ = server
    frames = _frames()
    sock = socket.create_connection(srv.server_address, timeout=30)
    f = sock.makefile("rb")
    sock.sendall(
        b"POST /v1/stream?layout=ntu25&fps=30&window=1&stride=0.5 HTTP/1.1\r\n"
        b"Host: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    sock.sendall(b"".join(_chunk(x) for x in frames[:30]))  # one full window
    assert f.readline().startswith(b"HTTP/1.1 200")
    headers = {}
    while line := f.readline().strip():
        k, v = line.decode().split(":", 1)
        headers[k.lower()] = v.strip()
    assert headers["content-type"] == "application/x-ndjson"
    first = json.loads(_read_chunk(f))  # arrives while the request body is still open
    assert first["last"] == 29 and first["label"] == "up"
    sock.sendall(b"".join(_chunk(x) for x in frames[30:]) + b"0\r\n\r\n")
    lines = [first]
    while data := _read_chunk(f):
        lines.append(json.loads(data))
    sock.close()
    events, done = lines[:-1], lines[-1]
    assert done == {"done": True, "frames": 90}
    assert len(events) == 1 + (90 - 30) // 15
    assert events[-1]["label"] == "down"
    assert all(e["last"] - e["first"] == 29 and e["latency"] >= 0 for e in events)


def test_bad_requests_are_answered_clearly(server):
    srv, _ = server
    r = _post(srv, "fps=30", b"[]\n")
    assert r.status == 400 and "layout" in json.loads(r.read())["error"]
    r = _post(srv, "layout=nope&fps=30", b"[]\n")
    assert r.status == 400
    r = _post(srv, "layout=ntu25&fps=30&labels=a,a", b"[]\n")
    assert r.status == 400 and "duplicates" in json.loads(r.read())["error"]
    # A broken frame after good ones ends the stream with an error line.
    body = b"".join((json.dumps(f) + "\n").encode() for f in _frames(40)) + b"{oops\n"
    r = _post(srv, "layout=ntu25&fps=30&window=1&stride=0.5", body)
    last = json.loads(r.read().splitlines()[-1])
    assert r.status == 200 and last["frames"] == 40 and "frame 40" in last["error"]

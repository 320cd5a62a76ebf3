"""``skeletonllm serve --asgi``: the OpenAI-compatible chat endpoint on FastAPI + uvicorn (extra
``serve``), with server-sent-event streaming (``"stream": true``: one chunk per decoded piece of text,
then a final chunk with ``finish_reason`` and ``usage``, then ``data: [DONE]``).

Requests are validated exactly as by the standard-library server (:func:`skeletonllm.serve.parse_request`)
and answered by the same :class:`~skeletonllm.serve.SkeletonService` (one model call at a time, 503 past
``queue_timeout``; concurrent non-streamed requests micro-batched into one call); ``usage`` counts the prompt's tokens (visual tokens included) and the answer's.
"""

# No ``from __future__ import annotations``: FastAPI reads the ``Request`` annotation at runtime.
import json
import threading
import time
import uuid

from .serve import (
    BATCH_WAIT,
    MAX_BATCH,
    MAX_BODY_BYTES,
    MAX_CANDIDATES,
    MAX_FRAMES,
    MAX_JSON_DEPTH,
    MAX_QUESTION_CHARS,
    RequestError,
    SkeletonService,
    _error_doc,
    parse_json,
    parse_request,
)


def _usage(model, question: str, text: str) -> dict:
    prompt = len(model.text.prompt_ids(question))
    done = len(model.tokenizer(text, add_special_tokens=False)["input_ids"]) if text else 0
    return {"prompt_tokens": prompt, "completion_tokens": done, "total_tokens": prompt + done}


def create_app(
    model,
    *,
    name: str = "skeletonllm",
    max_concurrency: int = 2,
    queue_timeout: float = 30.0,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_frames: int = MAX_FRAMES,
    max_candidates: int = MAX_CANDIDATES,
    max_question_chars: int = MAX_QUESTION_CHARS,
    max_json_depth: int = MAX_JSON_DEPTH,
    max_batch: int = MAX_BATCH,
    batch_wait: float = BATCH_WAIT,
):
    """The FastAPI application serving ``model`` as ``name``; non-streamed requests are micro-batched
    (``max_batch`` per model call, waiting ``batch_wait`` seconds for batch-mates)."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, StreamingResponse
    from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

    service = SkeletonService(
        model, name=name, queue_timeout=queue_timeout, max_batch=max_batch, batch_wait=batch_wait
    )
    slots = threading.BoundedSemaphore(max(1, int(max_concurrency)))
    app = FastAPI(title="skeletonllm", version="1")

    def error(err: RequestError) -> JSONResponse:
        headers = {"Retry-After": "1"} if err.status == 503 else None
        return JSONResponse(_error_doc(err), status_code=err.status, headers=headers)

    @app.get("/v1/models")
    def models():
        return {
            "object": "list",
            "data": [{"id": name, "object": "model", "owned_by": "skeletonllm"}],
        }

    @app.get("/health")
    def health():
        return {"status": "ok", "model": name}

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        try:
            size = int(request.headers.get("content-length") or 0)
        except ValueError:
            return error(RequestError(400, "bad Content-Length", code="invalid_request"))
        if size > max_body_bytes:
            return error(
                RequestError(413, f"request body over {max_body_bytes} bytes", code="too_large")
            )
        raw = b""
        async for chunk in request.stream():  # bounded even without a Content-Length
            raw += chunk
            if len(raw) > max_body_bytes:
                return error(
                    RequestError(413, f"request body over {max_body_bytes} bytes", code="too_large")
                )
        try:
            doc = parse_json(raw, max_depth=max_json_depth)
            stream = bool(doc.pop("stream", False)) if isinstance(doc, dict) else False
            if isinstance(doc, dict):
                doc.pop("stream_options", None)
            req = parse_request(
                doc,
                max_frames=max_frames,
                max_bytes=max_body_bytes,
                max_candidates=max_candidates,
                max_question_chars=max_question_chars,
            )
        except RequestError as e:
            return error(e)
        if not await run_in_threadpool(slots.acquire, True, queue_timeout):
            return error(RequestError(503, "the server is busy; retry later", code="busy"))
        head = {
            "id": "chatcmpl-" + uuid.uuid4().hex[:24],
            "created": int(time.time()),
            "model": name,
        }
        if not stream:
            try:
                text = await run_in_threadpool(service.answer, req)
            except RequestError as e:
                return error(e)
            except Exception as e:  # noqa: BLE001 - a model failure must not take the server down
                return error(RequestError(500, f"internal error: {type(e).__name__}: {e}"))
            finally:
                slots.release()
            return {
                **head,
                "object": "chat.completion",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": _usage(model, req["question"], text),
            }
        return StreamingResponse(
            iterate_in_threadpool(_sse(service, model, req, head, slots)),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache"},
        )

    return app


def _sse(service, model, req: dict, head: dict, slots):
    """Server-sent events of one streamed answer (runs in a worker thread; releases ``slots``)."""

    def event(delta: dict, finish=None, usage=None) -> str:
        doc = {
            **head,
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        if usage is not None:
            doc["usage"] = usage
        return f"data: {json.dumps(doc)}\n\n"

    try:
        yield event({"role": "assistant", "content": ""})
        pieces: list[str] = []
        try:
            if req["candidates"]:  # a closed-set answer is one piece
                pieces.append(service.answer(req))
                yield event({"content": pieces[-1]})
            else:
                for piece in _generate_stream(service, model, req):
                    pieces.append(piece)
                    yield event({"content": piece})
        except RequestError as e:
            yield f"data: {json.dumps(_error_doc(e))}\n\n"
            return
        except Exception as e:  # noqa: BLE001
            err = RequestError(500, f"internal error: {type(e).__name__}: {e}")
            yield f"data: {json.dumps(_error_doc(err))}\n\n"
            return
        text = "".join(pieces)
        yield event({}, "stop", _usage(model, req["question"], text.strip()))
        yield "data: [DONE]\n\n"
    finally:
        slots.release()


def _generate_stream(service, model, req: dict):
    """Decoded text as ``generate`` produces it (transformers' ``TextIteratorStreamer``)."""
    from transformers import TextIteratorStreamer

    streamer = TextIteratorStreamer(model.tokenizer, skip_prompt=True, skip_special_tokens=True)
    kw = {"streamer": streamer}
    if req["max_tokens"] is not None:
        kw["max_new_tokens"] = req["max_tokens"]
    failure: list[BaseException] = []

    def work():
        try:
            service._run(model.generate, [req["motion"]], [req["question"]], **kw)
        except BaseException as e:  # noqa: BLE001 - re-raised in the reading thread
            failure.append(e)
            streamer.end()

    t = threading.Thread(target=work, daemon=True)
    t.start()
    first = True
    for piece in streamer:
        if first:  # generate() strips the answer; the stream does the same at its start
            piece = piece.lstrip()
            first = not piece
        if piece:
            yield piece
    t.join()
    if failure:
        raise failure[0]


def run(model_path: str, host: str = "127.0.0.1", port: int = 8000, **kwargs) -> None:
    """Load a checkpoint and serve it with uvicorn until interrupted."""
    import uvicorn

    from .model import SkeletonLLM

    device, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
    log_level = "info" if kwargs.pop("verbose", False) else "warning"
    model = SkeletonLLM.from_pretrained(model_path, device=device, dtype=dtype)
    name = kwargs.pop("name", None) or str(model_path).rstrip("/").rsplit("/", 1)[-1]
    app = create_app(model, name=name, **kwargs)
    print(f"serving {model_path} on http://{host}:{port}/v1/chat/completions (asgi)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level)

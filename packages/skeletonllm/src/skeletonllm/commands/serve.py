"""``skeletonllm serve``: an OpenAI-compatible chat endpoint and live recognition for a checkpoint."""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "serve",
        help="serve a checkpoint at an OpenAI-compatible /v1/chat/completions endpoint",
        description="Serve CKPT over HTTP. Send the question as text and the skeleton as a 'skeleton' "
        "content part (joints + layout name) or a base64 'file' part in any format skelformats reads. "
        "POST /v1/stream?layout=NAME&fps=N streams frames (chunked NDJSON) and labels back.",
        epilog="examples:\n"
        "  skeletonllm serve --model demo-output/model --port 8000\n"
        "  curl -s localhost:8000/v1/models\n"
        "  curl -sN -X POST -T frames.ndjson -H 'Transfer-Encoding: chunked' \\\n"
        "    'localhost:8000/v1/stream?layout=ntu25&fps=30&labels=walk,sit%20down'",
    )
    from ..cli import checkpoint_ref

    p.add_argument(
        "--model",
        required=True,
        type=checkpoint_ref,
        help="checkpoint folder (save_pretrained output) or Hub id (org/name)",
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback only)")
    p.add_argument("--port", type=int, default=8000, help="port (0 picks a free one)")
    p.add_argument("--max-concurrency", type=int, default=2, help="requests processed at once")
    p.add_argument("--max-body-mb", type=float, default=16.0, help="largest accepted request body")
    p.add_argument("--max-frames", type=int, default=2000, help="longest accepted sequence")
    p.add_argument("--max-candidates", type=int, default=256, help="most candidates per request")
    p.add_argument("--max-question-chars", type=int, default=4000, help="longest accepted question")
    p.add_argument(
        "--max-connections", type=int, default=16, help="connection threads (a fixed pool)"
    )
    p.add_argument(
        "--request-timeout",
        type=float,
        default=30.0,
        help="seconds a connection has to send each request (then 408)",
    )
    p.add_argument(
        "--queue-timeout",
        type=float,
        default=30.0,
        help="seconds a request waits for the model (then 503)",
    )
    p.add_argument(
        "--max-batch",
        type=int,
        default=8,
        help="concurrent requests answered by one model call (1: no batching)",
    )
    p.add_argument(
        "--batch-wait-ms",
        type=float,
        default=5.0,
        help="milliseconds a batch waits for concurrent requests to join",
    )
    p.add_argument(
        "--labels",
        default=None,
        help="labels /v1/stream scores when a request names none (comma-separated; "
        "default: the synthetic action vocabulary)",
    )
    p.add_argument("--max-streams", type=int, default=4, help="live streams at once (more: 503)")
    p.add_argument(
        "--max-stream-frames", type=int, default=108_000, help="frames in one live stream"
    )
    p.add_argument(
        "--max-stream-seconds", type=float, default=3600.0, help="duration of one live stream"
    )
    p.add_argument(
        "--max-chunk-kb",
        type=float,
        default=1024.0,
        help="largest chunk (and frame line) of a streamed body",
    )
    p.add_argument(
        "--name", default=None, help="model name reported by the API (default: directory name)"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log every request")
    p.add_argument("-q", "--quiet", action="store_true", help="errors only in the log")
    p.add_argument(
        "--asgi",
        action="store_true",
        help="serve chat completions on FastAPI + uvicorn with SSE streaming (extra 'serve'; "
        "no /v1/stream)",
    )
    from ..devices import add_device_args

    add_device_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..devices import resolve_device
    from ..serve import serve
    from ._common import UsageError

    try:
        device = resolve_device(args.device)
    except ValueError as exc:
        raise UsageError(str(exc)) from None

    if not 0 < args.max_body_mb < 1 << 20:
        raise ValueError(f"--max-body-mb must be a positive number, got {args.max_body_mb}")
    if not 0 < args.max_chunk_kb < 1 << 30:
        raise ValueError(f"--max-chunk-kb must be a positive number, got {args.max_chunk_kb}")
    if args.max_batch < 1:
        raise ValueError(f"--max-batch must be a positive integer, got {args.max_batch}")
    if not 0 <= args.batch_wait_ms < 60_000:
        raise ValueError(f"--batch-wait-ms must be between 0 and 60000, got {args.batch_wait_ms}")
    # settings both servers take; the stdlib server adds its connection and stream bounds
    common = dict(
        name=args.name,
        max_concurrency=args.max_concurrency,
        max_body_bytes=int(args.max_body_mb * 1024 * 1024),
        max_frames=args.max_frames,
        max_candidates=args.max_candidates,
        max_question_chars=args.max_question_chars,
        queue_timeout=args.queue_timeout,
        max_batch=args.max_batch,
        batch_wait=args.batch_wait_ms / 1000.0,
        verbose=args.verbose,
        device=device,
        dtype=args.dtype,
    )
    if args.asgi:
        import importlib.util

        if not (importlib.util.find_spec("fastapi") and importlib.util.find_spec("uvicorn")):
            raise UsageError("--asgi needs fastapi and uvicorn: pip install 'skeletonllm[serve]'")
        from ..asgi import run as run_asgi

        run_asgi(args.model, args.host, args.port, **common)
        return 0
    serve(
        args.model,
        args.host,
        args.port,
        **common,
        max_connections=args.max_connections,
        request_timeout=args.request_timeout,
        labels=args.labels,
        max_streams=args.max_streams,
        max_stream_frames=args.max_stream_frames,
        max_stream_seconds=args.max_stream_seconds,
        max_chunk_bytes=max(1, int(args.max_chunk_kb * 1024)),
    )
    return 0

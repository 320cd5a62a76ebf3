"""``skeletonllm serve``: an OpenAI-compatible chat endpoint for a checkpoint."""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "serve",
        help="serve a checkpoint at an OpenAI-compatible /v1/chat/completions endpoint",
        description="Serve CKPT over HTTP. Send the question as text and the skeleton as a 'skeleton' "
        "content part (joints + layout name) or a base64 'file' part in any format skelformats reads.",
        epilog="examples:\n"
        "  skeletonllm serve --model demo-output/model --port 8000\n"
        "  curl -s localhost:8000/v1/models",
    )
    p.add_argument("--model", required=True, help="checkpoint directory (save_pretrained output)")
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
        "--name", default=None, help="model name reported by the API (default: directory name)"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log every request")
    p.add_argument("-q", "--quiet", action="store_true", help="errors only in the log")
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
    serve(
        args.model,
        args.host,
        args.port,
        name=args.name,
        max_concurrency=args.max_concurrency,
        max_body_bytes=int(args.max_body_mb * 1024 * 1024),
        max_frames=args.max_frames,
        max_candidates=args.max_candidates,
        max_question_chars=args.max_question_chars,
        max_connections=args.max_connections,
        request_timeout=args.request_timeout,
        queue_timeout=args.queue_timeout,
        verbose=args.verbose,
        device=device,
        dtype=args.dtype,
    )
    return 0

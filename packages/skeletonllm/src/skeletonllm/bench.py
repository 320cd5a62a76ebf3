"""``python -m skeletonllm.bench``: training throughput and visual tokens of a (tiny) model on this machine.

``train_samples_per_cpu_s``: samples per CPU-second of this process (all threads), which other jobs on
a shared machine do not distort; ``render_fwd_bwd_share``: time of the renderer's forward + backward alone over the full step time.

Measures full optimizer steps (render -> bridge -> VLM -> backward -> AdamW) on synthetic recognition
records after warm-up steps; prints samples/s, visual tokens per sample and the frame shape.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import torch


def measure(
    backbone: str = "tiny-qwen2vl",
    *,
    threads: int = 2,
    batch_size: int = 8,
    steps: int = 10,
    warmup: int = 2,
    trainable=("renderer", "projector", "lora"),
) -> dict:
    from .config import SkeletonLLMConfig
    from .data import synthetic_records
    from .model import SkeletonLLM
    from .training import train_stage

    torch.set_num_threads(threads)
    model = SkeletonLLM(SkeletonLLMConfig(backbone=backbone, trainable=tuple(trainable)))
    records = synthetic_records(batch_size * 4, seed=0)
    with tempfile.TemporaryDirectory() as d:
        train_stage(
            model,
            records,
            out_dir=d,
            steps=warmup,
            batch_size=batch_size,
            progress=False,
            save_model=False,
        )
    collate = model.collator()
    batches = [collate(records[i * batch_size : (i + 1) * batch_size]) for i in range(4)]
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    model.train()
    t0, c0 = time.perf_counter(), time.process_time()
    for s in range(steps):
        loss = model(batches[s % 4])
        loss.backward()
        opt.step()
        opt.zero_grad()
    train_time, train_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    for s in range(steps):
        model.render(batches[s % 4]["samples"]).sum().backward()
    render_time = time.perf_counter() - t0
    opt.zero_grad()
    t0 = time.perf_counter()
    for s in range(steps):
        collate(records[(s % 4) * batch_size : (s % 4 + 1) * batch_size])
    collate_time = time.perf_counter() - t0
    return {
        "backbone": backbone,
        "threads": threads,
        "batch_size": batch_size,
        "train_samples_per_s": steps * batch_size / train_time,
        # CPU seconds are robust to other jobs on a shared machine; wall time is not.
        "train_samples_per_cpu_s": steps * batch_size / train_cpu,
        "collate_samples_per_s": steps * batch_size / collate_time,
        "render_fwd_bwd_share": render_time / train_time,
        "visual_tokens_per_sample": model.visual_tokens,
        "frame_shape": list(model.frame_shape),
        "sequence_length": int(batches[0]["input_ids"].shape[1]),
        "parameters": {g: sum(p.numel() for p in ps) for g, ps in model.parameter_groups().items()},
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m skeletonllm.bench", description=__doc__.splitlines()[0]
    )
    p.add_argument(
        "--backbone", action="append", help="tiny name(s); default: all built-in tiny backbones"
    )
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--steps", type=int, default=10)
    args = p.parse_args(argv)
    from .backbones import list_tiny

    for bb in args.backbone or list_tiny():
        print(
            json.dumps(
                measure(bb, threads=args.threads, batch_size=args.batch_size, steps=args.steps)
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m skeletonllm.bench``: training throughput and visual tokens of a (tiny) model on this machine.

``train_samples_per_cpu_s``: samples per CPU-second of this process (all threads), which other jobs on
a shared machine do not distort; ``render_fwd_bwd_share``: time of the renderer's forward + backward alone over the full step time.
``reference_train_samples_per_s`` / ``train_speedup_cpu``: the same steps with the vision patch embedding
run as the library's Conv3d (the baseline), alternating with the measured steps in the same run; best of
three rounds each.

Scoring: ``skelbench``-style candidate scoring (15 synthetic-suite classes per motion) through the
shared prompt cache, beside the per-candidate full forward it replaced, measured in the same run.

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
    from .model import SkeletonLLM, _PatchConv3d
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
    convs = [m for m in model.modules() if isinstance(m, _PatchConv3d)]

    def timed_steps(reference: bool) -> tuple[float, float]:
        # reference: the patch embedding as the library's Conv3d (the step before this benchmark's
        # baseline was replaced); both modes alternate in rounds so machine load hits them alike
        for m in convs:
            m.__class__ = torch.nn.Conv3d if reference else _PatchConv3d
        t0, c0 = time.perf_counter(), time.process_time()
        for s in range(steps):
            loss = model(batches[s % 4])
            loss.backward()
            opt.step()
            opt.zero_grad()
        return time.perf_counter() - t0, time.process_time() - c0

    rounds = {False: [], True: []}
    for _ in range(3):
        for reference in (True, False):
            rounds[reference].append(timed_steps(reference))
    train_time, train_cpu = min(rounds[False])
    ref_time, ref_cpu = min(rounds[True])
    render_time = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for s in range(steps):
            model.render(batches[s % 4]["samples"]).sum().backward()
        render_time = min(render_time, time.perf_counter() - t0)
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
        "reference_train_samples_per_s": steps * batch_size / ref_time,
        "train_speedup_cpu": ref_cpu / train_cpu,
        # CPU seconds are robust to other jobs on a shared machine; wall time is not.
        "train_samples_per_cpu_s": steps * batch_size / train_cpu,
        "collate_samples_per_s": steps * batch_size / collate_time,
        "render_fwd_bwd_share": render_time / train_time,
        "visual_tokens_per_sample": model.visual_tokens,
        "frame_shape": list(model.frame_shape),
        "sequence_length": int(batches[0]["input_ids"].shape[1]),
        "parameters": {g: sum(p.numel() for p in ps) for g, ps in model.parameter_groups().items()},
    }


def measure_scoring(
    backbone: str = "tiny-qwen2vl",
    *,
    threads: int = 2,
    samples: int = 32,
    batch_size: int = 8,
    repeats: int = 2,
) -> dict:
    """Candidate scoring of the synthetic suite's classes (all 15 actions per sample), batches of
    ``batch_size`` motions as ``skelbench`` sends them: the per-candidate full forward (baseline)
    against the shared prompt cache, same model and motions; best of ``repeats``. ``speedup`` is
    whole calls (preparing, rendering and the vision tower included, the same work in both);
    ``lm_part_speedup`` the part after the pixel inputs."""
    from skelformats import synth

    from .config import SkeletonLLMConfig
    from .data import action_phrase, synthetic_records
    from .model import SkeletonLLM

    torch.set_num_threads(threads)
    model = SkeletonLLM(SkeletonLLMConfig(backbone=backbone))
    motions = [r.motion for r in synthetic_records(samples, seed=0)]
    cands = [action_phrase(a) for a in synth.ACTIONS]
    prompt = "What action is the person performing?"

    def run(shared: bool) -> tuple[float, torch.Tensor]:
        best, out = float("inf"), None
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = torch.cat(
                [
                    model.score(motions[i : i + batch_size], prompt, cands, shared_prefix=shared)
                    for i in range(0, samples, batch_size)
                ]
            )
            best = min(best, time.perf_counter() - t0)
        return best, out

    def run_lm(shared: bool) -> float:
        # the language-model part alone: frames rendered and prepared once, outside the timing
        best = float("inf")
        with torch.no_grad():
            model.eval()
            for _ in range(repeats):
                total = 0.0
                for i in range(0, samples, batch_size):
                    part = motions[i : i + batch_size]
                    pix = model.pixel_inputs(model.prepare(part))
                    t0 = time.perf_counter()
                    if shared:
                        model._score_shared(
                            pix, [prompt] * len(part), [cands] * len(part), 32, False
                        )
                    else:
                        model._score(
                            pix, [prompt] * len(part), [cands] * len(part), 32, False, True
                        )
                    total += time.perf_counter() - t0
                best = min(best, total)
        return best

    run(True)  # warm-up
    old_s, old = run(False)
    new_s, new = run(True)
    old_lm, new_lm = run_lm(False), run_lm(True)
    return {
        "backbone": backbone,
        "threads": threads,
        "samples": samples,
        "candidates": len(cands),
        "per_candidate_samples_per_s": samples / old_s,
        "shared_prefix_samples_per_s": samples / new_s,
        "speedup": old_s / new_s,
        "lm_part_per_candidate_s": old_lm,
        "lm_part_shared_prefix_s": new_lm,
        "lm_part_speedup": old_lm / new_lm,
        "max_abs_score_difference": float((old - new).abs().max()),
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
    p.add_argument(
        "--part",
        choices=("all", "train", "score"),
        default="all",
        help="training step, candidate scoring (shared prompt cache vs per-candidate), or both",
    )
    args = p.parse_args(argv)
    from .backbones import list_tiny

    for bb in args.backbone or list_tiny():
        if args.part in ("all", "train"):
            print(
                json.dumps(
                    measure(bb, threads=args.threads, batch_size=args.batch_size, steps=args.steps)
                )
            )
        if args.part in ("all", "score"):
            print(json.dumps({"scoring": measure_scoring(bb, threads=args.threads)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

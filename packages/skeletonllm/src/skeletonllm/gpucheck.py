"""GPU check: Qwen2-VL-2B- and Qwen2.5-VL-3B-sized backbones (configs copied from their public
``config.json``; random weights, no download), bf16, LoRA, DrAction in front; one training step at
batch 4 and one ``generate``; prints peak GPU memory, step time, samples/s and the renderer's share of
the step.

    python -m skeletonllm.gpucheck                 # both models, on CUDA (bf16)
    python -m skeletonllm.gpucheck --shrink        # same code path with tiny widths (CPU smoke test)

The tokenizer is skeletonllm's small built-in one (the Qwen vocabulary is not downloaded); the
embedding matrix keeps the real 151,936 rows, so memory and LM-head time are those of the real model.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

# From Qwen/Qwen2-VL-2B-Instruct/config.json.
QWEN2_VL_2B = {
    "family": "qwen2_vl",
    "text": dict(
        vocab_size=151936,
        hidden_size=1536,
        intermediate_size=8960,
        num_hidden_layers=28,
        num_attention_heads=12,
        num_key_value_heads=2,
        max_position_embeddings=32768,
        rms_norm_eps=1e-6,
        hidden_act="silu",
        tie_word_embeddings=True,
        rope_parameters={
            "rope_type": "default",
            "mrope_section": [16, 24, 24],
            "rope_theta": 1000000.0,
        },
    ),
    "vision": dict(
        depth=32,
        embed_dim=1280,
        hidden_size=1536,
        mlp_ratio=4,
        num_heads=16,
        in_chans=3,
        patch_size=14,
        spatial_merge_size=2,
        temporal_patch_size=2,
    ),
}

# From Qwen/Qwen2.5-VL-3B-Instruct/config.json.
QWEN25_VL_3B = {
    "family": "qwen2_5_vl",
    "text": dict(
        vocab_size=151936,
        hidden_size=2048,
        intermediate_size=11008,
        num_hidden_layers=36,
        num_attention_heads=16,
        num_key_value_heads=2,
        max_position_embeddings=128000,
        rms_norm_eps=1e-6,
        hidden_act="silu",
        tie_word_embeddings=True,
        rope_parameters={
            "rope_type": "default",
            "mrope_section": [16, 24, 24],
            "rope_theta": 1000000.0,
        },
    ),
    "vision": dict(
        depth=32,
        hidden_size=1280,
        intermediate_size=3420,
        num_heads=16,
        out_hidden_size=2048,
        in_chans=3,
        patch_size=14,
        spatial_merge_size=2,
        temporal_patch_size=2,
        window_size=112,
        fullatt_block_indexes=[7, 15, 23, 31],
        tokens_per_second=2,
        hidden_act="silu",
    ),
}

MODELS = {"qwen2-vl-2b": QWEN2_VL_2B, "qwen2.5-vl-3b": QWEN25_VL_3B}


def shrink(spec: dict) -> dict:
    """The same architecture at toy widths (CPU smoke test of this script)."""
    text = dict(spec["text"], hidden_size=64, intermediate_size=128, num_hidden_layers=2)
    text.update(num_attention_heads=4, num_key_value_heads=2, vocab_size=2048)
    text["rope_parameters"] = dict(text["rope_parameters"], mrope_section=[2, 3, 3])
    vision = dict(spec["vision"], depth=2, num_heads=2)
    if spec["family"] == "qwen2_vl":
        vision.update(embed_dim=32, hidden_size=64)
    else:
        vision.update(hidden_size=32, intermediate_size=64, out_hidden_size=64)
        vision.update(fullatt_block_indexes=[1])
    return {"family": spec["family"], "text": text, "vision": vision}


def build_backbone(spec: dict, *, size: tuple[int, int], dtype, device):
    """A randomly initialised backbone of ``spec`` with skeletonllm's tokenizer, built directly on
    ``device`` in ``dtype``."""
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
    )
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
        Qwen2VLImageProcessorPil,
    )

    from .backbones import Backbone
    from .data import tokenizer_corpus
    from .tokenizer import build_tokenizer

    tok = build_tokenizer(
        image_placeholder="<|vision_start|><|image_pad|><|vision_end|>",
        video_placeholder="<|vision_start|><|video_pad|><|vision_end|>",
        extra_corpus=tokenizer_corpus(),
    )
    ids = tok.convert_tokens_to_ids
    text = dict(spec["text"], bos_token_id=None, eos_token_id=tok.eos_token_id)
    text["pad_token_id"] = tok.pad_token_id
    text["vocab_size"] = max(text["vocab_size"], len(tok))
    cfg_cls, model_cls = (
        (Qwen2VLConfig, Qwen2VLForConditionalGeneration)
        if spec["family"] == "qwen2_vl"
        else (Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration)
    )
    cfg = cfg_cls(
        text_config=text,
        vision_config=spec["vision"],
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
        tie_word_embeddings=text["tie_word_embeddings"],
    )
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = model_cls(cfg)
    finally:
        torch.set_default_dtype(default)
    area = size[0] * size[1]
    ip = Qwen2VLImageProcessorPil(
        size={"shortest_edge": min(area, 56 * 56), "longest_edge": max(4 * area, 28 * 28 * 16)}
    )
    return Backbone(model.eval(), tok, ip.to_dict(), ip)


def _sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, device):
    _sync(device)
    t0 = time.perf_counter()
    out = fn()
    _sync(device)
    return out, time.perf_counter() - t0


def check(name: str, spec: dict, args) -> dict:
    from . import SkeletonLLM, SkeletonLLMConfig
    from .data import synthetic_records

    device, dtype = args.device, getattr(torch, args.dtype)
    cuda = torch.device(device).type == "cuda"
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    size = (args.size, args.size)
    t0 = time.perf_counter()
    bb = build_backbone(spec, size=size, dtype=dtype, device=device)
    config = SkeletonLLMConfig(
        backbone=f"{name} (random init)",
        renderer={"frames": args.frames, "size": list(size)},
        dtype=args.dtype,
        max_new_tokens=args.new_tokens,
    )
    model = SkeletonLLM(config, _backbone=bb).to(device)
    build_s = time.perf_counter() - t0
    if args.gradient_checkpointing:
        model.backbone.gradient_checkpointing_enable()
        model.backbone.enable_input_require_grads()
    records = synthetic_records(args.batch_size, actions=["wave", "kick", "squat", "jump"])
    batch = model.collator()(records)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    model.train()

    def step():
        loss = model(batch)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return float(loss.detach())

    def render_fwd_bwd():  # the renderer's part of a step, on its own
        frames = model.render(batch["samples"])
        frames.float().sum().backward()
        model.renderer.zero_grad(set_to_none=True)

    step()  # warm-up: kernels, allocator, autotuning
    loss, step_s = _timed(step, device)
    render_s = min(_timed(render_fwd_bwd, device)[1] for _ in range(3))
    motions = [r.motion for r in records]
    answers, gen_s = _timed(
        lambda: model.generate(motions, records[0].prompt, max_new_tokens=args.new_tokens), device
    )
    out = {
        "model": name,
        "device": device,
        "dtype": args.dtype,
        "params_M": round(sum(p.numel() for p in model.parameters()) / 1e6, 1),
        "trainable_M": round(sum(p.numel() for p in params) / 1e6, 2),
        "visual_tokens": model.visual_tokens,
        "build_s": round(build_s, 2),
        "batch": args.batch_size,
        "loss": round(loss, 4),
        "step_s": round(step_s, 4),
        "samples_per_s": round(args.batch_size / step_s, 2),
        "renderer_fwd_bwd_s": round(render_s, 4),
        "renderer_share": round(render_s / step_s, 4),
        "generate_s": round(gen_s, 3),
        "generated_tokens": args.new_tokens,
        "answers_nonempty": sum(bool(a) for a in answers),
    }
    if cuda:
        out["peak_gpu_mem_GiB"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
        out["gpu"] = torch.cuda.get_device_name(device)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m skeletonllm.gpucheck", description=__doc__.split("\n\n")[0]
    )
    p.add_argument(
        "--models", default=",".join(MODELS), help="comma-separated: " + ", ".join(MODELS)
    )
    p.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    p.add_argument("--dtype", default=None, help="default: bfloat16 on CUDA, float32 on CPU")
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--frames", type=int, default=8)
    p.add_argument("--size", type=int, default=224, help="rendered frame side (multiple of 28)")
    p.add_argument("--new-tokens", type=int, default=16)
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument("--shrink", action="store_true", help="toy widths (CPU smoke test)")
    args = p.parse_args(argv)
    from .devices import resolve_device

    args.device = resolve_device(args.device)
    if args.dtype is None:
        args.dtype = "bfloat16" if args.device.startswith("cuda") else "float32"
    torch.manual_seed(0)
    for name in args.models.split(","):
        spec = MODELS[name.strip()]
        result = check(name.strip(), shrink(spec) if args.shrink else spec, args)
        print(json.dumps(result), flush=True)
        if torch.device(args.device).type == "cuda":
            torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

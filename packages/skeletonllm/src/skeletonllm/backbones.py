"""Backbones: built-in tiny VLMs (real transformers architectures, small configs, random init) and the
loading path for hub ids / local directories.

A tiny backbone is built so that its processor needs no resize for the configured renderer output: the
Qwen2-VL video keeps the frame size, the LLaVA/Idefics3 grid image is exactly the vision tower's size.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from .tokenizer import build_tokenizer

_TINY: dict[str, Callable[..., Backbone]] = {}

PROCESSOR_FILES = (
    "video_preprocessor_config.json",
    "preprocessor_config.json",
    "processor_config.json",
)


@dataclass
class Backbone:
    """A Hugging Face VLM, its tokenizer and its processor settings (plain JSON dict)."""

    model: torch.nn.Module
    tokenizer: object
    processor_config: dict
    image_processor: object | None = None


def register_tiny(name: str):
    def deco(fn):
        _TINY[name] = fn
        return fn

    return deco


def list_tiny() -> list[str]:
    return sorted(_TINY)


def is_tiny(name: str) -> bool:
    return name in _TINY


def build_tiny(
    name: str, *, frames: int, size: tuple[int, int], views: int = 1, seed: int = 0
) -> Backbone:
    """Build the tiny backbone ``name`` for renderer output (frames, size) with a fixed seed."""
    if name not in _TINY:
        raise ValueError(f"unknown tiny backbone {name!r}; available: {', '.join(list_tiny())}")
    from .data import tokenizer_corpus

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return _TINY[name](frames=frames, size=tuple(size), views=views, corpus=tokenizer_corpus())


def _text_cfg(tok, hidden=64, layers=2, heads=4, kv=2, **extra):
    # Weights drawn with std 1/sqrt(hidden), not the 0.02 of billion-parameter configs: at hidden 64, 0.02
    # leaves logits within about +-1.3 of uniform over the vocabulary (an LM head that LoRA cannot make
    # confident) and makes every optimizer step large relative to the weights.
    return dict(
        initializer_range=hidden**-0.5,
        vocab_size=len(tok),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv,
        max_position_embeddings=2048,
        bos_token_id=None,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        **extra,
    )


def _grid_side(frames: int, size: tuple[int, int]) -> int:
    rows = math.ceil(math.sqrt(frames))
    cols = math.ceil(frames / rows)
    if rows * size[0] != cols * size[1]:
        raise ValueError(
            f"tiny grid backbones need a square frame grid; got {frames} frames of {size}"
        )
    return rows * size[0]


@register_tiny("tiny-qwen2vl")
def _tiny_qwen2vl(*, frames, size, views, corpus) -> Backbone:
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    if size[0] % 28 or size[1] % 28:
        raise ValueError(
            f"tiny-qwen2vl needs frame sides divisible by 28 (patch 14 x merge 2); got {size}"
        )
    tok = build_tokenizer(
        image_placeholder="<|vision_start|><|image_pad|><|vision_end|>",
        video_placeholder="<|vision_start|><|video_pad|><|vision_end|>",
        extra_corpus=corpus,
    )
    ids = tok.convert_tokens_to_ids
    cfg = Qwen2VLConfig(
        text_config=_text_cfg(
            tok,
            rope_parameters={
                "rope_type": "default",
                "mrope_section": [2, 3, 3],
                "rope_theta": 10000.0,
            },
        ),
        vision_config=dict(
            depth=2,
            embed_dim=32,
            hidden_size=64,
            num_heads=2,
            mlp_ratio=2,
            patch_size=14,
            spatial_merge_size=2,
            temporal_patch_size=2,
            initializer_range=64**-0.5,  # merger output on the scale of the text embeddings
        ),
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
    )
    model = Qwen2VLForConditionalGeneration(cfg)
    area = size[0] * size[1]
    ip = Qwen2VLImageProcessorPil(
        size={"shortest_edge": min(area, 56 * 56), "longest_edge": max(4 * area, 28 * 28 * 16)}
    )
    return Backbone(model, tok, ip.to_dict(), ip)


@register_tiny("tiny-llava")
def _tiny_llava(*, frames, size, views, corpus) -> Backbone:
    from transformers import LlavaConfig, LlavaForConditionalGeneration
    from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

    side = _grid_side(frames, size)
    patch = side // 6 if side % 6 == 0 else 14
    tok = build_tokenizer(image_placeholder="<image>", extra_corpus=corpus)
    cfg = LlavaConfig(
        vision_config=dict(
            model_type="siglip_vision_model",
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=side,
            patch_size=patch,
        ),
        text_config=dict(model_type="llama", **_text_cfg(tok)),
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
        image_seq_length=(side // patch) ** 2,
    )
    model = LlavaForConditionalGeneration(cfg)
    ip = SiglipImageProcessorPil(size={"height": side, "width": side})
    return Backbone(model, tok, ip.to_dict(), ip)


@register_tiny("tiny-idefics3")
def _tiny_idefics3(*, frames, size, views, corpus) -> Backbone:
    from transformers import Idefics3Config, Idefics3ForConditionalGeneration
    from transformers.models.idefics3.image_processing_pil_idefics3 import Idefics3ImageProcessorPil

    side = _grid_side(frames, size)
    patch = side // 12 if side % 12 == 0 else 14
    tok = build_tokenizer(image_placeholder="<image>", extra_corpus=corpus)
    cfg = Idefics3Config(
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=side,
            patch_size=patch,
        ),
        text_config=dict(model_type="llama", **_text_cfg(tok)),
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        scale_factor=2,
    )
    model = Idefics3ForConditionalGeneration(cfg)
    ip = Idefics3ImageProcessorPil(
        size={"longest_edge": side}, max_image_size={"longest_edge": side}, do_image_splitting=False
    )
    return Backbone(model, tok, ip.to_dict(), ip)


def _read_source_file(source: str | os.PathLike, name: str) -> str | None:
    """Text of ``name`` in a local directory or a hub repo (None when it does not exist)."""
    local = Path(source)
    if local.is_dir():
        return (local / name).read_text() if (local / name).is_file() else None
    from transformers.utils import cached_file

    resolved = cached_file(str(source), name, _raise_exceptions_for_missing_entries=False)
    return Path(resolved).read_text() if resolved else None


def read_processor_config(source: str | os.PathLike) -> dict:
    """Merged processor settings of a local directory or hub id (video settings override image ones)."""
    merged: dict = {}
    for name in reversed(PROCESSOR_FILES):
        text = _read_source_file(source, name)
        if text is None:
            continue
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{source}/{name}: not valid JSON ({exc})") from exc
        # processor_config.json nests the image processor settings
        data = data.get("image_processor", data) if name == "processor_config.json" else data
        merged.update(data)
    return merged


def load_pretrained_backbone(source: str, *, dtype=None, **kwargs) -> Backbone:
    """A hub id or local directory through AutoTokenizer / AutoModelForImageTextToText.

    The chat template comes from the tokenizer, else from the processor's ``chat_template.jinja`` /
    ``chat_template.json`` (where recent VLM repos keep it).
    """
    from transformers import AutoModelForImageTextToText, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(source)
    if not getattr(tok, "chat_template", None):
        jinja = _read_source_file(source, "chat_template.jinja")
        js = _read_source_file(source, "chat_template.json")
        tok.chat_template = jinja or (json.loads(js)["chat_template"] if js else None)
    if not getattr(tok, "chat_template", None):
        raise ValueError(f"{source}: no chat template in the tokenizer or processor files")
    model = AutoModelForImageTextToText.from_pretrained(source, dtype=dtype, **kwargs)
    return Backbone(model, tok, read_processor_config(source))

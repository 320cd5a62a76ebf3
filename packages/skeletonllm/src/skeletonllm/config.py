"""``SkeletonLLMConfig``: everything needed to rebuild a model, stored as ``config.json``."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

GROUPS = ("renderer", "projector", "lora", "llm", "vision")


@dataclass
class LoraSettings:
    """peft LoRA on the language model's linear layers."""

    enabled: bool = True
    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    target_modules: tuple[str, ...] = (
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    )


@dataclass
class RendererSettings:
    """``drrender.DrAction`` constructor settings; ``extra`` is passed through as keyword arguments."""

    frames: int = 8
    size: tuple[int, int] = (56, 56)
    views: int = 1
    num_part_tags: int = 7
    extra: dict = field(default_factory=dict)


@dataclass
class SkeletonLLMConfig:
    """backbone: a built-in tiny name (``tiny-qwen2vl``...), a hub id or a local directory."""

    backbone: str = "tiny-qwen2vl"
    renderer: RendererSettings = field(default_factory=RendererSettings)
    lora: LoraSettings = field(default_factory=LoraSettings)
    trainable: tuple[str, ...] = ("renderer", "projector", "lora")
    normalize: bool = True
    dtype: str | None = None
    seed: int = 0
    max_new_tokens: int = 32
    version: int = 1
    # Answers the model was trained to give for recognition (set by training), so that a benchmark can
    # tell a zero-shot evaluation from one over classes the model has seen.
    trained_labels: tuple[str, ...] = ()
    # Hub / local backbones only (passed to transformers' from_pretrained): e.g. device_map "auto",
    # attn_implementation "sdpa" / "flash_attention_2", quantization {"load_in_4bit": true, ...}
    # (BitsAndBytesConfig fields; needs bitsandbytes and a GPU).
    device_map: str | dict | None = None
    attn_implementation: str | None = None
    quantization: dict | None = None

    def __post_init__(self):
        if isinstance(self.renderer, dict):
            self.renderer = RendererSettings(**self.renderer)
        if isinstance(self.lora, dict):
            self.lora = LoraSettings(**self.lora)
        self.renderer.size = tuple(int(s) for s in self.renderer.size)
        self.lora.target_modules = tuple(self.lora.target_modules)
        self.trainable = tuple(self.trainable)
        self.trained_labels = tuple(self.trained_labels or ())
        bad = [g for g in self.trainable if g not in GROUPS]
        if bad:
            raise ValueError(f"unknown trainable group(s) {bad}; groups are {GROUPS}")
        if "lora" in self.trainable and not self.lora.enabled:
            raise ValueError("'lora' is trainable but lora.enabled is false")
        if self.device_map is not None and not isinstance(self.device_map, str | dict):
            raise ValueError(f"device_map must be a string or a mapping, got {self.device_map!r}")
        if self.attn_implementation is not None and not isinstance(self.attn_implementation, str):
            raise ValueError(
                f"attn_implementation must be a string, got {self.attn_implementation!r}"
            )
        if self.quantization is not None and not isinstance(self.quantization, dict):
            raise ValueError(
                "quantization must be a mapping of BitsAndBytesConfig fields, got "
                f"{self.quantization!r}"
            )

    def load_kwargs(self) -> dict:
        """Keyword arguments for transformers' ``from_pretrained`` of a hub / local backbone."""
        kw: dict = {}
        if self.device_map is not None:
            kw["device_map"] = self.device_map
        if self.attn_implementation is not None:
            kw["attn_implementation"] = self.attn_implementation
        if self.quantization:
            from transformers import BitsAndBytesConfig

            try:
                kw["quantization_config"] = BitsAndBytesConfig(**self.quantization)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"quantization: invalid BitsAndBytesConfig ({exc})") from exc
        return kw

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict, *, source: str = "config") -> SkeletonLLMConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"{source}: unknown SkeletonLLMConfig field(s) {unknown}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ValueError(f"{source}: invalid SkeletonLLMConfig ({exc})") from exc

    def save(self, path: str | os.PathLike) -> None:
        from .checkpoint import atomic_write_text

        atomic_write_text(Path(path), json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, path: str | os.PathLike) -> SkeletonLLMConfig:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing model config")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not valid JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object")
        return cls.from_dict(data, source=str(path))

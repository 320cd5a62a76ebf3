"""Bridge base class and registry.

A bridge knows one VLM family: how rendered frames ``(B, F, 3, H, W)`` in [0, 1] become the exact pixel
tensors that family's processor produces (resize, rescale, normalise, patchify — all differentiable torch),
how many placeholder tokens the visual input occupies, how the prompt placeholder expands, and which
parameters form the vision tower and the projector.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

_BRIDGES: dict[str, type[Bridge]] = {}

# PIL's resampling filters by the integer ids processors store in their JSON.
_RESAMPLE_MODES = {
    0: "nearest",
    1: "bicubic",
    2: "bilinear",
    3: "bicubic",
    4: "bilinear",
    5: "bicubic",
}


def register_bridge(*model_types: str) -> Callable[[type[Bridge]], type[Bridge]]:
    """Class decorator: register a bridge for one or more ``config.model_type`` values."""

    def deco(cls: type[Bridge]) -> type[Bridge]:
        for mt in model_types:
            _BRIDGES[mt] = cls
        cls.model_types = tuple(model_types)
        return cls

    return deco


def list_bridges() -> list[str]:
    return sorted(_BRIDGES)


def get_bridge(hf_config, processor_config: dict, tokenizer) -> Bridge:
    """Instantiate the bridge for ``hf_config.model_type`` (clear error for unsupported families)."""
    mt = getattr(hf_config, "model_type", None)
    if mt not in _BRIDGES:
        raise ValueError(
            f"no skeletonllm bridge for model_type {mt!r}; supported: {', '.join(list_bridges())} "
            "(add one with skeletonllm.bridges.register_bridge)"
        )
    return _BRIDGES[mt](hf_config, processor_config, tokenizer)


def resize(
    images: torch.Tensor, size: tuple[int, int], resample: int | str | None = 3
) -> torch.Tensor:
    """Differentiable resize of ``(..., C, H, W)`` to ``size`` with antialiasing (identity if unchanged).

    Matches the torchvision processors (which call ``interpolate`` with antialias) and the PIL ones to
    within PIL's 8-bit rounding.
    """
    h, w = images.shape[-2:]
    if (h, w) == tuple(size):
        return images
    mode = (
        resample
        if isinstance(resample, str)
        else _RESAMPLE_MODES.get(int(resample or 3), "bicubic")
    )
    lead = images.shape[:-3]
    flat = images.reshape(-1, *images.shape[-3:])
    kw = {"antialias": True} if mode in ("bilinear", "bicubic") else {}
    kw.update({"align_corners": False} if mode in ("bilinear", "bicubic") else {})
    out = F.interpolate(flat, size=tuple(size), mode=mode, **kw)
    return out.reshape(*lead, *out.shape[-3:])


def normalize(images: torch.Tensor, cfg: dict) -> torch.Tensor:
    """Rescale [0, 1] frames the way ``do_rescale``/``do_normalize`` would treat 8-bit images."""
    x = images
    # Frames are already in [0, 1], i.e. 8-bit pixels times rescale_factor (1/255).
    if not cfg.get("do_rescale", True):
        x = x * 255.0
    if cfg.get("do_normalize", True):
        mean = torch.as_tensor(
            cfg.get("image_mean", [0.5, 0.5, 0.5]), dtype=x.dtype, device=x.device
        )
        std = torch.as_tensor(cfg.get("image_std", [0.5, 0.5, 0.5]), dtype=x.dtype, device=x.device)
        x = (x - mean[:, None, None]) / std[:, None, None]
    return x


def tile_frames(frames: torch.Tensor, rows: int | None = None, fill: float = 0.0) -> torch.Tensor:
    """Tile ``(B, F, C, H, W)`` into one grid image ``(B, C, rows*H, cols*W)``, row-major in time."""
    b, f, c, h, w = frames.shape
    rows = rows or math.ceil(math.sqrt(f))
    cols = math.ceil(f / rows)
    if rows * cols > f:
        pad = frames.new_full((b, rows * cols - f, c, h, w), fill)
        frames = torch.cat([frames, pad], dim=1)
    grid = frames.reshape(b, rows, cols, c, h, w).permute(0, 3, 1, 4, 2, 5)
    return grid.reshape(b, c, rows * h, cols * w)


class Bridge:
    """One VLM family. Subclasses set the class attributes and implement :meth:`pixel_inputs`."""

    model_types: ClassVar[tuple[str, ...]] = ()
    #: content part used in the chat message ("video" or "image")
    content_type: ClassVar[str] = "image"
    #: parameter-name fragments of the projector and of the vision tower (projector wins)
    projector_keys: ClassVar[tuple[str, ...]] = ()
    vision_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(self, hf_config, processor_config: dict, tokenizer):
        self.hf_config = hf_config
        self.proc = dict(processor_config)
        self.tokenizer = tokenizer

    # --- text side -------------------------------------------------------------------------------
    @property
    def placeholder(self) -> str:
        """The single token the chat template emits where the visual content goes."""
        raise NotImplementedError

    def expansion(self, n_tokens: int) -> str:
        """What :attr:`placeholder` becomes for a visual input of ``n_tokens`` tokens."""
        return self.placeholder * n_tokens

    def messages(self, prompt: str) -> list[dict]:
        return [
            {
                "role": "user",
                "content": [{"type": self.content_type}, {"type": "text", "text": prompt}],
            }
        ]

    def prompt_text(self, prompt: str, n_tokens: int) -> str:
        """Chat-templated prompt with the visual placeholder expanded, ending with the assistant header."""
        text = self.tokenizer.apply_chat_template(
            self.messages(prompt), tokenize=False, add_generation_prompt=True
        )
        if text.count(self.placeholder) != 1:
            raise ValueError(
                f"chat template of {self.hf_config.model_type} produced {text.count(self.placeholder)} "
                f"{self.placeholder!r} placeholders for one {self.content_type}; expected exactly 1"
            )
        return text.replace(self.placeholder, self.expansion(n_tokens))

    def text_inputs(self, input_ids: torch.Tensor) -> dict[str, torch.Tensor]:
        """Extra token-aligned tensors the model needs (e.g. ``mm_token_type_ids``)."""
        return {}

    # --- vision side -----------------------------------------------------------------------------
    def pixel_inputs(self, frames: torch.Tensor) -> tuple[dict[str, torch.Tensor], int]:
        """frames (B, F, 3, H, W) in [0, 1] -> (model kwargs, visual tokens per sample)."""
        raise NotImplementedError

    @staticmethod
    def repeat_pixel_inputs(
        inputs: dict[str, torch.Tensor], index: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Select samples ``index`` (may repeat) from batched pixel inputs (dim 0 = sample)."""
        return {k: v.index_select(0, index) for k, v in inputs.items()}

    @staticmethod
    def finalize(inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Per-sample pixel inputs -> the layout the model's forward takes."""
        return inputs

    # --- encoder reuse (scoring many candidates per sample) --------------------------------------
    #: key of ``mm_encoder_outputs`` the model's forward accepts ("image"/"video"); None = not supported
    encoder_key: ClassVar[str | None] = None

    def encode(self, backbone, pix: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        """Per-sample projected visual features ``(n_tokens, D)`` from the model's own feature method."""
        raise NotImplementedError

    def encoded_inputs(
        self, feats: list[torch.Tensor], pix: dict[str, torch.Tensor], index: list[int]
    ) -> dict:
        """Forward kwargs that reuse ``feats`` of samples ``index`` instead of running the vision tower."""
        from transformers.modeling_outputs import BaseModelOutputWithPooling

        pooled = tuple(feats[i] for i in index)
        return {
            "mm_encoder_outputs": {
                self.encoder_key: BaseModelOutputWithPooling(pooler_output=pooled)
            }
        }

    def group_of(self, name: str) -> str:
        """'projector', 'vision' or 'llm' for a backbone parameter name."""
        if any(k in name for k in self.projector_keys):
            return "projector"
        if any(k in name for k in self.vision_keys):
            return "vision"
        return "llm"

    def describe(self) -> dict[str, Any]:
        return {"model_type": self.hf_config.model_type, "content_type": self.content_type}

"""Bridge base class and registry.

A bridge knows one VLM family: how rendered frames ``(B, F, 3, H, W)`` in [0, 1] become the exact pixel
tensors that family's processor produces (resize, rescale, normalise, patchify — all differentiable torch),
how many placeholder tokens the visual input occupies, how the prompt placeholder expands, and which
parameters form the vision tower and the projector.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

_BRIDGES: dict[str, type[Bridge]] = {}

# PIL's resampling filters by the integer ids processors store in their JSON. Bilinear and bicubic use
# torch's antialiased interpolate (the same separable filters as PIL); nearest is torch's; Lanczos, box
# and Hamming are PIL's filters applied as weight matrices (see _pil_resize).
_RESAMPLE_MODES = {
    0: "nearest",
    1: "lanczos",
    2: "bilinear",
    3: "bicubic",
    4: "box",
    5: "hamming",
}


def _lanczos(x: np.ndarray) -> np.ndarray:
    return np.where((x >= -3) & (x < 3), np.sinc(x) * np.sinc(x / 3), 0.0)


def _box(x: np.ndarray) -> np.ndarray:
    return ((x > -0.5) & (x <= 0.5)).astype(np.float64)


def _hamming(x: np.ndarray) -> np.ndarray:
    a = np.abs(x)
    return np.where(a < 1, np.sinc(a) * (0.54 + 0.46 * np.cos(np.pi * a)), 0.0)


# filter and its support (in input pixels at scale 1), as in PIL's Resample.c
_PIL_FILTERS = {"lanczos": (_lanczos, 3.0), "box": (_box, 0.5), "hamming": (_hamming, 1.0)}


@lru_cache(maxsize=128)
def pil_weights(n_in: int, n_out: int, mode: str) -> torch.Tensor:
    """(n_out, n_in) float64 resampling matrix of PIL's separable filter ``mode`` along one axis.

    As PIL: output pixel ``o`` centres at ``(o + 0.5) * scale`` input pixels; when shrinking, the filter
    is stretched by the scale (antialiasing); the taps cover the rounded support and are normalised to
    sum to one."""
    fn, support = _PIL_FILTERS[mode]
    scale = n_in / n_out
    stretch = max(scale, 1.0)
    w = np.zeros((n_out, n_in))
    for o in range(n_out):
        centre = (o + 0.5) * scale
        lo = max(int(centre - support * stretch + 0.5), 0)
        hi = min(int(centre + support * stretch + 0.5), n_in)
        taps = fn((np.arange(lo, hi) - centre + 0.5) / stretch)
        total = taps.sum()
        w[o, lo:hi] = taps / total if total != 0 else taps
    return torch.from_numpy(w)


def _pil_resize(images: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    """PIL's two-pass resize of [0, 1] images, in float and differentiable.

    PIL stores each pass in 8 bits: it rounds, and clips to [0, 1] (Lanczos lobes overshoot at edges).
    The clipping is kept here, so the result differs from PIL's by its rounding only (half a level per
    pass). The horizontal pass runs first, as in Pillow's Resample.c; some Pillow builds run the vertical
    pass first for some shapes, which changes only which overshoots are clipped in between (never for box
    and Hamming, whose filters are non-negative, nor for images without overshoot)."""
    (h, w), (oh, ow) = images.shape[-2:], tuple(size)
    x = images
    if ow != w:
        x = (x @ pil_weights(w, ow, mode).to(x).T).clamp(0, 1)
    if oh != h:
        x = (pil_weights(h, oh, mode).to(x) @ x).clamp(0, 1)
    return x


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

    Bilinear and bicubic match the torchvision processors (``interpolate`` with antialias) and PIL's filters
    up to PIL's 8-bit rounding and clipping; Lanczos, box and Hamming are PIL's filters, clipped as PIL
    clips, so they differ from PIL by its 8-bit rounding only (at most half a level per pass).
    """
    h, w = images.shape[-2:]
    if (h, w) == tuple(size):
        return images
    mode = (
        resample
        if isinstance(resample, str)
        else _RESAMPLE_MODES.get(int(resample if resample is not None else 3), "bicubic")
    )
    if mode in _PIL_FILTERS:
        return _pil_resize(images, size, mode)
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

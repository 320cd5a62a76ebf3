"""LLaVA-style models with a SigLIP or CLIP tower: the F frames are tiled into one grid image."""

from __future__ import annotations

import math

from .base import Bridge, normalize, register_bridge, resize, tile_frames


def _square_size(proc: dict, default: int) -> tuple[int, int]:
    """The processor's output size (after resize and optional centre crop)."""
    crop = proc.get("crop_size") if proc.get("do_center_crop") else None
    size = crop or proc.get("size") or {}
    if "height" in size:
        return int(size["height"]), int(size["width"])
    if "shortest_edge" in size:
        return int(size["shortest_edge"]), int(size["shortest_edge"])
    return default, default


@register_bridge("llava")
class LlavaBridge(Bridge):
    content_type = "image"
    projector_keys = ("multi_modal_projector",)
    vision_keys = ("vision_tower",)

    @property
    def placeholder(self) -> str:
        return "<image>"

    def n_tokens(self) -> int:
        vc = self.hf_config.vision_config
        n = (vc.image_size // vc.patch_size) ** 2
        has_cls = vc.model_type in ("clip_vision_model",)
        strategy = getattr(self.hf_config, "vision_feature_select_strategy", "default")
        if has_cls and strategy == "full":
            n += 1
        if not has_cls and strategy == "default":
            n -= 1
        return n

    encoder_key = "image"

    def encode(self, backbone, pix):
        cfg = self.hf_config
        out = backbone.get_image_features(
            pixel_values=pix["pixel_values"],
            vision_feature_layer=cfg.vision_feature_layer,
            vision_feature_select_strategy=cfg.vision_feature_select_strategy,
            return_dict=True,
        )
        return list(out.pooler_output)

    def pixel_inputs(self, frames):
        grid = tile_frames(frames)
        size = _square_size(self.proc, self.hf_config.vision_config.image_size)
        if self.proc.get("do_center_crop") and self.proc.get("size", {}).get("shortest_edge"):
            # CLIP-style: shortest edge to size, then centre crop; the grid is square so this is a plain resize.
            side = self.proc["size"]["shortest_edge"]
            h, w = grid.shape[-2:]
            scale = side / min(h, w)
            grid = resize(
                grid,
                (max(side, math.floor(h * scale)), max(side, math.floor(w * scale))),
                self.proc.get("resample", 3),
            )
            top, left = (grid.shape[-2] - size[0]) // 2, (grid.shape[-1] - size[1]) // 2
            grid = grid[..., top : top + size[0], left : left + size[1]]
        else:
            grid = resize(grid, size, self.proc.get("resample", 3))
        return {"pixel_values": normalize(grid, self.proc)}, self.n_tokens()

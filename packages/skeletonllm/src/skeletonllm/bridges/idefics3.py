"""Idefics3 / SmolVLM: the F frames are tiled into one grid image, fed as a single global image."""

from __future__ import annotations

import torch

from .base import Bridge, normalize, register_bridge, resize, tile_frames


def _longest_edge_size(h: int, w: int, max_len: int) -> tuple[int, int]:
    """Idefics3's ``_resize_output_size_rescale_to_max_len`` (even side lengths)."""
    aspect = w / h
    if w >= h:
        w = max_len
        h = int(w / aspect)
        h += h % 2
    else:
        h = max_len
        w = int(h * aspect)
        w += w % 2
    return max(h, 1), max(w, 1)


@register_bridge("idefics3", "smolvlm")
class Idefics3Bridge(Bridge):
    content_type = "image"
    projector_keys = ("connector",)
    vision_keys = ("vision_model",)

    @property
    def placeholder(self) -> str:
        return "<image>"

    def n_tokens(self) -> int:
        vc = self.hf_config.vision_config
        return (vc.image_size // vc.patch_size) ** 2 // (self.hf_config.scale_factor**2)

    def expansion(self, n_tokens):
        return (
            "<fake_token_around_image><global-img>"
            + "<image>" * n_tokens
            + "<fake_token_around_image>"
        )

    encoder_key = "image"

    def encode(self, backbone, pix):
        out = backbone.get_image_features(
            pix["pixel_values"], pix["pixel_attention_mask"], return_dict=True
        )
        feats = out.pooler_output
        return [
            f.reshape(-1, f.shape[-1])
            for f in (feats if isinstance(feats, (list, tuple)) else feats.unbind(0))
        ]

    def pixel_inputs(self, frames):
        # The grid is one global image: what the processor produces with do_image_splitting=False
        # (sub-image crops would multiply the visual tokens for a few dozen pixels of skeleton).
        grid = tile_frames(frames)
        mode = self.proc.get("resample", 1)
        if self.proc.get("do_resize", True):
            le = (self.proc.get("size") or {}).get("longest_edge")
            if le:
                grid = resize(grid, _longest_edge_size(*grid.shape[-2:], le), mode)
        side = (self.proc.get("max_image_size") or {}).get(
            "longest_edge", self.hf_config.vision_config.image_size
        )
        grid = normalize(resize(grid, (side, side), mode), self.proc)
        pv = grid.unsqueeze(1)  # (B, 1 image, C, S, S)
        mask = torch.ones(pv.shape[0], 1, side, side, dtype=torch.bool, device=pv.device)
        return {"pixel_values": pv, "pixel_attention_mask": mask}, self.n_tokens()

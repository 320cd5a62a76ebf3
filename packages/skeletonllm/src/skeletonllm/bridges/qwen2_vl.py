"""Qwen2-VL / Qwen2.5-VL: frames go in as one video (``pixel_values_videos``, ``video_grid_thw``)."""

from __future__ import annotations

import math

import torch

from .base import Bridge, normalize, register_bridge, resize


def smart_resize(
    height: int, width: int, factor: int, min_pixels: int, max_pixels: int
) -> tuple[int, int]:
    """Qwen's target size: sides divisible by ``factor``, area within [min_pixels, max_pixels]."""
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def patchify(
    videos: torch.Tensor, patch: int, merge: int, temporal: int
) -> tuple[torch.Tensor, tuple[int, int, int]]:
    """(B, T, C, H, W) -> (B, t*h*w, C*temporal*patch*patch) in Qwen's merge-window order."""
    b, t, c, h, w = videos.shape
    if pad := -t % temporal:
        videos = torch.cat([videos, videos[:, -1:].expand(-1, pad, -1, -1, -1)], dim=1)
        t += pad
    gt, gh, gw = t // temporal, h // patch, w // patch
    x = videos.reshape(b, gt, temporal, c, gh // merge, merge, patch, gw // merge, merge, patch)
    x = x.permute(0, 1, 4, 7, 5, 8, 3, 2, 6, 9)
    return x.reshape(b, gt * gh * gw, c * temporal * patch * patch), (gt, gh, gw)


@register_bridge("qwen2_vl", "qwen2_5_vl")
class Qwen2VLBridge(Bridge):
    content_type = "video"
    projector_keys = ("visual.merger",)
    vision_keys = ("visual.",)

    @property
    def placeholder(self) -> str:
        return "<|video_pad|>"

    def _vision(self, key: str, default):
        vc = self.hf_config.vision_config
        return self.proc.get(key) or getattr(vc, key, None) or default

    def target_size(self, height: int, width: int) -> tuple[int, int]:
        patch, merge = int(self._vision("patch_size", 14)), int(self._vision("merge_size", 2))
        size = self.proc.get("size") or {}
        min_px = size.get("shortest_edge", self.proc.get("min_pixels", 56 * 56))
        max_px = size.get("longest_edge", self.proc.get("max_pixels", 28 * 28 * 1280))
        return smart_resize(height, width, patch * merge, min_px, max_px)

    def pixel_inputs(self, frames):
        b, f, c, h, w = frames.shape
        patch = int(self._vision("patch_size", 14))
        merge = int(self.proc.get("merge_size") or self.hf_config.vision_config.spatial_merge_size)
        temporal = int(self._vision("temporal_patch_size", 2))
        x = resize(frames, self.target_size(h, w), self.proc.get("resample", 3))
        x = normalize(x, self.proc)
        patches, (gt, gh, gw) = patchify(x, patch, merge, temporal)
        grid = torch.tensor([[gt, gh, gw]] * b, dtype=torch.long, device=frames.device)
        n_tokens = gt * gh * gw // (merge * merge)
        return {"pixel_values_videos": patches, "video_grid_thw": grid}, n_tokens

    @staticmethod
    def finalize(inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        # The processor concatenates all videos' patches along dim 0.
        pv = inputs["pixel_values_videos"]
        return {**inputs, "pixel_values_videos": pv.reshape(-1, pv.shape[-1])}

    encoder_key = "video"

    def encode(self, backbone, pix):
        flat = self.finalize(pix)
        out = backbone.get_video_features(
            flat["pixel_values_videos"], flat["video_grid_thw"], return_dict=True
        )
        return list(out.pooler_output)

    def encoded_inputs(self, feats, pix, index):
        idx = torch.as_tensor(index, device=pix["video_grid_thw"].device)
        # The grid still drives the 3D (M-RoPE) positions of the video tokens.
        return {
            **super().encoded_inputs(feats, pix, index),
            "video_grid_thw": pix["video_grid_thw"][idx],
        }

    def text_inputs(self, input_ids):
        video_id = self.tokenizer.convert_tokens_to_ids(self.placeholder)
        image_id = self.tokenizer.convert_tokens_to_ids("<|image_pad|>")
        tt = torch.zeros_like(input_ids, dtype=torch.int)
        tt[input_ids == image_id] = 1
        tt[input_ids == video_id] = 2
        return {"mm_token_type_ids": tt}

"""``SkeletonLLM``: DrAction renderer -> bridge (processor-exact tensors) -> Hugging Face VLM.

Shapes: frames (B, F, 3, H, W) in [0, 1]; text (B, L) left-padded; visual tokens per sample fixed by the
renderer output size and the bridge.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from . import adapter as peft_adapter
from . import backbones, hub, modelcard
from .bridges import get_bridge
from .checkpoint import CheckpointError, atomic_dir, load_tensors, save_tensors
from .config import GROUPS, SkeletonLLMConfig
from .data import Collator
from .devices import DTYPE_ALIASES
from .inputs import Sample, group, prepare
from .logging_utils import get_logger

IGNORE = -100
log = get_logger(__name__)
# Language-model module names per family (peft LoRA targets live under these).
_LM_SCOPES = ("language_model", "text_model", "model.layers")


class TextEncoder:
    """Prompt/target -> token ids, labels and loss weights using the bridge's chat template."""

    def __init__(self, bridge, tokenizer, n_visual_tokens: int):
        self.bridge = bridge
        self.tokenizer = tokenizer
        self.n_visual = n_visual_tokens
        self.eos = tokenizer.eos_token or ""
        self.pad_id = (
            tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        )
        self._prompt_cache: dict[str, list[int]] = {}

    def prompt_ids(self, prompt: str) -> list[int]:
        if prompt not in self._prompt_cache:
            if (
                len(self._prompt_cache) >= 4096
            ):  # generated QA prompts are many; keep memory bounded
                self._prompt_cache.clear()
            text = self.bridge.prompt_text(prompt, self.n_visual)
            self._prompt_cache[prompt] = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return self._prompt_cache[prompt]

    def target_ids(
        self, target: str | list[tuple[str, float]], *, eos: bool = True
    ) -> tuple[list[int], list[float]]:
        segments = (
            [(target, 1.0)] if isinstance(target, str) else [(str(t), float(w)) for t, w in target]
        )
        ids, weights = [], []
        for text, w in segments:
            piece = self.tokenizer(text, add_special_tokens=False)["input_ids"]
            ids += piece
            weights += [w] * len(piece)
        if eos and self.eos:
            end = self.tokenizer(self.eos, add_special_tokens=False)["input_ids"]
            ids += end
            weights += [segments[-1][1]] * len(end)
        return ids, weights

    def encode(self, prompt: str, target=None) -> dict:
        p = self.prompt_ids(prompt)
        if target is None:
            return {"input_ids": p, "labels": [IGNORE] * len(p), "weights": [0.0] * len(p)}
        t, w = self.target_ids(target)
        return {"input_ids": p + t, "labels": [IGNORE] * len(p) + t, "weights": [0.0] * len(p) + w}

    def pad(self, rows: list[dict]) -> dict:
        """Left-pad rows to a batch: input_ids, attention_mask, labels, loss_weights (B, L)."""
        n = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), n), self.pad_id, dtype=torch.long)
        att = torch.zeros((len(rows), n), dtype=torch.long)
        labels = torch.full((len(rows), n), IGNORE, dtype=torch.long)
        weights = torch.zeros((len(rows), n), dtype=torch.float32)
        for i, r in enumerate(rows):
            k = len(r["input_ids"])
            ids[i, n - k :] = torch.tensor(r["input_ids"])
            att[i, n - k :] = 1
            labels[i, n - k :] = torch.tensor(r["labels"])
            weights[i, n - k :] = torch.tensor(r["weights"])
        return {"input_ids": ids, "attention_mask": att, "labels": labels, "loss_weights": weights}


def _build_renderer(cfg: SkeletonLLMConfig) -> nn.Module:
    from drrender import DrAction

    r = cfg.renderer
    return DrAction(
        frames=r.frames, size=tuple(r.size), views=r.views, num_part_tags=r.num_part_tags, **r.extra
    )


def _dtype(name: str | None):
    if name is None:
        return None
    name = DTYPE_ALIASES.get(name, name)
    if not hasattr(torch, name) or not isinstance(getattr(torch, name), torch.dtype):
        raise ValueError(f"unknown dtype {name!r}")
    return getattr(torch, name)


class SkeletonLLM(nn.Module):
    """Renderer + VLM. ``SkeletonLLM(config)`` builds a fresh model (tiny backbones: seeded random init;
    hub ids / directories: pretrained weights through ``AutoModelForImageTextToText``)."""

    def __init__(
        self,
        config: SkeletonLLMConfig | None = None,
        *,
        _backbone: backbones.Backbone | None = None,
    ):
        super().__init__()
        self.config = config = config or SkeletonLLMConfig()
        # What the model card reports beyond the config (data, recipe, stages, metrics): set by training.
        self.card_info: dict = {}
        # Seeded construction (renderer, LoRA init) without touching the caller's global RNG.
        with torch.random.fork_rng():
            torch.manual_seed(config.seed)
            self._build(config, _backbone)

    def _build(self, config: SkeletonLLMConfig, _backbone) -> None:
        self.renderer = _build_renderer(config)
        if _backbone is None:
            _backbone = self._make_backbone(config)
        self.backbone = _backbone.model
        self.tokenizer = _backbone.tokenizer
        self.processor_config = _backbone.processor_config
        self._image_processor = _backbone.image_processor
        self.bridge = get_bridge(self.backbone.config, self.processor_config, self.tokenizer)
        self.lora_config = None
        if config.lora.enabled:
            self._add_lora()
        _patch_convs_as_matmuls(self.backbone)
        self.frame_shape = self._probe_frame_shape()
        self.visual_tokens = self.bridge.pixel_inputs(torch.zeros(1, *self.frame_shape))[1]
        self.text = TextEncoder(self.bridge, self.tokenizer, self.visual_tokens)
        self.set_trainable(config.trainable)

    # ------------------------------------------------------------------ construction
    @staticmethod
    def _make_backbone(config: SkeletonLLMConfig) -> backbones.Backbone:
        r = config.renderer
        if backbones.is_tiny(config.backbone):
            bb = backbones.build_tiny(
                config.backbone, frames=r.frames, size=r.size, views=r.views, seed=config.seed
            )
            if config.dtype:
                _cast_parameters(bb.model, _dtype(config.dtype))
            return bb
        return backbones.load_pretrained_backbone(
            config.backbone, dtype=_dtype(config.dtype), **config.load_kwargs()
        )

    def _lm_pattern(self) -> str:
        targets = "|".join(re.escape(t) for t in self.config.lora.target_modules)
        scopes = "|".join(re.escape(s) for s in _LM_SCOPES)
        return rf".*(?:{scopes}).*\.(?:{targets})$"

    def _add_lora(self) -> None:
        from peft import LoraConfig, inject_adapter_in_model

        lc = self.config.lora
        self.lora_config = LoraConfig(
            r=lc.r,
            lora_alpha=lc.alpha,
            lora_dropout=lc.dropout,
            target_modules=self._lm_pattern(),
            bias="none",
        )
        inject_adapter_in_model(self.lora_config, self.backbone)

    @torch.no_grad()
    def _probe_frame_shape(self) -> tuple[int, int, int, int]:
        j = torch.tensor([[[[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]]]).expand(1, 2, 2, 3)
        out = self.renderer(j, torch.tensor([[0, 1]]))
        return tuple(out.shape[1:])

    def collator(self, **kwargs) -> Collator:
        return Collator(self.text, normalize=self.config.normalize, **kwargs)

    # ------------------------------------------------------------------ parameter groups
    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """Group name -> parameters: renderer, projector, lora, llm, vision."""
        groups: dict[str, list[nn.Parameter]] = {g: [] for g in GROUPS}
        groups["renderer"] = list(self.renderer.parameters())
        for name, p in self.backbone.named_parameters():
            groups["lora" if "lora_" in name else self.bridge.group_of(name)].append(p)
        return groups

    def named_parameter_groups(self) -> dict[str, list[tuple[str, nn.Parameter]]]:
        out: dict[str, list] = {g: [] for g in GROUPS}
        out["renderer"] = [(f"renderer.{n}", p) for n, p in self.renderer.named_parameters()]
        for name, p in self.backbone.named_parameters():
            out["lora" if "lora_" in name else self.bridge.group_of(name)].append(
                (f"backbone.{name}", p)
            )
        return out

    def set_trainable(self, groups: Sequence[str]) -> None:
        """Make exactly the parameters of ``groups`` trainable (others frozen)."""
        groups = tuple(groups)
        bad = [g for g in groups if g not in GROUPS]
        if bad:
            raise ValueError(f"unknown parameter group(s) {bad}; groups are {GROUPS}")
        if "lora" in groups and self.lora_config is None:
            raise ValueError(
                "'lora' requested but the model has no LoRA adapter (config.lora.enabled=False)"
            )
        for g, params in self.parameter_groups().items():
            for p in params:
                p.requires_grad_(g in groups)
        self.trainable_groups = groups

    # ------------------------------------------------------------------ rendering
    @property
    def device(self) -> torch.device:
        return next(self.backbone.parameters()).device

    def prepare(self, motions) -> list[Sample]:
        return [
            m if isinstance(m, Sample) else prepare(m, normalize=self.config.normalize)
            for m in motions
        ]

    def render(self, samples: Sequence[Sample]) -> torch.Tensor:
        """Samples of any layouts -> frames (B, F, 3, H, W) in [0, 1] (one renderer call per layout)."""
        dev = self.device
        groups = group(list(samples))
        out = None
        for g in groups:
            frames = self.renderer(
                g.joints.to(dev),
                g.edges.to(dev),
                mask=g.mask.to(dev),
                part_tags=g.tags.to(dev),
                lengths=g.lengths.to(dev),
            )
            if len(groups) == 1 and g.index.tolist() == list(range(len(samples))):
                return frames  # one layout in batch order: no scatter into a new tensor
            if out is None:
                out = frames.new_zeros(len(samples), *frames.shape[1:])
            out = out.index_copy(0, g.index.to(dev), frames)
        return out

    def pixel_inputs(self, samples) -> dict[str, torch.Tensor]:
        """Per-sample pixel tensors (dim 0 = sample) for the backbone."""
        frames = self.render(samples)
        dtype = next(self.backbone.parameters()).dtype
        pix, _ = self.bridge.pixel_inputs(frames)
        return {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in pix.items()}

    def _backbone_inputs(self, pix: dict, input_ids, attention_mask) -> dict:
        return {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            **self.bridge.finalize(pix),
            **self.bridge.text_inputs(input_ids),
        }

    # ------------------------------------------------------------------ training
    def forward(self, batch: dict, *, return_logits: bool = False):
        """batch from :meth:`collator` -> weighted token-level LM loss on the target (scalar)."""
        dev = self.device
        pix = self.pixel_inputs(batch["samples"])
        ids, att = batch["input_ids"].to(dev), batch["attention_mask"].to(dev)
        out = self.backbone(**self._backbone_inputs(pix, ids, att), use_cache=False)
        labels = batch["labels"].to(dev)
        weights = batch.get("loss_weights")
        weights = (labels != IGNORE).float() if weights is None else weights.to(dev).float()
        loss = weighted_lm_loss(out.logits, labels, weights)
        return (loss, out.logits) if return_logits else loss

    # ------------------------------------------------------------------ inference
    def _records_batch(self, motions, prompts) -> tuple[list[Sample], dict]:
        if isinstance(prompts, str):
            prompts = [prompts] * len(motions)
        if len(prompts) != len(motions):
            raise ValueError(f"{len(motions)} motions but {len(prompts)} prompts")
        samples = self.prepare(motions)
        rows = [self.text.encode(p) for p in prompts]
        return samples, self.text.pad(rows)

    @torch.no_grad()
    def generate(self, motions, prompts, **generation_kwargs) -> list[str]:
        """Answer ``prompts`` (str or list) about ``motions``; greedy by default."""
        samples, batch = self._records_batch(motions, prompts)
        dev = self.device
        ids, att = batch["input_ids"].to(dev), batch["attention_mask"].to(dev)
        kw = {
            "max_new_tokens": self.config.max_new_tokens,
            "do_sample": False,
            "pad_token_id": self.text.pad_id,
            "eos_token_id": self.tokenizer.eos_token_id,
        }
        kw.update(generation_kwargs)
        was_training = self.training
        self.eval()
        try:
            out = self.backbone.generate(
                **self._backbone_inputs(self.pixel_inputs(samples), ids, att), **kw
            )
        finally:
            self.train(was_training)
        return [
            s.strip()
            for s in self.tokenizer.batch_decode(out[:, ids.shape[1] :], skip_special_tokens=True)
        ]

    @torch.no_grad()
    def score(
        self,
        motions,
        prompts,
        candidates,
        *,
        batch_size: int = 32,
        normalize: bool = False,
        encode_once: bool = True,
        shared_prefix: bool = True,
    ) -> torch.Tensor:
        """Log-likelihood (B, n_cand) of each candidate answer (+ end-of-turn token) given motion and prompt.

        candidates: ``list[str]`` shared by all samples or ``list[list[str]]`` (same length per sample).
        Each motion is rendered and (``encode_once``, where the family supports precomputed encoder
        outputs) run through the vision tower once; (sample, candidate) pairs run through the language
        model in chunks of ``batch_size``. ``normalize`` divides by the candidate's token count.
        ``shared_prefix`` (default) runs each sample's prompt (with its visual tokens) once, keeping its
        key/value cache, and then only the candidates' tokens on top of it; ``False`` runs the full
        prompt + candidate sequence per pair (the reference path, same scores up to float rounding;
        also taken with ``encode_once=False``, which re-runs the vision tower per chunk).
        """
        was_training = self.training
        self.eval()
        try:
            samples, prompts, candidates = self._score_inputs(motions, prompts, candidates)
            pix = self.pixel_inputs(samples)
            if shared_prefix and encode_once:
                return self._score_shared(pix, prompts, candidates, batch_size, normalize)
            return self._score(pix, prompts, candidates, batch_size, normalize, encode_once)
        finally:
            self.train(was_training)

    def _score_inputs(self, motions, prompts, candidates):
        samples, _ = self._records_batch(motions, prompts)
        b = len(samples)
        if candidates and isinstance(candidates[0], str):
            candidates = [list(candidates)] * b
        if len(candidates) != b or len({len(c) for c in candidates}) != 1:
            raise ValueError(
                "candidates must be list[str] or list[list[str]] with one equal-length list per sample"
            )
        if isinstance(prompts, str):
            prompts = [prompts] * b
        return samples, prompts, candidates

    def _score_shared(self, pix, prompts, candidates, batch_size, normalize):
        """Prompt once per sample (cache kept), then each chunk of candidates on its sample's cache."""
        from transformers import DynamicCache

        b, n, dev = len(prompts), len(candidates[0]), self.device
        pre = self.text.pad([self.text.encode(p) for p in prompts])
        p_ids, p_att = pre["input_ids"].to(dev), pre["attention_mask"].to(dev)
        inner = getattr(self.backbone, "model", None)
        if inner is not None and hasattr(inner, "rope_deltas"):
            inner.rope_deltas = None  # M-RoPE families: recomputed from this prompt batch
        if (
            self.bridge.encoder_key
        ):  # the vision tower once, through the bridge as the reference path
            feats = self.bridge.encode(self.backbone, pix)
            kw = {
                "input_ids": p_ids,
                "attention_mask": p_att,
                **self.bridge.text_inputs(p_ids),
                **self.bridge.encoded_inputs(feats, pix, list(range(b))),
            }
        else:
            kw = self._backbone_inputs(pix, p_ids, p_att)
        out = self.backbone(**kw, use_cache=True, logits_to_keep=1)
        first = torch.log_softmax(out.logits[:, -1].float(), -1)
        deltas = getattr(inner, "rope_deltas", None)
        # Candidate tokens (+ end of turn), each distinct string tokenized once.
        ids_of = {c: self.text.target_ids(c)[0] for c in {c for row in candidates for c in row}}
        cand = [[ids_of[c] for c in row] for row in candidates]
        impl = self._packed_attention()
        if impl:  # custom 4D masks: every candidate of a sample in one row
            return self._score_packed(out.cache, first, p_att, deltas, cand, normalize, impl)
        prefix = out.cache
        # Right-padded candidates: padding after them changes no earlier logit.
        pairs = [(i, j) for i in range(b) for j in range(n)]
        scores = torch.empty(b, n)
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start : start + batch_size]
            toks = [cand[i][j] for i, j in chunk]
            c = max(1, max(len(t) for t in toks))
            ids = torch.full((len(chunk), c), self.text.pad_id, dtype=torch.long)
            valid = torch.zeros(len(chunk), c)
            for r, t in enumerate(toks):
                ids[r, : len(t)] = torch.tensor(t, dtype=torch.long)
                valid[r, : len(t)] = 1
            ids, valid = ids.to(dev), valid.to(dev)
            idx = torch.tensor([i for i, _ in chunk], device=dev)
            att = torch.cat([p_att[idx], valid.long()], 1)
            cache = DynamicCache(config=self.backbone.config)
            for layer, kv in enumerate(prefix.layers):
                cache.update(kv.keys[idx], kv.values[idx], layer)
            kw = {}
            if deltas is not None:  # M-RoPE: text positions continue the prompt's, as in generation
                pos = (att.cumsum(-1) - 1)[:, -c:] + deltas.to(dev)[idx]
                kw["position_ids"] = pos[None].expand(3, -1, -1)
            logits = self.backbone(
                input_ids=ids, attention_mask=att, cache=cache, use_cache=True, **kw
            ).logits
            lp = torch.log_softmax(logits[:, :-1].float(), -1)
            tok_lp = torch.cat(
                [
                    first[idx].gather(-1, ids[:, :1]),
                    lp.gather(-1, ids[:, 1:, None]).squeeze(-1),
                ],
                1,
            )
            total = (tok_lp * valid).sum(-1)
            if normalize:
                total = total / valid.sum(-1).clamp_min(1)
            for (i, j), s in zip(chunk, total.cpu()):
                scores[i, j] = s
        return scores

    def _packed_attention(self) -> str | None:
        """The attention implementation when it takes custom 4D masks (sdpa, eager), else None."""
        impl = getattr(self.backbone.config, "_attn_implementation", None)
        return impl if impl in ("sdpa", "eager") else None

    def _score_packed(self, cache, first, p_att, deltas, cand, normalize, impl):
        """All candidates of each sample side by side in one row on top of its prompt cache: a
        block-diagonal causal mask keeps them apart and their positions all continue the prompt's,
        so each candidate sees exactly what it would see alone; one forward for the whole batch."""
        dev = self.device
        b, n, p = len(cand), len(cand[0]), p_att.shape[1]
        width = max(1, max(sum(len(t) for t in row) for row in cand))
        ids = torch.full((b, width), self.text.pad_id, dtype=torch.long)
        seg = torch.full(
            (b, width), -1, dtype=torch.long
        )  # candidate index of each token, -1 = pad
        step = torch.zeros(b, width, dtype=torch.long)  # index of the token inside its candidate
        for i, row in enumerate(cand):
            at = 0
            for j, t in enumerate(row):
                ids[i, at : at + len(t)] = torch.tensor(t, dtype=torch.long)
                seg[i, at : at + len(t)] = j
                step[i, at : at + len(t)] = torch.arange(len(t))
                at += len(t)
        ids, seg, step = ids.to(dev), seg.to(dev), step.to(dev)
        k = torch.arange(width, device=dev)
        own = (seg[:, :, None] == seg[:, None, :]) & (k[None, None, :] <= k[None, :, None])
        own = own | torch.eye(width, dtype=torch.bool, device=dev)  # pads see themselves (no NaN)
        mask = torch.cat([p_att.bool()[:, None, :].expand(b, width, p), own], 2)[:, None]
        if impl == "eager":
            mask = torch.zeros(mask.shape, device=dev).masked_fill(
                ~mask, torch.finfo(torch.float32).min
            )
        if deltas is not None:  # M-RoPE: text positions continue the prompt's, as in generation
            pos = p_att.sum(1, keepdim=True) + step + deltas.to(dev)
            pos = pos[None].expand(3, -1, -1)
        else:  # the prompt held positions 0 .. p-1, padding included
            pos = p + step
        logits = self.backbone(
            input_ids=ids, attention_mask=mask, position_ids=pos, cache=cache, use_cache=True
        ).logits
        lp = torch.log_softmax(logits.float(), -1)
        # token k's log-probability: from the previous token of its candidate, or the prompt's end
        prev = torch.cat([first[:, None], lp[:, :-1]], 1).gather(-1, ids[..., None])[..., 0]
        tok_lp = torch.where(step == 0, first.gather(-1, ids), prev)
        onehot = (seg[..., None] == torch.arange(n, device=dev)).float()  # (b, width, n)
        total = torch.einsum("bw,bwn->bn", tok_lp, onehot)
        if normalize:
            total = total / onehot.sum(1).clamp_min(1)
        return total.cpu()

    def _score(self, pix, prompts, candidates, batch_size, normalize, encode_once):
        b, n = len(prompts), len(candidates[0])
        # The vision tower runs once per sample; every candidate reuses its features.
        feats = (
            self.bridge.encode(self.backbone, pix)
            if self.bridge.encoder_key and encode_once
            else None
        )
        pairs = [(i, j) for i in range(b) for j in range(n)]
        scores = torch.empty(b, n)
        dev = self.device
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start : start + batch_size]
            rows = [self.text.encode(prompts[i], candidates[i][j]) for i, j in chunk]
            bt = self.text.pad(rows)
            ids, att = bt["input_ids"].to(dev), bt["attention_mask"].to(dev)
            labels = bt["labels"].to(dev)
            idx = torch.tensor([i for i, _ in chunk], device=dev)
            if feats is not None:
                kw = {
                    "input_ids": ids,
                    "attention_mask": att,
                    **self.bridge.text_inputs(ids),
                    **self.bridge.encoded_inputs(feats, pix, [i for i, _ in chunk]),
                }
            else:
                kw = self._backbone_inputs(self.bridge.repeat_pixel_inputs(pix, idx), ids, att)
            logits = self.backbone(**kw, use_cache=False).logits
            lp = token_logprobs(logits, labels)
            mask = (labels[:, 1:] != IGNORE).float()
            total = (lp * mask).sum(-1)
            if normalize:
                total = total / mask.sum(-1).clamp_min(1)
            for (i, j), s in zip(chunk, total.float().cpu()):
                scores[i, j] = s
        return scores

    # ------------------------------------------------------------------ untrimmed recordings
    def timeline(self, motion, labels=None, window: float = 2.0, stride: float = 0.5, **kwargs):
        """Segments (``start``, ``end`` seconds, ``label``, ``score``, ``body``) of an untrimmed
        recording: sliding windows scored against ``labels``, merged, then temporal NMS
        (:func:`skeletonllm.timeline.timeline` documents the options)."""
        from .timeline import timeline

        return timeline(self, motion, labels, window=window, stride=stride, **kwargs)

    def describe(self, motion, window: float = 2.0, stride: float = 0.5, **kwargs):
        """Dense captions: one generated caption per window, consecutive equal ones merged
        (:func:`skeletonllm.timeline.describe`)."""
        from .timeline import describe

        return describe(self, motion, window=window, stride=stride, **kwargs)

    # ------------------------------------------------------------------ persistence
    def save_pretrained(
        self,
        path: str | os.PathLike,
        *,
        save_base: bool | None = None,
        max_shard_size: str | int = "5GB",
    ) -> None:
        """Write a self-contained directory atomically.

        Files: config.json, renderer.safetensors, tokenizer/processor files, and either backbone/ (full HF
        weights) or adapter/ (peft LoRA) + trained.safetensors (non-LoRA trainable backbone weights) with
        backbone/ holding the base when ``save_base`` (default: True for tiny backbones).
        """
        if save_base is None:
            save_base = backbones.is_tiny(self.config.backbone) or self.lora_config is None
        with atomic_dir(path) as tmp:
            self.config.save(tmp / "config.json")
            modelcard.write(tmp, self.config, self.card_info)
            save_tensors(dict(self.renderer.state_dict()), tmp / "renderer.safetensors")
            self.tokenizer.save_pretrained(tmp)
            (tmp / "preprocessor_config.json").write_text(
                json.dumps(self.processor_config, indent=2, default=str)
            )
            base_sd = {
                k.replace(".base_layer", ""): v
                for k, v in self.backbone.state_dict().items()
                if "lora_" not in k
            }
            if save_base:
                # transformers' own layout: model.safetensors, or shards + index past max_shard_size
                with _quiet_transformers():
                    self.backbone.save_pretrained(
                        tmp / "backbone", state_dict=base_sd, max_shard_size=max_shard_size
                    )
            if self.lora_config is not None:
                names = {
                    n.removeprefix("backbone.")
                    for g in ("projector", "vision", "llm")
                    if g in self.trainable_groups
                    for n, _ in self.named_parameter_groups()[g]
                }
                peft_adapter.save_peft_adapter(
                    self.backbone,
                    self.lora_config,
                    tmp / "adapter",
                    trained=names,
                    base_model=self.config.backbone,
                )
                if not save_base:
                    names = {n.replace(".base_layer", "") for n in names}
                    trained = {k: v for k, v in base_sd.items() if k in names}
                    save_tensors(trained, tmp / "trained.safetensors")
                    (tmp / "base.json").write_text(json.dumps({"backbone": self.config.backbone}))

    def push_to_hub(
        self,
        repo_id: str,
        *,
        private: bool | None = None,
        token: str | None = None,
        revision: str | None = None,
        commit_message: str = "Upload SkeletonLLM checkpoint",
    ):
        """Save to a temporary folder and upload it as the Hub model repo ``repo_id`` (created if
        needed); returns huggingface_hub's commit info."""
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            folder = Path(d) / "checkpoint"
            self.save_pretrained(folder)
            log.info("uploading %s to the Hub repo %s", folder, repo_id)
            return hub.upload(
                folder,
                repo_id,
                private=private,
                token=token,
                revision=revision,
                commit_message=commit_message,
            )

    @classmethod
    def from_pretrained(
        cls,
        path: str | os.PathLike,
        *,
        base: str | os.PathLike | None = None,
        revision: str | None = None,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
    ) -> SkeletonLLM:
        """Load a directory written by :meth:`save_pretrained`, or a Hub id (``org/name``) holding one
        (through huggingface_hub: cached snapshots, offline with ``HF_HUB_OFFLINE=1``; ``revision``
        picks a branch, tag or commit). ``base`` overrides where the base backbone comes from for
        adapter-only checkpoints (a hub id, a local HF directory or a skeletonllm checkpoint).
        ``device`` moves the whole model (renderer and backbone); ``dtype`` casts the backbone."""
        if not Path(path).is_dir() and hub.is_hub_id(path):
            repo_id, path = str(path), hub.resolve(str(path), revision=revision)
            log.info("resolved Hub id %s to %s", repo_id, path)
        model = cls._from_folder(Path(path), base)
        return model.place(device=device, dtype=dtype)

    def place(
        self, device: str | torch.device | None = None, dtype: str | torch.dtype | None = None
    ) -> SkeletonLLM:
        """Move renderer and backbone to ``device`` together and cast the backbone to ``dtype`` (the
        renderer stays float32; its frames are cast at the backbone's input). Returns ``self``."""
        if dtype is not None:
            dt = _dtype(dtype) if isinstance(dtype, str) else dtype
            _cast_parameters(self.backbone, dt)
            self.config.dtype = str(dt).removeprefix("torch.")
        if device is not None:
            self.to(device)
        return self

    @classmethod
    def _from_folder(cls, path: Path, base) -> SkeletonLLM:
        if not path.is_dir():
            raise CheckpointError(f"{path}: checkpoint directory does not exist")
        try:
            config = SkeletonLLMConfig.load(path / "config.json")
        except (FileNotFoundError, ValueError) as exc:
            raise CheckpointError(str(exc)) from exc
        for name in ("renderer.safetensors", "preprocessor_config.json"):
            if not (path / name).is_file():
                raise CheckpointError(f"{path / name}: missing file")
        if not any((path / n).is_file() for n in ("tokenizer.json", "tokenizer_config.json")):
            raise CheckpointError(f"{path / 'tokenizer.json'}: missing tokenizer files")
        bb = cls._load_backbone(path, config, base)
        no_lora = SkeletonLLMConfig.from_dict(
            {
                **config.to_dict(),
                "lora": {**config.to_dict()["lora"], "enabled": False},
                "trainable": [g for g in config.trainable if g != "lora"],
            }
        )
        model = cls(no_lora, _backbone=bb)
        model.config = config
        if config.lora.enabled:
            adapter = path / "adapter"
            if not (adapter / "adapter_config.json").is_file():
                raise CheckpointError(
                    f"{adapter / 'adapter_config.json'}: missing file (config says LoRA is enabled)"
                )
            try:  # the adapter is rebuilt from config.json; a foreign or broken file means a mix-up
                acfg = json.loads((adapter / "adapter_config.json").read_text())
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise CheckpointError(f"{adapter / 'adapter_config.json'}: not valid JSON") from exc
            if not isinstance(acfg, dict) or acfg.get("peft_type") != "LORA":
                raise CheckpointError(
                    f"{adapter / 'adapter_config.json'}: not a LoRA adapter config "
                    "(expected a JSON object with peft_type LORA)"
                )
            if (path / "trained.safetensors").exists() or not (path / "backbone").is_dir():
                trained = load_tensors(path / "trained.safetensors")
                _load_state(model.backbone, trained, path / "trained.safetensors", strict=False)
            with torch.random.fork_rng():
                model._add_lora()  # initial values are overwritten by the saved adapter
            afile = adapter / "adapter_model.safetensors"
            lora_sd, saved_modules = peft_adapter.split_adapter_state(load_tensors(afile))
            if saved_modules:  # modules_to_save: the trained non-LoRA weights, as PEFT stores them
                _load_state(model.backbone, saved_modules, afile, strict=False)
            from peft import set_peft_model_state_dict

            res = set_peft_model_state_dict(model.backbone, lora_sd)
            unexpected = getattr(res, "unexpected_keys", [])
            if unexpected:
                raise CheckpointError(f"{afile}: unexpected keys {unexpected[:5]}")
        _load_state(
            model.renderer,
            load_tensors(path / "renderer.safetensors"),
            path / "renderer.safetensors",
        )
        model.set_trainable(config.trainable)
        model.card_info = modelcard.read_info(path)
        return model

    @staticmethod
    def _load_backbone(path: Path, config: SkeletonLLMConfig, base) -> backbones.Backbone:
        from transformers import AutoTokenizer

        try:
            tok = AutoTokenizer.from_pretrained(path)
        except Exception as exc:  # tokenizers raise many types on bad files
            raise CheckpointError(f"{path}: cannot load tokenizer files ({exc})") from exc
        try:
            proc = json.loads((path / "preprocessor_config.json").read_text())
        except json.JSONDecodeError as exc:
            raise CheckpointError(
                f"{path / 'preprocessor_config.json'}: not valid JSON ({exc})"
            ) from exc
        if not isinstance(proc, dict):
            raise CheckpointError(
                f"{path / 'preprocessor_config.json'}: expected a JSON object, got "
                f"{type(proc).__name__}"
            )
        bdir = path / "backbone"
        if base is None and bdir.is_dir():
            return backbones.Backbone(_hf_from_dir(bdir, config.dtype), tok, proc)
        if base is not None:
            source = str(base)
        elif (path / "base.json").is_file():
            source = json.loads((path / "base.json").read_text())["backbone"]
        else:
            source = config.backbone
        if (Path(source) / "backbone" / "config.json").is_file():  # another skeletonllm checkpoint
            return backbones.Backbone(
                _hf_from_dir(Path(source) / "backbone", config.dtype), tok, proc
            )
        if backbones.is_tiny(source):
            r = config.renderer
            bb = backbones.build_tiny(
                source, frames=r.frames, size=r.size, views=r.views, seed=config.seed
            )
        else:
            bb = backbones.load_pretrained_backbone(
                source, dtype=_dtype(config.dtype), **config.load_kwargs()
            )
        return backbones.Backbone(bb.model, tok, proc)

    # ------------------------------------------------------------------ convenience
    def __repr__(self) -> str:  # nn.Module's repr of a whole VLM is unreadable
        counts = {g: sum(p.numel() for p in ps) for g, ps in self.parameter_groups().items()}
        return f"SkeletonLLM(backbone={self.config.backbone!r}, visual_tokens={self.visual_tokens}, params={counts})"


class _PatchConv3d(nn.Conv3d):
    """A Conv3d whose kernel equals its stride, applied to inputs of exactly one kernel (Qwen2-VL's
    patch embedding): the same map as one matmul, whose backward to the pixels (the renderer's
    gradient) is far cheaper on CPU than the convolution's."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[2:]) != tuple(self.kernel_size) or self.padding != (0, 0, 0):
            return super().forward(x)
        out = F.linear(x.flatten(1), self.weight.flatten(1), self.bias)
        return out.view(x.shape[0], -1, 1, 1, 1)


def _patch_convs_as_matmuls(module: nn.Module) -> None:
    """Patch-embedding Conv3d layers (kernel == stride, one group) run as :class:`_PatchConv3d`:
    same parameters and state dict, same outputs up to float rounding."""
    for m in module.modules():
        if (
            type(m) is nn.Conv3d
            and tuple(m.kernel_size) == tuple(m.stride)
            and m.groups == 1
            and m.dilation == (1, 1, 1)
        ):
            m.__class__ = _PatchConv3d


def _load_state(module: nn.Module, sd: dict, source: Path, strict: bool = True) -> None:
    own = module.state_dict()
    missing = [k for k in own if k not in sd and "lora_" not in k] if strict else []
    unexpected = [k for k in sd if k not in own]
    if missing or unexpected:
        raise CheckpointError(
            f"{source}: does not match the model (missing {missing[:5]}, unexpected {unexpected[:5]})"
        )
    for k, v in sd.items():
        if own[k].shape != v.shape:
            raise CheckpointError(
                f"{source}: tensor {k!r} has shape {tuple(v.shape)}, model expects {tuple(own[k].shape)}"
            )
    module.load_state_dict(sd, strict=False)


def _hf_from_dir(bdir: Path, dtype: str | None = None) -> nn.Module:
    """A backbone saved in transformers' layout under backbone/ (config.json + model.safetensors or
    shards with an index), loaded straight in ``dtype`` with no random init first; a missing,
    truncated or mismatched weights file raises :class:`CheckpointError` naming it."""
    from transformers import AutoConfig, AutoModelForImageTextToText

    if not (bdir / "config.json").is_file():
        raise CheckpointError(f"{bdir / 'config.json'}: missing file")
    try:
        hf_cfg = AutoConfig.from_pretrained(bdir)
    except Exception as exc:
        raise CheckpointError(f"{bdir / 'config.json'}: invalid backbone config ({exc})") from exc
    index = bdir / "model.safetensors.index.json"
    weights = index if index.is_file() else bdir / "model.safetensors"
    if not weights.is_file():
        raise CheckpointError(f"{weights}: missing file")
    if weights == index:
        shards = sorted(set(json.loads(index.read_text()).get("weight_map", {}).values()))
        files = [bdir / s for s in shards]
    else:
        files = [weights]
    for f in files:  # header check: a truncated shard fails here, naming the file
        _check_safetensors(f)
    try:
        with _quiet_transformers():  # the loading report is checked below instead of printed
            model, info = AutoModelForImageTextToText.from_pretrained(
                bdir, config=hf_cfg, dtype=_dtype(dtype) or torch.float32, output_loading_info=True
            )
    except Exception as exc:
        raise CheckpointError(f"{weights}: cannot load the backbone weights ({exc})") from exc
    missing = list(info.get("missing_keys") or [])
    unexpected = list(info.get("unexpected_keys") or [])
    mismatched = list(info.get("mismatched_keys") or [])
    if missing or unexpected or mismatched:
        raise CheckpointError(
            f"{weights}: does not match the model (missing {missing[:5]}, unexpected "
            f"{unexpected[:5]}, wrong shape {mismatched[:5]})"
        )
    # Tensors read from the safetensors file can sit at any byte offset; BLAS takes other code paths
    # for unaligned operands, so a reloaded model would differ from the saved one in the last bits.
    for prm in model.parameters():
        if prm.data_ptr() % 64:
            prm.data = prm.data.clone()
    return model.eval()


@contextlib.contextmanager
def _quiet_transformers():
    """No progress bars or info warnings from transformers while saving / loading a checkpoint."""
    from transformers.utils import logging as tlog

    verbosity, bars = tlog.get_verbosity(), tlog.is_progress_bar_enabled()
    tlog.set_verbosity_error()
    tlog.disable_progress_bar()
    try:
        yield
    finally:
        tlog.set_verbosity(verbosity)
        if bars:
            tlog.enable_progress_bar()


def _check_safetensors(path: Path) -> None:
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        raise CheckpointError(f"{path}: missing file")
    try:
        with safe_open(str(path), framework="pt") as f:  # validates header and offsets vs size
            f.keys()
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: corrupt or truncated safetensors file ({exc})") from exc


def _cast_parameters(module: nn.Module, dtype: torch.dtype) -> None:
    """Cast the parameters only, as transformers does when loading in a dtype: buffers such as the
    rotary ``inv_freq`` stay float32 (cast, they would lose precision and differ from a reload)."""
    for p in module.parameters():
        if p.is_floating_point() and p.dtype != dtype:
            p.data = p.data.to(dtype)


def token_logprobs(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(B, L, V), (B, L) -> (B, L-1) log p(labels[t+1] | <= t) (0 where label is ignored)."""
    lp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    tgt = labels[:, 1:].clamp_min(0)
    return lp.gather(-1, tgt.unsqueeze(-1)).squeeze(-1)


def weighted_lm_loss(
    logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Next-token CE weighted per target token: sum(w * ce) / sum(w) over positions with labels != -100."""
    shift_logits = logits[:, :-1].float()
    shift_labels = labels[:, 1:]
    w = weights[:, 1:] * (shift_labels != IGNORE).float()
    ce = F.cross_entropy(
        shift_logits.reshape(-1, shift_logits.shape[-1]),
        shift_labels.reshape(-1).clamp_min(0),
        reduction="none",
    ).view_as(w)
    return (ce * w).sum() / w.sum().clamp_min(1e-8)

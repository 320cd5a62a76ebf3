"""LoRA adapters in PEFT's own layout, so that ``PeftModel.from_pretrained(base, ckpt / "adapter")``
rebuilds the trained model from a fresh base.

PEFT keys every tensor by its path under ``PeftModel`` (``base_model.model.<module>...``); LoRA weights
drop the adapter name (``lora_A.weight``) and trained non-LoRA modules (the projector...) are stored
whole under ``modules_to_save``. The model itself carries the adapter injected in place (no wrapper), so
its own names lack the prefix: this module converts both ways.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from .checkpoint import save_tensors

PREFIX = "base_model.model."


def modules_to_save(backbone: nn.Module, trained: set[str]) -> list[str]:
    """The fewest whole modules (full dotted names) that hold exactly the ``trained`` parameters.

    A module qualifies when every parameter under it is trained and it carries no LoRA layer (PEFT
    cannot wrap a module both ways); its descendants are then covered.
    """
    chosen: list[str] = []
    for name, module in backbone.named_modules():
        if not name or any(name.startswith(c + ".") for c in chosen):
            continue
        params = [f"{name}.{n}" for n, _ in module.named_parameters()]
        if not params or any("lora_" in p or ".base_layer." in p for p in params):
            continue
        if all(p in trained for p in params):
            chosen.append(name)
    return chosen


def adapter_state(backbone: nn.Module, saved_modules: list[str]) -> dict[str, torch.Tensor]:
    """LoRA weights (adapter name dropped) and the ``saved_modules``' weights, under PEFT's keys."""
    from peft import get_peft_model_state_dict

    out = {PREFIX + k: v for k, v in get_peft_model_state_dict(backbone).items()}
    sd = backbone.state_dict()
    for m in saved_modules:
        for k, v in sd.items():
            if k.startswith(m + "."):
                out[PREFIX + k] = v
    return out


def save_peft_adapter(
    backbone: nn.Module, lora_config, folder: Path, *, trained: set[str], base_model: str
) -> None:
    """Write ``adapter_config.json`` + ``adapter_model.safetensors`` into ``folder`` (created)."""
    folder = Path(folder)
    folder.mkdir()
    saved = modules_to_save(backbone, trained)
    lora_config.save_pretrained(folder)
    cfg_path = folder / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["base_model_name_or_path"] = base_model
    cfg["modules_to_save"] = saved or None
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True))
    save_tensors(
        adapter_state(backbone, saved),
        folder / "adapter_model.safetensors",
        metadata={"format": "pt"},
    )


def split_adapter_state(sd: dict[str, torch.Tensor]) -> tuple[dict, dict]:
    """Saved adapter tensors -> (LoRA weights, whole-module weights), both keyed by the backbone's own
    names. Reads PEFT's prefixed layout and the older unprefixed one."""
    lora, whole = {}, {}
    for k, v in sd.items():
        name = k.removeprefix(PREFIX)
        (lora if "lora_" in name else whole)[name] = v
    return lora, whole

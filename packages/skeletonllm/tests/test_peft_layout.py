"""The saved LoRA adapter is PEFT's own: ``PeftModel.from_pretrained(fresh base, ckpt / "adapter")``
gives the trained model's logits, merges, and older (unprefixed) adapters still load."""

import json
import warnings

import pytest
import torch
from helpers import raw_records, tiny_model
from safetensors.torch import load_file, save_file
from skeletonllm import SkeletonLLM, SkeletonLLMConfig, backbones


def _perturb(model: SkeletonLLM, seed: int = 1) -> None:
    """Stand-in for training: non-zero LoRA B and a moved projector (fresh LoRA B is all zeros)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.backbone.named_parameters():
            if "lora_B" in name:
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
        for p in model.parameter_groups()["projector"]:
            p.add_(0.1 * torch.randn(p.shape, generator=g))


def _inputs(model: SkeletonLLM) -> dict:
    recs = raw_records(2)
    batch = model.collator()(recs)
    with torch.no_grad():
        pix = model.pixel_inputs(batch["samples"])
    return model._backbone_inputs(pix, batch["input_ids"], batch["attention_mask"])


def _logits(module, inputs) -> torch.Tensor:
    module.eval()
    with torch.no_grad():
        return module(**inputs, use_cache=False).logits


def _peft_load(base, folder):
    from peft import PeftModel

    with warnings.catch_warnings():
        # PEFT warns (and loads nothing) on missing adapter keys
        warnings.filterwarnings(
            "error", message=".*(missing|unexpected).*keys", category=UserWarning
        )
        return PeftModel.from_pretrained(base, folder)


def test_full_checkpoint_adapter_loads_in_peft(tmp_path):
    from transformers import AutoModelForImageTextToText

    model = tiny_model()
    _perturb(model)
    ck = tmp_path / "ck"
    model.save_pretrained(ck)
    cfg = json.loads((ck / "adapter" / "adapter_config.json").read_text())
    assert cfg["base_model_name_or_path"] == "tiny-qwen2vl" and cfg["peft_type"] == "LORA"
    saved = load_file(ck / "adapter" / "adapter_model.safetensors")
    assert saved and all(k.startswith("base_model.model.") for k in saved)

    inputs = _inputs(model)
    want = _logits(model.backbone, inputs)
    base = AutoModelForImageTextToText.from_pretrained(ck / "backbone")
    without = _logits(base, inputs)
    peft_model = _peft_load(base, ck / "adapter")
    b_norm = sum(
        float(p.norm()) for n, p in peft_model.named_parameters() if "lora_B" in n
    )  # was 0.0 when the keys lacked the prefix
    assert b_norm > 1.0
    got = _logits(peft_model, inputs)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert (got - without).abs().max() > 1e-2  # the adapter changes the answer
    merged = peft_model.merge_and_unload()
    assert not any("lora_" in n for n, _ in merged.named_parameters())
    torch.testing.assert_close(_logits(merged, inputs), want, atol=1e-4, rtol=1e-4)


def test_adapter_only_checkpoint_carries_trained_projector(tmp_path):
    """A hub-style base: the checkpoint holds no backbone, so the trained projector travels in the
    adapter as PEFT ``modules_to_save`` and a fresh copy of the original base reproduces the model."""
    from transformers import AutoModelForImageTextToText

    bb = backbones.build_tiny("tiny-qwen2vl", frames=8, size=(56, 56))
    hub = tmp_path / "hub-model"
    bb.model.save_pretrained(hub)
    bb.tokenizer.save_pretrained(hub)
    bb.image_processor.save_pretrained(hub)
    model = SkeletonLLM(SkeletonLLMConfig(backbone=str(hub)))
    _perturb(model, seed=2)
    ck = tmp_path / "ck"
    model.save_pretrained(ck)
    assert not (ck / "backbone").exists()
    cfg = json.loads((ck / "adapter" / "adapter_config.json").read_text())
    assert cfg["base_model_name_or_path"] == str(hub)
    assert cfg["modules_to_save"] == ["model.visual.merger"]

    inputs = _inputs(model)
    want = _logits(model.backbone, inputs)
    peft_model = _peft_load(AutoModelForImageTextToText.from_pretrained(hub), ck / "adapter")
    torch.testing.assert_close(_logits(peft_model, inputs), want, atol=1e-5, rtol=1e-5)
    # and skeletonllm itself reads it back
    loaded = SkeletonLLM.from_pretrained(ck)
    torch.testing.assert_close(_logits(loaded.backbone, inputs), want, atol=1e-6, rtol=1e-6)


def test_old_unprefixed_adapter_still_loads(tmp_path):
    model = tiny_model()
    _perturb(model, seed=3)
    ck = tmp_path / "ck"
    model.save_pretrained(ck)
    f = ck / "adapter" / "adapter_model.safetensors"
    # the layout written before PEFT's: no prefix, LoRA weights only
    old = {k.removeprefix("base_model.model."): v for k, v in load_file(f).items() if "lora_" in k}
    save_file(old, f)
    loaded = SkeletonLLM.from_pretrained(ck)
    inputs = _inputs(model)
    torch.testing.assert_close(
        _logits(loaded.backbone, inputs), _logits(model.backbone, inputs), atol=1e-6, rtol=1e-6
    )


@pytest.mark.parametrize("backbone", ["tiny-llava"])
def test_other_family_adapter_loads_in_peft(backbone, tmp_path):
    from transformers import AutoModelForImageTextToText

    model = tiny_model(backbone)
    _perturb(model)
    model.save_pretrained(tmp_path / "ck")
    inputs = _inputs(model)
    base = AutoModelForImageTextToText.from_pretrained(tmp_path / "ck" / "backbone")
    peft_model = _peft_load(base, tmp_path / "ck" / "adapter")
    torch.testing.assert_close(
        _logits(peft_model, inputs), _logits(model.backbone, inputs), atol=1e-5, rtol=1e-5
    )

"""Full backbones: saved in transformers' layout (sharded past max_shard_size), loaded straight in their
dtype with no random init, checked against the model; hub-backbone loading settings from the config."""

import json

import pytest
import torch
from helpers import raw_records, tiny_model
from safetensors.torch import load_file, save_file
from skeletonllm import SkeletonLLM, SkeletonLLMConfig, backbones
from skeletonllm.checkpoint import CheckpointError


@pytest.fixture(scope="module")
def model():
    return tiny_model()


def _same(a: SkeletonLLM, b: SkeletonLLM) -> None:
    batch = a.collator()(raw_records(2))
    a.eval(), b.eval()
    with torch.no_grad():
        assert torch.equal(a(batch), b(batch))


def test_sharded_backbone_roundtrip_and_damaged_shard(model, tmp_path):
    ck = tmp_path / "ck"
    model.save_pretrained(ck, max_shard_size="100KB")
    index = json.loads((ck / "backbone" / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) > 2 and not (ck / "backbone" / "model.safetensors").exists()
    _same(model, SkeletonLLM.from_pretrained(ck))
    victim = ck / "backbone" / shards[1]
    victim.write_bytes(victim.read_bytes()[:-64])
    with pytest.raises(CheckpointError, match=shards[1].replace(".", r"\.")):
        SkeletonLLM.from_pretrained(ck)


def test_backbone_loads_in_its_dtype_without_random_init(tmp_path, monkeypatch):
    m = tiny_model(dtype="bfloat16")
    m.save_pretrained(tmp_path / "ck")
    vocab = m.backbone.get_input_embeddings().num_embeddings
    inits = []
    original = torch.nn.Embedding.reset_parameters

    def spy(self):
        if self.num_embeddings == vocab:
            inits.append(self.weight.device.type)
        return original(self)

    monkeypatch.setattr(torch.nn.Embedding, "reset_parameters", spy)
    loaded = SkeletonLLM.from_pretrained(tmp_path / "ck")
    assert inits and set(inits) == {"meta"}  # built empty, then filled from the file
    assert {p.dtype for p in loaded.backbone.parameters()} == {torch.bfloat16}
    _same(m, loaded)


def test_backbone_that_does_not_match_is_refused(model, tmp_path):
    ck = tmp_path / "ck"
    model.save_pretrained(ck)
    f = ck / "backbone" / "model.safetensors"
    sd = load_file(f)
    dropped = sorted(sd)[3]
    del sd[dropped]
    save_file(sd, f, metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match=r"model\.safetensors: does not match.*missing"):
        SkeletonLLM.from_pretrained(ck)


def test_hub_backbone_settings_from_the_config(tmp_path):
    cfg = SkeletonLLMConfig(
        backbone="org/name", device_map="auto", attn_implementation="eager",
        quantization={"load_in_4bit": True, "bnb_4bit_compute_dtype": "bfloat16"},
    )  # fmt: skip
    kw = cfg.load_kwargs()
    assert kw["device_map"] == "auto" and kw["attn_implementation"] == "eager"
    assert kw["quantization_config"].load_in_4bit is True
    assert SkeletonLLMConfig.from_dict(cfg.to_dict()) == cfg  # round-trips through config.json
    with pytest.raises(ValueError, match="quantization"):
        SkeletonLLMConfig(quantization="4bit")
    with pytest.raises(ValueError, match="quantization: invalid BitsAndBytesConfig"):
        SkeletonLLMConfig(quantization={"load_in_4bit": "yes"}).load_kwargs()
    # a local HF directory takes the setting on the real loading path
    bb = backbones.build_tiny("tiny-qwen2vl", frames=8, size=(56, 56))
    hub = tmp_path / "hub-model"
    bb.model.save_pretrained(hub)
    bb.tokenizer.save_pretrained(hub)
    bb.image_processor.save_pretrained(hub)
    m = SkeletonLLM(SkeletonLLMConfig(backbone=str(hub), attn_implementation="eager"))
    assert m.backbone.config._attn_implementation == "eager"

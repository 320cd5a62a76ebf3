"""Hub ids resolve through huggingface_hub's cache (offline), push_to_hub uploads a complete checkpoint
(HfApi calls captured, no network), and every checkpoint carries a model card."""

import json
import shutil

import huggingface_hub
import pytest
import torch
from helpers import raw_records, tiny_model
from huggingface_hub import HfApi, ModelCard
from skeletonllm import SkeletonLLM
from skeletonllm.checkpoint import CheckpointError
from skeletonllm.hub import is_hub_id


@pytest.fixture(scope="module")
def model():
    m = tiny_model()
    m.config.trained_labels = ("waving", "walking")
    m.card_info = {
        "data": {"source": "synth", "per_class": 4},
        "recipe": "recipes/tiny.yaml",
        "stages": [
            {"name": "align", "kind": "sft", "trainable": ["projector"], "steps": 3, "records": 8}
        ],
        "metrics": {"eval_accuracy": 0.75},
    }
    return m


def _cache_repo(cache, repo_id, folder, commit="0123456789abcdef0123456789abcdef01234567"):
    """The layout huggingface_hub keeps: models--org--name/{refs/main, snapshots/<commit>/...}."""
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    shutil.copytree(folder, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    return repo


def test_model_card_describes_the_checkpoint(model, tmp_path):
    model.save_pretrained(tmp_path / "ck")
    card = ModelCard.load(tmp_path / "ck" / "README.md")
    assert card.data.library_name == "skeletonllm" and "lora" in card.data.tags
    text = card.text
    for expected in ("tiny-qwen2vl", "DrAction: 8 frames of 56x56", "`waving`", "`walking`"):
        assert expected in text, expected
    assert "| eval_accuracy | 0.75 |" in text and "| align | sft | projector | 3 | 8 |" in text
    assert "recipes/tiny.yaml" in text and '"per_class": 4' in text
    # the card info survives a reload and is written again by the next save
    loaded = SkeletonLLM.from_pretrained(tmp_path / "ck")
    assert loaded.card_info == json.loads(json.dumps(model.card_info))
    loaded.save_pretrained(tmp_path / "again")
    assert (tmp_path / "again" / "README.md").read_text() == (
        tmp_path / "ck" / "README.md"
    ).read_text()


def test_model_card_without_training_info(tmp_path):
    m = tiny_model(lora={"enabled": False}, trainable=("renderer", "projector"))
    m.save_pretrained(tmp_path / "ck")
    text = (tmp_path / "ck" / "README.md").read_text()
    assert "None measured yet" in text and "zero-shot" in text and "LoRA:" not in text


def test_hub_id_resolves_offline_from_the_cache(model, tmp_path, monkeypatch):
    model.save_pretrained(tmp_path / "ck")
    cache = tmp_path / "hub-cache"
    _cache_repo(cache, "skel-org/tiny-skeletonllm", tmp_path / "ck")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    assert is_hub_id("skel-org/tiny-skeletonllm") and not is_hub_id("tiny-qwen2vl")
    loaded = SkeletonLLM.from_pretrained("skel-org/tiny-skeletonllm")
    batch = model.collator()(raw_records(2))
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(batch), loaded(batch))
    assert loaded.config == model.config
    with pytest.raises(CheckpointError, match="skel-org/absent.*Hub cache"):
        SkeletonLLM.from_pretrained("skel-org/absent")


def test_push_to_hub_uploads_a_loadable_checkpoint(model, tmp_path, monkeypatch):
    calls = []

    def create_repo(self, repo_id, **kw):
        calls.append(("create_repo", repo_id, kw))

    def upload_folder(self, *, repo_id, folder_path, **kw):
        shutil.copytree(folder_path, tmp_path / "uploaded")  # what would have gone to the Hub
        calls.append(("upload_folder", repo_id, kw))
        return "commit-info"

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    assert model.push_to_hub("skel-org/pushed", private=True) == "commit-info"
    assert [c[:2] for c in calls] == [
        ("create_repo", "skel-org/pushed"),
        ("upload_folder", "skel-org/pushed"),
    ]
    assert calls[0][2]["private"] is True and calls[0][2]["exist_ok"] is True
    up = tmp_path / "uploaded"
    for name in ("README.md", "config.json", "adapter/adapter_config.json", "renderer.safetensors"):
        assert (up / name).is_file(), name
    loaded = SkeletonLLM.from_pretrained(up)
    batch = model.collator()(raw_records(2))
    with torch.no_grad():
        assert torch.equal(model(batch), loaded(batch))


def _mini_recipe(tmp_path):
    import yaml

    doc = {
        "seed": 0,
        "output_dir": str(tmp_path / "run"),
        "model": {"backbone": "tiny-qwen2vl", "renderer": {"frames": 4, "size": [28, 28]}},
        "data": {"source": "synth", "per_class": 1, "actions": ["wave", "kick"]},
        "defaults": {"batch_size": 2, "lr": 0.01},
        "stages": [{"kind": "warmup", "steps": 1}],
        "eval": {"per_class": 1, "seed": 1},
    }
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(doc))
    return tmp_path / "r.yaml"


def test_recipe_run_writes_its_data_recipe_and_figures_into_the_card(tmp_path):
    from skeletonllm.recipe import run_recipe

    final = run_recipe(_mini_recipe(tmp_path), progress=False)
    acc = json.loads((tmp_path / "run" / "eval.json").read_text())["accuracy"]
    text = (final / "README.md").read_text()
    assert f"| eval_accuracy | {acc} |" in text and str(tmp_path / "r.yaml") in text
    assert '"actions": [' in text and "| warmup | warmup |" in text
    labels = SkeletonLLM.from_pretrained(final).config.trained_labels
    assert labels and all(f"`{x}`" in text for x in labels)


def test_only_the_main_process_writes_the_final_model(tmp_path, monkeypatch):
    import skeletonllm.logging_utils as lu
    from skeletonllm.recipe import run_recipe

    monkeypatch.setattr(lu, "process_rank", lambda: 1)  # as rank 1 of a multi-process run
    final = run_recipe(_mini_recipe(tmp_path), progress=False)
    assert final == tmp_path / "run" / "model" and not final.exists()
    assert not (tmp_path / "run" / "eval.json").exists()


def test_cli_takes_hub_ids(model, tmp_path, monkeypatch, capsys):
    import skelformats
    from skeletonllm.cli import main
    from skelformats import synth

    model.save_pretrained(tmp_path / "ck")
    cache = tmp_path / "hub-cache"
    _cache_repo(cache, "skel-org/cli-model", tmp_path / "ck")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    f = tmp_path / "m.npz"
    skelformats.save(synth.generate("wave", layout="ntu25", seed=0), f)
    argv = ["predict", str(f), "--candidates", "waving,walking", "--device", "cpu"]
    assert main([*argv, "--model", "skel-org/cli-model"]) == 0
    assert capsys.readouterr().out.strip() in ("waving", "walking")
    assert main([*argv, "--model", "skel-org/absent"]) == 1  # a failure, in one line
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "skel-org/absent: not a local directory" in err
    with pytest.raises(SystemExit) as e:  # neither a folder nor a Hub id: a usage error
        main([*argv, "--model", str(tmp_path / "missing")])
    assert e.value.code == 2 and "folder not found" in capsys.readouterr().err

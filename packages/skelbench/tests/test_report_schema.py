"""results.json follows its schema; the GCN baseline runs through the evaluation interface."""

import json
import warnings

import jsonschema
import pytest
import torch
from skelbench import evaluate
from skelbench.baseline import BaselineGCN, train_baseline
from skelbench.datasets import load_split
from skelbench.report import schema, validate, write_run


@pytest.fixture(scope="module")
def utk_trained(real_data):
    """The GCN baseline trained briefly on UTKinect, in memory."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tr = load_split("utkinect", "train", real_data)
    return train_baseline(
        [s.motion for s in tr.samples],
        [s.label for s in tr.samples],
        tr.classes,
        layout="kinect_v1_20",
        budget_s=3.0,
        max_epochs=30,
    )


@pytest.fixture(scope="module")
def utk_baseline(utk_trained, tmp_path_factory):
    path = tmp_path_factory.mktemp("gcn")
    utk_trained.save(path)
    return path


def test_baseline_save_load_same_scores(utk_trained, utk_baseline, real_data):
    loaded = BaselineGCN.load(utk_baseline)
    te = load_split("utkinect", "test", real_data)
    motions = [s.motion for s in te.samples[:8]]
    cands = ["walk", "throw", "not a class"]
    s = loaded.score(motions, None, cands)
    assert s.shape == (8, 3) and bool((s[:, 2] == float("-inf")).all())
    # The reloaded model scores exactly as the trained one in memory (safetensors keeps float32 bits),
    # and differs from a freshly initialised network, so the comparison sees the trained weights.
    assert torch.equal(s, utk_trained.score(motions, None, cands))
    assert torch.equal(loaded.logits(motions), utk_trained.logits(motions))
    fresh = BaselineGCN(utk_trained.config)
    assert not torch.allclose(fresh.logits(motions), utk_trained.logits(motions))
    assert loaded.generate(motions) == utk_trained.generate(motions)
    assert set(loaded.generate(motions)) <= set(te.classes)
    assert loaded.train_stats == json.loads(json.dumps(utk_trained.train_stats))
    with pytest.raises(FileNotFoundError, match="baseline.json missing"):
        BaselineGCN.load(utk_baseline / "nowhere")


def test_results_validate_against_schema(utk_baseline, real_data, tmp_path):
    doc = evaluate(
        str(utk_baseline),
        ["utkinect/recognition", "florence3d_to_utkinect/cross_format", "msr_action3d/recognition"],
        data_dir=real_data,
        limit=6,
        baseline_budget_s=1.0,
        suite="real",
    )
    clean = write_run(doc, tmp_path)
    on_disk = json.loads((tmp_path / "results.json").read_text())
    validate(on_disk)
    assert [t["status"] for t in on_disk["tasks"]] == ["ok", "ok", "ok"], on_disk["tasks"]
    rec = on_disk["tasks"][0]
    assert rec["num_samples"] == 6 and rec["dataset"] == "utkinect" and rec["split"] == "test"
    assert "subjects 1-5" in rec["protocol"]
    assert set(rec["robustness"]["model"]) == {"drop_10", "drop_30", "noise"}
    assert rec["baseline"]["train"]["budget_s"] == 1.0
    xf = on_disk["tasks"][1]
    assert xf["classes"] == ["wave", "clap", "sit down", "stand up"]
    assert "in_format_top1" in xf["baseline"] and "drop" in xf["model"]
    assert on_disk["versions"]["skelbench"] == "0.1.0"
    assert (tmp_path / "report.md").read_text().count("GCN baseline") >= 2
    assert all((tmp_path / p).is_file() for t in clean["tasks"] for p in t.get("plots", []))
    assert any("confusion" in p for p in rec["plots"]) and any(
        "examples" in p for p in rec["plots"]
    )
    # the schema rejects what it should
    bad = json.loads(json.dumps(on_disk))
    bad["tasks"][0]["model"]["top1"] = 1.5
    with pytest.raises(jsonschema.ValidationError):
        validate(bad)
    del bad["versions"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema())

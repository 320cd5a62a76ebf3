"""Recipes read their data through ``skelformats.datasets``: a named dataset/protocol/split, a class
folder, a manifest; ``eval`` names the held-out split."""

from __future__ import annotations

import json

import numpy as np
import pytest
import skelformats as sf
import yaml
from skeletonllm.recipe import RecipeError, _eval_data, _samples, run_recipe
from skelformats.datasets.ntu import ntu_name


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    for c, act in (("waving", "wave"), ("clapping", "clap")):
        (root / c).mkdir()
        for k in range(5):
            sf.save(sf.synth.generate(act, layout="ntu25", seed=k), root / c / f"{k}.npz")
    return root


def test_dataset_forms(folder, tmp_path):
    tr = _samples({"folder": str(folder), "cache": False}, per_class=4, seed=0)
    te = _samples(
        _eval_data({"folder": str(folder), "cache": False}, {"per_class": 1}),
        per_class=1,
        seed=1,
        prefix="test",
    )
    assert len(tr) == 8 and {s.label for s in tr} == {"waving", "clapping"}
    assert len(te) == 2 and not {s.id for s in te} & {s.id for s in tr}
    capped = _samples(
        {"dataset": "folder", "root": str(folder), "per_class": 2, "cache": False},
        per_class=4,
        seed=0,
    )
    assert len(capped) == 4
    # NTU: dataset / protocol / split / root
    ntu = tmp_path / "ntu"
    ntu.mkdir()
    for p in (1, 3):
        m = sf.synth.generate("wave", layout="ntu25", seed=p)
        sf.save(m, ntu / f"{ntu_name(1, 1, p, 1, 23)}.skeleton")
    data = {
        "dataset": "ntu60",
        "protocol": "xsub",
        "split": "train",
        "root": str(ntu),
        "cache": False,
    }
    s = _samples(data, per_class=4, seed=0)
    assert [(x.id, x.label) for x in s] == [("S001C001P001R001A023", "hand waving")]
    ev = _samples(_eval_data(data, {"per_class": 2}), per_class=2, seed=1, prefix="test")
    assert [x.id for x in ev] == ["S001C001P003R001A023"]
    with pytest.raises(RecipeError, match="no split 'val'"):
        _samples(dict(data, split="val"), per_class=1, seed=0)
    # the original manifest form: every row, labels as written
    rows = [
        {"id": f"r{k}", "path": str(folder / "waving" / f"{k}.npz"), "label": "wave"}
        for k in range(3)
    ]
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    legacy = _samples(
        {"source": "manifest", "manifest": str(tmp_path / "m.jsonl"), "cache": False},
        per_class=4,
        seed=0,
    )
    assert [x.id for x in legacy] == ["r0", "r1", "r2"]
    np.testing.assert_array_equal(legacy[0].motion.data, sf.load(rows[0]["path"]).data)


def test_recipe_trains_on_a_folder_and_evaluates_its_test_split(folder, tmp_path):
    doc = {
        "seed": 0,
        "output_dir": str(tmp_path / "run"),
        "model": {"backbone": "tiny-qwen2vl", "renderer": {"frames": 4, "size": [28, 28]}},
        "data": {"folder": str(folder), "cache": False},
        "defaults": {"batch_size": 4, "lr": 0.01},
        "stages": [{"kind": "refine", "steps": 1}],
        "eval": {"split": "test"},
    }
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(doc))
    run_recipe(tmp_path / "r.yaml", progress=False)
    ev = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert ev["n"] == 2 and sorted(ev["labels"]) == ["clapping", "waving"]

"""One manifest schema (``path,label[,split][,text]``, CSV or JSONL) for every consumer: distill,
single-stage configs and recipes read the same file through ``skelformats.datasets``."""

import json
import warnings

import pytest
from skeletonllm.cli import main as cli_main
from skeletonllm.distill import manifest_samples, read_rationales
from skeletonllm.recipe import dataset_samples
from skeletonllm.runconfig import ConfigError, build_records
from skelformats import save, synth

ROWS = [  # path, label, split, text
    ("clips/a.npz", "wave", "train", "a person waves"),
    ("clips/b.npz", "squat", "train", "someone squats down"),
    ("clips/c.npz", "wave", "test", "waving with one hand"),
    ("clips/d.npz", "squat", "test", "a deep squat"),
]


@pytest.fixture
def manifest(tmp_path, monkeypatch):
    monkeypatch.setenv("SKELFORMATS_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "clips").mkdir()
    for i, (p, label, _, _) in enumerate(ROWS):
        save(synth.generate(label, seed=i), tmp_path / p)
    csv = tmp_path / "data.csv"
    csv.write_text(
        "path,label,split,text\n" + "".join(f"{p},{lab},{s},{t}\n" for p, lab, s, t in ROWS)
    )
    return csv


def test_every_consumer_reads_the_same_rows(manifest, tmp_path):
    train = [p for p, _, s, _ in ROWS if s == "train"]
    # distill (the library call and the CLI)
    got = list(manifest_samples(manifest, split="train"))
    assert [s.id for s in got] == train and [s.label for s in got] == ["wave", "squat"]
    out = tmp_path / "r.jsonl"
    argv = ["distill", "--manifest", str(manifest), "--split", "test", "--out", str(out)]
    assert cli_main([*argv, "--no-progress"]) == 0
    assert {k: v["label"] for k, v in read_rationales(out).items()} == {
        "clips/c.npz": "wave",
        "clips/d.npz": "squat",
    }
    # a single-stage config: recognition targets are the labels, captioning targets the texts
    recs = build_records({"data": {"manifest": "data.csv", "split": "train"}}, tmp_path)
    assert [r.id for r in recs] == [f"manifest-{p}" for p in train]
    assert [r.target for r in recs] == ["wave", "squat"] and {r.task for r in recs} == {
        "recognition"
    }
    caps = build_records({"data": {"manifest": str(manifest), "task": "captioning"}}, tmp_path)
    assert [r.target for r in caps] == [t for *_, t in ROWS]
    # a staged recipe
    samples = dataset_samples({"manifest": str(manifest), "split": "test"})
    assert [(s.id, s.label) for s in samples] == [(p, lab) for p, lab, s, _ in ROWS if s == "test"]
    # the same motions everywhere
    assert recs[0].motion.data.tobytes() == got[0].motion.data.tobytes()


def test_jsonl_manifest_and_the_old_id_path_label_lines(manifest, tmp_path):
    """The old distill manifest ({"id", "path", "label"} lines) is the schema with an id column."""
    lines = tmp_path / "old.jsonl"
    lines.write_text(
        "".join(
            json.dumps({"id": f"x{i}", "path": r[0], "label": r[1]}) + "\n"
            for i, r in enumerate(ROWS)
        )
    )
    assert [(s.id, s.label) for s in manifest_samples(lines)] == [
        (f"x{i}", r[1]) for i, r in enumerate(ROWS)
    ]


def test_old_single_stage_records_still_load_with_a_deprecation_warning(manifest, tmp_path):
    old = tmp_path / "records.jsonl"
    old.write_text(json.dumps({"file": "clips/a.npz", "prompt": "What?", "target": "wave"}) + "\n")
    with pytest.warns(FutureWarning, match="deprecated.*manifest"):
        recs = build_records({"data": {"jsonl": "records.jsonl"}}, tmp_path)
    assert [(r.prompt, r.target) for r in recs] == [("What?", "wave")]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the manifest form does not warn
        build_records({"data": {"manifest": "data.csv"}}, tmp_path)


def test_manifest_errors_name_the_file(manifest, tmp_path):
    with pytest.raises(ValueError, match=r"data\.csv: no split 'val'"):
        manifest_samples(manifest, split="val")
    bad = tmp_path / "nolabel.csv"
    bad.write_text("path,label\nclips/a.npz,\nclips/b.npz,squat\n")
    with pytest.raises(ValueError, match=r"nolabel\.csv: 1 rows have no label"):
        manifest_samples(bad)
    with pytest.raises(ConfigError, match=r"data: .*missing\.csv"):
        build_records({"data": {"manifest": "missing.csv"}}, tmp_path, source="run.yaml")
    with pytest.raises(ConfigError, match="data.task"):
        build_records({"data": {"manifest": "data.csv", "task": "qa"}}, tmp_path)
    assert cli_main(["distill", "--split", "train", "--out", str(tmp_path / "o.jsonl")]) == 2

"""``skeletonllm distill``: rationales to JSONL, resumable by sample id without duplicates."""

from __future__ import annotations

import json

import pytest
from skeletonllm.cli import main as cli_main
from skeletonllm.distill import Sample, distill, read_done, read_rationales, synthetic_samples
from skeletonllm.teachers import KinematicTeacher, get_teacher
from skelformats import save, synth

ACTIONS = ["wave", "clap", "kick", "squat", "jump"]


class Interrupted(RuntimeError):
    pass


class FailingTeacher(KinematicTeacher):
    """Dies after ``limit`` rationales, like a run killed half-way."""

    name = "failing"

    def __init__(self, limit: int):
        super().__init__(max_observations=2)
        self.limit, self.calls = limit, 0

    def rationale(self, motion, label):
        self.calls += 1
        if self.calls > self.limit:
            raise Interrupted("killed")
        return super().rationale(motion, label)


def lines(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_resume_after_interruption_has_no_duplicates(tmp_path):
    samples = synthetic_samples(2, actions=ACTIONS)  # 10 samples
    out = tmp_path / "r.jsonl"
    with pytest.raises(Interrupted):
        distill(samples, FailingTeacher(limit=5), out, batch_size=2, progress=False)
    first = lines(out)
    assert 0 < len(first) < len(samples) and len(first) % 2 == 0  # whole batches only
    stats = distill(
        samples, get_teacher("kinematic", max_observations=2), out, batch_size=2, progress=False
    )
    assert stats == {"written": len(samples) - len(first), "skipped": len(first), "path": str(out)}
    rows = lines(out)
    assert rows[: len(first)] == first
    ids = [r["id"] for r in rows]
    assert sorted(ids) == sorted(s.id for s in samples) and len(set(ids)) == len(ids)
    for r in rows:
        assert r["rationale"].splitlines()[-1] == f"Answer: {r['label']}"
    # a third run writes nothing
    again = distill(samples, get_teacher("kinematic"), out, progress=False)
    assert again["written"] == 0 and lines(out) == rows


def test_partial_last_line_is_repaired(tmp_path):
    samples = synthetic_samples(1, actions=ACTIONS[:3])
    out = tmp_path / "r.jsonl"
    distill(samples[:2], get_teacher("kinematic"), out, progress=False)
    with out.open("a") as f:
        f.write('{"id": "synth-kick-0000", "rationale": "cut sh')  # killed mid-write
    assert read_done(out) == {samples[0].id, samples[1].id}
    distill(samples, get_teacher("kinematic"), out, progress=False)
    rows = read_rationales(out)
    assert set(rows) == {s.id for s in samples} and len(out.read_text().splitlines()) == 3


def test_duplicate_ids_in_the_input_are_written_once(tmp_path):
    m = synth.generate("wave", seed=0)
    samples = [Sample("x", m, "wave"), Sample("x", m, "wave"), Sample("y", m, "wave")]
    stats = distill(samples, get_teacher("kinematic"), tmp_path / "r.jsonl", progress=False)
    assert stats["written"] == 2 and stats["skipped"] == 1


def test_cli_synthetic_with_progress_and_resume(tmp_path, capsys):
    out = tmp_path / "cli.jsonl"
    argv = [
        "distill",
        "--out",
        str(out),
        "--synth",
        "1",
        "--actions",
        "wave,clap",
        "--batch-size",
        "1",
    ]
    assert cli_main(argv) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out.strip().splitlines()[-1])["written"] == 2
    assert "distill" in captured.err and "2/2" in captured.err  # the progress bar
    assert cli_main(argv + ["--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {
        "written": 0,
        "skipped": 2,
        "path": str(out),
    }
    assert len(out.read_text().splitlines()) == 2


def test_cli_manifest_of_skeleton_files(tmp_path, capsys):
    rows = []
    for i, action in enumerate(["kick", "bow"]):
        path = tmp_path / f"{action}.npz"
        save(synth.generate(action, seed=i), path)
        rows.append({"id": f"file-{i}", "path": path.name, "label": action})
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "m.jsonl"
    assert (
        cli_main(["distill", "--out", str(out), "--manifest", str(manifest), "--no-progress"]) == 0
    )
    got = read_rationales(out)
    assert set(got) == {"file-0", "file-1"} and got["file-1"]["label"] == "bow"


def test_unknown_teacher_is_a_clear_error(tmp_path, capsys):
    assert cli_main(["distill", "--out", str(tmp_path / "x.jsonl"), "--teacher", "nope"]) == 2
    assert "unknown teacher 'nope'" in capsys.readouterr().err

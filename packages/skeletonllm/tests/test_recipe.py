"""The staged recipe: each stage trains exactly its parameter groups, stages resume, recipes validate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from skeletonllm.cli import main as cli_main
from skeletonllm.model import SkeletonLLM
from skeletonllm.recipe import DEFAULT_TRAINABLE, RecipeError, load_recipe, run_recipe

REPO = Path(__file__).resolve().parents[3]

MINI = {
    "seed": 0,
    "model": {"backbone": "tiny-qwen2vl", "renderer": {"frames": 4, "size": [28, 28]}},
    "data": {"source": "synth", "per_class": 1, "actions": ["wave", "clap", "kick", "sit_down"]},
    "teacher": {"name": "kinematic", "max_observations": 2},
    "mining": {"source": "both", "top_k": 1, "eval_per_class": 1},
    "defaults": {"batch_size": 4, "lr": 0.01, "save_every": 2},
    "stages": [
        {"kind": "warmup", "steps": 2},
        {"kind": "disc_ft", "steps": 2, "negatives": 1},
        {"kind": "cr_distill", "steps": 2, "rationale_weight": 0.3},
        {"kind": "refine", "steps": 4},
    ],
    "eval": {"per_class": 1, "seed": 1},
}


def write(path: Path, doc: dict) -> Path:
    path.write_text(yaml.safe_dump(doc))
    return path


def snapshot(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters()}


@pytest.fixture(scope="module")
def mini_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("recipe")
    cfg = write(out / "mini.yaml", {**MINI, "output_dir": str(out / "run")})
    snaps, groups = [], {}

    def callback(event, stage, model):
        if not groups:
            groups.update(
                {g: {n for n, _ in ps} for g, ps in model.named_parameter_groups().items()}
            )
        snaps.append((stage["kind"] if stage else "start", snapshot(model)))

    final = run_recipe(cfg, progress=False, callback=callback)
    return {"cfg": cfg, "out": out / "run", "final": final, "snaps": snaps, "groups": groups}


def test_each_stage_changes_exactly_its_groups(mini_run):
    snaps, groups = mini_run["snaps"], mini_run["groups"]
    assert [k for k, _ in snaps] == ["start", "warmup", "disc_ft", "cr_distill", "refine"]
    for (_, before), (kind, after) in zip(snaps, snaps[1:]):
        changed = {n for n in before if not torch.equal(before[n], after[n])}
        expected = set().union(*(groups[g] for g in DEFAULT_TRAINABLE[kind]))
        assert expected, kind
        assert changed == expected, (
            f"{kind}: changed outside its groups {sorted(changed - expected)[:5]}, "
            f"unchanged inside {sorted(expected - changed)[:5]}"
        )
    # the renderer is frozen in the refine stage, trained before it
    assert not groups["renderer"] & {
        n for n in snaps[3][1] if not torch.equal(snaps[3][1][n], snaps[4][1][n])
    }


def test_outputs_pairs_rationales_and_eval(mini_run):
    out, final = mini_run["out"], mini_run["final"]
    assert final == out / "model" and (final / "config.json").is_file()
    pairs = json.loads((final / "confusable_pairs.json").read_text())["pairs"]
    assert pairs and all({"a", "b", "score"} <= set(p) for p in pairs)
    # both sources: label-name embeddings and the confusion matrix of a quick evaluation after stage 1
    assert {p["source"] for p in pairs} & {"confusion", "embedding+confusion"}
    assert any(p["source"] in ("embedding", "embedding+confusion") for p in pairs)
    lines = (out / "stages" / "3-cr_distill" / "rationales.jsonl").read_text().splitlines()
    assert len(lines) == 4 and all(
        json.loads(x)["rationale"].endswith("Answer: " + json.loads(x)["label"]) for x in lines
    )
    ev = json.loads((out / "eval.json").read_text())
    cm = ev["confusion"]  # accuracy is the diagonal share of the held-out confusion matrix
    assert (
        ev["n"] == 4 == sum(map(sum, cm))
        and ev["accuracy"] == sum(r[i] for i, r in enumerate(cm)) / 4
    )
    state = json.loads((out / "recipe_state.json").read_text())
    assert [s["steps"] for s in state["stages"]] == [2, 2, 2, 4]


def test_interrupted_stage_resumes_to_the_same_model(mini_run, tmp_path):
    out = mini_run["out"]
    done = SkeletonLLM.from_pretrained(mini_run["final"]).state_dict()
    # Simulate a kill in the refine stage right after its step-2 checkpoint.
    ck = out / "stages" / "4-refine" / "checkpoints"
    import shutil

    shutil.rmtree(ck / "step-00000004")
    (ck / "latest").write_text("step-00000002")
    (out / "stages" / "4-refine" / "done.json").unlink()
    shutil.rmtree(out / "model")
    with pytest.raises(RecipeError, match="resume"):
        run_recipe(mini_run["cfg"], progress=False)
    assert cli_main(["train", str(mini_run["cfg"]), "--resume"]) == 0
    again = SkeletonLLM.from_pretrained(out / "model").state_dict()
    assert done.keys() == again.keys()
    assert all(torch.equal(done[k], again[k]) for k in done)
    info = json.loads((out / "stages" / "4-refine" / "done.json").read_text())
    assert info["resumed_from"] == 2 and info["steps"] == 4


def test_skipped_stages_train_nothing(tmp_path):
    doc = {**MINI, "output_dir": str(tmp_path / "run"), "eval": None}
    doc["stages"] = [{"kind": "warmup", "skip": True}, {"kind": "refine", "steps": 1}]
    seen = []
    run_recipe(
        write(tmp_path / "r.yaml", doc),
        progress=False,
        callback=lambda e, s, m: seen.append(s and s["kind"]),
    )
    assert seen == [None, "refine"]
    assert not (tmp_path / "run" / "stages" / "1-warmup").exists()


@pytest.mark.parametrize(
    "change,match",
    [
        ({"stages": [{"kind": "refine", "steps": 1}, {"kind": "warmup", "steps": 1}]}, "order"),
        (
            {"stages": [{"kind": "warmup", "steps": 1, "trainable": ["renderer", "projector"]}]},
            "renderer only",
        ),
        ({"stages": [{"kind": "refine", "steps": 1, "trainable": ["renderer"]}]}, "frozen"),
        ({"stages": [{"kind": "warmup", "steps": 1}, {"kind": "warmup", "steps": 1}]}, "twice"),
        ({"stages": [{"kind": "distill", "steps": 1}]}, "kind"),
        ({"stages": [{"kind": "warmup", "steps": 1, "rationale_weight": 1}]}, "unknown key"),
        ({"stages": []}, "non-empty"),
        ({"trainer": {}}, "unknown top-level"),
        ({"stages": [{"kind": "warmup"}]}, "steps"),
        ({"augment": {"spin": 1.0}}, "unknown transform 'spin'"),
        ({"augment": {"rotate": {"p": 2}}}, "probability"),
    ],
)
def test_invalid_recipes_name_the_file_and_problem(tmp_path, change, match):
    path = write(tmp_path / "bad.yaml", {**MINI, **change})
    with pytest.raises(RecipeError, match=match) as e:
        load_recipe(path)
    assert str(path) in str(e.value)


def test_recognition_records_are_augmented_unless_turned_off(tmp_path):
    from skeletonllm.distill import synthetic_samples
    from skeletonllm.recipe import _stage_records

    samples = synthetic_samples(1, actions=["wave", "clap"])
    st = {"kind": "warmup", "name": "warmup"}
    for augment, on in ((None, True), ({"project": 0.5}, True), (False, False)):
        doc = {**MINI, "augment": augment}
        records, _ = _stage_records("warmup", st, doc, None, samples, tmp_path, {})
        assert [r.augment is not None for r in records] == [on, on]
    doc = {**MINI, "augment": {"project": 0.5}}
    records, _ = _stage_records("warmup", st, doc, None, samples, tmp_path, {})
    assert records[0].augment.settings["project"]["p"] == 0.5


def test_real_data_recipes_evaluate_on_a_held_out_split():
    from skelformats.augment import Augment

    for name in ("nwucla", "utkinect", "florence3d"):
        doc = load_recipe(REPO / "recipes" / f"{name}.yaml")
        assert doc["data"]["dataset"] == doc["eval"]["dataset"] == name
        # never scored on its training data: the standard split's test side
        assert doc["data"]["split"] == "train" and doc["eval"]["split"] == "test"
        assert "output_dir" in doc and Augment.from_config(doc.get("augment")) is not None
        steps = sum(s["steps"] for s in doc["stages"] if not s.get("skip"))
        assert steps <= 7000  # about 16 steps per CPU-second: within 10 CPU-minutes


def test_shipped_recipes_share_the_step_budget():
    demo = load_recipe(REPO / "recipes" / "demo.yaml")
    abl = load_recipe(REPO / "recipes" / "ablation_stages_1_4.yaml")
    assert [s["kind"] for s in demo["stages"] if not s.get("skip")] == [
        "warmup",
        "disc_ft",
        "cr_distill",
        "refine",
    ]
    assert [s["kind"] for s in abl["stages"] if not s.get("skip")] == ["warmup", "refine"]

    def budget(doc):
        return sum(s["steps"] for s in doc["stages"] if not s.get("skip"))

    assert budget(demo) == budget(abl)
    assert (
        demo["data"] == abl["data"]
        and demo["eval"] == abl["eval"]
        and demo["defaults"] == abl["defaults"]
    )


def test_qa_records_ask_in_the_benchmark_form():
    from skeletonllm.distill import synthetic_samples
    from skeletonllm.recipe import qa_records

    recs = qa_records(synthetic_samples(1, actions=["wave", "jump", "sit_down"]), seed=0)
    assert recs and {r.task for r in recs} == {"qa"}
    for r in recs:
        question, options = r.prompt.split(" Options: ")
        assert question.endswith("?") and options.endswith(".")
        assert r.target in options[:-1].split("; ")
    assert len({r.id for r in recs}) == len(recs)
    assert {r.meta["family"] for r in recs} >= {"counting", "posture"}

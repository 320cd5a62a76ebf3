"""The staged training recipe, from YAML (``skeletonllm train recipes/demo.yaml``).

Stages, in order (each ``kind`` once; any can be skipped with ``skip: true`` or left out):

1. ``warmup``      renderer only, recognition;
2. ``disc_ft``     renderer + projector, balanced yes/no questions on mined confusable pairs + ranking loss;
3. ``cr_distill``  renderer + projector + LoRA, teacher rationales (the student sees no label);
4. ``refine``      renderer frozen (projector + LoRA), recognition.

Layout of ``output_dir`` (``$SKELETONLLM_OUTPUT_DIR`` overrides the YAML): ``stages/<i>-<name>/`` per stage
(``train_stage`` checkpoints, metrics, ``model/``, ``done.json``), ``model/`` the final checkpoint with
``confusable_pairs.json``, ``recipe_state.json``, and ``eval.json`` when an ``eval`` block is given.

Resuming (``resume=True``) re-runs the stages in order: a finished stage only reloads its trained
parameters (each stage trains a subset and freezes the rest, so chaining the reloads reproduces the model
exactly), an interrupted stage continues from its last checkpoint with the same data order.

YAML keys: ``output_dir``, ``seed``, ``model`` (SkeletonLLMConfig fields), ``data`` (``source: synth``,
``per_class``, ``actions``, ``layouts``, ``seed``; or a dataset of ``skelformats.datasets``:
``{dataset: ntu60, protocol: xsub, split: train, root: DIR}``, ``{folder: DIR}``, ``{manifest: FILE}``),
``teacher`` (``name`` + kwargs), ``mining``
(``source: embedding|confusion|both``, ``top_k``, ``confusion``: a JSON file ``{"labels", "matrix"}``),
``defaults`` (train_stage settings for every stage), ``stages`` (list of ``{name, kind, steps, ...}``),
``eval`` (``per_class``, ``seed``, ``layouts``: held-out synthetic recognition accuracy; with a dataset,
``split`` names the held-out split, ``test`` by default), ``augment``
(``skelformats.augment.Augment.from_config``: the training augmentation of recognition records, on by
default; ``false`` turns it off).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

KINDS = ("warmup", "disc_ft", "cr_distill", "refine")
DEFAULT_TRAINABLE = {
    "warmup": ("renderer",),
    "disc_ft": ("renderer", "projector"),
    "cr_distill": ("renderer", "projector", "lora"),
    "refine": ("projector", "lora"),
}
_TRAIN_KEYS = (
    "steps",
    "batch_size",
    "lr",
    "grad_accum",
    "save_every",
    "seed",
    "weight_decay",
    "warmup",
    "schedule",
    "lr_groups",
    "max_grad_norm",
    "mixed_precision",
    "log_every",
    "num_workers",
)
_STAGE_KEYS = {
    "warmup": (),
    "disc_ft": (
        "loss_type",
        "beta",
        "ranking_weight",
        "lm_weight",
        "negatives",
        "yes_no",
        "ranking",
    ),
    "cr_distill": ("rationale_weight", "answer_weight", "mix_recognition", "mix_qa", "kd_weight"),
    "refine": ("mix_qa", "mix_rationales"),
}


class RecipeError(ValueError):
    """An invalid recipe file; the message names the file and the key."""


def _fail(path, msg: str):
    raise RecipeError(f"{path}: {msg}")


def load_recipe(path: str | os.PathLike) -> dict:
    """Read and validate a recipe YAML; returns the normalised dict (stages with ``kind`` and ``trainable``)."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: recipe file not found")
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        _fail(path, f"not valid YAML ({e})")
    if not isinstance(doc, dict):
        _fail(path, "expected a mapping at the top level")
    stages = doc.get("stages")
    if not isinstance(stages, list) or not stages:
        _fail(path, "'stages' must be a non-empty list")
    known = {
        "output_dir",
        "seed",
        "model",
        "data",
        "teacher",
        "mining",
        "defaults",
        "stages",
        "eval",
        "name",
        "description",
        "augment",
    }
    unknown = sorted(set(doc) - known)
    if unknown:
        _fail(path, f"unknown top-level key(s) {unknown}; known: {sorted(known)}")
    from skelformats.augment import Augment

    try:
        Augment.from_config(doc.get("augment"), source=f"{path}: augment")
    except ValueError as e:
        raise RecipeError(str(e)) from None
    out, seen = [], set()
    order = -1
    for i, st in enumerate(stages):
        if not isinstance(st, dict):
            _fail(path, f"stages[{i}] must be a mapping")
        kind = st.get("kind", st.get("name"))
        if kind not in KINDS:
            _fail(path, f"stages[{i}]: kind must be one of {KINDS}, got {kind!r}")
        if kind in seen:
            _fail(path, f"stages[{i}]: stage kind {kind!r} appears twice")
        if KINDS.index(kind) < order:
            _fail(path, f"stages[{i}]: {kind!r} comes after a later stage; the order is {KINDS}")
        order = KINDS.index(kind)
        seen.add(kind)
        allowed = {
            "name",
            "kind",
            "skip",
            "trainable",
            "save_model",
            *_TRAIN_KEYS,
            *_STAGE_KEYS[kind],
        }
        bad = sorted(set(st) - allowed)
        if bad:
            _fail(path, f"stages[{i}] ({kind}): unknown key(s) {bad}; allowed: {sorted(allowed)}")
        st = dict(st)
        st["kind"] = kind
        st.setdefault("name", kind)
        st["trainable"] = tuple(st.get("trainable") or DEFAULT_TRAINABLE[kind])
        if not st.get("skip") and (
            not isinstance(st.get("steps", doc.get("defaults", {}).get("steps")), int)
        ):
            _fail(path, f"stages[{i}] ({kind}): 'steps' must be an integer")
        if kind == "warmup" and set(st["trainable"]) - {"renderer"}:
            _fail(path, f"stages[{i}]: the warm-up trains the renderer only")
        if kind == "refine" and "renderer" in st["trainable"]:
            _fail(path, f"stages[{i}]: refine keeps the renderer frozen")
        out.append(st)
    doc = dict(doc)
    doc["stages"] = out
    doc["_path"] = str(path)
    return doc


# ------------------------------------------------------------------------------------------- data
def _eval_data(data: dict, ev: dict) -> dict:
    """The data block of the held-out evaluation: a dataset recipe's ``eval`` names a split
    (``split: test``, the default) and may override dataset / protocol / root / per_class."""
    if not (_DATASET_KEYS & set(data) or _DATASET_KEYS & set(ev)):
        return data
    out = {k: v for k, v in data.items() if k not in ("split", "per_class")}
    out.update({k: v for k, v in ev.items() if k not in ("seed", "layouts")})
    out.setdefault("split", "test")
    return out


def _samples(
    data: dict,
    *,
    per_class: int,
    seed: int,
    layouts: Sequence[str] | None = None,
    prefix: str = "train",
):
    """The recipe's labelled samples: the synthetic suite (default), or a split of a dataset of
    ``skelformats.datasets`` (see :func:`dataset_samples`)."""
    from .distill import synthetic_samples

    source = data.get("source", "dataset" if _DATASET_KEYS & set(data) else "synth")
    if source == "manifest" and "split" not in data and "protocol" not in data:
        # the original ``source: manifest`` form: every row of the manifest
        data = dict(
            data, dataset="manifest", root=data.get("manifest"), protocol="all", split="all"
        )
        source = "dataset"
    if source in ("dataset", "folder", "manifest"):
        return dataset_samples(data, prefix=prefix)
    if source != "synth":
        raise RecipeError(
            f"data.source must be 'synth', 'dataset', 'folder' or 'manifest', got {source!r}"
        )
    return synthetic_samples(
        per_class,
        actions=data.get("actions"),
        layouts=layouts or data.get("layouts") or ["ntu25"],
        seed=seed,
        prefix=prefix,
    )


_DATASET_KEYS = {"dataset", "folder", "manifest"}


def dataset_samples(data: dict, *, prefix: str = "train") -> list:
    """Samples of one split of a ``skelformats.datasets`` dataset, from the recipe's ``data`` (or
    ``eval``) block: ``{dataset: ntu60, protocol: xsub, split: train, root: DIR}``, ``{dataset:
    folder, root: DIR}`` / ``{folder: DIR}`` (class sub-folders), ``{dataset: manifest, root:
    FILE}`` / ``{manifest: FILE}`` (CSV/JSONL ``path,label[,split][,text]``).  ``protocol``
    defaults to the dataset's first, ``split`` to ``train`` (``test`` for ``eval``); ``per_class``
    keeps the first N examples of each class; other keys (``cache``, ``workers``, ``bodies``) go
    to the dataset.  Labels are the dataset's class names."""
    import skelformats.datasets as sd

    from .distill import Sample

    name = data.get("dataset") or next((k for k in ("folder", "manifest") if data.get(k)), None)
    if name is None:
        raise RecipeError("data: name a dataset (dataset: ntu60 | folder | manifest | ...)")
    root = data.get("root") or data.get(name if name in ("folder", "manifest") else "root")
    opts = {k: data[k] for k in ("cache", "workers", "bodies", "progress") if k in data}
    try:
        ds = sd.load(name, root, **opts)
        split = ds.split(data.get("protocol"), data.get("split", prefix))
    except sd.DatasetError as e:
        raise RecipeError(f"data: {e}") from None
    per_class = data.get("per_class")
    taken: dict = {}
    out = []
    for ex in split:
        if ex.label is None:
            continue  # recognition recipes need a label
        if per_class is not None:
            if taken.get(ex.label, 0) >= int(per_class):
                continue
            taken[ex.label] = taken.get(ex.label, 0) + 1
        meta = {"dataset": name, "protocol": split.protocol, "split": split.name}
        out.append(Sample(ex.id, ex.motion, ex.label, meta))
    if not out:
        raise RecipeError(f"data: {name} {split.protocol}/{split.name} has no labelled example")
    return out


def labels_of(samples) -> list[str]:
    return list(dict.fromkeys(s.label for s in samples))


def recognition_records(samples, *, seed: int = 0, id_prefix: str = "rec"):
    """Recognition InstructionRecords (prompt varied deterministically, target the action phrase)."""
    import random

    from .data import RECOGNITION_PROMPTS, InstructionRecord, action_phrase

    rng = random.Random(seed)
    return [
        InstructionRecord(
            s.motion,
            rng.choice(RECOGNITION_PROMPTS),
            action_phrase(s.label),
            "recognition",
            f"{id_prefix}-{s.id}",
            {"action": s.label},
        )
        for s in samples
    ]


def qa_prompt(question: str, choices) -> str:
    """The multiple-choice prompt (the question, then the options; the form skelbench asks in)."""
    return f"{question} Options: {'; '.join(choices)}."


def qa_records(samples, *, seed: int = 0, id_prefix: str = "qa"):
    """Multiple-choice QA InstructionRecords from the kinematic facts of each sample (target: the answer)."""
    import numpy as np

    from .data import InstructionRecord
    from .reasoning import kinematic_facts, make_questions

    out = []
    for i, s in enumerate(samples):
        rng = np.random.default_rng([seed, i])
        for k, item in enumerate(make_questions(s.motion, kinematic_facts(s.motion), rng)):
            out.append(
                InstructionRecord(
                    s.motion,
                    qa_prompt(item.question, item.choices),
                    item.answer,
                    "qa",
                    f"{id_prefix}-{s.id}-{k}",
                    {"family": item.family, "label": s.label},
                )
            )
    return out


# ------------------------------------------------------------------------------------------- evaluation
def recognition_accuracy(model, samples, *, prompt: str | None = None, batch_size: int = 8) -> dict:
    """Closed-set accuracy: every label scored with ``model.score``; returns accuracy, per-class and confusion."""
    import numpy as np

    from .data import RECOGNITION_PROMPTS, action_phrase

    prompt = prompt or RECOGNITION_PROMPTS[0]
    labels = labels_of(samples)
    cands = [action_phrase(x) for x in labels]
    index = {x: i for i, x in enumerate(labels)}
    conf = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for start in range(0, len(samples), batch_size):
        chunk = samples[start : start + batch_size]
        scores = model.score(
            [s.motion for s in chunk], [prompt] * len(chunk), cands, normalize=False
        )
        for s, row in zip(chunk, scores):
            conf[index[s.label], int(row.argmax())] += 1
    acc = float(np.trace(conf) / max(conf.sum(), 1))
    per_class = {x: float(conf[i, i] / max(conf[i].sum(), 1)) for i, x in enumerate(labels)}
    return {
        "accuracy": acc,
        "n": int(conf.sum()),
        "labels": labels,
        "per_class": per_class,
        "confusion": conf.tolist(),
    }


# ------------------------------------------------------------------------------------------- stages
def _train_kwargs(doc: dict, st: dict) -> dict:
    kw = {k: v for k, v in (doc.get("defaults") or {}).items() if k in _TRAIN_KEYS}
    kw.update({k: st[k] for k in _TRAIN_KEYS if k in st})
    kw.setdefault("seed", doc.get("seed", 0))
    # YAML 1.1 reads `1e-4` (no dot) as a string; the single-stage path converts these too.
    for k in ("lr", "weight_decay", "max_grad_norm"):
        if kw.get(k) is not None:
            try:
                kw[k] = float(kw[k])
            except (TypeError, ValueError):
                raise RecipeError(
                    f"{doc['_path']}: stage {st['name']!r}: {k} must be a number, got {kw[k]!r}"
                ) from None
    return kw


def _mine(doc: dict, model, samples, stage_dir: Path) -> list[dict]:
    from . import mining

    cfg = dict(doc.get("mining") or {})
    source = cfg.get("source", "embedding")
    if source not in ("embedding", "confusion", "both"):
        raise RecipeError(f"{doc['_path']}: mining.source must be embedding, confusion or both")
    top_k = int(cfg.get("top_k", 2))
    labels = labels_of(samples)
    confusion = None
    if source in ("confusion", "both"):
        src = cfg.get("confusion", "eval")
        if src == "eval":
            # A quick evaluation of the current model on (a slice of) the training samples.
            n = int(cfg.get("eval_per_class", 2)) * len(labels)
            res = recognition_accuracy(model, samples[:n])
            confusion = res["confusion"]
            labels = res["labels"]
        else:
            cdoc = json.loads(Path(src).read_text())
            labels, confusion = cdoc["labels"], cdoc["matrix"]
    pairs = mining.mine_confusable_pairs(
        labels, confusion=confusion, top_k=top_k, use_embeddings=source in ("embedding", "both")
    )
    mining.save_pairs(pairs, stage_dir / mining.PAIRS_FILE)
    return pairs


def _stage_records(kind: str, st: dict, doc: dict, model, samples, stage_dir: Path, state: dict):
    """(records, objective) for one stage."""
    from .data import with_augment
    from .objectives import CRDistill, DiscFT, LanguageModeling, cr_distill_records, yes_no_records

    seed = int(doc.get("seed", 0))
    # recognition records are augmented in training unless the recipe says `augment: false`
    rec = with_augment(recognition_records(samples, seed=seed), doc.get("augment"))
    if kind in ("warmup", "refine"):
        records = list(rec)
        if kind == "refine" and st.get("mix_rationales") and state.get("crd_records"):
            records += state["crd_records"]
        if kind == "refine" and st.get("mix_qa"):
            records += qa_records(samples, seed=seed)
        return records, LanguageModeling()
    if kind == "disc_ft":
        pairs = state.get("pairs")
        if pairs is None:
            pairs = state["pairs"] = _mine(doc, model, samples, stage_dir)
        labels = labels_of(samples)
        records = []
        if st.get("yes_no", True):
            records += yes_no_records(samples, pairs, labels, seed=seed)
        cands = {}
        if st.get("ranking", True):
            records += rec
            cands = DiscFT.candidates_for(
                rec, pairs, labels, k=int(st.get("negatives", 2)), seed=seed
            )
        obj = DiscFT(
            cands,
            loss_type=st.get("loss_type", "sigmoid"),
            beta=float(st.get("beta", 2.0)),
            ranking_weight=float(st.get("ranking_weight", 1.0)),
            lm_weight=float(st.get("lm_weight", 1.0)),
        )
        return records, obj
    if kind == "cr_distill":
        from .distill import distill, read_rationales
        from .teachers import get_teacher

        tcfg = dict(doc.get("teacher") or {"name": "kinematic"})
        teacher = get_teacher(tcfg.pop("name", "kinematic"), **tcfg)
        # Rationales are cached by sample id, so a resumed stage trains on exactly the same targets.
        path = stage_dir / "rationales.jsonl"
        distill(samples, teacher, path, progress=False)
        by_id = read_rationales(path)
        rats = [by_id[s.id]["rationale"] for s in samples]
        records = cr_distill_records(
            samples,
            rats,
            rationale_weight=float(st.get("rationale_weight", 0.5)),
            answer_weight=float(st.get("answer_weight", 1.0)),
        )
        state["crd_records"] = records
        if st.get("mix_recognition", True):
            records = records + rec
        if st.get("mix_qa"):
            records = records + qa_records(samples, seed=seed)
        kd = float(st.get("kd_weight", 0.0))
        return records, CRDistill(
            teacher if (kd and getattr(teacher, "name", "") == "hf") else None, kd_weight=kd
        )
    raise RecipeError(f"unknown stage kind {kind!r}")


def run_recipe(
    config_path: str | os.PathLike,
    resume: bool = False,
    *,
    output_dir: str | os.PathLike | None = None,
    progress: bool = True,
    stages: Sequence[str] | None = None,
    callback=None,
    dtype: str | None = None,
) -> Path:
    """Train the stages of the recipe at ``config_path``; returns the final model directory.

    ``output_dir`` (or ``$SKELETONLLM_OUTPUT_DIR``) overrides the recipe's; ``stages`` restricts the run to
    the named stages (the others count as skipped); ``callback(event, stage, model)`` is called with
    ``("start", None, model)`` before the first stage and ``("stage", stage_dict, model)`` after each
    trained stage (monitoring, tests). ``dtype`` overrides the model's (``--dtype``).
    """
    from .config import SkeletonLLMConfig
    from .mining import PAIRS_FILE, save_pairs
    from .model import SkeletonLLM
    from .training import train_stage

    doc = load_recipe(config_path)
    out = Path(
        output_dir
        or os.environ.get("SKELETONLLM_OUTPUT_DIR")
        or doc.get("output_dir")
        or "runs/recipe"
    )
    out.mkdir(parents=True, exist_ok=True)
    seed = int(doc.get("seed", 0))
    mcfg = dict(doc.get("model") or {})
    mcfg.setdefault("seed", seed)
    if dtype is not None:
        mcfg["dtype"] = dtype
    try:
        config = SkeletonLLMConfig.from_dict(mcfg, source=f"{config_path}: model")
    except ValueError as e:
        raise RecipeError(str(e)) from None
    model = SkeletonLLM(config)
    data = dict(doc.get("data") or {})
    samples = _samples(
        data, per_class=int(data.get("per_class", 4)), seed=int(data.get("seed", seed))
    )
    state_path = out / "recipe_state.json"
    state: dict[str, Any] = {}
    summary = {"recipe": str(config_path), "stages": []}
    t_all = time.perf_counter()
    if callback is not None:
        callback("start", None, model)
    for i, st in enumerate(doc["stages"], 1):
        kind = st["kind"]
        stage_dir = out / "stages" / f"{i}-{st['name']}"
        if st.get("skip") or (
            stages is not None and st["name"] not in stages and kind not in stages
        ):
            summary["stages"].append({"name": st["name"], "kind": kind, "skipped": True})
            continue
        done_file = stage_dir / "done.json"
        if not resume and stage_dir.exists() and any(stage_dir.iterdir()):
            raise RecipeError(
                f"{stage_dir}: exists from an earlier run; pass resume=True (--resume) or remove it"
            )
        if kind == "disc_ft" and resume and (stage_dir / PAIRS_FILE).is_file():
            from .mining import load_pairs

            state["pairs"] = load_pairs(stage_dir / PAIRS_FILE)
        t0 = time.perf_counter()
        records, objective = _stage_records(kind, st, doc, model, samples, stage_dir, state)
        kw = _train_kwargs(doc, st)
        res = train_stage(
            model,
            records,
            out_dir=stage_dir,
            trainable=st["trainable"],
            objective=objective,
            resume=resume,
            progress=progress,
            stage_name=st["name"],
            save_model=bool(st.get("save_model", False)),
            **kw,
        )
        info = {
            "name": st["name"],
            "kind": kind,
            "trainable": list(st["trainable"]),
            "steps": res.step,
            "records": len(records),
            "final_loss": res.loss,
            "resumed_from": res.resumed_from,
            "seconds": round(time.perf_counter() - t0, 2),
        }
        if not done_file.exists() or res.step > res.resumed_from:
            done_file.write_text(json.dumps(info, indent=1))
        summary["stages"].append(info)
        if callback is not None:
            callback("stage", st, model)
    final = out / "model"
    from .logging_utils import process_rank

    if process_rank() != 0:  # one writer of the final artefacts; the other ranks are done
        return final
    model.card_info.update(recipe=str(config_path), data=data, stages=summary["stages"])
    model.save_pretrained(final)
    if state.get("pairs") is not None:
        save_pairs(state["pairs"], final / PAIRS_FILE)
    summary["seconds"] = round(time.perf_counter() - t_all, 2)
    ev = doc.get("eval")
    if ev:
        test = _samples(
            _eval_data(data, ev),
            per_class=int(ev.get("per_class", 2)),
            seed=int(ev.get("seed", seed + 1)),
            layouts=ev.get("layouts"),
            prefix="test",
        )
        res = recognition_accuracy(model, test)
        (out / "eval.json").write_text(json.dumps(res, indent=1))
        summary["eval_accuracy"] = res["accuracy"]
        from . import modelcard

        model.card_info["metrics"] = {"eval_accuracy": res["accuracy"], "eval_samples": len(test)}
        modelcard.write(final, model.config, model.card_info)
    state_path.write_text(json.dumps(summary, indent=1))
    return final


__all__ = [
    "qa_prompt",
    "qa_records",
    "KINDS",
    "DEFAULT_TRAINABLE",
    "RecipeError",
    "load_recipe",
    "recognition_accuracy",
    "recognition_records",
    "run_recipe",
]

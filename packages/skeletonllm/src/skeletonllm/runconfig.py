"""YAML run configs: model / data / train sections -> objects (shared by the CLI and staged recipes).

Single-stage config::

    model: {backbone: tiny-qwen2vl, renderer: {frames: 8, size: [56, 56]}, lora: {r: 8}}
    # or  init: path/to/checkpoint      (start from a saved SkeletonLLM)
    data:
      synthetic: {task: recognition, n: 64, layouts: [ntu25], seed: 0, actions: null}
      # and/or  manifest: data.csv      (path,label[,split][,text][,id]: the one manifest schema)
      #         split: train            (rows of that split; default every row)
      #         task: recognition       (target: the label; captioning: the text)
      # or      dataset: ntu60, protocol: xsub, split: train, root: DIR   |   folder: DIR
      # (deprecated: jsonl: records.jsonl, lines {"file", "prompt", "target", "task", "id"})
    train: {out_dir: runs/demo, steps: 100, batch_size: 8, lr: 1.0e-3, grad_accum: 1,
            trainable: [renderer, projector, lora], save_every: 50, seed: 0, mixed_precision: "no"}

Relative paths resolve against the YAML file's directory.
"""

from __future__ import annotations

import inspect
import json
import os
import warnings
from pathlib import Path

import yaml

from .config import SkeletonLLMConfig
from .data import InstructionRecord, synthetic_records


class ConfigError(ValueError):
    """A run config is unreadable or has a bad field; the message names the file and field."""


def load_yaml(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def resolve(base: Path, p: str | None) -> str | None:
    if p is None:
        return None
    q = Path(os.path.expanduser(str(p)))
    return str(q if q.is_absolute() else base / q)


def build_model(
    spec: dict, base_dir: Path = Path("."), *, source: str = "config", dtype: str | None = None
):
    """``init: CKPT`` loads a checkpoint; otherwise ``model:`` holds SkeletonLLMConfig fields;
    ``dtype`` (``--dtype``) overrides the backbone's."""
    from .model import SkeletonLLM

    if spec.get("init"):
        return SkeletonLLM.from_pretrained(resolve(base_dir, spec["init"]), dtype=dtype)
    model_cfg = spec.get("model") or {}
    if not isinstance(model_cfg, dict):
        raise ConfigError(f"{source}: 'model' must be a mapping")
    if dtype is not None:
        model_cfg = {**model_cfg, "dtype": dtype}
    try:
        cfg = SkeletonLLMConfig.from_dict(model_cfg, source=f"{source}: model")
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    return SkeletonLLM(cfg)


def read_jsonl_records(path: str | os.PathLike) -> list[InstructionRecord]:
    """Records from JSONL lines {"file", "prompt", "target", "task", "id", "format", "meta"}.

    Deprecated (a FutureWarning): list the files in a manifest (``data.manifest``) instead."""
    import skelformats

    path = Path(path)
    warnings.warn(
        f"{path}: data.jsonl records ({{'file', 'prompt', 'target'}} lines) are deprecated; "
        "list the files in a manifest instead (data.manifest: CSV/JSONL path,label[,split][,text])",
        FutureWarning,
        stacklevel=2,
    )
    out = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            file = Path(row["file"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"{path}:{lineno}: bad record ({exc}); need at least 'file' and 'prompt'"
            ) from exc
        file = file if file.is_absolute() else path.parent / file
        motion = skelformats.load(file, format=row.get("format"))
        out.append(
            InstructionRecord(
                motion,
                row.get("prompt", ""),
                row.get("target", ""),
                row.get("task", "qa"),
                row.get("id", f"{path.stem}-{lineno}"),
                row.get("meta", {}),
            )
        )
    return out


_DATASET_KEYS = ("manifest", "folder", "dataset")
_DATASET_OPTIONS = ("cache", "workers", "bodies", "progress")


def dataset_records(
    data: dict, base_dir: Path = Path("."), *, source: str = "config"
) -> list[InstructionRecord]:
    """Records of a ``skelformats.datasets`` dataset named by a config's ``data`` section:
    ``manifest: FILE`` (CSV/JSONL ``path,label[,split][,text][,id]``), ``folder: DIR`` (class
    sub-folders) or ``dataset: NAME`` + ``root``; ``protocol`` / ``split`` choose the examples
    (default: every example of a manifest or folder, the first protocol's ``train`` split of a
    named dataset).  ``task: recognition`` (default) answers with the label, ``captioning`` with
    the text; prompts vary deterministically with ``seed`` unless ``prompt`` fixes one."""
    import random

    import skelformats.datasets as sd

    from .data import CAPTION_PROMPTS, RECOGNITION_PROMPTS, action_phrase

    name = data.get("dataset") or ("manifest" if data.get("manifest") else "folder")
    root = data.get("root") or data.get(name if name in ("manifest", "folder") else "root")
    root = resolve(base_dir, root)
    task = data.get("task", "recognition")
    if task not in ("recognition", "captioning"):
        raise ConfigError(f"{source}: data.task must be recognition or captioning, not {task!r}")
    opts = {k: data[k] for k in _DATASET_OPTIONS if k in data}
    if isinstance(opts.get("cache"), str):
        opts["cache"] = resolve(base_dir, opts["cache"])
    protocol, split = data.get("protocol"), data.get("split")
    if protocol is None and split is None and name in ("manifest", "folder"):
        protocol, split = "all", "all"
    elif protocol is None and name == "manifest":
        protocol = "manifest"
    try:
        ds = sd.load(name, root, **opts)
        examples = ds.split(protocol, split or "train")
    except sd.DatasetError as exc:
        raise ConfigError(f"{source}: data: {exc}") from None
    rng = random.Random(int(data.get("seed", 0)))
    prompts = CAPTION_PROMPTS if task == "captioning" else RECOGNITION_PROMPTS
    out = []
    for ex in examples:
        target = ex.text if task == "captioning" else ex.label
        if target is None:
            continue  # e.g. an unlabelled captioning row in a recognition run
        if task == "recognition":
            target = action_phrase(target)
        out.append(
            InstructionRecord(
                ex.motion,
                data.get("prompt") or rng.choice(prompts),
                target,
                task,
                f"{name}-{ex.id}",
                {"label": ex.label, "dataset": name, "split": examples.name},
            )
        )
    if not out:
        what = "texts" if task == "captioning" else "labels"
        raise ConfigError(
            f"{source}: data: {name} {examples.protocol}/{examples.name} has no example with {what}"
        )
    return out


def build_records(
    spec: dict, base_dir: Path = Path("."), *, source: str = "config"
) -> list[InstructionRecord]:
    data = spec.get("data")
    if not isinstance(data, dict) or not data:
        raise ConfigError(
            f"{source}: 'data' must name 'synthetic' records and/or a 'manifest', 'folder' or "
            "'dataset'"
        )
    records: list[InstructionRecord] = []
    syn = data.get("synthetic")
    if syn:
        syn = dict(syn)
        n = int(syn.pop("n", 64))
        try:
            records += synthetic_records(n, **syn)
        except TypeError as exc:
            raise ConfigError(f"{source}: data.synthetic: {exc}") from exc
    if any(data.get(k) for k in _DATASET_KEYS):
        records += dataset_records(data, base_dir, source=source)
    for p in [data["jsonl"]] if isinstance(data.get("jsonl"), str) else data.get("jsonl") or []:
        records += read_jsonl_records(resolve(base_dir, p))
    if not records:
        raise ConfigError(f"{source}: data section produced no records")
    return records


def train_kwargs(spec: dict, base_dir: Path = Path("."), *, source: str = "config") -> dict:
    from .training import train_stage

    train = dict(spec.get("train") or {})
    allowed = set(inspect.signature(train_stage).parameters) - {
        "model",
        "records",
        "objective",
        "collate_fn",
        "accelerator",
    }
    unknown = sorted(set(train) - allowed)
    if unknown:
        raise ConfigError(f"{source}: unknown train field(s) {unknown}; allowed: {sorted(allowed)}")
    if "out_dir" not in train or "steps" not in train:
        raise ConfigError(f"{source}: train.out_dir and train.steps are required")
    train["out_dir"] = (
        str(base_dir / train["out_dir"])
        if not Path(train["out_dir"]).is_absolute()
        else train["out_dir"]
    )
    for k in ("lr", "weight_decay", "max_grad_norm"):
        if k in train and train[k] is not None:
            try:
                train[k] = float(train[k])
            except (TypeError, ValueError):
                raise ConfigError(
                    f"{source}: train.{k} must be a number, got {train[k]!r}"
                ) from None
    return train


def refuse_earlier_run(out_dir: str | os.PathLike) -> None:
    """Raise ConfigError when ``out_dir`` already holds a run: training again without ``--resume``
    would silently mix two runs' checkpoints and metrics (staged recipes refuse the same way)."""
    out = Path(out_dir)
    found = [n for n in ("checkpoints", "metrics.jsonl", "model") if (out / n).exists()]
    if found:
        raise ConfigError(
            f"{out}: holds an earlier run ({', '.join(found)}); pass --resume to continue it "
            "or remove the folder"
        )


def train_from_config(path: str | os.PathLike, *, resume: bool = False, dtype: str | None = None):
    """Run a single-stage YAML config; returns the :class:`training.StageResult`."""
    from .training import train_stage

    path = Path(path)
    spec = load_yaml(path)
    base = path.parent
    kwargs = train_kwargs(spec, base, source=str(path))
    kwargs["resume"] = resume or bool(kwargs.get("resume", False))
    if not kwargs["resume"]:
        refuse_earlier_run(kwargs["out_dir"])
    model = build_model(spec, base, source=str(path), dtype=dtype)
    records = build_records(spec, base, source=str(path))
    return train_stage(model, records, **kwargs)

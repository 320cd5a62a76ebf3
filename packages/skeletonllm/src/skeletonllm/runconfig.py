"""YAML run configs: model / data / train sections -> objects (shared by the CLI and staged recipes).

Single-stage config::

    model: {backbone: tiny-qwen2vl, renderer: {frames: 8, size: [56, 56]}, lora: {r: 8}}
    # or  init: path/to/checkpoint      (start from a saved SkeletonLLM)
    data:
      synthetic: {task: recognition, n: 64, layouts: [ntu25], seed: 0, actions: null}
      # and/or  jsonl: records.jsonl    (lines: {"file", "prompt", "target", "task", "id", "format"})
    train: {out_dir: runs/demo, steps: 100, batch_size: 8, lr: 1.0e-3, grad_accum: 1,
            trainable: [renderer, projector, lora], save_every: 50, seed: 0, mixed_precision: "no"}

Relative paths resolve against the YAML file's directory.
"""

from __future__ import annotations

import inspect
import json
import os
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
    """Records from JSONL lines {"file", "prompt", "target", "task", "id", "format", "meta"}."""
    import skelformats

    path = Path(path)
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


def build_records(
    spec: dict, base_dir: Path = Path("."), *, source: str = "config"
) -> list[InstructionRecord]:
    data = spec.get("data")
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"{source}: 'data' must name 'synthetic' and/or 'jsonl' records")
    records: list[InstructionRecord] = []
    syn = data.get("synthetic")
    if syn:
        syn = dict(syn)
        n = int(syn.pop("n", 64))
        try:
            records += synthetic_records(n, **syn)
        except TypeError as exc:
            raise ConfigError(f"{source}: data.synthetic: {exc}") from exc
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

"""Task registry, lm-evaluation-harness style: a task is data (``TaskSpec``) naming its dataset,
split, prompt template, candidate set and metrics. ``register_task`` adds one (also from YAML with
``load_task_yaml``, or every YAML file of a folder with ``include_path``, the API behind
``skelbench run --include-path DIR``); third-party packages may register through the
``skelbench.tasks`` entry-point group (each entry point is a callable returning an iterable of
``TaskSpec``).  Tasks whose ``options`` say ``on_request: true`` (data the user supplies: NTU,
HumanML3D, a folder) run when named, and are left out of whole-suite runs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KINDS = ("recognition", "captioning", "reasoning", "cross_format", "localization")
MODES = ("closed_set", "generation", "zero_shot", None)
SUITES = ("synth", "real")

RECOGNITION_PROMPT = "What action is the person performing? Answer with the action name."
CAPTION_PROMPT = "Describe the motion of the person in one sentence."
QA_PROMPT = "{question}"


@dataclass(frozen=True)
class TaskSpec:
    """One benchmark task.

    name: unique id, ``<dataset>/<task>``.
    kind: recognition | captioning | reasoning | cross_format.
    suite: synth | real.
    dataset / split: evaluation data (``skelbench.datasets``); ``train_split`` feeds the baseline.
    prompt: template given to the model with each motion.
    candidates: ``classes`` (all classes), ``unseen`` (zero-shot: unseen classes only),
        ``options`` (per-question multiple choice) or None (free text).
    mode: recognition mode: closed_set (score all candidates), generation (answer generated, label
        matched as a substring), zero_shot (closed set over unseen classes).
    metrics: metric names reported.
    source: cross-format source dataset (train side); ``shared_classes`` restricts both sides.
    layouts: synthetic cross-format evaluation layouts (the first is the training layout).
    robustness: also evaluate with joints dropped / Gaussian noise.
    baseline: also train/evaluate the GCN baseline on this task.
    """

    name: str
    kind: str
    suite: str
    dataset: str
    split: str = "test"
    train_split: str | None = "train"
    prompt: str = RECOGNITION_PROMPT
    candidates: str | None = "classes"
    mode: str | None = "closed_set"
    metrics: tuple[str, ...] = ("top1", "top5", "macro_accuracy", "confusion_matrix")
    source: str | None = None
    shared_classes: tuple[str, ...] = ()
    layouts: tuple[str, ...] = ()
    robustness: bool = False
    baseline: bool = True
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"task {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.mode not in MODES:
            raise ValueError(f"task {self.name!r}: mode must be one of {MODES}, got {self.mode!r}")
        if self.suite not in SUITES:
            raise ValueError(
                f"task {self.name!r}: suite must be one of {SUITES}, got {self.suite!r}"
            )


_REGISTRY: dict[str, TaskSpec] = {}
_ENTRY_POINTS_LOADED = False


def register_task(spec: TaskSpec, *, overwrite: bool = False) -> TaskSpec:
    """Add a task to the registry; returns it (usable as a decorator-free one-liner)."""
    if spec.name in _REGISTRY and not overwrite:
        raise ValueError(f"task {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def load_task_yaml(path: str | Path, *, overwrite: bool = False) -> list[TaskSpec]:
    """Register the tasks in a YAML file: a mapping or a list of mappings with TaskSpec fields."""
    import yaml

    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise ValueError(f"{path}: cannot read task YAML: {e}") from e
    items = doc if isinstance(doc, list) else [doc]
    names = {f.name for f in dataclasses.fields(TaskSpec)}
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValueError(f"{path}: entry {i} is not a mapping")
        unknown = set(item) - names
        if unknown:
            raise ValueError(f"{path}: entry {i} has unknown fields {sorted(unknown)}")
        for key in ("metrics", "shared_classes", "layouts"):
            if key in item:
                item[key] = tuple(item[key])
        try:
            spec = TaskSpec(**item)
        except TypeError as e:
            raise ValueError(f"{path}: entry {i}: {e}") from e
        out.append(register_task(spec, overwrite=overwrite))
    return out


def include_path(path: str | Path, *, overwrite: bool = True) -> list[TaskSpec]:
    """Register the tasks of every ``*.yaml`` / ``*.yml`` file under the folder ``path`` (searched
    recursively, in sorted order; a file path loads that file).  Later files override earlier ones."""
    path = Path(path)
    if path.is_file():
        return load_task_yaml(path, overwrite=overwrite)
    if not path.is_dir():
        raise ValueError(f"{path}: --include-path must be a folder of task YAML files")
    files = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    if not files:
        raise ValueError(f"{path}: no .yaml / .yml task files found")
    out: list[TaskSpec] = []
    for f in files:
        out.extend(load_task_yaml(f, overwrite=overwrite))
    return out


def _load_entry_points() -> None:
    global _ENTRY_POINTS_LOADED
    if _ENTRY_POINTS_LOADED:
        return
    _ENTRY_POINTS_LOADED = True
    from importlib.metadata import entry_points

    for ep in entry_points(group="skelbench.tasks"):
        for spec in ep.load()():
            register_task(spec, overwrite=True)


def get_task(name: str) -> TaskSpec:
    _load_entry_points()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown task {name!r}; known: {sorted(_REGISTRY)}") from None


def list_tasks(
    suite: str | None = None,
    kinds: tuple[str, ...] | None = None,
    *,
    on_request: bool = False,
) -> list[TaskSpec]:
    """Registered tasks, optionally filtered by suite ('synth', 'real', 'all') and kinds; tasks
    marked ``on_request`` only with ``on_request=True``."""
    _load_entry_points()
    out = []
    for spec in _REGISTRY.values():
        if spec.options.get("on_request") and not on_request:
            continue
        if suite not in (None, "all") and spec.suite != suite:
            continue
        if kinds and spec.kind not in kinds:
            continue
        out.append(spec)
    return out


from skelbench.tasks import builtin as _builtin  # noqa: E402,F401  (registers the built-in tasks)
from skelbench.tasks import localization as _localization  # noqa: E402,F401

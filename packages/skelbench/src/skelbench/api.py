"""``skelbench.evaluate``: run tasks on a model (and the GCN baseline beside it), return the results
document that ``report.py`` writes as results.json / report.md / plots.

Under ``accelerate launch`` each process scores its shard of every task's samples; rank 0 gathers
them, computes the metrics, trains/evaluates the baseline and writes the report. Other ranks
return None."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from skelbench import metrics as M
from skelbench.datasets import Sample, Split, load_split, stratified_limit
from skelbench.robustness import VARIANTS, corrupt
from skelbench.tasks import TaskSpec, get_task, list_tasks

# --------------------------------------------------------------------------- distribution


class Dist:
    """Rank/world from accelerate when launched with several processes, else a single process."""

    def __init__(self):
        self.rank, self.world = 0, 1
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            import torch
            from accelerate import PartialState

            # Without CUDA, processes started by `accelerate launch` / torchrun join over gloo.
            state = PartialState(cpu=not torch.cuda.is_available())
            self.rank, self.world = state.process_index, state.num_processes

    @property
    def main(self) -> bool:
        return self.rank == 0

    def shard(self, n: int) -> list[int]:
        return list(range(self.rank, n, self.world))

    def gather(self, items: list) -> list:
        if self.world == 1:
            return items
        from accelerate.utils import gather_object

        return gather_object(items)

    def barrier(self) -> None:
        if self.world > 1:
            from accelerate import PartialState

            PartialState().wait_for_everyone()

    def close(self) -> None:
        """Wait for every process, then leave the process group: a rank that exits with the group
        still open can abort in its teardown while another rank is still writing."""
        if self.world > 1:
            import torch.distributed as td

            if td.is_available() and td.is_initialized():
                td.barrier()
                td.destroy_process_group()


# --------------------------------------------------------------------------- context


@dataclass
class Context:
    data_dir: str | None = None
    limit: int | None = None
    batch_size: int = 8
    baseline: bool = True
    baseline_budget_s: float = 15.0
    baseline_layout: str = "ntu25"
    seed: int = 0
    synth_test_per_class: int | None = None
    synth_train_per_class: int | None = None
    robustness: bool = True
    progress: Callable[[str, int, int], None] | None = None
    dist: Dist = field(default_factory=Dist)
    _splits: dict = field(default_factory=dict)
    _baselines: dict = field(default_factory=dict)
    _scores: dict = field(default_factory=dict)

    def split(self, dataset: str, split: str, **kw) -> Split:
        if dataset == "synth":
            kw.setdefault(
                "per_class",
                self.synth_train_per_class if split == "train" else self.synth_test_per_class,
            )
        key = (dataset, split, tuple(sorted(kw.items())))
        if key not in self._splits:
            # a bar while the files are read
            label = " ".join(
                ["loading", dataset, split, *(f"{k}={v}" for k, v in key[2] if v is not None)]
            )
            self.tick(label, 0, 1)
            self._splits[key] = load_split(dataset, split, self.data_dir, **kw)
            self.tick(label, 1, 1)
        return self._splits[key]

    def tick(self, label: str, done: int, total: int) -> None:
        if self.progress is not None and self.dist.main:
            self.progress(label, done, total)


def _prompts(template: str, n: int, **fmt) -> list[str]:
    return [template.format(**fmt) if fmt else template] * n


def _sharded(ctx: Context, label: str, n: int, fn: Callable[[list[int]], list]) -> list:
    """Run ``fn`` on this rank's indices in chunks, gather (index, value) pairs, return values in
    index order on every rank."""
    mine = ctx.dist.shard(n)
    out: list = []
    step = max(1, ctx.batch_size)
    for i in range(0, len(mine), step):
        idx = mine[i : i + step]
        out.extend(zip(idx, fn(idx)))
        ctx.tick(label, min(n, (i + len(idx)) * ctx.dist.world), n)
    gathered = ctx.dist.gather(out)
    gathered.sort(key=lambda p: p[0])
    if len(gathered) != n:
        raise RuntimeError(f"{label}: gathered {len(gathered)} results for {n} samples")
    return [v for _, v in gathered]


def _score_rows(ctx, model, label, motions, prompts, candidates) -> np.ndarray:
    """(N, n_cand) scores; the same motions, prompts and candidates are scored once per run (the
    synthetic cross-format source side is the recognition test set)."""
    from skelbench import models

    key = (tuple(id(m) for m in motions), tuple(prompts), tuple(candidates))
    if key in ctx._scores:
        return ctx._scores[key][1]
    rows = _sharded(
        ctx,
        label,
        len(motions),
        lambda idx: list(
            models.score(
                model, [motions[i] for i in idx], [prompts[i] for i in idx], candidates, len(idx)
            )
        ),
    )
    out = np.asarray(rows, dtype=np.float64).reshape(len(motions), len(candidates))
    ctx._scores[key] = (list(motions), out)  # the motions are kept so their ids stay unique
    return out


def _generate_rows(ctx, model, label, motions, prompts, **kw) -> list[str]:
    from skelbench import models

    return _sharded(
        ctx,
        label,
        len(motions),
        lambda idx: models.generate(
            model, [motions[i] for i in idx], [prompts[i] for i in idx], len(idx), **kw
        ),
    )


# --------------------------------------------------------------------------- baseline


def _baseline_for(
    ctx: Context, key, train: list[Sample], classes: list[str], dims: int, layout=None
):
    """Train (once per key) the GCN on ``train`` under the run's CPU budget. Rank 0 only."""
    from skelbench.baseline import DEFAULT_LAYOUT_2D, train_baseline

    if key not in ctx._baselines:
        label = f"baseline {key[0]}"
        model = train_baseline(
            [s.motion for s in train],
            [s.label for s in train],
            classes,
            layout=layout or (ctx.baseline_layout if dims == 3 else DEFAULT_LAYOUT_2D),
            dims=dims,
            budget_s=ctx.baseline_budget_s,
            seed=ctx.seed,
            progress=lambda e, loss: ctx.tick(label, 0, 0),
        )
        ctx._baselines[key] = model
    return ctx._baselines[key]


def _example_indices(labels: Sequence[int], k: int = 6) -> list[int]:
    """Up to k sample indices, one per class first, so the example figure shows several classes."""
    first: dict[int, int] = {}
    for i, lab in enumerate(labels):
        first.setdefault(lab, i)
    pick = sorted(first.values())[:k]
    rest = [i for i in range(len(labels)) if i not in set(pick)]
    return sorted(pick + rest[: k - len(pick)])


def _dims(samples: Sequence[Sample]) -> int:
    return min(s.motion.dims for s in samples) if samples else 3


def _cls_from_scores(scores: np.ndarray, labels: list[int], k: int) -> dict:
    preds = scores.argmax(1).tolist() if len(scores) else []
    return M.classification_metrics(scores, labels, preds, k)


# --------------------------------------------------------------------------- task runners


def _test_samples(ctx: Context, task: TaskSpec, **kw) -> Split:
    sp = ctx.split(task.dataset, task.split, **kw)
    return sp.subset(stratified_limit(sp.samples, ctx.limit, ctx.seed))


def zero_shot_check(model, candidates: Sequence[str]) -> dict:
    """``zero_shot_valid``: False when the model's recorded ``trained_labels`` include a candidate (the
    overlap is listed in ``zero_shot_overlap``), True when they include none, None when the model
    records no trained labels (zero-shot cannot be verified)."""
    cfg = getattr(model, "config", None)
    known = getattr(cfg, "trained_labels", None) or getattr(cfg, "classes", None)
    if not known:
        return {"zero_shot_valid": None, "zero_shot_overlap": []}

    def norm(x: str) -> str:
        return " ".join(str(x).replace("_", " ").lower().split())

    seen = {norm(x) for x in known}
    overlap = [c for c in candidates if norm(c) in seen]
    return {"zero_shot_valid": not overlap, "zero_shot_overlap": overlap}


def run_recognition(model, task: TaskSpec, ctx: Context) -> dict:
    if task.mode == "zero_shot":
        full = ctx.split(task.dataset, task.split)
        classes = list(full.classes)
        unseen_raw = task.options.get("unseen", ())
        unseen = [c for c in classes if c in {u.replace("_", " ") for u in unseen_raw}]
        if not unseen:
            raise ValueError(
                f"{task.name}: none of the unseen classes {unseen_raw} is in {classes}"
            )
        cand = unseen
        samples = [s for s in full.samples if classes[s.label] in unseen]
        samples = stratified_limit(samples, ctx.limit, ctx.seed)
        labels = [unseen.index(classes[s.label]) for s in samples]
    else:
        test = _test_samples(ctx, task)
        classes = list(test.classes)
        samples, cand = test.samples, classes
        labels = [s.label for s in samples]
    motions = [s.motion for s in samples]
    prompts = _prompts(task.prompt, len(motions))
    res: dict = {"classes": cand, "num_samples": len(samples), "chance": 1.0 / max(1, len(cand))}
    if task.mode == "zero_shot":  # never reported as zero-shot when the model saw these classes
        res.update(zero_shot_check(model, cand))
    examples_answers: list[str]
    if task.mode == "generation":
        answers = _generate_rows(ctx, model, task.name, motions, prompts)
        preds = [M.match_label(a, cand) for a in answers]
        if ctx.dist.main:
            res["model"] = M.classification_metrics(None, labels, preds, len(cand))
            res["model"]["unmatched"] = int(sum(p < 0 for p in preds))
        examples_answers = answers
    else:
        scores = _score_rows(ctx, model, task.name, motions, prompts, cand)
        examples_answers = [cand[i] for i in scores.argmax(1)] if len(scores) else []
        if ctx.dist.main:
            res["model"] = _cls_from_scores(scores, labels, len(cand))
        if task.robustness and ctx.robustness and task.mode == "closed_set":
            rob = {}
            for v in VARIANTS:
                cm = [corrupt(m, v, ctx.seed + i) for i, m in enumerate(motions)]
                sc = _score_rows(ctx, model, f"{task.name} [{v}]", cm, prompts, cand)
                if ctx.dist.main:
                    r = _cls_from_scores(sc, labels, len(cand))
                    rob[v] = {"top1": r["top1"], "macro_accuracy": r["macro_accuracy"]}
            res["robustness"] = {"model": rob}
    if not ctx.dist.main:
        return res
    pick = _example_indices([s.label for s in samples])
    res["examples"] = [
        {"id": samples[i].id, "label": classes[samples[i].label], "answer": examples_answers[i]}
        for i in pick
    ]
    res["_example_motions"] = [samples[i].motion for i in pick]
    if task.baseline and ctx.baseline and task.mode in ("closed_set", "zero_shot"):
        train = ctx.split(task.dataset, task.train_split or "train")
        if task.mode == "zero_shot":
            seen = [c for c in classes if c not in cand]
            tr = [
                Sample(s.motion, seen.index(classes[s.label]))
                for s in train.samples
                if classes[s.label] in seen
            ]
            base_classes = seen
        else:
            tr, base_classes = train.samples, classes
        dims = min(_dims(tr), _dims(samples))
        key = (task.dataset, task.train_split, tuple(base_classes), dims)
        t0 = time.perf_counter()
        gcn = _baseline_for(ctx, key, tr, base_classes, dims)
        ctx.tick(f"{task.name} baseline", 0, 0)
        bs = gcn.score(motions, None, cand).numpy().astype(np.float64)
        # A closed-set classifier cannot name classes it never saw: in zero-shot all its
        # candidate scores are -inf and it is at chance by construction.
        bs = np.where(np.isfinite(bs), bs, -1e30)
        res["baseline"] = _cls_from_scores(bs, labels, len(cand))
        res["baseline"]["train"] = dict(
            gcn.train_stats,
            train_split=task.train_split,
            train_classes=list(base_classes),
            layout=gcn.config.layout,
            dims=dims,
            seconds=time.perf_counter() - t0,
        )
        if "robustness" in res:
            rob = {}
            for v in VARIANTS:
                cm = [corrupt(m, v, ctx.seed + i) for i, m in enumerate(motions)]
                r = _cls_from_scores(gcn.score(cm, None, cand).numpy(), labels, len(cand))
                rob[v] = {"top1": r["top1"], "macro_accuracy": r["macro_accuracy"]}
            res["robustness"]["baseline"] = rob
    return res


def _map_shared(split: Split, class_map, dataset: str) -> list[Sample]:
    """Samples of the shared classes, relabelled to the shared class index."""
    native = {}
    for i, (_shared, per) in enumerate(class_map):
        for name in per[dataset]:
            native[name] = i
    out = []
    for s in split.samples:
        name = split.classes[s.label]
        if name in native:
            out.append(Sample(s.motion, native[name], s.id, s.subject, s.view))
    return out


def run_cross_format(model, task: TaskSpec, ctx: Context) -> dict:
    """Model: accuracy on the evaluation format against the training/source format, and the drop.
    Baseline: trained on the source, tested on the target, against trained on the target."""
    if task.dataset == "synth":
        src_layout, dst_layout = task.layouts[0], task.layouts[1]
        src_test = _test_samples(ctx, task, layout=src_layout)
        dst_test = _test_samples(ctx, task, layout=dst_layout)
        classes = list(src_test.classes)
        src_s, dst_s = src_test.samples, dst_test.samples
        src_train = ctx.split("synth", "train", layout=src_layout).samples
        dst_train = ctx.split("synth", "train", layout=dst_layout).samples
        source_name, target_name = f"synth:{src_layout}", f"synth:{dst_layout}"
    else:
        cmap = task.options["class_map"]
        classes = [n for n, _ in cmap]
        src_test = ctx.split(task.source, "test")
        dst_test = ctx.split(task.dataset, task.split)
        src_s = stratified_limit(_map_shared(src_test, cmap, task.source), ctx.limit, ctx.seed)
        dst_s = stratified_limit(_map_shared(dst_test, cmap, task.dataset), ctx.limit, ctx.seed)
        src_train = _map_shared(ctx.split(task.source, "train"), cmap, task.source)
        dst_train = _map_shared(ctx.split(task.dataset, "train"), cmap, task.dataset)
        source_name, target_name = task.source, task.dataset
    res: dict = {
        "classes": classes,
        "source": source_name,
        "target": target_name,
        "num_samples": len(dst_s),
        "num_source_samples": len(src_s),
        "chance": 1.0 / len(classes),
    }
    sc_src = _score_rows(
        ctx,
        model,
        f"{task.name} [source]",
        [s.motion for s in src_s],
        _prompts(task.prompt, len(src_s)),
        classes,
    )
    sc_dst = _score_rows(
        ctx,
        model,
        f"{task.name} [target]",
        [s.motion for s in dst_s],
        _prompts(task.prompt, len(dst_s)),
        classes,
    )
    if not ctx.dist.main:
        return res
    ls, ld = [s.label for s in src_s], [s.label for s in dst_s]
    ms, md = _cls_from_scores(sc_src, ls, len(classes)), _cls_from_scores(sc_dst, ld, len(classes))
    res["model"] = dict(md, source_top1=ms["top1"], drop=ms["top1"] - md["top1"])
    pick = _example_indices(ld)
    answers = sc_dst.argmax(1)
    res["examples"] = [
        {"id": dst_s[i].id, "label": classes[dst_s[i].label], "answer": classes[int(answers[i])]}
        for i in pick
    ]
    res["_example_motions"] = [dst_s[i].motion for i in pick]
    if task.baseline and ctx.baseline:
        dims = min(_dims(src_train), _dims(dst_train), _dims(dst_s))
        t0 = time.perf_counter()
        g_src = _baseline_for(
            ctx, ("xf", source_name, tuple(classes), dims), src_train, classes, dims
        )
        g_dst = _baseline_for(
            ctx, ("xf", target_name, tuple(classes), dims), dst_train, classes, dims
        )
        transfer = _cls_from_scores(
            g_src.score([s.motion for s in dst_s], None, classes).numpy(), ld, len(classes)
        )
        in_fmt = _cls_from_scores(
            g_dst.score([s.motion for s in dst_s], None, classes).numpy(), ld, len(classes)
        )
        res["baseline"] = dict(
            transfer,
            in_format_top1=in_fmt["top1"],
            drop=in_fmt["top1"] - transfer["top1"],
            train={
                "source": g_src.train_stats,
                "target": g_dst.train_stats,
                "dims": dims,
                "layout": g_src.config.layout,
                "seconds": time.perf_counter() - t0,
            },
        )
    return res


def run_captioning(model, task: TaskSpec, ctx: Context) -> dict:
    kw = {"captions": True} if task.dataset == "synth" else {}
    test = _test_samples(ctx, task, **kw)
    samples = [s for s in test.samples if s.captions]
    motions = [s.motion for s in samples]
    hyps = _generate_rows(ctx, model, task.name, motions, _prompts(task.prompt, len(samples)))
    res: dict = {"num_samples": len(samples)}
    if not ctx.dist.main:
        return res
    refs = [s.captions for s in samples]
    res["model"] = M.caption_metrics(hyps, refs)
    res["examples"] = [
        {"id": s.id, "label": s.captions[0], "answer": h} for s, h in list(zip(samples, hyps))[:6]
    ]
    res["_example_motions"] = motions[:6]
    return res


def _qa_item(item) -> tuple[str, str, list[str], int]:
    """(family, question, options, answer index) from a dict or an object."""

    def get(*names):
        for n in names:
            if isinstance(item, dict) and n in item:
                return item[n]
            if hasattr(item, n):
                return getattr(item, n)
        raise ValueError(f"QA item {item!r} has none of the fields {names}")

    fam, q, opts = get("family"), get("question"), [str(o) for o in get("options", "choices")]
    ans = get("answer_index", "answer", "label")
    if isinstance(ans, str):
        if ans not in opts:
            raise ValueError(f"QA item answer {ans!r} is not one of its options {opts}")
        ans = opts.index(ans)
    return str(fam), str(q), opts, int(ans)


def qa_items(samples: list[Sample], seed: int) -> list[tuple[int, str, str, list[str], int]]:
    """(sample index, family, question, options, answer) for every question of every sample."""
    from skeletonllm import reasoning

    out = []
    for i, s in enumerate(samples):
        rng = np.random.default_rng(seed + i)
        facts = reasoning.kinematic_facts(s.motion)
        for item in reasoning.make_questions(s.motion, facts, rng):
            out.append((i, *_qa_item(item)))
    return out


def run_reasoning(model, task: TaskSpec, ctx: Context) -> dict:
    test = _test_samples(ctx, task)
    samples = test.samples
    items = qa_items(samples, ctx.seed)

    def one(idx):
        out = []
        for j in idx:
            i, fam, q, opts, ans = items[j]
            prompt = task.prompt.format(question=q) + " Options: " + "; ".join(opts) + "."
            s = _score_one(model, samples[i].motion, prompt, opts)
            out.append(int(np.argmax(s)))
        return out

    preds = _sharded(ctx, task.name, len(items), one)
    res: dict = {"num_samples": len(samples), "num_questions": len(items)}
    if not ctx.dist.main:
        return res
    fams = [it[1] for it in items]
    correct = [p == it[4] for p, it in zip(preds, items)]
    res["model"] = M.qa_accuracy(fams, correct)
    chance = {}
    for it in items:
        chance.setdefault(it[1], []).append(1.0 / len(it[3]))
    res["chance_per_family"] = {f: float(np.mean(v)) for f, v in sorted(chance.items())}
    res["examples"] = [
        {"id": samples[it[0]].id, "label": f"{it[2]} -> {it[3][it[4]]}", "answer": it[3][p]}
        for it, p in list(zip(items, preds))[:6]
    ]
    res["_example_motions"] = [samples[it[0]].motion for it in items[:6]]
    return res


def _score_one(model, motion, prompt, options) -> np.ndarray:
    from skelbench import models

    return models.score(model, [motion], [prompt], options, 1)[0]


RUNNERS = {
    "recognition": run_recognition,
    "cross_format": run_cross_format,
    "captioning": run_captioning,
    "reasoning": run_reasoning,
    "localization": lambda model, task, ctx: _localization().run_localization(model, task, ctx),
}


def _localization():
    from skelbench import localization

    return localization


# --------------------------------------------------------------------------- entry point


def resolve_tasks(
    tasks=None, suite: str = "synth", kinds: Sequence[str] | None = None
) -> list[TaskSpec]:
    """Task specs from names / specs / None (every task of ``suite`` with one of ``kinds``)."""
    if tasks is None:
        return list_tasks(suite, tuple(kinds) if kinds else None)
    out = []
    for t in tasks:
        spec = t if isinstance(t, TaskSpec) else get_task(t)
        if kinds and spec.kind not in kinds:
            continue
        out.append(spec)
    return out


def evaluate(
    model,
    tasks: Sequence[str | TaskSpec] | None = None,
    *,
    suite: str = "synth",
    kinds: Sequence[str] | None = None,
    data_dir: str | Path | None = None,
    limit: int | None = None,
    baseline: bool = True,
    baseline_budget_s: float = 15.0,
    batch_size: int = 8,
    seed: int = 0,
    robustness: bool = True,
    synth_test_per_class: int | None = None,
    synth_train_per_class: int | None = None,
    model_path: str | Path | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    on_task_done: Callable[[dict], None] | None = None,
) -> dict | None:
    """Evaluate ``model`` (a SkeletonLLM, a checkpoint path, or anything with ``score`` and
    ``generate``) on ``tasks`` (names or TaskSpecs; default: every task of ``suite``).

    Returns the results document (see ``skelbench/schema/results.schema.json``) on rank 0 and None
    on other ranks. A task that fails is recorded with its error and the run goes on."""
    from skelbench import models
    from skelbench.report import environment_versions

    if isinstance(model, str | Path):
        model_path = model_path or model
        model = models.load_model(model)
    specs = resolve_tasks(tasks, suite, kinds)
    ctx = Context(
        data_dir=str(data_dir) if data_dir else None,
        limit=limit,
        batch_size=batch_size,
        baseline=baseline,
        baseline_budget_s=baseline_budget_s,
        seed=seed,
        robustness=robustness,
        synth_test_per_class=synth_test_per_class,
        synth_train_per_class=synth_train_per_class,
        progress=progress,
    )
    t_start = time.perf_counter()
    results = []
    for spec in specs:
        t0 = time.perf_counter()
        entry = {
            "task": spec.name,
            "kind": spec.kind,
            "suite": spec.suite,
            "dataset": spec.dataset,
            "split": spec.split,
            "mode": spec.mode,
            "prompt": spec.prompt,
            "candidates": spec.candidates,
            "metrics": list(spec.metrics),
        }
        try:
            out = RUNNERS[spec.kind](model, spec, ctx)
            entry.update(out)
            entry["status"] = "ok"
        except Exception as e:  # recorded, so one broken dataset does not hide the others
            if ctx.dist.world > 1:
                raise
            import traceback

            last = traceback.extract_tb(e.__traceback__)[-1]
            entry["status"] = "error"
            entry["error"] = (
                f"{type(e).__name__}: {e} (at {Path(last.filename).name}:{last.lineno})"
            )
        entry["protocol"] = _protocol(ctx, spec)
        entry["skipped_files"] = _skipped(ctx, spec)
        entry["seconds"] = time.perf_counter() - t0
        if ctx.dist.main:
            results.append(entry)
            if on_task_done is not None:
                on_task_done(entry)
    ctx.dist.barrier()
    if not ctx.dist.main:
        return None
    return {
        "schema_version": 1,
        "model": {
            "id": models.model_id(model, model_path),
            "path": str(model_path) if model_path else None,
            "config": models.model_info(model_path),
        },
        "suite": suite,
        "settings": {
            "limit": limit,
            "seed": seed,
            "batch_size": batch_size,
            "baseline": baseline,
            "baseline_budget_s": baseline_budget_s,
            "data_dir": str(data_dir) if data_dir else None,
            "processes": ctx.dist.world,
            "synth_test_per_class": synth_test_per_class,
            "synth_train_per_class": synth_train_per_class,
        },
        "versions": environment_versions(),
        "seconds": time.perf_counter() - t_start,
        "tasks": results,
    }


def _skipped(ctx: Context, spec: TaskSpec) -> list[str]:
    """Files of the task's datasets that the loaders reported and skipped."""
    out: list[str] = []
    for key, sp in ctx._splits.items():
        if key[0] in (spec.dataset, spec.source):
            out.extend(x for x in sp.skipped if x not in out)
    return out


def _protocol(ctx: Context, spec: TaskSpec) -> str:
    for key, sp in ctx._splits.items():
        if key[0] == spec.dataset and key[1] == spec.split:
            return sp.protocol
    return ""

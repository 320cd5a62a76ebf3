"""Regenerate the README images in docs/images/ (synthetic motion only: no dataset file is read).

    skeletonllm train recipes/demo.yaml --resume     # or `nox -s demo`: the tiny checkpoint shown
    python scripts/make_figures.py --model demo-output/model

Every motion comes from ``skelformats.synth`` with a fixed seed, so the images are reproducible and
contain nothing derived from the real datasets. Prints each file with its size.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images"
LIMIT_BYTES = 300_000


def labelled(sheet: np.ndarray, labels: list[str], row_h: int, gap: int = 2, width: int = 110):
    """A white label column on the left of a contact sheet, one label per row."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (width + sheet.shape[1], sheet.shape[0]), "white")
    img.paste(Image.fromarray(sheet), (width, 0))
    draw = ImageDraw.Draw(img)
    for i, text in enumerate(labels):
        y = i * (row_h + gap) + row_h // 2 - 12
        for k, line in enumerate(text.split("\n")):
            draw.text((4, y + 12 * k), line, fill=(0, 0, 0))
    return np.asarray(img)


def save_png(path: Path, image: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(image).save(path, optimize=True)


def layouts_figure(out: Path) -> None:
    """skelformats: one synthetic wave, six layouts (fixed renderer, one colour per body part)."""
    import skelformats as sf
    from skeletonllm.render import FixedRenderer, contact_sheet

    names = ["ntu25", "smpl22", "cmu31", "kinect_v1_20", "openni15", "coco17"]
    r = FixedRenderer(frames=6, size=(88, 88))
    clips, labels = [], []
    for name in names:
        m = sf.synth.generate("wave", layout=name, seed=3, side="right", repetitions=2)
        clips.append(r(m))
        labels.append(f"{name}\n{m.layout.num_joints} joints, {m.layout.dims}D")
    save_png(out, labelled(contact_sheet(clips), labels, 88))


def views_figure(out: Path) -> None:
    """drrender: a kick seen by three cameras (yaw 0, 60, 120 degrees), soft-rasterised."""
    import skelformats as sf
    from skeletonllm.render import FixedRenderer, contact_sheet

    m = sf.synth.generate("kick", layout="ntu25", seed=1)
    views = FixedRenderer(frames=7, size=(88, 88), views=3)(m)  # (F, H, 3W, 3)
    clips = [views[:, :, k * 88 : (k + 1) * 88] for k in range(3)]
    labels = [f"yaw {k * 60} deg" for k in range(3)]
    save_png(out, labelled(contact_sheet(clips), labels, 88))


def _gallery_motions(tmp: Path):
    """(label, motion) of the gallery: a walk through a BVH file, an NTU-layout throw, a 2D jump."""
    import warnings

    import skelformats as sf

    walk = sf.synth.generate("walk", layout="smpl22", seed=2, repetitions=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sf.SkelFormatWarning)  # BVH has no confidence channel
        sf.save(walk, tmp / "walk.bvh")
    return [
        ("BVH walk", sf.load(tmp / "walk.bvh")),
        ("NTU 25-joint throw", sf.synth.generate("throw", layout="ntu25", seed=4)),
        ("COCO-17 2D jump", sf.synth.generate("jump", layout="coco17", seed=5)),
    ]


def model_view_figure(out: Path, model: Path, motions) -> None:
    """skeletonllm: the frames the tiny checkpoint's learned DrAction gives its VLM."""
    from skeletonllm.render import ModelRenderer, contact_sheet

    r = ModelRenderer(model)
    clips = [r(m).repeat(2, 1).repeat(2, 2) for _, m in motions]
    labels = [f"{name}\n{m.layout.name}" for name, m in motions]
    save_png(out, labelled(contact_sheet(clips), labels, 2 * r.size[0]))


def gallery(out_dir: Path, model: Path, motions) -> list[Path]:
    from skeletonllm.render import FixedRenderer, ModelRenderer, render_files

    paths = []
    names = ["gallery_bvh_walk.gif", "gallery_ntu25_throw.gif", "gallery_coco17_jump.gif"]
    for (_, m), name in zip(motions, names):
        views = 1 if m.layout.dims == 2 else 2
        r = FixedRenderer(frames=24, size=(112, 112), views=views)
        paths.append(render_files([m], out_dir / name, r))
    r = ModelRenderer(model)
    paths.append(
        render_files([m for _, m in motions], out_dir / "gallery_model_view.gif", r, scale=2)
    )
    return paths


def examples_figure(out: Path, model_dir: Path) -> None:
    """skelbench: the report's example figure, from a small synthetic recognition run."""
    from skelbench import evaluate
    from skelbench.report import write_run
    from skeletonllm import SkeletonLLM

    model = SkeletonLLM.from_pretrained(model_dir).eval()
    doc = evaluate(
        model,
        ["synth/recognition"],
        limit=15,
        baseline=False,
        robustness=False,
        synth_test_per_class=1,
        model_path=model_dir,
    )
    with tempfile.TemporaryDirectory() as tmp:
        write_run(doc, tmp, model=model)
        shutil.copy(Path(tmp) / "plots" / "synth_recognition_examples.png", out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=str(ROOT / "demo-output" / "model"), help="tiny checkpoint")
    p.add_argument("-o", "--out", default=str(OUT), help="folder of the images")
    a = p.parse_args(argv)
    model, out = Path(a.model), Path(a.out)
    if not (model / "config.json").is_file():
        print(
            f"{model}: no checkpoint; train it first: skeletonllm train recipes/demo.yaml --resume",
            file=sys.stderr,
        )
        return 2
    out.mkdir(parents=True, exist_ok=True)
    made = [out / "skelformats_layouts.png", out / "drrender_views.png"]
    layouts_figure(made[0])
    views_figure(made[1])
    with tempfile.TemporaryDirectory() as tmp:
        motions = _gallery_motions(Path(tmp))
        made.append(out / "skeletonllm_model_view.png")
        model_view_figure(made[-1], model, motions)
        made += gallery(out, model, motions)
    made.append(out / "skelbench_examples.png")
    examples_figure(made[-1], model)
    for f in made:
        size = f.stat().st_size
        print(f"{f.relative_to(ROOT) if f.is_relative_to(ROOT) else f}: {size / 1000:.0f} KB")
        if size > LIMIT_BYTES:
            print(f"  over {LIMIT_BYTES / 1000:.0f} KB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

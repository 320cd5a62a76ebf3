"""``Dataset.to_hf_dataset``: a split as a Hugging Face ``datasets.Dataset`` (imported lazily)."""

from __future__ import annotations

import numpy as np

from .core import Dataset, DatasetError, Split


def to_hf_dataset(ds: Dataset, split: Split, layout: str | None = None):
    try:
        import datasets
    except ImportError:
        raise ImportError(
            "to_hf_dataset needs the Hugging Face 'datasets' package: "
            "pip install 'skelformats[datasets]'"
        ) from None
    from ..convert import convert

    shapes = set()

    def motions():
        for ex in split:
            m = ex.motion
            if layout is not None and m.layout.name != layout:
                m = convert(m, layout)
            yield ex, m

    # first pass: shapes (J, C) must agree for one Array3D column
    for _, m in motions():
        shapes.add((m.num_joints, m.dims))
    if len(shapes) > 1:
        raise DatasetError(
            ds.root,
            f"split {split.protocol}/{split.name} mixes joint counts / dims {sorted(shapes)}; "
            "pass layout=... to convert every motion to one layout",
        )
    J, C = shapes.pop() if shapes else (1, 1)
    feats = {
        "id": datasets.Value("string"),
        "text": datasets.Value("string"),
        "texts": datasets.Sequence(datasets.Value("string")),
        "layout": datasets.Value("string"),
        "fps": datasets.Value("float32"),
        "people": datasets.Value("int32"),
        "motion": datasets.Array3D(shape=(None, J, C), dtype="float32"),
        "confidence": datasets.Array2D(shape=(None, J), dtype="float32"),
    }
    if ds.classes:
        feats["label"] = datasets.ClassLabel(names=list(ds.classes))

    def gen():
        for ex, m in motions():
            row = {
                "id": ex.id,
                "text": ex.text,
                "texts": list(ex.texts),
                "layout": m.layout.name,
                "fps": m.fps,
                "people": m.num_people,
                "motion": m.data.reshape(-1, J, C).astype(np.float32),
                "confidence": m.confidence_or_ones().reshape(-1, J).astype(np.float32),
            }
            if ds.classes:
                row["label"] = ex.label_index
            yield row

    return datasets.Dataset.from_generator(gen, features=datasets.Features(feats))


__all__ = ["to_hf_dataset"]

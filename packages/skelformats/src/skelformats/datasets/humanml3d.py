"""HumanML3D (Guo et al., CVPR 2022): ``new_joints/<id>.npy`` + ``texts/<id>.txt`` + the official
``train.txt`` / ``val.txt`` / ``test.txt`` id lists.

Each ``texts`` line is ``caption#tokens#start#end``: the caption is the text before the first
``#``; ``start``/``end`` (seconds) of 0 (or NaN) mean the whole clip, otherwise the caption covers
that segment only (kept in ``meta["text_segments"]`` as ``(caption, start, end)``).  ``Example.texts``
holds every caption of the clip, ``text`` the first.  Ids listed in a split file without a
``new_joints`` file, or whose file cannot be read, are reported in ``Dataset.skipped``.  One
protocol, ``official``, with splits ``train``, ``val``, ``test``.  No class labels.
"""

from __future__ import annotations

import math
from pathlib import Path

from ._common import StoreLoader, resolve_root, skip
from .cache import parse_files
from .core import Dataset, DatasetError, Example, Protocol

FOLDERS = ("HumanML3D", "humanml3d")
SPLITS = ("train", "val", "test")


def read_texts(path: Path) -> list[tuple[str, float, float]]:
    """``(caption, start, end)`` per non-empty line of a HumanML3D text file."""
    out = []
    for ln, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("#")
        cap = parts[0].strip()
        start = end = 0.0
        if len(parts) >= 4:
            try:
                start, end = float(parts[2] or 0), float(parts[3] or 0)
            except ValueError:
                raise DatasetError(
                    path, f"line {ln}: start/end are not numbers: {line!r}"
                ) from None
        start = 0.0 if math.isnan(start) else start
        end = 0.0 if math.isnan(end) else end
        if cap:
            out.append((cap, start, end))
    return out


def _parse(path: Path):
    from .. import load

    return load(path, format="humanml3d")


def humanml3d(
    root=None, *, cache=None, workers: int | None = None, progress: bool | None = None, **_
) -> Dataset:
    root = resolve_root(root, "humanml3d", FOLDERS)
    joints, texts = root / "new_joints", root / "texts"
    if not joints.is_dir():
        raise DatasetError(root, "no new_joints/ folder (HumanML3D layout expected)")
    split_ids: dict[str, list[str]] = {}
    for s in SPLITS:
        f = root / f"{s}.txt"
        if not f.is_file():
            raise DatasetError(f, f"the official {s} list is missing")
        split_ids[s] = [x.strip() for x in f.read_text().splitlines() if x.strip()]
    ids = list(dict.fromkeys(i for s in SPLITS for i in split_ids[s]))
    skipped: list[str] = []
    present = [i for i in ids if (joints / f"{i}.npy").is_file()]
    for i in sorted(set(ids) - set(present)):
        skip(skipped, i, "listed in a split file but new_joints/<id>.npy is absent", warn=False)
    files = [joints / f"{i}.npy" for i in present]
    store = parse_files(
        "humanml3d",
        files,
        _parse,
        cache=cache,
        workers=workers,
        progress=progress,
    )
    examples, where = [], {}
    for k, i in enumerate(present):
        if k in store.errors:
            skip(skipped, files[k].name, store.errors[k])
            continue
        tf = texts / f"{i}.txt"
        segs = read_texts(tf) if tf.is_file() else []
        meta = {"source": str(files[k])}
        if any(e > 0 for _, _, e in segs):
            meta["text_segments"] = [s for s in segs if s[2] > 0]
        (entry,) = store.entries(k)[:1]
        where[i] = len(examples)
        examples.append(
            Example(i, texts=[c for c, _, _ in segs], meta=meta, loader=StoreLoader(store, entry))
        )
    splits = {s: [where[i] for i in split_ids[s] if i in where] for s in SPLITS}
    proto = Protocol("official", splits, "the official train/val/test id lists")
    return Dataset(
        "humanml3d",
        root,
        [],
        examples,
        {"official": proto},
        skipped,
        "HumanML3D",
        {"cache": None if store.path is None else str(store.path)},
    )


FACTORIES = {"humanml3d": humanml3d}

__all__ = ["FACTORIES", "humanml3d", "read_texts"]

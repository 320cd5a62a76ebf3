"""Your own data: a folder whose sub-folders are classes, or one CSV / JSONL manifest.

Any file ``skelformats.load`` reads (any format, 2D or 3D, any registered layout) can be listed; a
file holding several sequences gives one example per sequence (``<path>#<k>``) in a folder, and the
sequence ``index`` (default 0) in a manifest.  Unreadable files are reported in ``Dataset.skipped``.

**folder** (``sd.load("folder", root)``): ``root/<class>/**/<file>``, class names = sub-folder names
(sorted).  When ``root`` holds ``train/``, ``test/`` (and ``val/``) folders, each with class
sub-folders, they form the protocol ``split_folders``.  Otherwise the protocol ``holdout`` puts every
fifth file of each class (sorted by path, index % 5 == 4) in ``test`` and the rest in ``train``.
Every folder dataset also has the protocol ``all`` (one split ``all``).

**manifest** (``sd.load("manifest", "data.csv")``): the one manifest schema of the toolkit, one row
per example, paths relative to the manifest's folder:

    path,label[,split][,text][,id][,index]        (CSV with a header)
    {"path": ..., "label": ..., "split": ..., "text": ..., "id": ...}   (JSONL, ``.jsonl``/``.json``)

``label`` may be empty (captioning data); ``text`` may also be a list ``texts`` in JSONL.  With a
``split`` column the protocol ``manifest`` has those splits; without one it is the ``holdout`` rule
above.  Labels are kept as written; classes are the sorted distinct labels.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from ._common import StoreLoader, skip
from .cache import parse_files
from .core import Dataset, DatasetError, Example, build_protocol

SPLIT_DIRS = ("train", "val", "test")
HOLDOUT_EVERY = 5


def _parse_any(path: Path):
    from .. import load

    return load(path)


def _files(d: Path) -> list[Path]:
    return sorted(
        p
        for p in d.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(d).parts)
    )


def _holdout(examples: list[Example]) -> callable:
    rank: dict[int, str] = {}
    seen: dict[str | None, int] = {}
    for ex in sorted(examples, key=lambda x: x.id):
        k = seen.get(ex.label, 0)
        seen[ex.label] = k + 1
        rank[id(ex)] = "test" if k % HOLDOUT_EVERY == HOLDOUT_EVERY - 1 else "train"
    return lambda x: rank[id(x)]


def folder(
    root, *, cache=None, workers: int | None = None, progress: bool | None = None, **_
) -> Dataset:
    if root is None:
        raise DatasetError("dataset 'folder' needs a root folder")
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(root, "not a folder")
    split_dirs = [s for s in SPLIT_DIRS if (root / s).is_dir()]
    tops = [root / s for s in split_dirs] if split_dirs else [root]
    items: list[tuple[Path, str, str | None]] = []  # (file, class, split)
    for top in tops:
        split = top.name if split_dirs else None
        for cdir in sorted(d for d in top.iterdir() if d.is_dir() and not d.name.startswith(".")):
            items.extend((f, cdir.name, split) for f in _files(cdir))
    if not items:
        raise DatasetError(root, "no class sub-folders with files (root/<class>/<file>)")
    classes = sorted({c for _, c, _ in items})
    files = [f for f, _, _ in items]
    store = parse_files(
        "folder", files, _parse_any, cache=cache, workers=workers, progress=progress
    )
    examples, skipped = [], []
    for i, (f, c, split) in enumerate(items):
        rel = f.relative_to(root).as_posix()
        if i in store.errors:
            skip(skipped, rel, store.errors[i])
            continue
        entries = store.entries(i)
        for k, e in enumerate(entries):
            examples.append(
                Example(
                    rel if len(entries) == 1 else f"{rel}#{k}",
                    label=c,
                    label_index=classes.index(c),
                    meta={"source": str(f), "split": split, "sequence": k},
                    loader=StoreLoader(store, e),
                )
            )
    protos = {}
    if split_dirs:
        protos["split_folders"] = build_protocol(
            "split_folders",
            examples,
            lambda x: x.meta["split"],
            f"the {'/'.join(split_dirs)} folders",
        )
    else:
        protos["holdout"] = build_protocol(
            "holdout",
            examples,
            _holdout(examples),
            f"every {HOLDOUT_EVERY}th file of each class (sorted) tests, the rest train",
        )
    protos["all"] = build_protocol("all", examples, lambda x: "all", "every example", ())
    return Dataset("folder", root, classes, examples, protos, skipped, f"folder {root}")


# --------------------------------------------------------------------------- manifest


def read_manifest(path: str | Path) -> list[dict]:
    """Rows of a CSV (header) or JSONL manifest, each with at least ``path``; errors name the
    file and line."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(path, "manifest not found")
    rows: list[dict] = []
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        for ln, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise DatasetError(path, f"line {ln}: not JSON: {e}") from None
            if not isinstance(row, dict):
                raise DatasetError(path, f"line {ln}: expected a JSON object")
            rows.append(dict(row, _line=ln))
    else:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            if reader.fieldnames is None or "path" not in reader.fieldnames:
                raise DatasetError(path, "CSV manifest needs a header with a 'path' column")
            for ln, row in enumerate(reader, 2):
                rows.append({k: v for k, v in row.items() if k is not None} | {"_line": ln})
    for row in rows:
        if not row.get("path"):
            raise DatasetError(path, f"line {row['_line']}: no 'path'")
    return rows


def manifest(
    root, *, cache=None, workers: int | None = None, progress: bool | None = None, **_
) -> Dataset:
    if root is None:
        raise DatasetError("dataset 'manifest' needs the manifest file")
    mpath = Path(root)
    rows = read_manifest(mpath)
    base = mpath.parent
    files: list[Path] = []
    fidx: dict[Path, int] = {}
    for row in rows:
        p = Path(row["path"])
        p = p if p.is_absolute() else base / p
        row["_file"] = p
        if p not in fidx:
            fidx[p] = len(files)
            files.append(p)
    skipped: list[str] = []
    missing = [p for p in files if not p.is_file()]
    if missing:
        raise DatasetError(mpath, f"{len(missing)} listed files do not exist, e.g. {missing[0]}")
    store = parse_files(
        "manifest", files, _parse_any, cache=cache, workers=workers, progress=progress
    )
    labels = sorted({str(r["label"]) for r in rows if r.get("label") not in (None, "")})
    has_split = any(r.get("split") for r in rows)
    examples = []
    for row in rows:
        i = fidx[row["_file"]]
        where = f"{mpath.name}:{row['_line']} ({row['path']})"
        if i in store.errors:
            skip(skipped, where, store.errors[i])
            continue
        entries = store.entries(i)
        k = int(row.get("index") or 0)
        if not 0 <= k < len(entries):
            skip(skipped, where, f"sequence index {k} but the file holds {len(entries)}")
            continue
        lab = row.get("label")
        lab = None if lab in (None, "") else str(lab)
        texts = row.get("texts") or ([row["text"]] if row.get("text") else [])
        examples.append(
            Example(
                str(row.get("id") or (row["path"] if k == 0 else f"{row['path']}#{k}")),
                label=lab,
                label_index=labels.index(lab) if lab is not None else -1,
                texts=[str(t) for t in texts],
                meta={
                    "source": str(row["_file"]),
                    "split": row.get("split") or None,
                    "sequence": k,
                },
                loader=StoreLoader(store, entries[k]),
            )
        )
    if has_split:
        proto = build_protocol(
            "manifest", examples, lambda x: x.meta["split"], "the manifest's split column", ()
        )
    else:
        proto = build_protocol(
            "manifest",
            examples,
            _holdout(examples),
            f"no split column: every {HOLDOUT_EVERY}th example of each label tests",
        )
    protos = {"manifest": proto, "all": build_protocol("all", examples, lambda x: "all", "", ())}
    return Dataset("manifest", mpath, labels, examples, protos, skipped, f"manifest {mpath}")


FACTORIES = {"folder": folder, "manifest": manifest}

__all__ = ["FACTORIES", "folder", "manifest", "read_manifest"]

"""Write teacher rationales for a dataset to JSONL, resumably.

Each line is ``{"id", "label", "rationale", "teacher", ...}``. On restart the ids already in the file are
skipped, and a line cut short by a kill is dropped, so the file never holds duplicates or broken JSON.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Sample:
    """A labelled skeleton sequence with a stable id (the resume key)."""

    id: str
    motion: Any
    label: str
    meta: dict = field(default_factory=dict)


def synthetic_samples(
    per_class: int,
    *,
    actions: Sequence[str] | None = None,
    layouts: Sequence[str] = ("ntu25",),
    seed: int = 0,
    prefix: str = "synth",
) -> list[Sample]:
    """``per_class`` samples of every action of ``skelformats.synth`` (layouts cycled); ids
    ``<prefix>-<action>-<k>`` and motions are a pure function of the arguments."""
    from skelformats import synth

    actions = list(actions or synth.ACTIONS)
    layouts = list(layouts) or ["ntu25"]
    out = []
    for k in range(per_class):
        for a_i, action in enumerate(actions):
            layout = layouts[(k + a_i) % len(layouts)]
            m = synth.generate(action, layout=layout, seed=seed * 100_003 + k * len(actions) + a_i)
            out.append(
                Sample(
                    f"{prefix}-{action}-{k:04d}", m, action, {"action": action, "layout": layout}
                )
            )
    return out


def manifest_samples(
    path: str | os.PathLike,
    *,
    split: str | None = None,
    cache=None,
    progress: bool | None = None,
) -> Iterator[Sample]:
    """Samples of a manifest in the toolkit's one schema (``skelformats.datasets``): CSV with a
    header or JSONL, ``path,label[,split][,text][,id][,index]``, paths relative to the manifest.
    ``split`` keeps the rows of that split (the ``split`` column); ids default to the path.

    Files are parsed once into the dataset cache (``cache``: a folder, False for none); unreadable
    ones are skipped with a warning.  Every kept row needs a label (a teacher explains one)."""
    import skelformats.datasets as sd

    path = Path(path)
    ds = sd.load("manifest", path, cache=cache, progress=progress)
    if split is None:
        examples = ds.split("all", "all")
    else:
        if split not in ds.splits("manifest"):
            raise ValueError(
                f"{path}: no split {split!r}; the manifest has {ds.splits('manifest')}"
            )
        examples = ds.split("manifest", split)
    unlabelled = [ex.id for ex in examples if ex.label is None]
    if unlabelled:
        raise ValueError(f"{path}: {len(unlabelled)} rows have no label, e.g. {unlabelled[0]!r}")

    def gen() -> Iterator[Sample]:
        for ex in examples:  # each motion read from the cache only when its sample is reached
            yield Sample(ex.id, ex.motion, ex.label, {"path": ex.meta["source"]})

    return gen()


def read_done(path: str | os.PathLike, *, repair: bool = True) -> set[str]:
    """Ids already written to ``path``. With ``repair``, a trailing partial line (from a kill) is cut off."""
    path = Path(path)
    if not path.exists():
        return set()
    done: set[str] = set()
    good_bytes = 0
    with path.open("rb") as f:
        for raw in f:
            if not raw.endswith(b"\n"):
                break
            try:
                doc = json.loads(raw)
            except json.JSONDecodeError:
                break
            if isinstance(doc, dict) and "id" in doc:
                done.add(str(doc["id"]))
            good_bytes += len(raw)
    if repair and good_bytes != path.stat().st_size:
        with path.open("r+b") as f:
            f.truncate(good_bytes)
    return done


def read_rationales(path: str | os.PathLike) -> dict[str, dict]:
    """id -> record of a rationale JSONL file."""
    out: dict[str, dict] = {}
    with Path(path).open() as f:
        for line in f:
            if line.strip():
                doc = json.loads(line)
                out[str(doc["id"])] = doc
    return out


def distill(
    samples: Iterable[Sample],
    teacher,
    out: str | os.PathLike,
    *,
    batch_size: int = 8,
    progress: bool = True,
    total: int | None = None,
) -> dict:
    """Append rationales for the samples not yet in ``out``; returns ``{"written", "skipped", "path"}``.

    Lines are flushed and fsync'ed per batch, so a kill loses at most the batch in flight.
    """
    from tqdm.auto import tqdm

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = read_done(out)
    teacher_name = getattr(teacher, "name", type(teacher).__name__)
    written = skipped = 0
    if total is None and hasattr(samples, "__len__"):
        total = len(samples)  # type: ignore[arg-type]
    bar = tqdm(total=total, disable=not progress, desc="distill", unit="sample")
    pending: list[Sample] = []
    seen: set[str] = set()
    with out.open("a", encoding="utf-8") as f:

        def flush() -> None:
            nonlocal written
            if not pending:
                return
            texts = teacher.rationales([s.motion for s in pending], [s.label for s in pending])
            for s, text in zip(pending, texts):
                rec = {"id": s.id, "label": s.label, "rationale": text, "teacher": teacher_name}
                rec.update({k: v for k, v in s.meta.items() if k in ("action", "layout", "path")})
                f.write(json.dumps(rec) + "\n")
            f.flush()
            os.fsync(f.fileno())
            written += len(pending)
            bar.update(len(pending))
            pending.clear()

        for s in samples:
            if s.id in done or s.id in seen:
                skipped += 1
                bar.update(1)
                continue
            seen.add(s.id)
            pending.append(s)
            if len(pending) >= batch_size:
                flush()
        flush()
    bar.close()
    return {"written": written, "skipped": skipped, "path": str(out)}


__all__ = [
    "Sample",
    "distill",
    "manifest_samples",
    "read_done",
    "read_rationales",
    "synthetic_samples",
]

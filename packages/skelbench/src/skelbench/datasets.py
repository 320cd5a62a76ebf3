"""Benchmark datasets: the protocols of ``skelformats.datasets`` (one dataset layer for training and
benchmarking) as ``Split`` objects of ``Sample`` items, and the synthetic suite generated with
``skelformats.synth``.

``load_split(dataset, split, data_dir)``: ``dataset`` is a ``skelformats.datasets`` name, optionally
with a protocol after a colon (``ntu60:xsub``, ``ntu60:zeroshot_55_5``); without one the dataset's
first protocol is used.  ``data_dir`` is the folder holding the datasets (each under its usual
name, e.g. ``MSRAction3D``, ``nturgb+d_skeletons``, ``HumanML3D``), or the dataset's own folder; for
``folder`` it is the user's class-folder root, for ``manifest`` the manifest file.

Protocols of the real datasets (``skelformats.datasets.classic``, ``.ntu``, ``.humanml3d``):
- MSR Action3D: cross-subject, odd subjects (1,3,5,7,9) train, even (2,4,6,8,10) test; all 20
  actions at once; unreadable files (a13_s09_e02 is all zeros) are reported and skipped.
- UTKinect: recordings cut into labelled segments by ``actionLabel.txt`` (frame ids, not rows);
  cross-subject, subjects 1-5 train, 6-10 test; the NaN ``carry`` segment of s10_e02 is skipped.
- Florence 3D: cross-subject with the first of the ten subject splits shipped in
  ``tr_te_splits.mat`` (train 3,4,5,6,10 / test 1,2,7,8,9); ``florence_split=k`` picks another row.
- NW-UCLA: cross-view, views 1 and 2 train, view 3 test.
- Penn Action: the ``train`` flag of each video (1 train, -1 test); 2D, visibility as confidence.
- CMU mocap: captioning with the trial descriptions as references; unique trial ids sorted, every
  third (index % 3 == 2) held out for test, BVH and ASF/AMC versions of a trial on the same side.
- NTU RGB+D 60 / 120: xsub, xview (60), xset (120) and the SynSE zero-shot splits; the official
  samples with missing skeletons are excluded and listed as skipped.
- HumanML3D: the official train/val/test lists; captions from ``texts/``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import skelformats.datasets as sd
from skelformats.datasets import DatasetError
from skelformats.datasets._common import resolve_root
from skelformats.datasets.classic import (  # noqa: F401  (re-exported)
    FOLDERS as _FOLDERS,
)
from skelformats.datasets.classic import (
    UTK_NAMES,
    cmu_split_ids,
    florence_subject_split,
    utkinect_segments,
)
from skelformats.datasets.classic import (
    load_motions as _load,
)


@dataclass
class Sample:
    """One benchmark item: a motion with its label index / caption references and ids."""

    motion: object  # skelformats.Motion
    label: int = -1
    id: str = ""
    subject: int | None = None
    view: int | None = None
    captions: list[str] = field(default_factory=list)
    params: dict = field(default_factory=dict)


class _ExampleSample(Sample):
    """A Sample whose motion is read from its ``skelformats.datasets.Example`` on access (large
    file-based datasets are not held in memory)."""

    def _get(self):
        m = self.__dict__.get("_motion")
        return self._example.motion if m is None else m

    def _set(self, v):
        self.__dict__["_motion"] = v

    motion = property(_get, _set)


@dataclass
class Split:
    """A dataset split: samples plus the class names their labels index."""

    dataset: str
    split: str
    classes: list[str]
    samples: list[Sample]
    protocol: str = ""
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.samples)

    def subset(self, keep: list[Sample], **kw) -> Split:
        d = dict(
            dataset=self.dataset,
            split=self.split,
            classes=self.classes,
            samples=keep,
            protocol=self.protocol,
            skipped=self.skipped,
        )
        d.update(kw)
        return Split(**d)


DEFAULT_DATA_DIR_ENV = "SKEL_DATA_DIR"

PROTOCOLS = {
    "msr_action3d": "cross-subject: odd subjects train, even subjects test",
    "utkinect": "cross-subject: subjects 1-5 train, 6-10 test (segments from actionLabel.txt)",
    "florence3d": "cross-subject: tr_te_splits.mat row {k} (train {tr} / test {te})",
    "nwucla": "cross-view: views 1, 2 train, view 3 test",
    "penn_action": "the videos' own train/test flags",
    "cmu_mocap": "captioning from trial descriptions; sorted trial ids, every third held out",
    "ntu60": "xsub (official subjects), xview (cameras 2, 3 train), zero-shot 55/5, 48/12 (SynSE)",
    "ntu120": "xsub (official subjects), xset (even setups train), zero-shot 110/10, 96/24 (SynSE)",
    "humanml3d": "captioning: the official train/val/test lists",
    "folder": "your class folders: train/test folders, else every 5th file of a class tests",
    "synth": "skelformats.synth, fixed seeds (train and test seeds disjoint)",
}

REAL_DATASETS = ("msr_action3d", "utkinect", "florence3d", "nwucla", "penn_action", "cmu_mocap")
#: datasets whose ``data_dir`` is the data itself (not a parent of dataset folders)
_DIRECT = ("folder", "manifest", "pyskl")


def _folder(data_dir: str | Path | None, name: str) -> Path:
    """The folder of a classic dataset under ``data_dir`` (``$SKEL_DATA_DIR`` when None)."""
    if data_dir is None:
        import os

        data_dir = os.environ.get(DEFAULT_DATA_DIR_ENV)
    if data_dir is None:
        raise DatasetError(
            f"dataset {name!r} needs a data directory (--data-dir or ${DEFAULT_DATA_DIR_ENV})"
        )
    root = Path(data_dir) / _FOLDERS[name]
    if not root.is_dir():
        raise DatasetError(f"{root}: folder for dataset {name!r} not found")
    return root


def _skip_warn(skipped: list[str], what: str, err: Exception) -> None:
    msg = f"{what}: {err}"
    skipped.append(msg)
    warnings.warn(f"skipped {msg}", stacklevel=3)


def _root_for(name: str, data_dir):
    if name in _DIRECT:
        if data_dir is None:
            raise DatasetError(f"dataset {name!r} needs --data-dir (the folder / manifest itself)")
        return Path(data_dir)
    if name in _FOLDERS:
        return _folder(data_dir, name)
    return data_dir  # the dataset resolves its own folder under data_dir


@lru_cache(maxsize=8)
def dataset(name: str, data_dir: str | None, options: tuple = ()) -> sd.Dataset:
    """The ``skelformats.datasets`` dataset ``name`` under ``data_dir`` (read once per process)."""
    return sd.load(name, _root_for(name, data_dir), **dict(options))


def _sample(ex: sd.Example) -> Sample:
    meta = ex.meta
    kw = dict(
        label=ex.label_index,
        id=ex.id,
        subject=meta.get("subject"),
        view=meta.get("view"),
        captions=list(ex.texts),
        params=dict(meta.get("params") or {}),
    )
    if ex._motion is not None:
        return Sample(ex._motion, **kw)
    s = _ExampleSample(None, **kw)
    s._example = ex
    return s


def load_split(dataset_name: str, split: str, data_dir=None, **kw) -> Split:
    """The samples of a dataset split (``train``, ``test``, or another split of the protocol), or
    the synthetic suite.  ``dataset_name`` may carry a protocol: ``ntu60:xsub``."""
    if dataset_name == "synth":
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        from skelbench.synthetic import synth_split

        return synth_split(split, **kw)
    name, _, proto = dataset_name.partition(":")
    if name not in sd.list_datasets():
        raise DatasetError(
            f"unknown dataset {name!r}; known: {sd.list_datasets() + ['synth']}"
        ) from None
    if data_dir is None and name not in _DIRECT:
        import os

        data_dir = os.environ.get(DEFAULT_DATA_DIR_ENV)
        if data_dir is None:
            raise DatasetError(
                f"dataset {name!r} needs a data directory (--data-dir or ${DEFAULT_DATA_DIR_ENV})"
            )
    ds = dataset(name, str(data_dir) if data_dir else None, tuple(sorted(kw.items())))
    sp = ds.split(proto or None, split)
    return Split(
        dataset_name,
        split,
        list(ds.classes),
        [_sample(e) for e in sp],
        sp.description,
        list(ds.skipped),
    )


def stratified_limit(samples: list[Sample], limit: int | None, seed: int = 0) -> list[Sample]:
    """At most ``limit`` samples, drawn round-robin over labels in a fixed shuffled order, so a
    small limit still covers every class."""
    if limit is None or limit >= len(samples):
        return list(samples)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(samples))
    by: dict[int, list[int]] = {}
    for i in order:
        by.setdefault(samples[i].label, []).append(int(i))
    picked, queues = [], [by[k] for k in sorted(by)]
    while len(picked) < limit:
        for q in queues:
            if q and len(picked) < limit:
                picked.append(q.pop(0))
    return [samples[i] for i in sorted(picked)]


LOADERS = {
    name: (lambda split, data_dir=None, _n=name, **kw: load_split(_n, split, data_dir, **kw))
    for name in REAL_DATASETS
}

__all__ = [
    "DatasetError",
    "LOADERS",
    "PROTOCOLS",
    "REAL_DATASETS",
    "Sample",
    "Split",
    "UTK_NAMES",
    "cmu_split_ids",
    "dataset",
    "florence_subject_split",
    "load_split",
    "resolve_root",
    "stratified_limit",
    "utkinect_segments",
    "_load",
]

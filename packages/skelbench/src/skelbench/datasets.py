"""Benchmark datasets: the real datasets of a data directory (read through ``skelformats.load``)
with their standard splits, and the synthetic suite generated with ``skelformats.synth``.

Protocols (also in the README):
- MSR Action3D: cross-subject, odd subjects (1,3,5,7,9) train, even (2,4,6,8,10) test; all 20
  actions at once; unreadable files (a13_s09_e02 is all zeros) are reported and skipped.
- UTKinect: recordings cut into labelled segments by ``actionLabel.txt`` (frame ids, not rows);
  cross-subject, subjects 1-5 train, 6-10 test; the NaN ``carry`` segment of s10_e02 is skipped.
- Florence 3D: cross-subject with the first of the ten subject splits shipped in
  ``tr_te_splits.mat`` (train 3,4,5,6,10 / test 1,2,7,8,9): the data's own file, half the subjects on
  each side, reproducible; ``florence_split=k`` picks another row.
- NW-UCLA: cross-view, views 1 and 2 train, view 3 test.
- Penn Action: the ``train`` flag of each video (1 train, -1 test); 2D, visibility as confidence.
- CMU mocap: captioning with the trial descriptions as references; unique trial ids sorted, every
  third (index % 3 == 2) held out for test, BVH and ASF/AMC versions of a trial on the same side.
"""

from __future__ import annotations

import csv
import os
import re
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np


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


class DatasetError(RuntimeError):
    """A data directory is missing or does not hold what a dataset needs."""


DEFAULT_DATA_DIR_ENV = "SKEL_DATA_DIR"

PROTOCOLS = {
    "msr_action3d": "cross-subject: odd subjects train, even subjects test",
    "utkinect": "cross-subject: subjects 1-5 train, 6-10 test (segments from actionLabel.txt)",
    "florence3d": "cross-subject: tr_te_splits.mat row {k} (train {tr} / test {te})",
    "nwucla": "cross-view: views 1, 2 train, view 3 test",
    "penn_action": "the videos' own train/test flags",
    "cmu_mocap": "captioning from trial descriptions; sorted trial ids, every third held out",
    "synth": "skelformats.synth, fixed seeds (train and test seeds disjoint)",
}

REAL_DATASETS = ("msr_action3d", "utkinect", "florence3d", "nwucla", "penn_action", "cmu_mocap")
_FOLDERS = {
    "msr_action3d": "MSRAction3D",
    "utkinect": "UTKinect",
    "florence3d": "Florence3D",
    "nwucla": "NW-UCLA",
    "penn_action": "PennAction",
    "cmu_mocap": "CMU_mocap",
}


def _folder(data_dir: str | Path | None, name: str) -> Path:
    if data_dir is None:
        data_dir = os.environ.get(DEFAULT_DATA_DIR_ENV)
    if data_dir is None:
        raise DatasetError(
            f"dataset {name!r} needs a data directory (--data-dir or ${DEFAULT_DATA_DIR_ENV})"
        )
    root = Path(data_dir) / _FOLDERS[name]
    if not root.is_dir():
        raise DatasetError(f"{root}: folder for dataset {name!r} not found")
    return root


def _read_tsv(path: Path) -> list[dict]:
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f, delimiter="\t"))
    except OSError as e:
        raise DatasetError(f"{path}: cannot read: {e}") from e


def _load(path: Path):
    """skelformats.load; returns a list of motions. A sequence with no observed joint at all
    (e.g. MSR a13_s09_e02, all zeros) is an error here: there is nothing to evaluate on."""
    import skelformats

    out = skelformats.load(path)
    out = out if isinstance(out, list) else [out]
    for m in out:
        if not m.mask.any() or not np.any(m.data):
            raise DatasetError(f"{path}: no observed joint in any frame")
    return out


def _meta(motion, *keys, default=None):
    for k in keys:
        v = motion.meta.get(k)
        if v is not None:
            return v
    return default


def _skip_warn(skipped: list[str], what: str, err: Exception) -> None:
    msg = f"{what}: {err}"
    skipped.append(msg)
    warnings.warn(f"skipped {msg}", stacklevel=3)


# --------------------------------------------------------------------------- MSR Action3D

_MSR_RE = re.compile(r"a(\d+)_s(\d+)_e(\d+)")


@lru_cache(maxsize=4)
def _msr_all(data_dir: str):
    root = _folder(data_dir, "msr_action3d")
    names = {r["action_id"]: r["name"] for r in _read_tsv(root / "labels.tsv")}
    ids = sorted(names)
    classes = [names[i] for i in ids]
    samples, skipped = [], []
    for p in sorted((root / "real_world_xyz").glob("*.txt")):
        m = _MSR_RE.match(p.name)
        if not m:
            continue
        a, s, e = (int(x) for x in m.groups())
        try:
            (motion,) = _load(p)[:1]
        except Exception as err:  # the loader's own error names the file and the problem
            _skip_warn(skipped, p.name, err)
            continue
        samples.append(Sample(motion, label=a - 1, id=p.stem, subject=s, params={"take": e}))
    return classes, samples, skipped


def msr_action3d(split: str, data_dir=None) -> Split:
    classes, samples, skipped = _msr_all(str(data_dir) if data_dir else None)
    want = 1 if split == "train" else 0
    keep = [s for s in samples if s.subject % 2 == want]
    return Split("msr_action3d", split, classes, keep, PROTOCOLS["msr_action3d"], skipped)


# --------------------------------------------------------------------------- UTKinect

UTK_NAMES = {
    "walk": "walk",
    "sitDown": "sit down",
    "standUp": "stand up",
    "pickUp": "pick up",
    "carry": "carry",
    "throw": "throw",
    "push": "push",
    "pull": "pull",
    "waveHands": "wave hands",
    "clapHands": "clap hands",
}


def utkinect_segments(label_file: Path) -> dict[str, list[tuple[str, int | None, int | None]]]:
    """Parse actionLabel.txt: {recording: [(action, start_frame_id, end_frame_id)]}; NaN -> None."""
    out: dict[str, list] = {}
    cur = None
    for ln, line in enumerate(label_file.read_text().splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if ":" not in line:
            cur = line
            out[cur] = []
            continue
        if cur is None:
            raise DatasetError(f"{label_file}:{ln}: segment before any recording name")
        act, rng = line.split(":", 1)
        parts = rng.split()
        if len(parts) != 2:
            raise DatasetError(f"{label_file}:{ln}: expected 'action: start end', got {line!r}")
        vals = [None if p.lower() == "nan" else int(p) for p in parts]
        out[cur].append((act.strip(), vals[0], vals[1]))
    return out


def _frame_ids(motion, path: Path) -> np.ndarray:
    fid = _meta(motion, "frame_ids", "frames", "frame_id")
    if fid is not None and len(fid) == motion.num_frames:
        return np.asarray(fid, dtype=np.int64)
    # The first column of the UTKinect text is the frame id; read it alone for segmenting.
    col = np.loadtxt(path, usecols=0, dtype=np.float64)
    _, idx = np.unique(col, return_index=True)
    ids = col[np.sort(idx)].astype(np.int64)
    if len(ids) != motion.num_frames:
        raise DatasetError(
            f"{path}: {len(ids)} frame ids but the loaded motion has {motion.num_frames} frames"
        )
    return ids


@lru_cache(maxsize=4)
def _utk_all(data_dir: str):
    root = _folder(data_dir, "utkinect")
    segs = utkinect_segments(root / "actionLabel.txt")
    classes = list(UTK_NAMES.values())
    samples, skipped = [], []
    for rec, items in segs.items():
        path = root / f"joints_{rec}.txt"
        subject = int(rec[1:3])
        try:
            loaded = _load(path)
        except Exception as err:
            _skip_warn(skipped, path.name, err)
            continue
        if any("action_name" in m.meta or "frame_range" in m.meta for m in loaded):
            # The reader cut the recording into its labelled segments itself.
            for m in loaded:
                act = _meta(m, "action_name", "action", "label")
                if act not in UTK_NAMES:
                    _skip_warn(skipped, f"{rec} segment", ValueError(f"unknown action {act!r}"))
                    continue
                samples.append(
                    Sample(m, classes.index(UTK_NAMES[act]), f"{rec}_{act}", subject=subject)
                )
            continue
        motion = loaded[0]
        ids = _frame_ids(motion, path)
        for act, start, end in items:
            if start is None or end is None:
                _skip_warn(skipped, f"{rec} {act}", ValueError("segment bounds are NaN"))
                continue
            sel = np.flatnonzero((ids >= start) & (ids <= end))
            if len(sel) == 0:
                _skip_warn(skipped, f"{rec} {act}", ValueError("no frames in range"))
                continue
            conf = None if motion.confidence is None else motion.confidence[sel]
            seg = motion.replace(data=motion.data[sel], confidence=conf)
            seg.meta.update(action=act, start_frame=start, end_frame=end, subject=subject)
            samples.append(
                Sample(seg, classes.index(UTK_NAMES[act]), f"{rec}_{act}", subject=subject)
            )
    return classes, samples, skipped


def utkinect(split: str, data_dir=None) -> Split:
    classes, samples, skipped = _utk_all(str(data_dir) if data_dir else None)
    keep = [s for s in samples if (s.subject <= 5) == (split == "train")]
    return Split("utkinect", split, classes, keep, PROTOCOLS["utkinect"], skipped)


# --------------------------------------------------------------------------- Florence 3D


def florence_subject_split(root: Path, k: int = 0) -> tuple[list[int], list[int]]:
    import scipy.io

    d = scipy.io.loadmat(root / "tr_te_splits.mat")
    return sorted(int(x) for x in d["tr_subjects"][k]), sorted(int(x) for x in d["te_subjects"][k])


@lru_cache(maxsize=4)
def _florence_all(data_dir: str):
    import scipy.io

    root = _folder(data_dir, "florence3d")
    names = scipy.io.loadmat(root / "action_names.mat", squeeze_me=True)["action_names"]
    classes = [str(n) for n in np.atleast_1d(names)]
    motions = _load(root / "skeletal_data.mat")
    labels = subjects = None
    if any(_meta(m, "action", "label") is None or _meta(m, "subject") is None for m in motions):
        raw = scipy.io.loadmat(root / "skeletal_data.mat", squeeze_me=True)["skeletal_data"]
        labels = [int(r["action"]) for r in raw]
        subjects = [int(r["subject"]) for r in raw]
    samples = []
    for i, m in enumerate(motions):
        act = labels[i] if labels else _meta(m, "action", "label")
        subj = subjects[i] if subjects else int(_meta(m, "subject"))
        if isinstance(act, str):
            lab = classes.index(act)
        else:
            lab = int(act) - 1
        samples.append(Sample(m, lab, f"florence_{i:03d}", subject=int(subj)))
    return classes, samples, []


def florence3d(split: str, data_dir=None, florence_split: int = 0) -> Split:
    classes, samples, skipped = _florence_all(str(data_dir) if data_dir else None)
    root = _folder(data_dir, "florence3d")
    tr, te = florence_subject_split(root, florence_split)
    want = set(tr if split == "train" else te)
    keep = [s for s in samples if s.subject in want]
    proto = PROTOCOLS["florence3d"].format(k=florence_split, tr=tr, te=te)
    return Split("florence3d", split, classes, keep, proto, skipped)


# --------------------------------------------------------------------------- NW-UCLA

_UCLA_RE = re.compile(r"a(\d+)_s(\d+)_e(\d+)_v(\d+)")


@lru_cache(maxsize=4)
def _ucla_all(data_dir: str):
    root = _folder(data_dir, "nwucla")
    rows = _read_tsv(root / "labels.tsv")
    prefix = {r["file_prefix"]: (int(r["label"]) - 1, r["name"]) for r in rows}
    classes = [r["name"] for r in sorted(rows, key=lambda r: int(r["label"]))]
    samples, skipped = [], []
    for p in sorted((root / "all_sqe").glob("*.json")):
        m = _UCLA_RE.match(p.name)
        if not m:
            continue
        a, s, e, v = m.groups()
        if f"a{a}" not in prefix:
            _skip_warn(skipped, p.name, ValueError(f"action a{a} not in labels.tsv"))
            continue
        try:
            (motion,) = _load(p)[:1]
        except Exception as err:
            _skip_warn(skipped, p.name, err)
            continue
        samples.append(Sample(motion, prefix[f"a{a}"][0], p.stem, subject=int(s), view=int(v)))
    return classes, samples, skipped


def nwucla(split: str, data_dir=None) -> Split:
    classes, samples, skipped = _ucla_all(str(data_dir) if data_dir else None)
    views = {1, 2} if split == "train" else {3}
    keep = [s for s in samples if s.view in views]
    return Split("nwucla", split, classes, keep, PROTOCOLS["nwucla"], skipped)


# --------------------------------------------------------------------------- Penn Action


@lru_cache(maxsize=4)
def _penn_all(data_dir: str):
    root = _folder(data_dir, "penn_action")
    samples, skipped, actions = [], [], []
    for p in sorted((root / "labels").glob("*.mat")):
        try:
            (motion,) = _load(p)[:1]
        except Exception as err:
            _skip_warn(skipped, p.name, err)
            continue
        act = _meta(motion, "action")
        train = _meta(motion, "train")
        if act is None or train is None:
            import scipy.io

            raw = scipy.io.loadmat(p, squeeze_me=True, variable_names=["action", "train"])
            act, train = str(raw["action"]), int(raw["train"])
        act = str(act).replace("_", " ")
        actions.append(act)
        samples.append(Sample(motion, -1, p.stem, params={"train": int(train), "action": act}))
    classes = sorted(set(actions))
    for s in samples:
        s.label = classes.index(s.params["action"])
    return classes, samples, skipped


def penn_action(split: str, data_dir=None) -> Split:
    classes, samples, skipped = _penn_all(str(data_dir) if data_dir else None)
    want = 1 if split == "train" else -1
    keep = [s for s in samples if s.params["train"] == want]
    return Split("penn_action", split, classes, keep, PROTOCOLS["penn_action"], skipped)


# --------------------------------------------------------------------------- CMU mocap


def cmu_split_ids(ids: list[str]) -> tuple[set[str], set[str]]:
    u = sorted(set(ids))
    test = {t for i, t in enumerate(u) if i % 3 == 2}
    return set(u) - test, test


@lru_cache(maxsize=4)
def _cmu_all(data_dir: str):
    root = _folder(data_dir, "cmu_mocap")
    rows = _read_tsv(root / "files_with_descriptions.tsv")
    samples, skipped = [], []
    for r in rows:
        p = root / r["file"]
        try:
            (motion,) = _load(p)[:1]
        except Exception as err:
            _skip_warn(skipped, r["file"], err)
            continue
        subject = int(r["motion_id"].split("_")[0])
        samples.append(
            Sample(
                motion,
                -1,
                r["motion_id"],
                subject=subject,
                captions=[r["description"]],
                params={"file": r["file"]},
            )
        )
    return samples, skipped


def cmu_mocap(split: str, data_dir=None) -> Split:
    samples, skipped = _cmu_all(str(data_dir) if data_dir else None)
    train_ids, test_ids = cmu_split_ids([s.id for s in samples])
    want = train_ids if split == "train" else test_ids
    keep = [s for s in samples if s.id in want]
    return Split("cmu_mocap", split, [], keep, PROTOCOLS["cmu_mocap"], skipped)


# --------------------------------------------------------------------------- registry

LOADERS = {
    "msr_action3d": msr_action3d,
    "utkinect": utkinect,
    "florence3d": florence3d,
    "nwucla": nwucla,
    "penn_action": penn_action,
    "cmu_mocap": cmu_mocap,
}


def load_split(dataset: str, split: str, data_dir=None, **kw) -> Split:
    """The samples of a real dataset split (``train`` or ``test``), or the synthetic suite."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if dataset == "synth":
        from skelbench.synthetic import synth_split

        return synth_split(split, **kw)
    try:
        loader = LOADERS[dataset]
    except KeyError:
        raise DatasetError(
            f"unknown dataset {dataset!r}; known: {sorted(LOADERS) + ['synth']}"
        ) from None
    return loader(split, data_dir, **kw)


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

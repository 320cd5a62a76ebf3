"""Six public datasets with their standard protocols (read through ``skelformats.load``).

- MSR Action3D, ``xsub``: odd subjects (1,3,5,7,9) train, even (2,4,6,8,10) test; all 20 actions at
  once; unreadable files (a13_s09_e02 is all zeros) are reported and skipped.
- UTKinect, ``xsub``: recordings cut into labelled segments by ``actionLabel.txt`` (frame ids, not
  rows); subjects 1-5 train, 6-10 test; the NaN ``carry`` segment of s10_e02 is skipped.
- Florence 3D, ``xsub``: the first of the ten subject splits shipped in ``tr_te_splits.mat`` (train
  3,4,5,6,10 / test 1,2,7,8,9); the option ``florence_split=k`` picks another row.
- NW-UCLA, ``xview``: views 1 and 2 train, view 3 test.
- Penn Action, ``official``: the ``train`` flag of each video (1 train, -1 test); 2D, visibility as
  confidence.
- CMU mocap, ``captioning``: trial descriptions as texts; unique trial ids sorted, every third
  (index % 3 == 2) held out for test, BVH and ASF/AMC versions of a trial on the same side.

``root`` is the dataset's folder or a parent holding it under its usual name (``MSRAction3D``,
``UTKinect``, ``Florence3D``, ``NW-UCLA``, ``PennAction``, ``CMU_mocap``).  Example meta holds
``subject``, ``view`` and ``params`` (take, train flag, file, ...).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from ..readers._common import loadmat, mat_field, mat_squeeze
from ._common import resolve_root, skip
from .core import Dataset, DatasetError, Example, build_protocol

FOLDERS = {
    "msr_action3d": "MSRAction3D",
    "utkinect": "UTKinect",
    "florence3d": "Florence3D",
    "nwucla": "NW-UCLA",
    "penn_action": "PennAction",
    "cmu_mocap": "CMU_mocap",
}

PROTOCOLS = {
    "msr_action3d": ("xsub", "cross-subject: odd subjects train, even subjects test"),
    "utkinect": (
        "xsub",
        "cross-subject: subjects 1-5 train, 6-10 test (segments from actionLabel.txt)",
    ),
    "florence3d": ("xsub", "cross-subject: tr_te_splits.mat row {k} (train {tr} / test {te})"),
    "nwucla": ("xview", "cross-view: views 1, 2 train, view 3 test"),
    "penn_action": ("official", "the videos' own train/test flags"),
    "cmu_mocap": (
        "captioning",
        "captioning from trial descriptions; sorted trial ids, every third held out",
    ),
}


def _root(root, name: str) -> Path:
    return resolve_root(root, name, (FOLDERS[name],))


def _read_tsv(path: Path) -> list[dict]:
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f, delimiter="\t"))
    except OSError as e:
        raise DatasetError(path, f"cannot read: {e}") from e


def load_motions(path: Path):
    """skelformats.load; a list of motions.  A sequence with no observed joint at all (e.g. MSR
    a13_s09_e02, all zeros) is an error here: there is nothing to learn or evaluate on."""
    from .. import load

    out = load(path)
    out = out if isinstance(out, list) else [out]
    for m in out:
        if not m.mask.any() or not np.any(m.data):
            raise DatasetError(path, "no observed joint in any frame")
    return out


def _meta(motion, *keys, default=None):
    for k in keys:
        v = motion.meta.get(k)
        if v is not None:
            return v
    return default


def _example(motion, label: int, id: str, classes, subject=None, view=None, texts=(), params=None):
    return Example(
        id,
        motion,
        label=classes[label] if label >= 0 and classes else None,
        label_index=label,
        texts=texts,
        meta={"subject": subject, "view": view, "params": dict(params or {})},
    )


def _dataset(name, root, classes, examples, assign, skipped, description=None, **info):
    proto, desc = PROTOCOLS[name]
    desc = description or desc
    p = build_protocol(proto, examples, assign, desc)
    return Dataset(name, root, classes, examples, {proto: p}, skipped, desc, info)


# --------------------------------------------------------------------------- MSR Action3D

_MSR_RE = re.compile(r"a(\d+)_s(\d+)_e(\d+)")


def msr_action3d(root=None, **_) -> Dataset:
    root = _root(root, "msr_action3d")
    names = {r["action_id"]: r["name"] for r in _read_tsv(root / "labels.tsv")}
    classes = [names[i] for i in sorted(names)]
    examples, skipped = [], []
    for p in sorted((root / "real_world_xyz").glob("*.txt")):
        m = _MSR_RE.match(p.name)
        if not m:
            continue
        a, s, e = (int(x) for x in m.groups())
        try:
            (motion,) = load_motions(p)[:1]
        except Exception as err:  # the loader's own error names the file and the problem
            skip(skipped, p.name, str(err))
            continue
        examples.append(_example(motion, a - 1, p.stem, classes, subject=s, params={"take": e}))
    return _dataset(
        "msr_action3d",
        root,
        classes,
        examples,
        lambda x: "train" if x.meta["subject"] % 2 == 1 else "test",
        skipped,
    )


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
            path, f"{len(ids)} frame ids but the loaded motion has {motion.num_frames} frames"
        )
    return ids


def utkinect(root=None, **_) -> Dataset:
    root = _root(root, "utkinect")
    segs = utkinect_segments(root / "actionLabel.txt")
    classes = list(UTK_NAMES.values())
    examples, skipped = [], []
    for rec, items in segs.items():
        path = root / f"joints_{rec}.txt"
        subject = int(rec[1:3])
        try:
            loaded = load_motions(path)
        except Exception as err:
            skip(skipped, path.name, str(err))
            continue
        if any("action_name" in m.meta or "frame_range" in m.meta for m in loaded):
            # The reader cut the recording into its labelled segments itself.
            for m in loaded:
                act = _meta(m, "action_name", "action", "label")
                if act not in UTK_NAMES:
                    skip(skipped, f"{rec} segment", f"unknown action {act!r}")
                    continue
                lab = classes.index(UTK_NAMES[act])
                examples.append(_example(m, lab, f"{rec}_{act}", classes, subject=subject))
            continue
        motion = loaded[0]
        ids = _frame_ids(motion, path)
        for act, start, end in items:
            if start is None or end is None:
                skip(skipped, f"{rec} {act}", "segment bounds are NaN")
                continue
            sel = np.flatnonzero((ids >= start) & (ids <= end))
            if len(sel) == 0:
                skip(skipped, f"{rec} {act}", "no frames in range")
                continue
            conf = None if motion.confidence is None else motion.confidence[sel]
            seg = motion.replace(data=motion.data[sel], confidence=conf)
            seg.meta.update(action=act, start_frame=start, end_frame=end, subject=subject)
            lab = classes.index(UTK_NAMES[act])
            examples.append(_example(seg, lab, f"{rec}_{act}", classes, subject=subject))
    return _dataset(
        "utkinect",
        root,
        classes,
        examples,
        lambda x: "train" if x.meta["subject"] <= 5 else "test",
        skipped,
    )


# --------------------------------------------------------------------------- Florence 3D


def _mat_var(path: Path, name: str):
    """One variable of a .mat file, read by the bounded MAT reader (never scipy.io.loadmat: the
    files are untrusted); SkelFormatError naming the file when it is unreadable or lacks it."""
    return mat_field(path, loadmat(path, [name]), name)


def florence_subject_split(root: Path, k: int = 0) -> tuple[list[int], list[int]]:
    p = Path(root) / "tr_te_splits.mat"
    tr, te = _mat_var(p, "tr_subjects"), _mat_var(p, "te_subjects")
    try:
        return sorted(int(x) for x in tr[k]), sorted(int(x) for x in te[k])
    except (IndexError, TypeError, ValueError) as e:
        raise DatasetError(p, f"no subject split {k} in tr_subjects/te_subjects ({e})") from None


def florence3d(root=None, florence_split: int = 0, **_) -> Dataset:
    root = _root(root, "florence3d")
    names = mat_squeeze(_mat_var(root / "action_names.mat", "action_names"))
    classes = [str(n) for n in np.atleast_1d(names)]
    motions = load_motions(root / "skeletal_data.mat")
    labels = subjects = None
    if any(_meta(m, "action", "label") is None or _meta(m, "subject") is None for m in motions):
        raw = mat_squeeze(_mat_var(root / "skeletal_data.mat", "skeletal_data"))
        labels = [int(r["action"]) for r in raw]
        subjects = [int(r["subject"]) for r in raw]
    examples = []
    for i, m in enumerate(motions):
        act = labels[i] if labels else _meta(m, "action", "label")
        subj = subjects[i] if subjects else int(_meta(m, "subject"))
        lab = classes.index(act) if isinstance(act, str) else int(act) - 1
        examples.append(_example(m, lab, f"florence_{i:03d}", classes, subject=int(subj)))
    tr, te = florence_subject_split(root, florence_split)
    tr_set, te_set = set(tr), set(te)
    desc = PROTOCOLS["florence3d"][1].format(k=florence_split, tr=tr, te=te)

    def assign(x):
        s = x.meta["subject"]
        return "train" if s in tr_set else "test" if s in te_set else None

    return _dataset(
        "florence3d", root, classes, examples, assign, [], desc, florence_split=florence_split
    )


# --------------------------------------------------------------------------- NW-UCLA

_UCLA_RE = re.compile(r"a(\d+)_s(\d+)_e(\d+)_v(\d+)")


def nwucla(root=None, **_) -> Dataset:
    root = _root(root, "nwucla")
    rows = _read_tsv(root / "labels.tsv")
    prefix = {r["file_prefix"]: (int(r["label"]) - 1, r["name"]) for r in rows}
    classes = [r["name"] for r in sorted(rows, key=lambda r: int(r["label"]))]
    examples, skipped = [], []
    for p in sorted((root / "all_sqe").glob("*.json")):
        m = _UCLA_RE.match(p.name)
        if not m:
            continue
        a, s, e, v = m.groups()
        if f"a{a}" not in prefix:
            skip(skipped, p.name, f"action a{a} not in labels.tsv")
            continue
        try:
            (motion,) = load_motions(p)[:1]
        except Exception as err:
            skip(skipped, p.name, str(err))
            continue
        examples.append(
            _example(
                motion,
                prefix[f"a{a}"][0],
                p.stem,
                classes,
                subject=int(s),
                view=int(v),
                params={"take": int(e)},
            )
        )
    return _dataset(
        "nwucla",
        root,
        classes,
        examples,
        lambda x: "train" if x.meta["view"] in (1, 2) else "test" if x.meta["view"] == 3 else None,
        skipped,
    )


# --------------------------------------------------------------------------- Penn Action


def penn_action(root=None, **_) -> Dataset:
    root = _root(root, "penn_action")
    recs, skipped = [], []
    for p in sorted((root / "labels").glob("*.mat")):
        try:
            (motion,) = load_motions(p)[:1]
            act = _meta(motion, "action")
            train = _meta(motion, "train")
            if act is None or train is None:
                act = str(mat_squeeze(_mat_var(p, "action")))
                train = int(mat_squeeze(_mat_var(p, "train")))
        except Exception as err:
            skip(skipped, p.name, str(err))
            continue
        recs.append((motion, p.stem, str(act).replace("_", " "), int(train)))
    classes = sorted({r[2] for r in recs})
    examples = [
        _example(m, classes.index(a), sid, classes, params={"train": t, "action": a})
        for m, sid, a, t in recs
    ]
    return _dataset(
        "penn_action",
        root,
        classes,
        examples,
        lambda x: {1: "train", -1: "test"}.get(x.meta["params"]["train"]),
        skipped,
    )


# --------------------------------------------------------------------------- CMU mocap


def cmu_split_ids(ids: list[str]) -> tuple[set[str], set[str]]:
    u = sorted(set(ids))
    test = {t for i, t in enumerate(u) if i % 3 == 2}
    return set(u) - test, test


def cmu_mocap(root=None, **_) -> Dataset:
    root = _root(root, "cmu_mocap")
    rows = _read_tsv(root / "files_with_descriptions.tsv")
    examples, skipped = [], []
    for r in rows:
        p = root / r["file"]
        try:
            (motion,) = load_motions(p)[:1]
        except Exception as err:
            skip(skipped, r["file"], str(err))
            continue
        subject = int(r["motion_id"].split("_")[0])
        examples.append(
            _example(
                motion,
                -1,
                r["motion_id"],
                [],
                subject=subject,
                texts=[r["description"]],
                params={"file": r["file"]},
            )
        )
    _, test_ids = cmu_split_ids([x.id for x in examples])
    return _dataset(
        "cmu_mocap",
        root,
        [],
        examples,
        lambda x: "test" if x.id in test_ids else "train",
        skipped,
    )


FACTORIES = {
    "msr_action3d": msr_action3d,
    "utkinect": utkinect,
    "florence3d": florence3d,
    "nwucla": nwucla,
    "penn_action": penn_action,
    "cmu_mocap": cmu_mocap,
}

__all__ = [
    "FACTORIES",
    "FOLDERS",
    "PROTOCOLS",
    "UTK_NAMES",
    "cmu_split_ids",
    "florence_subject_split",
    "load_motions",
    "utkinect_segments",
    *FACTORIES,
]

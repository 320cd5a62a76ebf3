"""NTU RGB+D 60 and 120 from a folder of ``.skeleton`` files (searched recursively).

File names ``SsssCcccPpppRrrrAaaa`` give setup, camera, performer (subject), replication and action.
``ntu60`` takes setups S001-S017 and actions A001-A060, ``ntu120`` setups S001-S032 and all 120.

Protocols (Shahroudy et al., CVPR 2016; Liu et al., TPAMI 2019):
- ``xsub`` cross-subject: the official training performers (:data:`XSUB_TRAIN_60` / ``_120``) train,
  the others test;
- ``xview`` (60) cross-view: cameras 2 and 3 train, camera 1 tests;
- ``xset`` (120) cross-setup: even setups train, odd setups test;
- zero-shot ``zeroshot_55_5`` / ``zeroshot_48_12`` (60) and ``zeroshot_110_10`` / ``zeroshot_96_24``
  (120): ``train`` holds every sample of the seen classes, ``test`` every sample of the unseen ones
  (:data:`ZERO_SHOT`).  The unseen-class lists are those of SynSE (Gupta et al., ICIP 2021; listed in
  the README of github.com/skelemoa/synse-zsl, commit 90f39a1) and were checked identical to the
  label-split files that PURLS ships (github.com/azzh1/PURLS, ``supplements/label_splits/ntu60/ru5,
  ru12``, ``ntu120/ru10, ru24``, commit 7198fe7); SMIE (Zhou et al., ACM MM 2023) reports on the same
  SynSE splits (its repository was not checked here).

The official list of samples with missing or incomplete skeletons (302 in NTU-60, 535 in NTU-120,
``data/ntu120_missing_skeletons.txt``) is excluded; the excluded ids present in the folder are
listed in ``Dataset.skipped`` and counted in ``Dataset.info["excluded_missing"]``.

Bodies (``bodies="auto"``): a file can hold several tracked bodies, some of them noise (the sensor
tracks chairs and passers-by).  As in the dataset authors' own preprocessing (their FAQ), bodies are
ranked by motion: the sum over joints and axes of the position variance over the frames where the
body is tracked.  Mutual actions (A050-A060, A106-A120) keep the two most active bodies, main body
first, as ``(2, T, 25, 3)``; a missing second body is padded with zeros at confidence 0, and every
body is padded over the frames where it is not tracked (confidence 0).  Other actions keep the most
active body, ``(T, 25, 3)``.  ``bodies=1`` / ``bodies=2`` force one or two bodies for every action.
Labels are the published class names (:data:`CLASSES_120`; the README's typographic apostrophes
written as ASCII ``'``, its trailing periods dropped).
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path

import numpy as np

from ..motion import Motion
from ._common import StoreLoader, resolve_root, skip
from .cache import parse_files
from .core import Dataset, DatasetError, Example, build_protocol

FOLDERS = ("nturgb+d_skeletons", "NTU_RGBD", "NTU-RGB+D", "NTU60", "ntu60", "NTU120", "ntu120")

#: The 120 class names as the dataset's README publishes them (A1..A120; NTU-60 is A1..A60).
CLASSES_120 = (
    "drink water",
    "eat meal/snack",
    "brushing teeth",
    "brushing hair",
    "drop",
    "pickup",
    "throw",
    "sitting down",
    "standing up (from sitting position)",
    "clapping",
    "reading",
    "writing",
    "tear up paper",
    "wear jacket",
    "take off jacket",
    "wear a shoe",
    "take off a shoe",
    "wear on glasses",
    "take off glasses",
    "put on a hat/cap",
    "take off a hat/cap",
    "cheer up",
    "hand waving",
    "kicking something",
    "put something inside pocket / take out something from pocket",
    "hopping (one foot jumping)",
    "jump up",
    "make a phone call/answer phone",
    "playing with phone/tablet",
    "typing on a keyboard",
    "pointing to something with finger",
    "taking a selfie",
    "check time (from watch)",
    "rub two hands together",
    "nod head/bow",
    "shake head",
    "wipe face",
    "salute",
    "put the palms together",
    "cross hands in front (say stop)",
    "sneeze/cough",
    "staggering",
    "falling",
    "touch head (headache)",
    "touch chest (stomachache/heart pain)",
    "touch back (backache)",
    "touch neck (neckache)",
    "nausea or vomiting condition",
    "use a fan (with hand or paper)/feeling warm",
    "punching/slapping other person",
    "kicking other person",
    "pushing other person",
    "pat on back of other person",
    "point finger at the other person",
    "hugging other person",
    "giving something to other person",
    "touch other person's pocket",
    "handshaking",
    "walking towards each other",
    "walking apart from each other",
    "put on headphone",
    "take off headphone",
    "shoot at the basket",
    "bounce ball",
    "tennis bat swing",
    "juggling table tennis balls",
    "hush (quite)",
    "flick hair",
    "thumb up",
    "thumb down",
    "make ok sign",
    "make victory sign",
    "staple book",
    "counting money",
    "cutting nails",
    "cutting paper (using scissors)",
    "snapping fingers",
    "open bottle",
    "sniff (smell)",
    "squat down",
    "toss a coin",
    "fold paper",
    "ball up paper",
    "play magic cube",
    "apply cream on face",
    "apply cream on hand back",
    "put on bag",
    "take off bag",
    "put something into a bag",
    "take something out of a bag",
    "open a box",
    "move heavy objects",
    "shake fist",
    "throw up cap/hat",
    "hands up (both hands)",
    "cross arms",
    "arm circles",
    "arm swings",
    "running on the spot",
    "butt kicks (kick backward)",
    "cross toe touch",
    "side kick",
    "yawn",
    "stretch oneself",
    "blow nose",
    "hit other person with something",
    "wield knife towards other person",
    "knock over other person (hit with body)",
    "grab other person's stuff",
    "shoot at other person with a gun",
    "step on foot",
    "high-five",
    "cheers and drink",
    "carry something with other person",
    "take a photo of other person",
    "follow other person",
    "whisper in other person's ear",
    "exchange things with other person",
    "support somebody with one's hand (someone is sick, help him to walk)",
    "finger-guessing game (playing rock-paper-scissors)",
)
CLASSES_60 = CLASSES_120[:60]

#: Mutual (two-person) actions, 1-based.
MUTUAL = frozenset(range(50, 61)) | frozenset(range(106, 121))

XSUB_TRAIN_60 = frozenset(
    (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)
)
XSUB_TRAIN_120 = XSUB_TRAIN_60 | frozenset(
    (45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86)
    + (89, 91, 92, 93, 94, 95, 97, 98, 100, 103)
)
XVIEW_TRAIN_CAMERAS = frozenset((2, 3))

_SYNSE = "SynSE (Gupta et al., ICIP 2021), README of github.com/skelemoa/synse-zsl @90f39a1"
_PURLS = "identical to PURLS supplements/label_splits/{} (github.com/azzh1/PURLS @7198fe7)"

#: name -> (dataset, unseen actions 1-based, source)
ZERO_SHOT = {
    "zeroshot_55_5": ("ntu60", (11, 12, 20, 27, 57), f"{_SYNSE}; {_PURLS.format('ntu60/ru5.npy')}"),
    "zeroshot_48_12": (
        "ntu60",
        (4, 6, 10, 13, 16, 41, 43, 48, 52, 57, 59, 60),
        f"{_SYNSE}; {_PURLS.format('ntu60/ru12.npy')}",
    ),
    "zeroshot_110_10": (
        "ntu120",
        (5, 14, 38, 44, 50, 66, 89, 96, 100, 107),
        f"{_SYNSE}; {_PURLS.format('ntu120/ru10.npy')}",
    ),
    "zeroshot_96_24": (
        "ntu120",
        (6, 10, 12, 17, 19, 21, 23, 30, 36, 40, 46, 50)
        + (60, 69, 71, 82, 85, 88, 94, 95, 105, 114, 115, 120),
        f"{_SYNSE}; {_PURLS.format('ntu120/ru24.npy')}",
    ),
}

NAME_RE = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")


def ntu_name(setup: int, camera: int, subject: int, take: int, action: int) -> str:
    """``SsssCcccPpppRrrrAaaa``."""
    return f"S{setup:03d}C{camera:03d}P{subject:03d}R{take:03d}A{action:03d}"


def parse_name(name: str) -> dict[str, int] | None:
    m = NAME_RE.search(name)
    if not m:
        return None
    s, c, p, r, a = (int(x) for x in m.groups())
    return {"setup": s, "camera": c, "subject": p, "take": r, "action": a}


@functools.lru_cache(maxsize=1)
def missing_skeletons() -> frozenset[str]:
    """The 535 sample ids of the official NTU-120 list (the 302 of NTU-60 are those of S001-S017)."""
    text = (
        resources.files("skelformats.datasets")
        .joinpath("data/ntu120_missing_skeletons.txt")
        .read_text()
    )
    return frozenset(ln.strip() for ln in text.splitlines() if ln.startswith("S"))


def body_energy(data: np.ndarray, conf: np.ndarray | None) -> np.ndarray:
    """(M,) sum over joints and axes of the position variance over each body's tracked frames."""
    M = data.shape[0]
    out = np.zeros(M)
    for m in range(M):
        tracked = np.ones(data.shape[1], bool) if conf is None else (conf[m] > 0).any(-1)
        if tracked.sum() > 1:
            out[m] = data[m, tracked].var(axis=0).sum()
    return out


def select_bodies(motion: Motion, n: int) -> Motion:
    """Keep the ``n`` (1 or 2) most active bodies, main body first; pad a missing body."""
    data = motion.data if motion.multi else motion.data[None]
    conf = motion.confidence
    if conf is not None and not motion.multi:
        conf = conf[None]
    conf_full = np.ones(data.shape[:-1], np.float32) if conf is None else conf
    order = np.argsort(-body_energy(data, conf), kind="stable")[:n]
    d, c = data[order], conf_full[order]
    if len(order) < n:
        pad = n - len(order)
        d = np.concatenate([d, np.zeros((pad,) + d.shape[1:], np.float32)])
        c = np.concatenate([c, np.zeros((pad,) + c.shape[1:], np.float32)])
    if n == 1:
        d, c = d[0], c[0]
    ids = motion.meta.get("body_ids")
    meta = {k: v for k, v in motion.meta.items() if k not in ("color_xy", "depth_xy")}
    if isinstance(ids, list):
        meta["body_ids"] = [ids[i] for i in order]
    return motion.replace(data=d, confidence=None if (c == 1).all() else c, meta=meta)


def parse_ntu(path: Path, bodies: str | int = "auto") -> Motion:
    """Read one ``.skeleton`` file and choose its bodies (see the module docstring)."""
    from .. import load

    m = load(path, format="ntu_skeleton")
    if bodies == "auto":
        info = parse_name(Path(path).name)
        n = 2 if info and info["action"] in MUTUAL else 1
    else:
        n = int(bodies)
    return select_bodies(m, n)


def _load_ntu(
    name: str,
    root,
    *,
    bodies: str | int = "auto",
    cache=None,
    workers: int | None = None,
    progress: bool | None = None,
    exclude_missing: bool = True,
) -> Dataset:
    if bodies not in ("auto", 1, 2):
        raise ValueError(f"bodies must be 'auto', 1 or 2, got {bodies!r}")
    root = resolve_root(root, name, FOLDERS)
    is60 = name == "ntu60"
    classes = list(CLASSES_60 if is60 else CLASSES_120)
    max_setup = 17 if is60 else 32
    missing = missing_skeletons() if exclude_missing else frozenset()
    files, infos, skipped = [], [], []
    n_missing = 0
    for p in sorted(root.rglob("*.skeleton")):
        info = parse_name(p.name)
        if info is None:
            skip(skipped, p.name, "file name is not SsssCcccPpppRrrrAaaa", warn=False)
            continue
        if info["setup"] > max_setup or not 1 <= info["action"] <= len(classes):
            continue  # an NTU-120 sample in a folder read as NTU-60
        sid = p.name[:20]
        if sid in missing:
            n_missing += 1
            skip(skipped, sid, "in the official list of samples with missing skeletons", warn=False)
            continue
        files.append(p)
        infos.append((sid, info))
    if not files:
        raise DatasetError(root, f"no {name} .skeleton files found")
    store = parse_files(
        name,
        files,
        functools.partial(parse_ntu, bodies=bodies),
        cache=cache,
        workers=workers,
        progress=progress,
        options={"bodies": bodies},
    )
    examples = []
    for i, (sid, info) in enumerate(infos):
        if i in store.errors:
            skip(skipped, files[i].name, store.errors[i])
            continue
        (entry,) = store.entries(i)[:1]
        a = info["action"]
        meta = dict(info, view=info["camera"], source=str(files[i]))
        examples.append(
            Example(
                sid,
                label=classes[a - 1],
                label_index=a - 1,
                meta=meta,
                loader=StoreLoader(store, entry),
            )
        )
    xsub_train = XSUB_TRAIN_60 if is60 else XSUB_TRAIN_120
    protos = {
        "xsub": build_protocol(
            "xsub",
            examples,
            lambda x: "train" if x.meta["subject"] in xsub_train else "test",
            "cross-subject: the official training performers train, the others test",
        )
    }
    if is60:
        protos["xview"] = build_protocol(
            "xview",
            examples,
            lambda x: "train" if x.meta["camera"] in XVIEW_TRAIN_CAMERAS else "test",
            "cross-view: cameras 2 and 3 train, camera 1 tests",
        )
    else:
        protos["xset"] = build_protocol(
            "xset",
            examples,
            lambda x: "train" if x.meta["setup"] % 2 == 0 else "test",
            "cross-setup: even setups train, odd setups test",
        )
    for pname, (ds_name, unseen, source) in ZERO_SHOT.items():
        if ds_name != name:
            continue
        unseen_set = frozenset(unseen)
        protos[pname] = build_protocol(
            pname,
            examples,
            lambda x, u=unseen_set: "test" if x.meta["action"] in u else "train",
            f"zero-shot: {len(classes) - len(unseen)} seen classes train, "
            f"the {len(unseen)} unseen classes test (every sample of each)",
            unseen=tuple(classes[a - 1] for a in unseen),
            source=source,
        )
    return Dataset(
        name,
        root,
        classes,
        examples,
        protos,
        skipped,
        f"NTU RGB+D {'60' if is60 else '120'}",
        {
            "excluded_missing": n_missing,
            "parse_errors": len(store.errors),
            "bodies": bodies,
            "cache": None if store.path is None else str(store.path),
        },
    )


def ntu60(root=None, **options) -> Dataset:
    return _load_ntu("ntu60", root, **options)


def ntu120(root=None, **options) -> Dataset:
    return _load_ntu("ntu120", root, **options)


FACTORIES = {"ntu60": ntu60, "ntu120": ntu120}

__all__ = [
    "CLASSES_60",
    "CLASSES_120",
    "MUTUAL",
    "XSUB_TRAIN_60",
    "XSUB_TRAIN_120",
    "ZERO_SHOT",
    "FACTORIES",
    "missing_skeletons",
    "ntu_name",
    "parse_name",
    "parse_ntu",
    "select_bodies",
    "ntu60",
    "ntu120",
]

"""pyskl / mmaction2 skeleton annotation files (``.pkl``) through a restricted unpickler.

The files are Python pickles: ``{"split": {"xsub_train": [names], ...}, "annotations": [{"frame_dir",
"label", "keypoint" (M, T, V, C), "keypoint_score" (M, T, V), "total_frames", ...}]}`` (or a bare
list of annotations).  Unpickling an arbitrary file can run any code, so :class:`SafeUnpickler`
admits only numpy arrays, numpy dtypes and scalars, and plain containers (dict, list, tuple, set,
str, bytes, numbers); anything else (a class, a function such as ``os.system``) is refused with
:class:`UnsafePickleError` naming the file and the global, before it is imported.

As a dataset (``sd.load("pyskl", "ntu60_3danno.pkl")``): each ``<proto>_<split>`` key of ``split``
becomes protocol ``<proto>`` split ``<split>`` (``val`` is kept as written); V=25, C=3 is ``ntu25``,
V=17, C=2 ``coco17``, V=17, C=3 ``coco17`` with the third channel as confidence.  Labels: NTU class
names when the ``frame_dir`` values are NTU sample ids, else the label number as text.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np

from ..errors import SkelFormatError
from ..motion import Motion
from .core import Dataset, DatasetError, Example, Protocol

#: (module, name) pairs a pickle may reference.
ALLOWED_GLOBALS = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),  # protocol 5
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("collections", "OrderedDict"),
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("builtins", "complex"),
        ("builtins", "slice"),
        ("_codecs", "encode"),  # how protocol-2 pickles store the bytes of an array
    }
)


class UnsafePickleError(SkelFormatError):
    """The pickle references something other than numpy arrays and plain containers."""


class SafeUnpickler(pickle.Unpickler):
    """Unpickler that resolves only :data:`ALLOWED_GLOBALS`."""

    def __init__(self, file, *, path=None):
        super().__init__(file)
        self._path = path

    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED_GLOBALS:
            raise UnsafePickleError(
                self._path,
                f"refused to unpickle {module}.{name}: only numpy arrays and plain containers "
                "are loaded from annotation files",
            )
        return super().find_class(module, name)

    def persistent_load(self, pid):
        raise UnsafePickleError(self._path, "refused a persistent id: not a plain data pickle")


def safe_load_pickle(path: str | Path):
    """Unpickle ``path`` with :class:`SafeUnpickler`."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DatasetError(path, f"cannot read: {e}") from None
    try:
        return SafeUnpickler(io.BytesIO(raw), path=path).load()
    except UnsafePickleError:
        raise
    except Exception as e:  # truncated / not a pickle
        raise DatasetError(path, f"not a readable pickle: {type(e).__name__}: {e}") from None


def _layout(V: int, C: int) -> str:
    if V == 25 and C == 3:
        return "ntu25"
    if V == 17 and C in (2, 3):
        return "coco17"
    raise DatasetError(f"keypoints with {V} joints x {C} channels: no matching layout")


def annotation_motion(ann: dict, path=None) -> Motion:
    """One pyskl annotation -> Motion ((M, T, V, C) or (T, V, C) for one person)."""
    kp = np.asarray(ann["keypoint"], np.float32)
    if kp.ndim != 4:
        raise DatasetError(
            path, f"{ann.get('frame_dir')}: keypoint shape {kp.shape}, expected (M, T, V, C)"
        )
    M, T, V, C = kp.shape
    layout = _layout(V, C)
    score = ann.get("keypoint_score")
    conf = None if score is None else np.asarray(score, np.float32)
    if layout == "coco17" and C == 3:
        conf, kp = kp[..., 2], kp[..., :2]
    if layout == "ntu25":
        # pyskl pads absent bodies with zeros
        present = np.abs(kp).sum(-1) > 0
        conf = present.astype(np.float32) if conf is None else conf * present
    if M == 1:
        kp = kp[0]
        conf = None if conf is None else conf[0]
    fps = 30.0
    return Motion(kp, layout, fps, conf, {"frame_dir": ann.get("frame_dir")})


def pyskl(root, **_) -> Dataset:
    from .ntu import CLASSES_120, parse_name

    if root is None:
        raise DatasetError("dataset 'pyskl' needs the .pkl annotation file")
    path = Path(root)
    doc = safe_load_pickle(path)
    if isinstance(doc, list):
        doc = {"annotations": doc, "split": {}}
    if not isinstance(doc, dict) or not isinstance(doc.get("annotations"), list):
        raise DatasetError(path, "expected {'split': ..., 'annotations': [...]} or a list")
    anns = doc["annotations"]
    ntu = all(parse_name(str(a.get("frame_dir", ""))) for a in anns) and bool(anns)
    nlab = 1 + max((int(a["label"]) for a in anns if "label" in a), default=-1)
    classes = list(CLASSES_120[:nlab]) if ntu and nlab <= 120 else [str(i) for i in range(nlab)]
    examples, where = [], {}
    for a in anns:
        sid = str(a.get("frame_dir", len(examples)))
        lab = int(a["label"]) if "label" in a else -1
        where[sid] = len(examples)
        examples.append(
            Example(
                sid,
                annotation_motion(a, path),
                label=classes[lab] if lab >= 0 else None,
                label_index=lab,
                meta={"source": str(path)},
            )
        )
    protos: dict[str, Protocol] = {}
    for key, names in (doc.get("split") or {}).items():
        proto, _, split = str(key).rpartition("_")
        proto = proto or "split"
        p = protos.setdefault(proto, Protocol(proto, {}, f"the file's {proto}_* lists"))
        p.splits[split] = [where[str(n)] for n in names if str(n) in where]
    protos["all"] = Protocol("all", {"all": list(range(len(examples)))}, "every annotation")
    return Dataset("pyskl", path, classes, examples, protos, [], f"pyskl annotations {path.name}")


FACTORIES = {"pyskl": pyskl}

__all__ = [
    "ALLOWED_GLOBALS",
    "FACTORIES",
    "SafeUnpickler",
    "UnsafePickleError",
    "annotation_motion",
    "pyskl",
    "safe_load_pickle",
]

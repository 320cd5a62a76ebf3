"""Acclaim ASF (skeleton) / AMC (motion), as used by the CMU Graphics Lab mocap database.

Forward kinematics follows the Acclaim convention: bone ``axis a b c ORDER`` gives C; a frame's dof
angles give M (rotations about fixed axes in dof order, so ``rx ry rz`` -> Rz Ry Rx); the bone's
global matrix is ``parent @ C @ M @ C^-1`` and its END point is ``parent end + length * matrix @ direction``.
The root's global matrix is ``C @ M @ C^-1`` and its position the TX TY TZ values.  Positions are
returned in metres (ASF ``length`` unit: 1/that-value inches).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import (
    CorruptDataError,
    EmptySequenceError,
    LimitError,
    TruncatedFileError,
    UnknownFormatError,
)
from ..layout import Layout
from ..limits import get_limits
from ..motion import Motion
from ..readers._common import check_frames, check_size
from ..registry import get_layout, register_reader
from .bvh import FK_BYTES_PER_JOINT_FRAME

INCH = 0.0254
CMU_FPS = 120.0  # AMC stores no frame rate; CMU captures are 120 fps


def _rot(axis: str, rad: np.ndarray) -> np.ndarray:
    c, s = np.cos(rad), np.sin(rad)
    R = np.zeros(np.shape(rad) + (3, 3))
    i = "xyz".index(axis.lower())
    a, b = [k for k in range(3) if k != i]
    R[..., i, i] = 1
    if i == 1:  # about y: [[c, 0, s], [0, 1, 0], [-s, 0, c]]
        R[..., a, a], R[..., a, b], R[..., b, a], R[..., b, b] = c, s, -s, c
    else:
        R[..., a, a], R[..., a, b], R[..., b, a], R[..., b, b] = c, -s, s, c
    return R


def _fixed_axes(order: str, rad: np.ndarray) -> np.ndarray:
    """Rotation about fixed axes applied in ``order`` (first axis first): R = R_n ... R_1; rad (..., n)."""
    R = None
    for k, ax in enumerate(order):
        Rk = _rot(ax, rad[..., k])
        R = Rk if R is None else Rk @ R
    return R if R is not None else np.broadcast_to(np.eye(3), np.shape(rad)[:-1] + (3, 3)).copy()


@dataclass
class AsfBone:
    name: str
    direction: np.ndarray
    length: float
    axis: np.ndarray  # degrees
    axis_order: str
    dof: tuple[str, ...] = ()
    parent: str | None = None


@dataclass
class AsfSkeleton:
    bones: dict[str, AsfBone]
    root_order: tuple[str, ...]
    root_axis: str
    root_position: np.ndarray
    root_orientation: np.ndarray
    length_unit: float = 1.0
    degrees: bool = True
    order: list[str] = field(default_factory=list)  # root first, parents before children

    @property
    def metres_per_unit(self) -> float:
        return INCH / self.length_unit


def _floats(toks, path, what):
    try:
        return np.array([float(t) for t in toks], np.float64)
    except ValueError:
        raise CorruptDataError(path, f"non-numeric {what}: {' '.join(toks)!r}") from None


def parse_asf(path) -> AsfSkeleton:
    path = Path(path)
    check_size(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as e:
        raise CorruptDataError(path, f"cannot read ASF file: {e}") from None
    section = None
    bones: dict[str, AsfBone] = {}
    cur: dict | None = None
    hierarchy: list[list[str]] = []
    root = {
        "order": ("TX", "TY", "TZ", "RX", "RY", "RZ"),
        "axis": "XYZ",
        "position": np.zeros(3),
        "orientation": np.zeros(3),
    }
    length_unit, degrees = 1.0, True
    in_hier = False
    seen_sections = set()
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        toks = line.split()
        if toks[0].startswith(":"):
            section = toks[0][1:].lower()
            seen_sections.add(section)
            continue
        if section == "units":
            if toks[0] == "length" and len(toks) > 1:
                length_unit = float(_floats(toks[1:2], path, "length unit")[0])
                if not (np.isfinite(length_unit) and length_unit > 0):
                    raise CorruptDataError(
                        path, f"length unit {toks[1]!r} must be a positive number"
                    )
            elif toks[0] == "angle" and len(toks) > 1:
                degrees = toks[1].lower().startswith("deg")
        elif section == "root":
            if toks[0] == "order":
                root["order"] = tuple(t.upper() for t in toks[1:])
            elif toks[0] == "axis":
                root["axis"] = toks[1].upper()
            elif toks[0] in ("position", "orientation"):
                root[toks[0]] = _floats(toks[1:4], path, f"root {toks[0]}")
        elif section == "bonedata":
            if toks[0] == "begin":
                cur = {"dof": ()}
            elif toks[0] == "end":
                if cur is None or "name" not in cur:
                    raise CorruptDataError(path, "bone without a name in :bonedata")
                try:
                    bones[cur["name"]] = AsfBone(
                        cur["name"],
                        cur["direction"],
                        float(cur["length"]),
                        cur.get("axis", np.zeros(3)),
                        cur.get("axis_order", "XYZ"),
                        cur["dof"],
                    )
                except KeyError as e:
                    raise CorruptDataError(
                        path, f"bone {cur['name']!r} lacks {e.args[0]!r}"
                    ) from None
                cur = None
            elif cur is not None:
                if toks[0] == "name":
                    cur["name"] = toks[1]
                elif toks[0] == "direction":
                    cur["direction"] = _floats(toks[1:4], path, "direction")
                elif toks[0] == "length":
                    cur["length"] = _floats(toks[1:2], path, "length")[0]
                elif toks[0] == "axis":
                    cur["axis"] = _floats(toks[1:4], path, "axis")
                    cur["axis_order"] = toks[4].upper() if len(toks) > 4 else "XYZ"
                elif toks[0] == "dof":
                    cur["dof"] = tuple(t.lower() for t in toks[1:])
        elif section == "hierarchy":
            if toks[0] == "begin":
                in_hier = True
            elif toks[0] == "end":
                in_hier = False
            elif in_hier:
                hierarchy.append(toks)
    if "bonedata" not in seen_sections or "hierarchy" not in seen_sections:
        raise TruncatedFileError(path, "ASF file lacks :bonedata or :hierarchy")
    for toks in hierarchy:
        parent = toks[0]
        if parent != "root" and parent not in bones:
            raise CorruptDataError(path, f"hierarchy names unknown bone {parent!r}")
        for child in toks[1:]:
            if child not in bones:
                raise CorruptDataError(path, f"hierarchy names unknown bone {child!r}")
            if bones[child].parent is not None:
                raise CorruptDataError(path, f"bone {child!r} has two parents")
            bones[child].parent = parent
    order, frontier = ["root"], ["root"]
    while frontier:
        nxt = []
        for p in frontier:
            for toks in hierarchy:
                if toks[0] == p:
                    nxt.extend(toks[1:])
        order.extend(nxt)
        frontier = nxt
    orphans = [b for b in bones if b not in order]
    if orphans:
        raise CorruptDataError(path, f"bones not reachable from the root: {orphans}")
    if len(set(order)) != len(order):
        raise CorruptDataError(path, "the ASF hierarchy has a cycle")
    return AsfSkeleton(
        bones,
        root["order"],
        root["axis"],
        root["position"],
        root["orientation"],
        length_unit,
        degrees,
        order,
    )


def parse_amc(path, skel: AsfSkeleton) -> tuple[dict[str, np.ndarray], bool]:
    """Per bone (T, n_values) arrays, and whether angles are in degrees."""
    path = Path(path)
    check_size(path)
    text = path.read_text(encoding="utf-8", errors="replace")
    degrees = skel.degrees
    frames: list[dict[str, list[str]]] = []
    cur = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(":"):
            key = line[1:].upper()
            if key == "DEGREES":
                degrees = True
            elif key == "RADIANS":
                degrees = False
            continue
        toks = line.split()
        if toks[0].isdigit() and len(toks) == 1:
            cur = {}
            frames.append(cur)
            continue
        if cur is None:
            raise CorruptDataError(
                path, f"line {lineno}: bone values before the first frame number"
            )
        cur[toks[0]] = toks[1:]
    if not frames:
        raise EmptySequenceError(path, "AMC file has no frames")
    check_frames(path, len(frames))
    names = ["root"] + [b for b in skel.order if b != "root" and skel.bones[b].dof]
    expected = {"root": len(skel.root_order)}
    expected.update({b: len(skel.bones[b].dof) for b in names[1:]})
    out = {}
    for b in names:
        rows = []
        for t, fr in enumerate(frames):
            vals = fr.get(b)
            if vals is None or len(vals) != expected[b]:
                last = t == len(frames) - 1
                problem = f"frame {t + 1}: bone {b!r} " + (
                    "missing" if vals is None else f"has {len(vals)} values, expected {expected[b]}"
                )
                raise (TruncatedFileError if last else CorruptDataError)(path, problem)
            rows.append(vals)
        try:
            out[b] = np.asarray(rows, dtype=np.float64).reshape(len(frames), expected[b])
        except ValueError:
            raise CorruptDataError(path, f"non-numeric value for bone {b!r}") from None
    extra = set().union(*frames) - set(names) - set(skel.bones)
    if extra:
        raise CorruptDataError(path, f"AMC names bones the ASF does not have: {sorted(extra)[:5]}")
    return out, degrees


def asf_forward_kinematics(
    skel: AsfSkeleton, values: dict[str, np.ndarray], degrees: bool
) -> np.ndarray:
    """(T, B, 3) positions in ASF units, bones in ``skel.order`` (root position, then bone end points)."""
    conv = np.deg2rad if degrees else (lambda x: x)
    asf_conv = np.deg2rad if skel.degrees else (lambda x: x)
    rv = values["root"]
    T = rv.shape[0]
    pos = {}
    mat = {}
    trans = np.zeros((T, 3))
    rot_order, rot_vals = "", []
    for k, ch in enumerate(skel.root_order):
        if ch.startswith("T"):
            trans[:, "XYZ".index(ch[1])] = rv[:, k]
        elif ch.startswith("R"):
            rot_order += ch[1].lower()
            rot_vals.append(rv[:, k])
    C = _fixed_axes(skel.root_axis.lower(), asf_conv(skel.root_orientation))
    M = (
        _fixed_axes(rot_order, conv(np.stack(rot_vals, -1)))
        if rot_vals
        else np.broadcast_to(np.eye(3), (T, 3, 3))
    )
    mat["root"] = C @ M @ C.T
    pos["root"] = trans + skel.root_position
    for name in skel.order[1:]:
        b = skel.bones[name]
        C = _fixed_axes(b.axis_order.lower(), asf_conv(b.axis))
        rots = [(d[1], values[name][:, k]) for k, d in enumerate(b.dof) if d in ("rx", "ry", "rz")]
        if rots:
            M = _fixed_axes("".join(a for a, _ in rots), conv(np.stack([v for _, v in rots], -1)))
            mat[name] = mat[b.parent] @ (C @ M @ C.T)
        else:
            mat[name] = mat[b.parent]
        pos[name] = pos[b.parent] + b.length * np.einsum("tij,j->ti", mat[name], b.direction)
    return np.stack([pos[n] for n in skel.order], axis=1)


def _layout_for(skel: AsfSkeleton) -> tuple[Layout, list[str]]:
    cmu = get_layout("cmu31")
    par = {n: (skel.bones[n].parent if n != "root" else None) for n in skel.order}
    if set(par) == set(cmu.joints) and all(
        par[n] == (None if p < 0 else cmu.joints[p]) for n, p in zip(cmu.joints, cmu.parents)
    ):
        return cmu, list(cmu.joints)
    names = list(skel.order)
    idx = {n: i for i, n in enumerate(names)}
    lay = Layout(
        name=f"asf{len(names)}",
        joints=tuple(names),
        parents=tuple(-1 if par[n] is None else idx[par[n]] for n in names),
        canonical=tuple(
            cmu.canonical[cmu.joints.index(n)] if n in cmu.joints else None for n in names
        ),
        dims=3,
        units="m",
        up_axis="y",
    )
    return lay, names


def find_asf(amc: Path) -> Path:
    """The skeleton for an AMC file: ``<subject>.asf`` beside it (CMU naming), else the only .asf there."""
    cand = amc.with_name(amc.stem.split("_")[0] + ".asf")
    if cand.exists():
        return cand
    asfs = sorted(amc.parent.glob("*.asf")) + sorted(amc.parent.glob("*.ASF"))
    if len(asfs) == 1:
        return asfs[0]
    raise UnknownFormatError(
        amc, f"cannot find the .asf skeleton for this AMC file ({len(asfs)} candidates beside it)"
    )


def read_amc(path, asf=None) -> Motion:
    """AMC motion (+ its ASF skeleton) -> Motion in metres; layout cmu31 for CMU skeletons."""
    path = Path(path)
    asf = find_asf(path) if asf is None else Path(asf)
    skel = parse_asf(asf)
    values, degrees = parse_amc(path, skel)
    frames, lim = len(values["root"]), get_limits().max_bytes
    if frames * len(skel.order) * FK_BYTES_PER_JOINT_FRAME > lim:
        raise LimitError(
            path,
            f"{frames} frames x {len(skel.order)} bones need more than the {lim} bytes allowed "
            "(skelformats.limits max_bytes)",
        )
    pos = asf_forward_kinematics(skel, values, degrees) * skel.metres_per_unit
    layout, names = _layout_for(skel)
    order = [skel.order.index(n) for n in names]
    return Motion(
        data=pos[:, order].astype(np.float32),
        layout=layout,
        fps=CMU_FPS,
        meta={
            "source": str(path),
            "skeleton": str(asf),
            "subject": path.stem.split("_")[0],
            "take": path.stem,
            "metres_per_unit": skel.metres_per_unit,
        },
    )


def read_asf(path) -> Motion:
    """ASF alone -> one frame: the skeleton's rest pose."""
    skel = parse_asf(path)
    zeros = {"root": np.zeros((1, len(skel.root_order)))}
    for n, b in skel.bones.items():
        zeros[n] = np.zeros((1, len(b.dof)))
    pos = asf_forward_kinematics(skel, zeros, skel.degrees) * skel.metres_per_unit
    layout, names = _layout_for(skel)
    order = [skel.order.index(n) for n in names]
    return Motion(
        data=pos[:, order].astype(np.float32),
        layout=layout,
        fps=CMU_FPS,
        meta={"source": str(path), "rest_pose": True},
    )


def _sniff_amc(path: Path, head: bytes) -> bool:
    return b":FULLY-SPECIFIED" in head or (
        b":DEGREES" in head and head.lstrip().startswith((b"#", b":"))
    )


def _sniff_asf(path: Path, head: bytes) -> bool:
    return b":bonedata" in head or (b":version" in head and b":units" in head)


@register_reader("amc", extensions=(".amc",), sniff=_sniff_amc)
def _read_amc(path: Path) -> Motion:
    return read_amc(path)


@register_reader("asf", extensions=(".asf",), sniff=_sniff_asf)
def _read_asf(path: Path) -> Motion:
    return read_asf(path)

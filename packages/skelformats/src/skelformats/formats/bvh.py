"""Biovision Hierarchy (BVH): read any hierarchy with forward kinematics, write BVH.

Forward kinematics: for each joint, local translation = OFFSET + its position channels (if any), local
rotation = product of its rotation channels in the declared order (``Zrotation Xrotation Yrotation``
-> ``Rz @ Rx @ Ry``, degrees); global = parent global @ local.  End sites are optional extra joints.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import (
    CorruptDataError,
    EmptySequenceError,
    LimitError,
    ShapeError,
    SkelFormatError,
    SkelFormatWarning,
    TruncatedFileError,
)
from ..layout import Layout
from ..limits import get_limits
from ..motion import Motion
from ..readers._common import check_frames, check_size
from ..registry import register_reader, register_writer

# forward kinematics holds a position (3) and a rotation (3 x 3) in float64 per joint and frame,
# plus temporaries of the same size
FK_BYTES_PER_JOINT_FRAME = 256
_CHANNELS = ("Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation")

# Joint names of common BVH rigs -> canonical names (lower-cased; rig prefixes like "mixamorig:" are
# stripped).  Covers the CMU conversions (Hips/LeftUpLeg/... and hip/abdomen/rThigh/...), Mixamo and
# Poser/DAZ-style names.  BVH joints sit at the START of their bone, so e.g. LeftUpLeg is the hip.
_BVH_CANONICAL = {
    "hips": "pelvis",
    "hip": "pelvis",
    "pelvis": "pelvis",
    "root": "pelvis",
    "spine": "spine",
    "abdomen": "spine",
    "spine1": "chest",
    "chest": "chest",
    "neck": "neck",
    "head": "head",
    "headtop_end": "head_top",
    "lefteye": "left_eye",
    "righteye": "right_eye",
}
for _s, _l, _r in (("left", "Left", "l"), ("right", "Right", "r")):
    for _names, _c in (
        ((f"{_l}upleg", f"{_r}thigh", f"{_l}thigh"), "hip"),
        ((f"{_l}leg", f"{_r}shin", f"{_l}shin"), "knee"),
        ((f"{_l}foot", f"{_r}foot"), "ankle"),
        ((f"{_l}toebase", f"{_r}toe", f"{_l}toe"), "foot"),
        ((f"{_l}shoulder", f"{_r}collar", f"{_l}collar"), "clavicle"),
        ((f"{_l}arm", f"{_r}shldr", f"{_l}shldr"), "shoulder"),
        ((f"{_l}forearm", f"{_r}forearm"), "elbow"),
        ((f"{_l}hand", f"{_r}hand"), "wrist"),
        ((f"{_l}fingerbase",), "hand"),
        ((f"{_r}fingers",), "hand_tip"),
        ((f"{_r}thumb", f"{_l}handthumb2", f"{_r}thumb2"), "thumb"),
        ((f"{_l}handindex1", f"{_r}index1"), "index"),
        ((f"{_l}handpinky1", f"{_r}pinky1"), "pinky"),
    ):
        for _n in _names:
            _BVH_CANONICAL.setdefault(_n.lower(), f"{_s}_{_c}")


def guess_canonical(names) -> tuple[str | None, ...]:
    """Canonical names for BVH joint names (first joint wins if two map to the same name)."""
    out, used = [], set()
    for n in names:
        key = n.split(":")[-1].lower()
        c = _BVH_CANONICAL.get(key)
        if c in used:
            c = None
        if c is not None:
            used.add(c)
        out.append(c)
    return tuple(out)


@dataclass
class BvhJoint:
    name: str
    parent: int
    offset: np.ndarray
    channels: tuple[str, ...] = ()
    end_site: bool = False


@dataclass
class BvhFile:
    joints: list[BvhJoint]
    frame_time: float
    motion: np.ndarray  # (T, total channels)
    meta: dict = field(default_factory=dict)

    def channel_slices(self) -> list[slice]:
        out, k = [], 0
        for j in self.joints:
            out.append(slice(k, k + len(j.channels)))
            k += len(j.channels)
        return out


def _tokens_hierarchy(text: str, path):
    """Parse the HIERARCHY section; returns joints and the character offset of MOTION."""
    m = re.search(r"^[ \t]*MOTION\b", text, flags=re.M)
    if not text.lstrip().startswith("HIERARCHY"):
        raise CorruptDataError(path, "not a BVH file (no HIERARCHY header)")
    if m is None:
        raise TruncatedFileError(path, "BVH file has no MOTION section")
    toks = text[: m.start()].split()
    joints: list[BvhJoint] = []
    stack: list[int] = []
    pending: BvhJoint | None = None
    i = 1
    try:
        while i < len(toks):
            t = toks[i]
            if t in ("ROOT", "JOINT"):
                if t == "ROOT" and joints and not stack:
                    raise CorruptDataError(path, "BVH files with several ROOTs are not supported")
                name = toks[i + 1]
                pending = BvhJoint(name, stack[-1] if stack else -1, np.zeros(3))
                i += 2
            elif t == "End":
                if toks[i + 1] != "Site":
                    raise CorruptDataError(path, f"expected 'End Site', got 'End {toks[i + 1]}'")
                parent = joints[stack[-1]].name if stack else "root"
                pending = BvhJoint(parent + "_end", stack[-1], np.zeros(3), end_site=True)
                i += 2
            elif t == "{":
                if pending is None:
                    raise CorruptDataError(path, "'{' without a joint")
                joints.append(pending)
                stack.append(len(joints) - 1)
                pending = None
                i += 1
            elif t == "}":
                if not stack:
                    raise CorruptDataError(path, "unbalanced '}' in HIERARCHY")
                stack.pop()
                i += 1
            elif t == "OFFSET":
                joints[stack[-1]].offset = np.array(
                    [float(x) for x in toks[i + 1 : i + 4]], np.float64
                )
                if joints[stack[-1]].offset.shape != (3,):
                    raise TruncatedFileError(path, "OFFSET with fewer than 3 values")
                i += 4
            elif t == "CHANNELS":
                n = int(toks[i + 1])
                ch = tuple(toks[i + 2 : i + 2 + n])
                bad = [c for c in ch if c not in _CHANNELS]
                if len(ch) != n or bad:
                    raise CorruptDataError(
                        path, f"bad CHANNELS for joint {joints[stack[-1]].name!r}: {ch}"
                    )
                joints[stack[-1]].channels = ch
                i += 2 + n
            else:
                raise CorruptDataError(path, f"unexpected token {t!r} in HIERARCHY")
    except (IndexError, ValueError) as e:
        if isinstance(e, SkelFormatError):
            raise
        raise CorruptDataError(path, f"malformed HIERARCHY near token {i}: {e}") from None
    if stack:
        raise TruncatedFileError(path, "HIERARCHY ends inside a joint block (missing '}')")
    if not joints:
        raise CorruptDataError(path, "BVH HIERARCHY has no joints")
    return joints, m.end()


def parse_bvh(path) -> BvhFile:
    """Parse a BVH file into its hierarchy and raw channel values."""
    path = Path(path)
    check_size(path)
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise CorruptDataError(path, "BVH file is not UTF-8 text") from None
    joints, pos = _tokens_hierarchy(text, path)
    rest = text[pos:]
    mf = re.search(r"Frames:\s*(\S+)", rest)
    mt = re.search(r"Frame\s+Time:\s*(\S+)", rest)
    if mf is None or mt is None:
        raise TruncatedFileError(path, "MOTION section lacks 'Frames:' or 'Frame Time:'")
    try:
        frames = int(mf.group(1))
        frame_time = float(mt.group(1))
    except (ValueError, OverflowError):
        raise CorruptDataError(
            path, f"bad Frames/Frame Time values {mf.group(1)!r}, {mt.group(1)!r}"
        ) from None
    if frames < 0 or not np.isfinite(frame_time) or frame_time <= 0:
        raise CorruptDataError(path, f"bad Frames ({frames}) or Frame Time ({frame_time})")
    nl = rest.find("\n", mt.end())
    body = rest[nl + 1 :] if nl >= 0 else ""
    n_ch = sum(len(j.channels) for j in joints)
    if n_ch == 0:
        raise CorruptDataError(path, "no joint has CHANNELS: the file holds no motion")
    check_frames(path, frames)
    lim = get_limits().max_bytes
    if frames * len(joints) * FK_BYTES_PER_JOINT_FRAME > lim:
        raise LimitError(
            path,
            f"{frames} frames x {len(joints)} joints need more than the {lim} bytes allowed "
            "(skelformats.limits max_bytes)",
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        try:
            values = np.fromstring(body, dtype=np.float64, sep=" ") if body.strip() else np.zeros(0)
        except (DeprecationWarning, ValueError):
            bad = next((t for t in body.split() if not _is_float(t)), "?")
            raise CorruptDataError(path, f"non-numeric value {bad!r} in MOTION data") from None
    if frames == 0 or values.size == 0:
        raise EmptySequenceError(path, "BVH file has no frames")
    expected = frames * n_ch
    if values.size < expected:
        raise TruncatedFileError(
            path,
            f"declares {frames} frames of {n_ch} channels but holds {values.size / max(n_ch, 1):.1f} frames",
        )
    if values.size > expected:
        raise CorruptDataError(
            path, f"{values.size - expected} values beyond the declared {frames} frames"
        )
    return BvhFile(joints, frame_time, values.reshape(frames, n_ch))


def _is_float(t: str) -> bool:
    try:
        float(t)
        return True
    except ValueError:
        return False


def _axis_rotations(axis: str, deg: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotation matrices about one axis."""
    r = np.deg2rad(deg)
    c, s = np.cos(r), np.sin(r)
    T = len(deg)
    R = np.zeros((T, 3, 3))
    if axis == "X":
        R[:, 0, 0] = 1
        R[:, 1, 1], R[:, 1, 2], R[:, 2, 1], R[:, 2, 2] = c, -s, s, c
    elif axis == "Y":
        R[:, 1, 1] = 1
        R[:, 0, 0], R[:, 0, 2], R[:, 2, 0], R[:, 2, 2] = c, s, -s, c
    else:
        R[:, 2, 2] = 1
        R[:, 0, 0], R[:, 0, 1], R[:, 1, 0], R[:, 1, 1] = c, -s, s, c
    return R


def forward_kinematics(bvh: BvhFile) -> tuple[np.ndarray, np.ndarray]:
    """Global positions (T, J, 3) and rotations (T, J, 3, 3) of every joint (end sites included)."""
    T = bvh.motion.shape[0]
    J = len(bvh.joints)
    pos = np.zeros((T, J, 3))
    rot = np.zeros((T, J, 3, 3))
    for j, (joint, sl) in enumerate(zip(bvh.joints, bvh.channel_slices())):
        vals = bvh.motion[:, sl]
        t = np.broadcast_to(joint.offset, (T, 3)).copy()
        R = None
        for k, ch in enumerate(joint.channels):
            if ch.endswith("position"):
                t[:, "XYZ".index(ch[0])] += vals[:, k]
            else:
                Rk = _axis_rotations(ch[0], vals[:, k])
                R = Rk if R is None else R @ Rk
        if joint.parent < 0:
            pos[:, j] = t
            rot[:, j] = np.eye(3) if R is None else R
        else:
            p = joint.parent
            pos[:, j] = pos[:, p] + np.einsum("tij,tj->ti", rot[:, p], t)
            rot[:, j] = rot[:, p] if R is None else rot[:, p] @ R
    return pos, rot


def bvh_layout(bvh: BvhFile, *, end_sites: bool = False) -> tuple[Layout, np.ndarray]:
    """Layout of the hierarchy and the indices of its joints among the file's joints.

    A hierarchy equal to a registered layout's (same names and parent relations) gives that layout;
    otherwise a new one named after a hash of the joint names and parents, canonical names guessed
    from common rig naming."""
    keep = [i for i, j in enumerate(bvh.joints) if end_sites or not j.end_site]
    remap = {old: new for new, old in enumerate(keep)}
    names = tuple(bvh.joints[i].name for i in keep)
    parents = tuple(-1 if bvh.joints[i].parent < 0 else remap[bvh.joints[i].parent] for i in keep)
    known = _registered_match(names, parents)
    if known is not None:
        # the hierarchy of a registered layout (e.g. exported from ntu25): return its joints in its order
        return known, np.asarray([keep[names.index(n)] for n in known.joints], dtype=np.int64)
    canonical = guess_canonical(names)
    digest = hashlib.sha1(repr((names, parents)).encode()).hexdigest()[:8]
    try:
        layout = Layout(
            name=f"bvh{len(names)}_{digest}",
            joints=names,
            parents=parents,
            canonical=canonical,
            dims=3,
            up_axis="y",
        )
    except SkelFormatError as e:
        raise CorruptDataError(None, f"invalid BVH hierarchy: {e.problem}") from None
    return layout, np.asarray(keep, dtype=np.int64)


def _registered_match(names, parents) -> Layout | None:
    """A registered 3D tree layout with the same joint names and parent relations (any order)."""
    from ..registry import get_layout, list_layouts

    wanted = {n: (None if p < 0 else names[p]) for n, p in zip(names, parents)}
    for lname in list_layouts():
        lay = get_layout(lname)
        if lay.parents is None or lay.dims != 3 or lay.num_joints != len(names):
            continue
        have = {n: (None if p < 0 else lay.joints[p]) for n, p in zip(lay.joints, lay.parents)}
        if have == wanted:
            return lay
    return None


def read_bvh(path, *, end_sites: bool = False) -> Motion:
    """BVH file -> Motion of global joint positions in the file's units (layout from its hierarchy)."""
    path = Path(path)
    bvh = parse_bvh(path)
    try:
        layout, keep = bvh_layout(bvh, end_sites=end_sites)
    except SkelFormatError as e:
        raise type(e)(path, e.problem) from None
    pos, _ = forward_kinematics(bvh)
    return Motion(
        data=pos[:, keep].astype(np.float32),
        layout=layout,
        fps=1.0 / bvh.frame_time,
        meta={"source": str(path), "frame_time": bvh.frame_time},
    )


def _sniff(path: Path, head: bytes) -> bool:
    return head.lstrip().startswith(b"HIERARCHY")


@register_reader("bvh", extensions=(".bvh",), sniff=_sniff)
def _read(path: Path) -> Motion:
    return read_bvh(path)


# -------------------------------------------------------------------------------------------- writer
def _kabsch(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Batched rotations R (T, 3, 3) minimising sum_k |R src_k - dst_tk|^2; src (K, 3), dst (T, K, 3)."""
    H = np.einsum("ki,tkj->tij", src, dst)  # sum_k src_k dst_k^T
    U, _, Vt = np.linalg.svd(H)
    d = np.sign(np.linalg.det(np.einsum("tji,tkj->tik", Vt, U)))
    D = np.zeros_like(H)
    D[:, 0, 0] = 1
    D[:, 1, 1] = 1
    D[:, 2, 2] = np.where(d == 0, 1, d)
    return np.einsum("tji,tjk,tlk->til", Vt, D, U)  # V D U^T


def _align(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched minimal rotations taking unit vectors a (T, 3) onto b (T, 3)."""
    v = np.cross(a, b)
    c = np.einsum("ti,ti->t", a, b)
    s = np.linalg.norm(v, axis=-1)
    K = np.zeros((len(a), 3, 3))
    K[:, 0, 1], K[:, 0, 2], K[:, 1, 0] = -v[:, 2], v[:, 1], v[:, 2]
    K[:, 1, 2], K[:, 2, 0], K[:, 2, 1] = -v[:, 0], -v[:, 1], v[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(s > 1e-12, (1 - c) / np.maximum(s, 1e-300) ** 2, 0.5)
    R = np.eye(3)[None] + K + f[:, None, None] * (K @ K)
    # antiparallel: rotate by pi about any axis perpendicular to a
    anti = (s <= 1e-12) & (c < 0)
    if anti.any():
        aa = a[anti]
        perp = np.cross(aa, np.where(np.abs(aa[:, :1]) < 0.9, [[1.0, 0, 0]], [[0, 1.0, 0]]))
        perp /= np.linalg.norm(perp, axis=-1, keepdims=True)
        R[anti] = 2 * np.einsum("ti,tj->tij", perp, perp) - np.eye(3)
    return R


def _rest_offsets(data: np.ndarray, parents) -> np.ndarray:
    """(J, 3) offsets: median bone length along the bone's direction in the first frame where it has length."""
    J = data.shape[1]
    off = np.zeros((J, 3))
    for j, p in enumerate(parents):
        if p < 0:
            continue
        vec = data[:, j] - data[:, p]
        ln = np.linalg.norm(vec, axis=-1)
        nz = np.flatnonzero(ln > 1e-9 * max(1.0, float(np.abs(data).max())))
        if len(nz) == 0:
            continue
        off[j] = vec[nz[0]] / ln[nz[0]] * np.median(ln)
    return off


def positions_to_bvh(data: np.ndarray, parents) -> tuple[np.ndarray, np.ndarray]:
    """Inverse kinematics of joint positions (T, J, 3) for a tree: rest offsets (J, 3) and local
    rotations (T, J, 3, 3) such that FK reproduces the positions exactly for rigid motion."""
    data = np.asarray(data, np.float64)
    T, J, _ = data.shape
    off = _rest_offsets(data, parents)
    children = [[k for k in range(J) if parents[k] == j] for j in range(J)]
    G = np.zeros((T, J, 3, 3))
    L = np.zeros((T, J, 3, 3))
    eye = np.broadcast_to(np.eye(3), (T, 3, 3))
    for j in _topological(parents):
        p = parents[j]
        Gp = eye if p < 0 else G[:, p]
        kids = [k for k in children[j] if np.linalg.norm(off[k]) > 0]
        if not kids:
            Gj = Gp
        elif (
            len(kids) == 1
            or np.linalg.matrix_rank(off[kids], tol=1e-9 * np.abs(off[kids]).max()) < 2
        ):
            k = kids[0]
            a = np.einsum("tij,j->ti", Gp, off[k])
            b = data[:, k] - data[:, j]
            a = a / np.linalg.norm(a, axis=-1, keepdims=True)
            bn = np.linalg.norm(b, axis=-1, keepdims=True)
            b = np.where(bn > 0, b / np.where(bn > 0, bn, 1), a)
            Gj = _align(a, b) @ Gp
        else:
            Gj = _kabsch(off[kids], data[:, kids] - data[:, j : j + 1])
        G[:, j] = Gj
        L[:, j] = np.einsum("tji,tjk->tik", Gp, Gj)
    return off, L


def _topological(parents) -> list[int]:
    """Joint indices, every parent before its children (depth-first from the roots)."""
    children = [[k for k in range(len(parents)) if parents[k] == j] for j in range(len(parents))]
    order, stack = [], [j for j, p in enumerate(parents) if p < 0][::-1]
    while stack:
        j = stack.pop()
        order.append(j)
        stack.extend(children[j][::-1])
    return order


def _euler_zxy(R: np.ndarray) -> np.ndarray:
    """Degrees (T, 3) of (Z, X, Y) with R = Rz @ Rx @ Ry."""
    from scipy.spatial.transform import Rotation

    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", UserWarning
        )  # gimbal lock: scipy still returns a valid solution
        return (
            Rotation.from_matrix(R.reshape(-1, 3, 3))
            .as_euler("ZXY", degrees=True)
            .reshape(R.shape[:-2] + (3,))
        )


@register_writer("bvh", extensions=(".bvh",))
def write_bvh(motion: Motion, path, *, precision: int = 6, channels: str = "rotations") -> None:
    """Export a single-person 3D tree-layout motion as BVH.

    channels="rotations" (default, what animation tools expect): root with 6 channels, other joints
    ``Zrotation Xrotation Yrotation`` found by inverse kinematics against rest offsets (median bone
    lengths); exact for rigid skeletons, bone-length changes are averaged out.
    channels="positions": every joint gets ``Xposition Yposition Zposition`` (OFFSET + value = its
    position relative to the parent, no rotations); exact for any data.
    """
    if channels not in ("rotations", "positions"):
        raise ValueError(f"channels must be 'rotations' or 'positions', got {channels!r}")
    path = Path(path)
    lay = motion.layout
    if lay.parents is None or lay.dims != 3:
        raise ShapeError(
            path,
            f"BVH export needs a 3D tree layout; {lay.name!r} is {lay.dims}D"
            f"{'' if lay.parents is not None else ' without parents'}",
        )
    if motion.multi:
        raise ShapeError(path, "BVH holds one skeleton; export each person separately")
    parents = lay.parents
    if parents.count(-1) != 1:
        raise ShapeError(
            path, f"BVH export needs a single root; {lay.name!r} has {parents.count(-1)}"
        )
    data = motion.data.astype(np.float64)
    if motion.confidence is not None and (motion.confidence <= 0).any():
        warnings.warn(
            f"{path}: BVH has no confidence; missing joints are exported at their parent's position",
            SkelFormatWarning,
            stacklevel=2,
        )
        missing = motion.confidence <= 0
        for j in _topological(
            parents
        ):  # parents first, so chains of missing joints collapse onto a seen one
            if parents[j] >= 0:
                data[missing[:, j], j] = data[missing[:, j], parents[j]]
    if channels == "rotations":
        off, L = positions_to_bvh(data, parents)
        euler = _euler_zxy(L)  # (T, J, 3)
    else:
        off = _rest_offsets(data, parents)
        rel = data - data[:, [max(p, 0) for p in parents]]
        rel[:, [j for j, p in enumerate(parents) if p < 0]] = data[
            :, [j for j, p in enumerate(parents) if p < 0]
        ]
        local_pos = rel - off[None]
    lines = ["HIERARCHY"]
    children = [[k for k in range(len(parents)) if parents[k] == j] for j in range(len(parents))]
    fmt = f"{{:.{precision}f}}"

    def emit(j, depth):
        ind = "\t" * depth
        kw = "ROOT" if parents[j] < 0 else "JOINT"
        lines.append(f"{ind}{kw} {lay.joints[j]}")
        lines.append(f"{ind}{{")
        lines.append(f"{ind}\tOFFSET " + " ".join(fmt.format(v) for v in off[j]))
        if channels == "positions":
            lines.append(f"{ind}\tCHANNELS 3 Xposition Yposition Zposition")
        elif parents[j] < 0:
            lines.append(
                f"{ind}\tCHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation"
            )
        else:
            lines.append(f"{ind}\tCHANNELS 3 Zrotation Xrotation Yrotation")
        for k in children[j]:
            emit(k, depth + 1)
        if not children[j]:
            lines.append(f"{ind}\tEnd Site")
            lines.append(f"{ind}\t{{")
            lines.append(f"{ind}\t\tOFFSET 0 0 0")
            lines.append(f"{ind}\t}}")
        lines.append(f"{ind}}}")

    for j in (k for k in range(len(parents)) if parents[k] < 0):
        emit(j, 0)
    # channel order in the MOTION section follows the depth-first hierarchy order
    order = []

    def walk(j):
        order.append(j)
        for k in children[j]:
            walk(k)

    walk(parents.index(-1))
    T = data.shape[0]
    if channels == "positions":
        cols = [local_pos[:, j] for j in order]
    else:
        cols = [data[:, order[0]]] + [euler[:, j] for j in order]
    values = np.concatenate(cols, axis=1)
    lines += ["MOTION", f"Frames: {T}", f"Frame Time: {1.0 / motion.fps:.8f}"]
    body = "\n".join(" ".join(fmt.format(v) for v in row) for row in values)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n" + body + "\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise

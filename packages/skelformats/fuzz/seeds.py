"""Seed inputs for the reader fuzzers: small valid files of every format, generated here (never
copied from a dataset), and the hostile inputs found by the fault campaign (issue 15) rebuilt
synthetically as regression seeds.

``TARGETS`` names, per fuzz target, the file name the fuzzed bytes are written to and the fixed
files written beside it (an AMC needs its ASF).  ``python seeds.py DIR`` writes the corpus
(``DIR/<target>/<seed>``); the committed ``corpus/`` is its output.
"""

from __future__ import annotations

import gzip
import io
import json
import struct
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np

ASF = """:version 1.10
:name fuzz
:units
  mass 1.0
  length 0.45
  angle deg
:root
  order TX TY TZ RX RY RZ
  axis XYZ
  position 0 0 0
  orientation 0 0 0
:bonedata
  begin
    id 1
    name lfemur
    direction 0 -1 0
    length 7
    axis 0 0 20 XYZ
    dof rx ry rz
  end
  begin
    id 2
    name ltibia
    direction 0 -1 0
    length 7
    axis 0 0 20 XYZ
    dof rx
  end
:hierarchy
  begin
    root lfemur
    lfemur ltibia
  end
"""

AMC = """:FULLY-SPECIFIED
:DEGREES
1
root 0 0 0 0 0 0
lfemur 10 0 0
ltibia 5
2
root 0 1 0 0 0 0
lfemur 12 0 0
ltibia 6
"""

UTK = "".join(
    f"{2 * i} " + " ".join(f"{0.1 * ((i + j) % 7):.1f}" for j in range(60)) + "\n" for i in range(3)
)

# target -> (file name of the fuzzed input, {name: text of a fixed file beside it})
TARGETS: dict[str, tuple[str, dict[str, str]]] = {
    "bvh": ("motion.bvh", {}),
    "asf": ("skeleton.asf", {}),
    "amc": ("01_01.amc", {"01.asf": ASF}),
    "npz": ("motion.npz", {}),
    "nwucla": ("a01_s01_e01_v01.json", {}),
    "florence3d": ("skeletal_data.mat", {}),
    "penn_action": ("0001.mat", {}),
    "msr_action3d": ("a01_s01_e01_skeleton3D.txt", {}),
    "msr_action3d_archive": ("screen_uvd.tar.gz", {}),
    "utkinect": ("joints_s01_e01.txt", {}),
    "utkinect_labels": ("actionLabel.txt", {"joints_s01_e01.txt": UTK}),
    "ntu_skeleton": ("S001C001P001R001A001.skeleton", {}),
    "openpose": ("c_000000000000_keypoints.json", {}),
    "mediapipe_json": ("pose.json", {}),
    "mediapipe_csv": ("pose.csv", {}),
    "humanml3d": ("000001.npy", {}),
    "c3d": ("trial.c3d", {}),
}

# target -> the reader that must handle it (fuzzers also let the format be detected)
FORMATS = {
    "bvh": "bvh",
    "asf": "asf",
    "amc": "amc",
    "npz": "npz",
    "nwucla": "nwucla",
    "florence3d": "florence3d",
    "penn_action": "penn_action",
    "msr_action3d": "msr_action3d",
    "msr_action3d_archive": "msr_action3d_archive",
    "utkinect": "utkinect",
    "utkinect_labels": "utkinect",
    "ntu_skeleton": "ntu_skeleton",
    "openpose": "openpose",
    "mediapipe_json": "mediapipe",
    "mediapipe_csv": "mediapipe",
    "humanml3d": "humanml3d",
    "c3d": "c3d",
}


def _rng():
    return np.random.default_rng(15)


def _fmt(values) -> str:
    return " ".join(f"{v:.4f}" for v in np.ravel(values))


def _savemat(fields: dict, compress: bool) -> bytes:
    import scipy.io

    buf = io.BytesIO()
    scipy.io.savemat(buf, fields, do_compression=compress)
    return buf.getvalue()


def _florence_fields(n: int = 2, nan_subject: int | None = None):
    rng = _rng()
    dt = [("original_skeletal_data", "O"), ("subject", "O"), ("action", "O")]
    cell = np.empty((n, 1), dtype=object)
    for i in range(n):
        rec = np.zeros((1, 1), dtype=dt)
        subject = np.nan if i == nan_subject else 1.0
        rec[0, 0] = (rng.uniform(-1, 3, (3, 15, 3)), np.array([[subject]]), np.array([[i + 1.0]]))
        cell[i, 0] = rec
    return {"skeletal_data": cell}


def _penn_fields(visibility=None):
    rng = _rng()
    vis = rng.integers(0, 2, (3, 13)).astype(np.uint8) if visibility is None else visibility
    return {
        "x": rng.uniform(0, 99, (3, 13)),
        "y": rng.uniform(0, 99, (3, 13)),
        "visibility": vis,
        "action": "squat",
        "pose": "front",
        "train": np.array([[1]]),
        "bbox": rng.uniform(0, 9, (3, 4)),
        "dimensions": np.array([[100, 100, 3]]),
    }


def _npz(data: np.ndarray, layout: str = "openni15") -> bytes:
    import skelformats as sf

    with __import__("tempfile").TemporaryDirectory() as d:
        p = Path(d) / "m.npz"
        sf.save(sf.Motion(data=data, layout=layout, fps=30.0, meta={"subject": 1}), p)
        return p.read_bytes()


def _tar_gz(members: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), compresslevel=9, mtime=0)


def _ntu(frames: list[list[str]], zeros: bool = False) -> str:
    rng = _rng()
    lines = [str(len(frames))]
    for bodies in frames:
        lines.append(str(len(bodies)))
        for body_id in bodies:
            lines += [f"{body_id} 0 0 0 0 0 0 0.1 0.2 2", "25"]
            lines += [
                ("0 " * 11 if zeros else _fmt(rng.normal(size=11)) + " ") + "2" for _ in range(25)
            ]
    return "\n".join(lines) + "\n"


def _mediapipe_frames(n: int = 2, value=None):
    rng = _rng()
    return [
        [
            {
                "x": float(a if value is None else value),
                "y": float(b),
                "z": float(c),
                "visibility": 0.9,
            }
            for a, b, c in rng.uniform(0, 1, (33, 3))
        ]
        for _ in range(n)
    ]


def _c3d(frames: int = 3, markers: int = 4) -> bytes:
    import warnings

    import c3d

    rng = _rng()
    w = c3d.Writer(point_rate=100.0, point_units="mm  ")
    w.set_point_labels([f"M{i}" for i in range(markers)])
    pts = np.zeros((markers, 5), np.float32)
    out = []
    for _ in range(frames):
        pts[:, :3] = rng.uniform(-500, 500, (markers, 3))
        out.append((pts.copy(), np.zeros((0, 0), np.float32)))
    w.add_frames(out)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w.write(buf)
    return buf.getvalue()


def valid_seeds() -> dict[str, dict[str, bytes]]:
    """target -> {seed name: bytes} of well-formed small inputs."""
    rng = _rng()
    bvh = (
        "HIERARCHY\nROOT Hips\n{\n  OFFSET 0 0 0\n  CHANNELS 6 Xposition Yposition Zposition "
        "Zrotation Xrotation Yrotation\n  JOINT Spine\n  {\n    OFFSET 0 10 0\n    CHANNELS 3 "
        "Zrotation Xrotation Yrotation\n    End Site\n    {\n      OFFSET 0 5 0\n    }\n  }\n}\n"
        "MOTION\nFrames: 2\nFrame Time: 0.0333333\n"
        + "".join(_fmt(rng.normal(size=9)) + "\n" for _ in range(2))
    )
    msr = rng.uniform(-1, 3, (2, 20, 4))
    utk = "".join(f"{2 * i} {_fmt(rng.normal(size=60))}\n" for i in range(3))
    kp = np.column_stack([rng.uniform(0, 99, 25), rng.uniform(0, 99, 25), rng.uniform(0, 1, 25)])
    csv_rows = "frame,landmark,x,y,z,visibility\n" + "".join(
        f"{t},{j},{a:.3f},{b:.3f},{c:.3f},0.9\n"
        for t in range(2)
        for j, (a, b, c) in enumerate(rng.uniform(0, 1, (33, 3)))
    )
    hml = io.BytesIO()
    np.save(hml, rng.normal(size=(3, 22, 3)).astype(np.float32))
    return {
        "bvh": {"valid.bvh": bvh.encode()},
        "asf": {"valid.asf": ASF.encode()},
        "amc": {"valid.amc": AMC.encode()},
        "npz": {"valid.npz": _npz(rng.normal(size=(3, 15, 3)).astype(np.float32))},
        "nwucla": {
            "valid.json": json.dumps(
                {
                    "file_name": "a01_s01_e01",
                    "skeletons": rng.normal(size=(2, 20, 3)).round(3).tolist(),
                    "label": 1,
                }
            ).encode()
        },
        "florence3d": {
            "valid.mat": _savemat(_florence_fields(), False),
            "valid_compressed.mat": _savemat(_florence_fields(), True),
        },
        "penn_action": {
            "valid.mat": _savemat(_penn_fields(), False),
            "valid_compressed.mat": _savemat(_penn_fields(), True),
        },
        "msr_action3d": {"valid.txt": "".join(_fmt(r) + "\n" for r in msr.reshape(-1, 4)).encode()},
        "msr_action3d_archive": {
            "valid.tar.gz": _tar_gz(
                {
                    "screen_uvd/a01_s01_e01_skeleton.txt": "".join(
                        _fmt(r) + "\n" for r in msr.reshape(-1, 4)
                    ).encode()
                }
            )
        },
        "utkinect": {"valid.txt": utk.encode()},
        "utkinect_labels": {"valid.txt": b"s01_e01\nwalk: 0 4\n"},
        "ntu_skeleton": {"valid.skeleton": _ntu([["72057594037927937"]] * 2).encode()},
        "openpose": {
            "valid.json": json.dumps(
                {
                    "version": 1.3,
                    "people": [
                        {"person_id": [-1], "pose_keypoints_2d": kp.round(3).ravel().tolist()}
                    ],
                }
            ).encode()
        },
        "mediapipe_json": {
            "valid.json": json.dumps(
                {"format": "mediapipe_pose", "fps": 30, "frames": _mediapipe_frames()}
            ).encode()
        },
        "mediapipe_csv": {"valid.csv": csv_rows.encode()},
        "humanml3d": {"valid.npy": hml.getvalue()},
        "c3d": {"valid.c3d": _c3d()},
    }


# ------------------------------------------------------------------------------ hostile inputs
def _mat_header() -> bytes:
    return b"MATLAB 5.0 MAT-file, fuzz".ljust(116, b" ") + b"\0" * 8 + b"\x00\x01IM"


def _el(mtype: int, data: bytes) -> bytes:
    return struct.pack("<II", mtype, len(data)) + data + b"\0" * (-len(data) % 8)


def _matrix(cls: int, dims, name: bytes, *rest: bytes) -> bytes:
    body = _el(6, struct.pack("<II", cls, 0)) + _el(5, struct.pack(f"<{len(dims)}i", *dims))
    return _el(14, body + _el(1, name) + b"".join(rest))


def _nested_cells(depth: int) -> bytes:
    inner = _matrix(6, (1, 1), b"", _el(9, struct.pack("<d", 1.0)))
    for _ in range(depth):
        inner = _matrix(1, (1, 1), b"", inner)
    return inner


def _forged_zip_bomb() -> bytes:
    """An npz whose members declare 400 MB (the central directory says so) in a few hundred bytes."""
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("header.npy", b"x" * 64)
        z.writestr("data.npy", b"\0" * 4096)
    b = bytearray(raw.getvalue())
    cd = b.rfind(b"PK\x01\x02")  # the last central-directory entry: data.npy
    struct.pack_into("<I", b, cd + 24, 400 << 20)  # its uncompressed size
    return bytes(b)


def _npz_with_header(header_json: str) -> bytes:
    raw = io.BytesIO()
    np.savez(raw, data=np.zeros((2, 15, 3), np.float32), header=np.array(header_json))
    return raw.getvalue()


def hostile_seeds() -> dict[str, dict[str, bytes]]:
    """target -> {seed name: bytes} of the inputs that crashed, stalled or blew up the readers
    before they were bounded (issue 15), rebuilt synthetically."""
    deep = 3000  # beyond Python's recursion limit
    mp = "frame,landmark,x,y,z,visibility\n" + "".join(
        f"{t},{j},0.5,0.5,0.0,0.9\n" for t in (0, 999999) for j in range(33)
    )
    npz_valid = valid_seeds()["npz"]["valid.npz"]
    npz_flipped = bytearray(npz_valid)
    for i in range(60, len(npz_flipped), 7):
        npz_flipped[i] ^= 0xFF
    zeros_text = b"0 0 0 1\n" * (1 << 20)  # 8 MB of text in an 8 KB archive
    return {
        "florence3d": {
            "huge_dims.mat": _mat_header()
            + _matrix(6, (1 << 30, 1 << 30), b"skeletal_data", _el(9, b"\0" * 8)),
            "nested_cells.mat": _mat_header() + _nested_cells(200),
            "cell_count.mat": _mat_header() + _matrix(1, (1 << 31 - 1, 64), b"skeletal_data"),
            "struct_fields.mat": _mat_header()
            + _matrix(
                2,
                (1, 1 << 30),
                b"skeletal_data",
                _el(5, struct.pack("<i", 32)),
                _el(1, b"a" * 32 * 4),
            ),
            "size_overflow.mat": _mat_header() + struct.pack("<II", 14, 0xFFFFFFF0) + b"\0" * 64,
            "zlib_bomb.mat": _mat_header()
            + (lambda c: struct.pack("<II", 15, len(c)) + c)(zlib_compress(b"\0" * (8 << 20))),
            "nan_subject.mat": _savemat(_florence_fields(3, nan_subject=1), True),
            "many_tiny_arrays.mat": _mat_header()
            + (lambda c: struct.pack("<II", 15, len(c)) + c)(
                zlib_compress(
                    _matrix(1, (199_000, 1), b"skeletal_data", struct.pack("<II", 14, 0) * 199_000)
                )
            ),
        },
        "penn_action": {
            "nan_visibility.mat": _savemat(_penn_fields(np.full((3, 13), np.nan)), True),
            "sparse.mat": _savemat({"x": __import__("scipy.sparse").sparse.eye(13).tocsc()}, False),
        },
        "mediapipe_csv": {"frame_999999.csv": mp.encode()},
        "mediapipe_json": {
            "nested.json": ("[" * deep + "]" * deep).encode(),
            "coordinate_1e30.json": json.dumps({"frames": _mediapipe_frames(2, 1e30)}).encode(),
        },
        "bvh": {
            "no_channels_10M_frames.bvh": b"HIERARCHY\nROOT a\n{\nOFFSET 0 0 0\nJOINT b\n{\nOFFSET 0 1 0\n}\n}\n"
            b"MOTION\nFrames: 10000000\nFrame Time: 0.01\n"
        },
        "ntu_skeleton": {
            "new_body_every_frame.skeleton": _ntu(
                [[str(1000 + t)] for t in range(100)], zeros=True
            ).encode()
        },
        "msr_action3d_archive": {
            "gzip_bomb.tar.gz": _tar_gz({"a01_s01_e01_skeleton.txt": zeros_text}),
        },
        "npz": {
            "forged_zip_bomb.npz": _forged_zip_bomb(),
            "every_7th_byte_flipped.npz": bytes(npz_flipped),
            "header_json_list.npz": _npz_with_header("[1, 2, 3]"),
            "header_nested.npz": _npz_with_header("[" * deep + "]" * deep),
        },
        "asf": {"length_zero.asf": ASF.replace("length 0.45", "length 0").encode()},
        "nwucla": {
            "nested.json": ('{"skeletons": ' + "[" * deep + "]" * deep + "}").encode(),
            "coordinate_1e30.json": json.dumps(
                {"skeletons": np.full((2, 20, 3), 1e30).tolist()}
            ).encode(),
        },
        "openpose": {"nested.json": ('{"people": ' + "[" * deep + "]" * deep + "}").encode()},
        "utkinect_labels": {
            "recording_only.txt": b"s01_e01\n",
            "overlapping_segments.txt": b"s01_e01\n" + b"walk: 0 4\n" * 1000,
        },
        "utkinect": {"frame_id_1e308.txt": f"1e308 {_fmt(np.zeros(60))}\n".encode()},
    }


def zlib_compress(data: bytes) -> bytes:
    import zlib

    return zlib.compress(data, 9)


def write_corpus(root: Path) -> int:
    """Write every seed under ``root/<target>/``; returns how many."""
    n = 0
    for seeds in (valid_seeds(), hostile_seeds()):
        for target, files in seeds.items():
            d = Path(root) / target
            d.mkdir(parents=True, exist_ok=True)
            for name, data in files.items():
                (d / name).write_bytes(data)
                n += 1
    return n


if __name__ == "__main__":
    print(
        write_corpus(Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "corpus"))
    )

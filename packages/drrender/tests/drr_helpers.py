"""Test data: three skeleton layouts (15, 20, 25 joints) defined as plain lists and a plausible
procedural motion for them."""

from __future__ import annotations

import math

import torch
from drrender.bench import NTU25_EDGES

# Rest pose of a body (metres, y up, facing +z, x towards the body's left).
REST = {
    "pelvis": (0.0, 1.0, 0.0),
    "spine": (0.0, 1.2, 0.0),
    "chest": (0.0, 1.4, 0.0),
    "neck": (0.0, 1.5, 0.0),
    "head": (0.0, 1.65, 0.02),
}
for side, sx in (("left", 1.0), ("right", -1.0)):
    REST.update(
        {
            f"{side}_shoulder": (0.18 * sx, 1.45, 0.0),
            f"{side}_elbow": (0.22 * sx, 1.18, -0.02),
            f"{side}_wrist": (0.24 * sx, 0.95, 0.02),
            f"{side}_hand": (0.245 * sx, 0.88, 0.03),
            f"{side}_hand_tip": (0.25 * sx, 0.8, 0.04),
            f"{side}_thumb": (0.22 * sx, 0.86, 0.07),
            f"{side}_hip": (0.1 * sx, 0.95, 0.0),
            f"{side}_knee": (0.11 * sx, 0.52, 0.03),
            f"{side}_ankle": (0.12 * sx, 0.1, 0.0),
            f"{side}_foot": (0.12 * sx, 0.03, 0.12),
        }
    )

# Kinect v2 / NTU RGB+D order.
NTU25_JOINTS = [
    "pelvis",
    "spine",
    "neck",
    "head",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "left_hand",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "right_hand",
    "left_hip",
    "left_knee",
    "left_ankle",
    "left_foot",
    "right_hip",
    "right_knee",
    "right_ankle",
    "right_foot",
    "chest",
    "left_hand_tip",
    "left_thumb",
    "right_hand_tip",
    "right_thumb",
]
# Kinect v1 order.
K20_JOINTS = [
    "pelvis",
    "spine",
    "neck",
    "head",
    "left_shoulder",
    "left_elbow",
    "left_wrist",
    "left_hand",
    "right_shoulder",
    "right_elbow",
    "right_wrist",
    "right_hand",
    "left_hip",
    "left_knee",
    "left_ankle",
    "left_foot",
    "right_hip",
    "right_knee",
    "right_ankle",
    "right_foot",
]
K20_EDGES = [
    [0, 1],
    [1, 2],
    [2, 3],
    [2, 4],
    [4, 5],
    [5, 6],
    [6, 7],
    [2, 8],
    [8, 9],
    [9, 10],
    [10, 11],
    [0, 12],
    [12, 13],
    [13, 14],
    [14, 15],
    [0, 16],
    [16, 17],
    [17, 18],
    [18, 19],
]
# A 15-joint layout in the style of JHMDB.
J15_JOINTS = [
    "neck",
    "pelvis",
    "head",
    "right_shoulder",
    "left_shoulder",
    "right_hip",
    "left_hip",
    "right_elbow",
    "left_elbow",
    "right_knee",
    "left_knee",
    "right_wrist",
    "left_wrist",
    "right_ankle",
    "left_ankle",
]
J15_EDGES = [
    [0, 2],
    [0, 1],
    [0, 3],
    [0, 4],
    [3, 7],
    [7, 11],
    [4, 8],
    [8, 12],
    [1, 5],
    [1, 6],
    [5, 9],
    [9, 13],
    [6, 10],
    [10, 14],
]


# Part tags: torso, head, left_arm, right_arm, left_leg, right_leg, other.
def _tag(name: str) -> int:
    if name in ("head", "neck"):
        return 1
    for i, part in enumerate(("left_arm", "right_arm", "left_leg", "right_leg")):
        side, limb = part.split("_")
        limb_joints = (
            ("shoulder", "elbow", "wrist", "hand", "thumb")
            if limb == "arm"
            else ("hip", "knee", "ankle", "foot")
        )
        if name.startswith(side) and any(j in name for j in limb_joints):
            return 2 + i
    return 0


LAYOUTS = {
    "j15": (J15_JOINTS, J15_EDGES),
    "kinect20": (K20_JOINTS, K20_EDGES),
    "ntu25": (NTU25_JOINTS, NTU25_EDGES),
}


def part_tags(layout: str) -> torch.Tensor:
    return torch.tensor([_tag(n) for n in LAYOUTS[layout][0]], dtype=torch.long)


def motion(
    layout: str, T: int = 8, *, dims: int = 3, seed: int = 0, dtype=torch.float32
) -> torch.Tensor:
    """A walking-in-place motion ``(T, J, dims)``: swinging arms and legs, slight sway."""
    names, _ = LAYOUTS[layout]
    g = torch.Generator().manual_seed(seed)
    phase0 = float(torch.rand((), generator=g)) * 2 * math.pi
    frames = []
    for t in range(T):
        ph = phase0 + 2 * math.pi * t / max(T, 2)
        pose = []
        for n in names:
            x, y, z = REST[n]
            swing = math.sin(ph) * (
                1 if n.startswith("left") else -1 if n.startswith("right") else 0
            )
            if any(k in n for k in ("elbow", "wrist", "hand", "thumb")):
                reach = 0.15 if "elbow" in n else 0.35
                z += -reach * swing
                y += 0.05 * abs(swing)
            if any(k in n for k in ("knee", "ankle", "foot")):
                reach = 0.2 if "knee" in n else 0.35
                z += reach * swing
            x += 0.03 * math.sin(ph)
            pose.append((x, y, z))
        frames.append(pose)
    data = torch.tensor(frames, dtype=torch.float64)
    data = data + 0.005 * torch.randn(data.shape, generator=g, dtype=torch.float64)
    return data[..., :dims].to(dtype)

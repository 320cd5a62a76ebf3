"""Built-in joint layouts.  Each joint order is checked against its source, cited per layout.

Joint specs are ``(name, parent name or None, canonical name or None)`` in the dataset's order.
"""

from __future__ import annotations

from .layout import Layout
from .registry import register_layout


def _tree(name, spec, **kw) -> Layout:
    joints = tuple(j for j, _, _ in spec)
    index = {j: i for i, j in enumerate(joints)}
    parents = tuple(-1 if p is None else index[p] for _, p, _ in spec)
    canonical = tuple(c for _, _, c in spec)
    return register_layout(
        Layout(name=name, joints=joints, parents=parents, canonical=canonical, **kw)
    )


def _graph(name, spec, edges, **kw) -> Layout:
    joints = tuple(j for j, _ in spec)
    index = {j: i for i, j in enumerate(joints)}
    e = tuple((index[a], index[b]) for a, b in edges)
    canonical = tuple(c for _, c in spec)
    return register_layout(Layout(name=name, joints=joints, edges=e, canonical=canonical, **kw))


# Kinect v2 / NTU RGB+D 60/120: Microsoft Kinect for Windows SDK 2.0 ``JointType`` enumeration
# (SpineBase=0 ... ThumbRight=24), as documented in the NTU RGB+D README.  Bones follow the SDK's
# BodyBasics sample (thumbs hang from the wrist, hand tips from the hand).
NTU25 = _tree(
    "ntu25",
    [
        ("SpineBase", None, "pelvis"),
        ("SpineMid", "SpineBase", "spine"),
        ("Neck", "SpineShoulder", "neck"),
        ("Head", "Neck", "head"),
        ("ShoulderLeft", "SpineShoulder", "left_shoulder"),
        ("ElbowLeft", "ShoulderLeft", "left_elbow"),
        ("WristLeft", "ElbowLeft", "left_wrist"),
        ("HandLeft", "WristLeft", "left_hand"),
        ("ShoulderRight", "SpineShoulder", "right_shoulder"),
        ("ElbowRight", "ShoulderRight", "right_elbow"),
        ("WristRight", "ElbowRight", "right_wrist"),
        ("HandRight", "WristRight", "right_hand"),
        ("HipLeft", "SpineBase", "left_hip"),
        ("KneeLeft", "HipLeft", "left_knee"),
        ("AnkleLeft", "KneeLeft", "left_ankle"),
        ("FootLeft", "AnkleLeft", "left_foot"),
        ("HipRight", "SpineBase", "right_hip"),
        ("KneeRight", "HipRight", "right_knee"),
        ("AnkleRight", "KneeRight", "right_ankle"),
        ("FootRight", "AnkleRight", "right_foot"),
        ("SpineShoulder", "SpineMid", "chest"),
        ("HandTipLeft", "HandLeft", "left_hand_tip"),
        ("ThumbLeft", "WristLeft", "left_thumb"),
        ("HandTipRight", "HandRight", "right_hand_tip"),
        ("ThumbRight", "WristRight", "right_thumb"),
    ],
    dims=3,
    units="m",
    up_axis="y",
)

# Kinect v1: Kinect for Windows SDK 1.x ``NUI_SKELETON_POSITION_INDEX`` (HIP_CENTER=0 ... FOOT_RIGHT=19);
# the order of UTKinect-Action3D (its README) and of NW-UCLA (checked on the data: joint 3 is the
# highest, joint 0 the lowest torso joint, 4-7 the arm on the subject's left).  ShoulderCenter sits at
# the base of the neck, so it maps to canonical "neck".
_KINECT_V1 = [
    ("HipCenter", None, "pelvis"),
    ("Spine", "HipCenter", "spine"),
    ("ShoulderCenter", "Spine", "neck"),
    ("Head", "ShoulderCenter", "head"),
    ("ShoulderLeft", "ShoulderCenter", "left_shoulder"),
    ("ElbowLeft", "ShoulderLeft", "left_elbow"),
    ("WristLeft", "ElbowLeft", "left_wrist"),
    ("HandLeft", "WristLeft", "left_hand"),
    ("ShoulderRight", "ShoulderCenter", "right_shoulder"),
    ("ElbowRight", "ShoulderRight", "right_elbow"),
    ("WristRight", "ElbowRight", "right_wrist"),
    ("HandRight", "WristRight", "right_hand"),
    ("HipLeft", "HipCenter", "left_hip"),
    ("KneeLeft", "HipLeft", "left_knee"),
    ("AnkleLeft", "KneeLeft", "left_ankle"),
    ("FootLeft", "AnkleLeft", "left_foot"),
    ("HipRight", "HipCenter", "right_hip"),
    ("KneeRight", "HipRight", "right_knee"),
    ("AnkleRight", "KneeRight", "right_ankle"),
    ("FootRight", "AnkleRight", "right_foot"),
]
KINECT_V1_20 = _tree("kinect_v1_20", _KINECT_V1, dims=3, units="m", up_axis="y")

# MSR Action3D (Li, Zhang & Liu 2010): 20 Kinect-v1 joints in the dataset's own order, not the SDK's.
# Source: the dataset's ``body_model.mat`` (shipped with the skeleton files; bones
# 7-4, 4-3, 3-20, 3-1, 3-2, 1-8, 2-9, 8-10, 9-11, 10-12, 11-13, 7-5, 7-6, 5-14, 6-15, 14-16, 15-17,
# 16-18, 17-19; hip_center=7, head=20, left_hip=5, right_hip=6, left_wrist=10, right_wrist=11,
# left_ankle=16, right_ankle=17, 1-based).  Checked on the data: in the one-arm actions (subjects
# were told to use the right arm) joint 11 moves several times more than joint 10.
MSR20 = _tree(
    "msr20",
    [
        ("left_shoulder", "neck", "left_shoulder"),
        ("right_shoulder", "neck", "right_shoulder"),
        ("neck", "spine", "neck"),
        ("spine", "hip_center", "spine"),
        ("left_hip", "hip_center", "left_hip"),
        ("right_hip", "hip_center", "right_hip"),
        ("hip_center", None, "pelvis"),
        ("left_elbow", "left_shoulder", "left_elbow"),
        ("right_elbow", "right_shoulder", "right_elbow"),
        ("left_wrist", "left_elbow", "left_wrist"),
        ("right_wrist", "right_elbow", "right_wrist"),
        ("left_hand", "left_wrist", "left_hand"),
        ("right_hand", "right_wrist", "right_hand"),
        ("left_knee", "left_hip", "left_knee"),
        ("right_knee", "right_hip", "right_knee"),
        ("left_ankle", "left_knee", "left_ankle"),
        ("right_ankle", "right_knee", "right_ankle"),
        ("left_foot", "left_ankle", "left_foot"),
        ("right_foot", "right_ankle", "right_foot"),
        ("head", "neck", "head"),
    ],
    dims=3,
    units="m",
    up_axis="y",
)

# OpenNI / NiTE 15-joint skeleton as stored by Florence 3D Actions (dataset README: head, neck, torso,
# left shoulder, left elbow, left wrist, right shoulder, right elbow, right wrist, left hip, left knee,
# left ankle, right hip, right knee, right ankle).  Florence stores metres (checked on the data;
# OpenNI itself reports millimetres).
OPENNI15 = _tree(
    "openni15",
    [
        ("head", "neck", "head"),
        ("neck", "torso", "neck"),
        ("torso", None, "spine"),
        ("left_shoulder", "neck", "left_shoulder"),
        ("left_elbow", "left_shoulder", "left_elbow"),
        ("left_wrist", "left_elbow", "left_wrist"),
        ("right_shoulder", "neck", "right_shoulder"),
        ("right_elbow", "right_shoulder", "right_elbow"),
        ("right_wrist", "right_elbow", "right_wrist"),
        ("left_hip", "torso", "left_hip"),
        ("left_knee", "left_hip", "left_knee"),
        ("left_ankle", "left_knee", "left_ankle"),
        ("right_hip", "torso", "right_hip"),
        ("right_knee", "right_hip", "right_knee"),
        ("right_ankle", "right_knee", "right_ankle"),
    ],
    dims=3,
    units="m",
    up_axis="y",
)

# Penn Action (Zhang, Zhu & Derpanis 2013) README: 1 head, 2 left_shoulder, 3 right_shoulder,
# 4 left_elbow, 5 right_elbow, 6 left_wrist, 7 right_wrist, 8 left_hip, 9 right_hip, 10 left_knee,
# 11 right_knee, 12 left_ankle, 13 right_ankle.  2D image pixels, y down.
PENN13 = _graph(
    "penn13",
    [
        ("head", "head"),
        ("left_shoulder", "left_shoulder"),
        ("right_shoulder", "right_shoulder"),
        ("left_elbow", "left_elbow"),
        ("right_elbow", "right_elbow"),
        ("left_wrist", "left_wrist"),
        ("right_wrist", "right_wrist"),
        ("left_hip", "left_hip"),
        ("right_hip", "right_hip"),
        ("left_knee", "left_knee"),
        ("right_knee", "right_knee"),
        ("left_ankle", "left_ankle"),
        ("right_ankle", "right_ankle"),
    ],
    [
        ("head", "left_shoulder"),
        ("head", "right_shoulder"),
        ("left_shoulder", "right_shoulder"),
        ("left_shoulder", "left_elbow"),
        ("left_elbow", "left_wrist"),
        ("right_shoulder", "right_elbow"),
        ("right_elbow", "right_wrist"),
        ("left_shoulder", "left_hip"),
        ("right_shoulder", "right_hip"),
        ("left_hip", "right_hip"),
        ("left_hip", "left_knee"),
        ("left_knee", "left_ankle"),
        ("right_hip", "right_knee"),
        ("right_knee", "right_ankle"),
    ],
    dims=2,
    units="px",
    up_axis="-y",
)

# COCO keypoints (cocodataset.org #keypoints-eval, person_keypoints annotations): 17 keypoints and the
# ``skeleton`` edge list of the annotation files (1-based pairs converted to names).
_COCO = [
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
]
_COCO_SKELETON_1BASED = [
    (16, 14),
    (14, 12),
    (17, 15),
    (15, 13),
    (12, 13),
    (6, 12),
    (7, 13),
    (6, 7),
    (6, 8),
    (7, 9),
    (8, 10),
    (9, 11),
    (2, 3),
    (1, 2),
    (1, 3),
    (2, 4),
    (3, 5),
    (4, 6),
    (5, 7),
]
COCO17 = _graph(
    "coco17",
    [(n, n) for n in _COCO],
    [(_COCO[a - 1], _COCO[b - 1]) for a, b in _COCO_SKELETON_1BASED],
    dims=2,
    units="px",
    up_axis="-y",
)

# OpenPose COCO-18 (openpose/src/openpose/pose/poseParameters.cpp, POSE_COCO_BODY_PARTS and
# POSE_COCO_PAIRS without the two ear-shoulder auxiliary pairs).  OpenPose's Neck is the mid-shoulder point.
OPENPOSE18 = _tree(
    "openpose18",
    [
        ("Nose", "Neck", "nose"),
        ("Neck", None, "neck"),
        ("RShoulder", "Neck", "right_shoulder"),
        ("RElbow", "RShoulder", "right_elbow"),
        ("RWrist", "RElbow", "right_wrist"),
        ("LShoulder", "Neck", "left_shoulder"),
        ("LElbow", "LShoulder", "left_elbow"),
        ("LWrist", "LElbow", "left_wrist"),
        ("RHip", "Neck", "right_hip"),
        ("RKnee", "RHip", "right_knee"),
        ("RAnkle", "RKnee", "right_ankle"),
        ("LHip", "Neck", "left_hip"),
        ("LKnee", "LHip", "left_knee"),
        ("LAnkle", "LKnee", "left_ankle"),
        ("REye", "Nose", "right_eye"),
        ("LEye", "Nose", "left_eye"),
        ("REar", "REye", "right_ear"),
        ("LEar", "LEye", "left_ear"),
    ],
    dims=2,
    units="px",
    up_axis="-y",
)

# OpenPose BODY_25 (poseParameters.cpp, POSE_BODY_25_BODY_PARTS / POSE_BODY_25_PAIRS; see also
# doc/02_output.md "Pose Output Format (BODY_25)").
OPENPOSE25 = _tree(
    "openpose25",
    [
        ("Nose", "Neck", "nose"),
        ("Neck", "MidHip", "neck"),
        ("RShoulder", "Neck", "right_shoulder"),
        ("RElbow", "RShoulder", "right_elbow"),
        ("RWrist", "RElbow", "right_wrist"),
        ("LShoulder", "Neck", "left_shoulder"),
        ("LElbow", "LShoulder", "left_elbow"),
        ("LWrist", "LElbow", "left_wrist"),
        ("MidHip", None, "pelvis"),
        ("RHip", "MidHip", "right_hip"),
        ("RKnee", "RHip", "right_knee"),
        ("RAnkle", "RKnee", "right_ankle"),
        ("LHip", "MidHip", "left_hip"),
        ("LKnee", "LHip", "left_knee"),
        ("LAnkle", "LKnee", "left_ankle"),
        ("REye", "Nose", "right_eye"),
        ("LEye", "Nose", "left_eye"),
        ("REar", "REye", "right_ear"),
        ("LEar", "LEye", "left_ear"),
        ("LBigToe", "LAnkle", "left_big_toe"),
        ("LSmallToe", "LBigToe", "left_small_toe"),
        ("LHeel", "LAnkle", "left_heel"),
        ("RBigToe", "RAnkle", "right_big_toe"),
        ("RSmallToe", "RBigToe", "right_small_toe"),
        ("RHeel", "RAnkle", "right_heel"),
    ],
    dims=2,
    units="px",
    up_axis="-y",
)

# MediaPipe Pose (BlazePose GHUM) 33 landmarks, PoseLandmark enum and POSE_CONNECTIONS
# (mediapipe/python/solutions/pose_connections.py).  x, y normalised to the image (y down), z depth
# at the same scale; ``foot_index`` is the tip of the foot.
_MP = [
    ("nose", "nose"),
    ("left_eye_inner", None),
    ("left_eye", "left_eye"),
    ("left_eye_outer", None),
    ("right_eye_inner", None),
    ("right_eye", "right_eye"),
    ("right_eye_outer", None),
    ("left_ear", "left_ear"),
    ("right_ear", "right_ear"),
    ("mouth_left", None),
    ("mouth_right", None),
    ("left_shoulder", "left_shoulder"),
    ("right_shoulder", "right_shoulder"),
    ("left_elbow", "left_elbow"),
    ("right_elbow", "right_elbow"),
    ("left_wrist", "left_wrist"),
    ("right_wrist", "right_wrist"),
    ("left_pinky", "left_pinky"),
    ("right_pinky", "right_pinky"),
    ("left_index", "left_index"),
    ("right_index", "right_index"),
    ("left_thumb", "left_thumb"),
    ("right_thumb", "right_thumb"),
    ("left_hip", "left_hip"),
    ("right_hip", "right_hip"),
    ("left_knee", "left_knee"),
    ("right_knee", "right_knee"),
    ("left_ankle", "left_ankle"),
    ("right_ankle", "right_ankle"),
    ("left_heel", "left_heel"),
    ("right_heel", "right_heel"),
    ("left_foot_index", "left_foot"),
    ("right_foot_index", "right_foot"),
]
_MP_CONNECTIONS = [
    (0, 1),
    (1, 2),
    (2, 3),
    (3, 7),
    (0, 4),
    (4, 5),
    (5, 6),
    (6, 8),
    (9, 10),
    (11, 12),
    (11, 13),
    (13, 15),
    (15, 17),
    (15, 19),
    (15, 21),
    (17, 19),
    (12, 14),
    (14, 16),
    (16, 18),
    (16, 20),
    (16, 22),
    (18, 20),
    (11, 23),
    (12, 24),
    (23, 24),
    (23, 25),
    (24, 26),
    (25, 27),
    (26, 28),
    (27, 29),
    (28, 30),
    (29, 31),
    (30, 32),
    (27, 31),
    (28, 32),
]
MEDIAPIPE33 = _graph(
    "mediapipe33",
    _MP,
    [(_MP[a][0], _MP[b][0]) for a, b in _MP_CONNECTIONS],
    dims=3,
    units="normalized",
    up_axis="-y",
)

# SMPL body joints (SMPL paper / smplx ``JOINT_NAMES`` and kintree_table): 24 joints; HumanML3D
# ``new_joints`` keeps the first 22 (no hands).  spine1/2/3 are lower/mid/upper spine.
_SMPL = [
    ("pelvis", None, "pelvis"),
    ("left_hip", "pelvis", "left_hip"),
    ("right_hip", "pelvis", "right_hip"),
    ("spine1", "pelvis", None),
    ("left_knee", "left_hip", "left_knee"),
    ("right_knee", "right_hip", "right_knee"),
    ("spine2", "spine1", "spine"),
    ("left_ankle", "left_knee", "left_ankle"),
    ("right_ankle", "right_knee", "right_ankle"),
    ("spine3", "spine2", "chest"),
    ("left_foot", "left_ankle", "left_foot"),
    ("right_foot", "right_ankle", "right_foot"),
    ("neck", "spine3", "neck"),
    ("left_collar", "spine3", "left_clavicle"),
    ("right_collar", "spine3", "right_clavicle"),
    ("head", "neck", "head"),
    ("left_shoulder", "left_collar", "left_shoulder"),
    ("right_shoulder", "right_collar", "right_shoulder"),
    ("left_elbow", "left_shoulder", "left_elbow"),
    ("right_elbow", "right_shoulder", "right_elbow"),
    ("left_wrist", "left_elbow", "left_wrist"),
    ("right_wrist", "right_elbow", "right_wrist"),
    ("left_hand", "left_wrist", "left_hand"),
    ("right_hand", "right_wrist", "right_hand"),
]
SMPL24 = _tree("smpl24", _SMPL, dims=3, units="m", up_axis="y")
SMPL22 = _tree("smpl22", _SMPL[:22], dims=3, units="m", up_axis="y")

# Human3.6M 17-joint subset used by most 3D pose work (e.g. VideoPose3D ``h36m_skeleton`` after
# removing static joints): H36M names "Foot" for the ankle, "Thorax" for the neck base,
# "Neck/Nose" for the nose-level point, "Head" for the head top.
H36M17 = _tree(
    "h36m17",
    [
        ("Hip", None, "pelvis"),
        ("RHip", "Hip", "right_hip"),
        ("RKnee", "RHip", "right_knee"),
        ("RFoot", "RKnee", "right_ankle"),
        ("LHip", "Hip", "left_hip"),
        ("LKnee", "LHip", "left_knee"),
        ("LFoot", "LKnee", "left_ankle"),
        ("Spine", "Hip", "spine"),
        ("Thorax", "Spine", "neck"),
        ("Neck/Nose", "Thorax", "nose"),
        ("Head", "Neck/Nose", "head_top"),
        ("LShoulder", "Thorax", "left_shoulder"),
        ("LElbow", "LShoulder", "left_elbow"),
        ("LWrist", "LElbow", "left_wrist"),
        ("RShoulder", "Thorax", "right_shoulder"),
        ("RElbow", "RShoulder", "right_elbow"),
        ("RWrist", "RElbow", "right_wrist"),
    ],
    dims=3,
    units="m",
    up_axis=None,
)

# CMU Graphics Lab mocap ASF skeleton (``:hierarchy`` of the subjects' .asf files, bone order of
# ``:bonedata``).  Joint positions are bone END points (the root is the root position): e.g. lfemur
# ends at the knee, lhumerus at the elbow, thorax at the base of the neck.  Units: ASF length unit
# (inches / 0.45) unless a reader converts them.
CMU31 = _tree(
    "cmu31",
    [
        ("root", None, "pelvis"),
        ("lhipjoint", "root", "left_hip"),
        ("lfemur", "lhipjoint", "left_knee"),
        ("ltibia", "lfemur", "left_ankle"),
        ("lfoot", "ltibia", "left_foot"),
        ("ltoes", "lfoot", None),
        ("rhipjoint", "root", "right_hip"),
        ("rfemur", "rhipjoint", "right_knee"),
        ("rtibia", "rfemur", "right_ankle"),
        ("rfoot", "rtibia", "right_foot"),
        ("rtoes", "rfoot", None),
        ("lowerback", "root", "spine"),
        ("upperback", "lowerback", "chest"),
        ("thorax", "upperback", "neck"),
        ("lowerneck", "thorax", None),
        ("upperneck", "lowerneck", "head"),
        ("head", "upperneck", "head_top"),
        ("lclavicle", "thorax", "left_shoulder"),
        ("lhumerus", "lclavicle", "left_elbow"),
        ("lradius", "lhumerus", "left_wrist"),
        ("lwrist", "lradius", "left_hand"),
        ("lhand", "lwrist", None),
        ("lfingers", "lhand", "left_hand_tip"),
        ("lthumb", "lwrist", "left_thumb"),
        ("rclavicle", "thorax", "right_shoulder"),
        ("rhumerus", "rclavicle", "right_elbow"),
        ("rradius", "rhumerus", "right_wrist"),
        ("rwrist", "rradius", "right_hand"),
        ("rhand", "rwrist", None),
        ("rfingers", "rhand", "right_hand_tip"),
        ("rthumb", "rwrist", "right_thumb"),
    ],
    dims=3,
    units="m",
    up_axis="y",
)

BUILTIN_LAYOUTS = (
    NTU25,
    KINECT_V1_20,
    MSR20,
    OPENNI15,
    PENN13,
    COCO17,
    OPENPOSE18,
    OPENPOSE25,
    MEDIAPIPE33,
    SMPL22,
    SMPL24,
    H36M17,
    CMU31,
)

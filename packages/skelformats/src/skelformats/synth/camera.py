"""The virtual view camera: a pinhole looking at the performance from azimuth ``yaw`` and elevation ``pitch``.

Camera frame (Kinect convention): x to the camera's left, y up, z along the optical axis into the scene,
right-handed, metres.  Image: u to the right, v down, pixels, principal point at the image centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ViewCamera:
    """``yaw``/``pitch`` in degrees: the camera sits at ``target + distance * (sin yaw cos pitch,
    sin pitch, cos yaw cos pitch)`` (yaw 0 = on the +z side, seeing a body that faces +z from the front;
    pitch > 0 = above, looking down) and looks at ``target``."""

    yaw: float
    pitch: float
    distance: float
    target: tuple[float, float, float]

    @property
    def position(self) -> np.ndarray:
        y, p = np.deg2rad(self.yaw), np.deg2rad(self.pitch)
        d = np.array([np.sin(y) * np.cos(p), np.sin(p), np.cos(y) * np.cos(p)])
        return np.asarray(self.target, float) + self.distance * d

    @property
    def rotation(self) -> np.ndarray:
        """(3, 3) world -> camera rotation; rows are the camera's x (left), y (up), z (forward) axes."""
        fwd = np.asarray(self.target, float) - self.position
        fwd /= np.linalg.norm(fwd)
        left = np.cross([0.0, 1.0, 0.0], fwd)
        left /= np.linalg.norm(left)
        up = np.cross(fwd, left)
        return np.stack([left, up, fwd])

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) world points -> (..., 3) camera-frame points."""
        return (points - self.position) @ self.rotation.T

    def fit_focal(
        self, cam_points: np.ndarray, image_size: tuple[int, int], fill: float = 0.8
    ) -> float:
        """Focal length (pixels) at which ``cam_points`` span ``fill`` of the image around its centre."""
        w, h = image_size
        xn = np.abs(cam_points[..., 0] / cam_points[..., 2]).max()
        yn = np.abs(cam_points[..., 1] / cam_points[..., 2]).max()
        return float(fill * min(w / (2 * max(xn, 1e-6)), h / (2 * max(yn, 1e-6))))


def project(cam_points: np.ndarray, focal: float, image_size: tuple[int, int]) -> np.ndarray:
    """(..., 3) camera-frame points -> (..., 2) pixels (u right, v down)."""
    w, h = image_size
    z = cam_points[..., 2]
    u = w / 2 - focal * cam_points[..., 0] / z
    v = h / 2 - focal * cam_points[..., 1] / z
    return np.stack([u, v], -1)


__all__ = ["ViewCamera", "project"]

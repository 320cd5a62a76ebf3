"""drrender: a fast differentiable renderer for skeleton sequences of any joint layout.

``render`` (functional, fast path), ``reference.render`` (dense oracle), ``Camera``/``fit_camera``,
``DrAction`` (learnable renderer module).
"""

from . import png, reference
from .camera import Camera, axis_angle_to_matrix, fit_camera
from .raster import BACKENDS, cpp_available, rasterize, resolve_backend
from .render import render
from .scene import Scene, prepare

__version__ = "0.1.0"

__all__ = [
    "BACKENDS",
    "Camera",
    "Scene",
    "axis_angle_to_matrix",
    "cpp_available",
    "fit_camera",
    "prepare",
    "rasterize",
    "png",
    "reference",
    "render",
    "resolve_backend",
    "__version__",
]

from .action import DrAction, TemporalSampler  # noqa: E402

__all__ += ["DrAction", "TemporalSampler"]

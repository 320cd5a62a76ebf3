"""Backbone bridges, one per VLM family, registered by ``config.model_type``."""

from .base import Bridge, get_bridge, list_bridges, register_bridge, resize, tile_frames
from .idefics3 import Idefics3Bridge
from .llava import LlavaBridge
from .qwen2_vl import Qwen2VLBridge

__all__ = [
    "Bridge",
    "Idefics3Bridge",
    "LlavaBridge",
    "Qwen2VLBridge",
    "get_bridge",
    "list_bridges",
    "register_bridge",
    "resize",
    "tile_frames",
]

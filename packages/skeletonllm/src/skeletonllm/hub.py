"""Hugging Face Hub: resolve ``org/name`` to a local snapshot (cache first; offline with
``HF_HUB_OFFLINE=1``) and upload a saved checkpoint folder."""

from __future__ import annotations

import os
import re
from pathlib import Path

from .checkpoint import CheckpointError

# The Hub's repo id grammar: one optional namespace, names of letters, digits, '-', '_' and '.'.
_REPO_ID = re.compile(r"^(?:[A-Za-z0-9][\w.-]{0,95}/)?[A-Za-z0-9][\w.-]{0,95}$")


def looks_like_repo_id(text: str) -> bool:
    """``org/name`` by the Hub's grammar (no torch import: command lines check it while parsing)."""
    s = str(text)
    return (
        "/" in s and bool(_REPO_ID.match(s)) and ".." not in s and not s.endswith((".git", ".json"))
    )


def is_hub_id(source: str | os.PathLike) -> bool:
    """``org/name`` that is not an existing local path (tiny built-in names are not hub ids)."""
    from . import backbones

    s = str(source)
    return not backbones.is_tiny(s) and not Path(s).exists() and looks_like_repo_id(s)


def resolve(
    repo_id: str, *, revision: str | None = None, cache_dir: str | os.PathLike | None = None
) -> Path:
    """Local snapshot folder of a Hub model repo (downloaded, or from the cache when offline)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id, revision=revision, cache_dir=cache_dir))
    except LocalEntryNotFoundError as exc:
        raise CheckpointError(
            f"{repo_id}: not a local directory, and not in the Hub cache "
            "(offline, or the Hub cannot be reached)"
        ) from exc
    except (HfHubHTTPError, OSError, ValueError) as exc:
        raise CheckpointError(f"{repo_id}: cannot fetch from the Hub ({exc})") from exc


def upload(
    folder: str | os.PathLike,
    repo_id: str,
    *,
    private: bool | None = None,
    token: str | None = None,
    revision: str | None = None,
    commit_message: str = "Upload SkeletonLLM checkpoint",
):
    """Create ``repo_id`` (if needed) and upload ``folder``; returns the commit info."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    return api.upload_folder(
        repo_id=repo_id,
        folder_path=str(folder),
        repo_type="model",
        revision=revision,
        commit_message=commit_message,
    )

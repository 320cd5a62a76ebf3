"""Atomic file/directory writes, checked reads (no pickle anywhere), and cleanup of interrupted writes."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


class CheckpointError(ValueError):
    """A checkpoint directory is missing a file or holds a corrupt one; the message names it."""


class CheckpointMismatch(CheckpointError):
    """A sound checkpoint that does not fit this run (other settings or parameters)."""


def _umask() -> int:
    try:  # Linux: read it without changing the process-wide value (which other threads may rely on)
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def default_mode(path: str | os.PathLike, *, directory: bool = False) -> None:
    """Give a file or folder made by ``mkstemp`` / ``mkdtemp`` (always 0600 / 0700) the mode a plain
    ``open`` / ``mkdir`` would have had under the user's umask (usually 0644 / 0755), so that a team
    on a shared machine can read the results."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


def atomic_write_text(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        default_mode(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise CheckpointError(f"{path}: cannot write ({exc.strerror or exc})") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, doc, **kw) -> None:
    """Write ``doc`` as JSON into a file of a directory being assembled (not atomic on its own)."""
    try:
        Path(path).write_text(json.dumps(doc, **kw))
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot write ({exc.strerror or exc})") from exc


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one atomic step where the OS can; False where it cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if sys.platform.startswith("linux") and hasattr(libc, "renameat2"):
            at_fdcwd, rename_exchange = -100, 2
            rc = libc.renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
        elif sys.platform == "darwin" and hasattr(libc, "renamex_np"):
            rc = libc.renamex_np(os.fsencode(a), os.fsencode(b), 2)  # RENAME_SWAP
        else:
            return False
    except OSError:  # no loadable C library
        return False
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False  # e.g. a file system without exchange support: fall back to two renames
    raise OSError(err, os.strerror(err), str(b))


class atomic_dir:
    """Context manager: write into a temp sibling directory, then swap it into place.

    The old directory (if any) is replaced only after the new one is complete, so a kill leaves either
    the old or the new one under the final name, never a half-written one. Where the OS swaps two names
    atomically (Linux ``renameat2``, macOS ``renamex_np``) the final name never disappears; elsewhere the
    old directory is moved aside first, and :func:`recover_dir` puts it back after a kill in between.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(dir=self.path.parent, prefix=f".{self.path.name}.tmp-"))
        default_mode(self.tmp, directory=True)
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        for p in self.tmp.rglob("*"):  # some writers (safetensors) create 0600 files
            if not p.is_symlink():
                default_mode(p, directory=p.is_dir())
        if self.path.exists() and _exchange(self.tmp, self.path):
            shutil.rmtree(self.tmp, ignore_errors=True)  # now holds the old directory
            return False
        old = None
        if self.path.exists():
            old = self.path.parent / f".{self.path.name}.old-{os.getpid()}"
            shutil.rmtree(old, ignore_errors=True)
            os.replace(self.path, old)
        os.replace(self.tmp, self.path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return False


def recover_dir(path: str | os.PathLike) -> list[Path]:
    """Undo what a killed :class:`atomic_dir` / :func:`atomic_write_text` left beside ``path``.

    A missing ``path`` with a moved-aside ``.NAME.old-*`` gets it back; then every ``.NAME.old-*``,
    ``.NAME.tmp-*`` (unfinished directory) and ``.NAME.*.tmp`` (unfinished file) is removed.
    Returns the removed paths. Call it only when no other process is writing ``path``.
    """
    path = Path(path)
    parent, name = path.parent, path.name
    if not parent.is_dir():
        return []
    olds = sorted(parent.glob(f".{name}.old-*"), key=lambda p: p.stat().st_mtime)
    if not path.exists() and olds:
        os.replace(olds.pop(), path)
    removed = []
    for p in [*olds, *parent.glob(f".{name}.tmp-*"), *parent.glob(f".{name}.*.tmp")]:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        removed.append(p)
    return removed


_ORPHAN = re.compile(r"\.(?P<name>.+?)\.(?:tmp-|old-)[^/]*|\.(?P<file>.+)\.[^.]+\.tmp")


def clean_orphans(directory: str | os.PathLike, names=None) -> list[Path]:
    """:func:`recover_dir` for every name in ``directory`` that an interrupted write left debris of
    (only names for which ``names(name)`` is true, when given)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = set()
    for p in directory.iterdir():
        m = _ORPHAN.fullmatch(p.name)
        if m and (names is None or names(m["name"] or m["file"])):
            found.add(m["name"] or m["file"])
    return [p for name in sorted(found) for p in recover_dir(directory / name)]


def save_tensors(
    tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str] | None = None
) -> None:
    """Write a safetensors file; a failed write (full disk...) raises :class:`CheckpointError` naming it."""
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    try:
        save_file(tensors, str(path), metadata=metadata)
        default_mode(path)  # safetensors creates its files 0600
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{path}: cannot write ({exc})") from exc


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    """Read a safetensors file; a missing or corrupt file raises :class:`CheckpointError` naming it."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: missing file")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: corrupt or truncated safetensors file ({exc})") from exc


def read_json(path: Path, kind: type = dict):
    """Parse a JSON file whose top level must be ``kind``; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: missing file")
    try:
        doc = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CheckpointError(f"{path}: not valid JSON ({exc})") from exc
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if not isinstance(doc, kind):
        raise CheckpointError(f"{path}: expected a JSON {kind.__name__}, got {type(doc).__name__}")
    return doc


@contextlib.contextmanager
def reading(path: Path):
    """Turn a malformed-content error raised while using ``path``'s data into a CheckpointError."""
    try:
        yield
    except CheckpointError:
        raise
    except (
        KeyError,
        TypeError,
        ValueError,
        AttributeError,
        IndexError,
        OverflowError,
        RuntimeError,
    ) as exc:
        detail = f"missing key {exc}" if isinstance(exc, KeyError) else f"{exc}"
        raise CheckpointError(f"{path}: invalid content ({detail})") from exc

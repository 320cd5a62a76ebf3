"""Sessions for the SkeletonLLM monorepo: ``nox -s test``, ``lint``, ``demo``, ``bench``.

Every session installs through ``constraints.txt`` so the local CPU build of torch 2.13.0 is used
instead of a multi-GB CUDA download. Sibling packages install from their local folders.
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

ROOT = Path(__file__).parent
CONSTRAINTS = str(ROOT / "constraints.txt")
DATA_DIR = os.environ.get("SKEL_DATA_DIR", str((ROOT / ".." / "shared" / "data").resolve()))

# Each package with the sibling packages it depends on (dependencies flow one way).
PACKAGES: dict[str, tuple[str, ...]] = {
    "skelformats": (),
    "drrender": (),
    "skeletonllm": ("skelformats", "drrender"),
    "skelbench": ("skelformats", "drrender", "skeletonllm"),
}

nox.options.sessions = ["lint", "test"]
nox.options.reuse_existing_virtualenvs = True


def _local(name: str, extra: str | None = None) -> str:
    path = f"./packages/{name}"
    return f"{path}[{extra}]" if extra else path


def _install(session: nox.Session, *args: str) -> None:
    session.install("-c", CONSTRAINTS, *args)


def _env() -> dict[str, str]:
    # Hub access fails on the build machines; tests build tiny models from configs. The tiny models are
    # dominated by threading overhead: one OpenMP thread per process is faster on 2 shared cores.
    return {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "SKEL_DATA_DIR": DATA_DIR,
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
    }


@nox.session
@nox.parametrize("package", list(PACKAGES))
def test(session: nox.Session, package: str) -> None:
    """Run one package's test suite in a venv holding only that package and what it declares."""
    siblings = [_local(dep) for dep in PACKAGES[package]]
    _install(session, *siblings, _local(package, "test"))
    session.run(
        "pytest",
        f"packages/{package}/tests",
        "-q",
        "-rs",
        "-p",
        "no:cacheprovider",
        *session.posargs,
        env=_env(),
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff format check and lint over all packages."""
    session.install("ruff>=0.6")
    session.run("ruff", "format", "--check", "packages", "noxfile.py")
    session.run("ruff", "check", "packages", "noxfile.py")


def _install_all(session: nox.Session, *extras: str) -> None:
    _install(session, *(_local(name) for name in PACKAGES), *extras)


@nox.session
def demo(session: nox.Session) -> None:
    """The main job on the embedded default: staged training of the tiny model, then skelbench."""
    _install_all(session)
    out = Path(session.posargs[0]) if session.posargs else ROOT / "demo-output"
    env = {**_env(), "SKELETONLLM_OUTPUT_DIR": str(out)}
    session.run("skeletonllm", "train", "recipes/demo.yaml", "--resume", env=env)
    session.run(
        "skelbench",
        "run",
        "--model",
        str(out / "model"),
        "--suite",
        "synth",
        "--out",
        str(out / "bench"),
        env=env,
    )


@nox.session
def bench(session: nox.Session) -> None:
    """The packages' benchmarks, each printing its figures beside a baseline from the same run."""
    _install_all(session, "matplotlib>=3.7")
    env = _env()
    session.run("python", "-m", "drrender.bench", *session.posargs, env=env)
    session.run("python", "-m", "skelformats.bench", "--data-dir", DATA_DIR, env=env)


@nox.session
def fuzz(session: nox.Session) -> None:
    """Coverage-guided fuzzing (atheris) of every skelformats reader, seeded from the committed
    corpus: ``nox -s fuzz`` (3 minutes per reader) or ``nox -s fuzz -- TARGET --seconds N``."""
    _install(session, _local("skelformats"), "atheris>=2.3")
    script = str(ROOT / "packages" / "skelformats" / "fuzz" / "fuzz_readers.py")
    if session.posargs:
        session.run("python", script, *session.posargs, env=_env())
        return
    targets = session.run("python", script, "list", silent=True, env=_env()).split()
    for target in targets:
        session.run("python", script, target, "--seconds", "180", env=_env())

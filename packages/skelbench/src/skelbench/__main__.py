"""``python -m skelbench`` (and ``accelerate launch -m skelbench run ...``)."""

from skelbench.cli import main

if __name__ == "__main__":
    raise SystemExit(main())

"""Command-line conventions shared by ``skelformats``, ``skeletonllm`` and ``skelbench``.

Exit status 0 done, 1 the work failed, 2 a usage error; errors are one line on stderr (the first line
names the command), ``--debug`` shows the traceback instead. Standard library only, so a CLI that
imports this still answers ``--help`` without loading anything heavy.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable


class UsageError(ValueError):
    """A command line that cannot work, found before any work starts: exit status 2."""


class Parser(argparse.ArgumentParser):
    """Usage errors as one line first (then where to look), exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n(see `{self.prog} --help`)\n")


class ExamplesFormatter(argparse.HelpFormatter):
    """Descriptions wrapped as usual; an epilog made by :func:`examples` keeps its lines."""

    def _fill_text(self, text, width, indent):
        if text.startswith("examples:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def examples(*lines: str) -> str:
    """An argparse epilog listing example command lines."""
    return "examples:\n" + "\n".join(f"  {x}" for x in lines)


def one_line(exc: BaseException) -> str:
    """The message of an error on one line; unexpected types keep their name and point to --debug."""
    from .errors import SkelFormatError

    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, ValueError | OSError | SkelFormatError):
        return text
    return f"{type(exc).__name__}: {text} (--debug shows the traceback)"


def no_command(prog: str, parser: argparse.ArgumentParser) -> int:
    """``PROG`` run without a subcommand: the usage, exit status 2."""
    print(f"{prog}: error: choose a command", file=sys.stderr)
    parser.print_usage(sys.stderr)
    return 2


def run_command(where: str, func: Callable[[], int | None], *, debug: bool) -> int:
    """Run one subcommand, mapping what it raises to the exit statuses above."""
    try:
        return int(func() or 0)
    except UsageError as exc:
        if debug:
            raise
        print(f"{where}: error: {exc}\n(see `{where} --help`)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{where}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`
        sys.stderr.close()
        return 0
    except Exception as exc:
        if debug:
            raise
        print(f"{where}: error: {one_line(exc)}", file=sys.stderr)
        return 1

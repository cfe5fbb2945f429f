"""Options more than one command takes (kept apart so that every command module can import them)."""

from __future__ import annotations

import os
from pathlib import Path

import click


def _repeats(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> dict[str, int]:
    """``--repeat T=3`` (repeatable) as {thread name: copies}; the loader checks the rest."""
    got: dict[str, int] = {}
    for v in values:
        name, eq, n = v.partition("=")
        if not eq or not name.strip() or not n.strip().isdigit():
            raise click.BadParameter(f"want THREAD=N (a thread's name and a number of copies), got {v!r}")
        got[name.strip()] = int(n)
    return got


repeat_option = click.option(
    "--repeat", "repeat", multiple=True, callback=_repeats, metavar="THREAD=N",
    help="Check a family at this size: N copies of THREAD, each with its own aiocbs (what `repeat = N` on the "
         "thread in the file does).  Repeatable.")


split_option = click.option(
    "--split-cuts", "split_cuts", is_flag=True,
    help="Cut every step at its View.cut points: each iteration of a walk of kaio_jobqueue becomes a step of its "
         "own, the walker keeping its lock (docs/checker.md).  The model the any-size argument needs; the same "
         "states between walks.")


progress_option = click.option(
    "--progress/--no-progress", default=True,
    help="Show progress on stderr (a status line on a terminal, timestamped lines otherwise).")


class CannotWrite(click.ClickException):
    """An output the user asked for cannot be written: exit 2 with one line, never a traceback."""

    exit_code = 2

    def show(self, file=None) -> None:  # noqa: ARG002
        click.echo(f"error: {self.message}", err=True)


def _nearest_existing(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _check_location(path: Path, want_dir: bool) -> str | None:
    """Why ``path`` could not be written (None if it can), decided before any work is done."""
    if path.exists():
        if want_dir and not path.is_dir():
            return "exists and is not a directory"
        if not want_dir and path.is_dir():
            return "is a directory"
        return None if os.access(path, os.W_OK | (os.X_OK if want_dir else 0)) else "permission denied"
    base = _nearest_existing(path.parent if path.parent != path else path)
    if not base.is_dir():
        return f"{base} is not a directory"
    if not os.access(base, os.W_OK | os.X_OK):
        return f"cannot create it in {base}: permission denied"
    return None


def _writable(want_dir: bool):
    def check(_ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
        if value is not None:
            why = _check_location(Path(value), want_dir)
            if why:
                raise click.BadParameter(f"{value}: {why}", param=param)
        return value

    return check


# Checked when the command line is read, so that an hour of proving is not lost to a typo at the end.
writable_file = _writable(want_dir=False)
writable_dir = _writable(want_dir=True)


def write_output(path: Path, data: str | bytes) -> None:
    """Write one output file (its folders made as needed); a failure is a clean error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data, encoding="utf-8")
    except OSError as e:
        raise CannotWrite(f"{path}: cannot write: {e.strerror or e}") from None


def make_dir(path: Path) -> None:
    """Create an output folder; a failure is a clean error."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CannotWrite(f"{path}: cannot create the folder: {e.strerror or e}") from None

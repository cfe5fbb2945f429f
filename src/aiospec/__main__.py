"""``python -m aiospec``: the same command as ``aiospec`` (handy under a profiler or another interpreter)."""

from .cli import main

main(prog_name="aiospec")

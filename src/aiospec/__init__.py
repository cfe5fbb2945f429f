"""aiospec: a model-checked specification of the FreeBSD POSIX AIO job lifecycle."""

__version__ = "0.1.0"

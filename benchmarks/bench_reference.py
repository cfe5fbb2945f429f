"""IOPS of the reference engine against a plain pread/pwrite loop and glibc POSIX AIO.

    python benchmarks/bench_reference.py [--seconds 1.0] [--daemons 4] [--repeat 3]

Two workloads, each measured for about ``--seconds``: 4 KiB random reads at queue depth 32
from a page-cached file, and 64 KiB sequential writes (queue depth 32 for the AIO engines).
The Python engine and the native engine (``Engine(native=True)``, the C extension) run with
tracing off and on, through the same harness; glibc's aio_* are called through ctypes with a
``struct aiocb`` laid out for x86_64 glibc.  Each implementation runs ``--repeat`` times,
interleaved with the others, and the median is shown, with ratios against the plain loop and
against glibc.  The native engine's "tracing on" rate counts recording the steps into its C
buffer; turning them into the recorder's Python tuples happens at close() and is not timed.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import os
import random
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from aiospec.reference.engine import Aiocb, Engine  # noqa: E402
from aiospec.reference.native_engine import NATIVE_ERROR, native_available  # noqa: E402
from aiospec.reference.trace import Recorder  # noqa: E402

FILE_SIZE = 64 << 20
QD = 32
READ = 4096
WRITE = 64 << 10


# --- glibc POSIX AIO through ctypes ------------------------------------------------------

class Sigevent(ctypes.Structure):
    _fields_ = [("sigev_value", ctypes.c_void_p), ("sigev_signo", ctypes.c_int), ("sigev_notify", ctypes.c_int),
                ("_pad", ctypes.c_byte * 48)]


class GlibcAiocb(ctypes.Structure):
    """struct aiocb, x86_64 glibc (aio.h): 168 bytes."""

    _fields_ = [("aio_fildes", ctypes.c_int), ("aio_lio_opcode", ctypes.c_int), ("aio_reqprio", ctypes.c_int),
                ("aio_buf", ctypes.c_void_p), ("aio_nbytes", ctypes.c_size_t), ("aio_sigevent", Sigevent),
                ("__next_prio", ctypes.c_void_p), ("__abs_prio", ctypes.c_int), ("__policy", ctypes.c_int),
                ("__error_code", ctypes.c_int), ("__return_value", ctypes.c_ssize_t), ("aio_offset", ctypes.c_int64),
                ("__glibc_reserved", ctypes.c_char * 32)]


assert ctypes.sizeof(GlibcAiocb) == 168
SIGEV_NONE = 1
EINPROGRESS = 115


def _libc():
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    try:
        libc.aio_read
    except AttributeError:  # glibc < 2.34 keeps them in librt
        libc = ctypes.CDLL(ctypes.util.find_library("rt"), use_errno=True)
    for fn in ("aio_read", "aio_write", "aio_error"):
        getattr(libc, fn).argtypes = [ctypes.POINTER(GlibcAiocb)]
    libc.aio_return.argtypes = [ctypes.POINTER(GlibcAiocb)]
    libc.aio_return.restype = ctypes.c_ssize_t
    libc.aio_suspend.argtypes = [ctypes.POINTER(ctypes.POINTER(GlibcAiocb)), ctypes.c_int, ctypes.c_void_p]
    return libc


def bench_glibc(fd: int, write: bool, seconds: float) -> float:
    libc = _libc()
    size = WRITE if write else READ
    bufs = [ctypes.create_string_buffer(size) for _ in range(QD)]
    cbs = [GlibcAiocb() for _ in range(QD)]
    arr = (ctypes.POINTER(GlibcAiocb) * QD)(*[ctypes.pointer(c) for c in cbs])
    nxt = [0]
    rnd = random.Random(1)

    def submit(i: int) -> None:
        c = cbs[i]
        c.aio_fildes, c.aio_buf, c.aio_nbytes = fd, ctypes.addressof(bufs[i]), size
        c.aio_sigevent.sigev_notify = SIGEV_NONE
        if write:
            c.aio_offset = nxt[0]
            nxt[0] = (nxt[0] + size) % FILE_SIZE
            r = libc.aio_write(c)
        else:
            c.aio_offset = rnd.randrange(FILE_SIZE // READ) * READ
            r = libc.aio_read(c)
        if r != 0:
            raise OSError(ctypes.get_errno(), "glibc aio submit")

    for i in range(QD):
        submit(i)
    done = 0
    t0 = time.perf_counter()
    end = t0 + seconds
    while True:
        libc.aio_suspend(arr, QD, None)
        for i in range(QD):
            if libc.aio_error(cbs[i]) != EINPROGRESS:
                if libc.aio_return(cbs[i]) != size:
                    raise OSError("short glibc aio")
                done += 1
                if time.perf_counter() < end:
                    submit(i)
                else:
                    cbs[i].aio_fildes = -1
        if time.perf_counter() >= end:
            break
    for i in range(QD):  # drain what is still in flight
        if cbs[i].aio_fildes != -1:
            while libc.aio_error(cbs[i]) == EINPROGRESS:
                time.sleep(0.0001)
            libc.aio_return(cbs[i])
    return done / (time.perf_counter() - t0)


# --- the engine and the plain loop --------------------------------------------------------

def bench_engine(fd: int, write: bool, seconds: float, daemons: int, trace: bool, native: bool = False) -> float:
    size = WRITE if write else READ
    eng = Engine(daemons=daemons, recorder=Recorder() if trace else None, native=native)
    rnd = random.Random(1)
    nxt = 0
    cbs = [Aiocb(fd, bytearray(size), size) for _ in range(QD)]

    def submit(cb: Aiocb) -> None:
        nonlocal nxt
        if write:
            cb.offset = nxt
            nxt = (nxt + size) % FILE_SIZE
            eng.aio_write(cb)
        else:
            cb.offset = rnd.randrange(FILE_SIZE // READ) * READ
            eng.aio_read(cb)

    for cb in cbs:
        submit(cb)
    done = 0
    t0 = time.perf_counter()
    end = t0 + seconds
    inflight = QD
    while inflight:
        cb, st = eng.aio_waitcomplete(None)
        assert st == size
        done += 1
        inflight -= 1
        if time.perf_counter() < end:
            submit(cb)
            inflight += 1
    rate = done / (time.perf_counter() - t0)
    eng.close()
    return rate


def bench_plain(fd: int, write: bool, seconds: float) -> float:
    size = WRITE if write else READ
    rnd = random.Random(1)
    buf = bytes(size)
    done, off = 0, 0
    t0 = time.perf_counter()
    end = t0 + seconds
    while time.perf_counter() < end:
        for _ in range(64):
            if write:
                os.pwrite(fd, buf, off)
                off = (off + size) % FILE_SIZE
            else:
                os.pread(fd, size, rnd.randrange(FILE_SIZE // READ) * READ)
        done += 64
    return done / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--daemons", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3, help="runs per implementation (the median is shown)")
    args = ap.parse_args()
    sec, dn = args.seconds, args.daemons
    impls = {
        "plain os.pread/os.pwrite loop (QD 1)": lambda fd, w: bench_plain(fd, w, sec),
        f"engine, tracing off ({dn} daemons)": lambda fd, w: bench_engine(fd, w, sec, dn, False),
        f"engine, tracing on ({dn} daemons)": lambda fd, w: bench_engine(fd, w, sec, dn, True),
    }
    if native_available():
        impls[f"native engine, tracing off ({dn} daemons)"] = lambda fd, w: bench_engine(fd, w, sec, dn, False, True)
        impls[f"native engine, tracing on ({dn} daemons)"] = lambda fd, w: bench_engine(fd, w, sec, dn, True, True)
    else:
        print(f"native engine unavailable: {NATIVE_ERROR}", file=sys.stderr)
    impls["glibc POSIX AIO (ctypes)"] = lambda fd, w: bench_glibc(fd, w, sec)
    with tempfile.TemporaryDirectory(prefix="aiospec-bench-") as d:
        path = os.path.join(d, "data")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        chunk = os.urandom(1 << 20)
        for off in range(0, FILE_SIZE, 1 << 20):
            os.pwrite(fd, chunk, off)
        os.fsync(fd)
        for off in range(0, FILE_SIZE, 1 << 20):  # page-cache it
            os.pread(fd, 1 << 20, off)
        rows = []
        for wl, write in (("4 KiB random read, QD 32", False), ("64 KiB sequential write, QD 32", True)):
            samples: dict[str, list[float]] = {k: [] for k in impls}
            for _ in range(max(1, args.repeat)):
                for k, fn in list(impls.items()):
                    try:
                        samples[k].append(fn(fd, write))
                    except (OSError, AttributeError) as e:  # glibc aio missing
                        print(f"{k} unavailable: {e}", file=sys.stderr)
                        del impls[k]
            res = {k: statistics.median(v) for k, v in samples.items() if v}
            plain = res[next(iter(res))]
            glibc = res.get("glibc POSIX AIO (ctypes)")
            for k, v in res.items():
                rows.append((wl, k, v, v / plain, v / glibc if glibc else float("nan")))
        os.close(fd)
    w = max(len(r[1]) for r in rows)
    print(f"{'workload':<32} {'implementation':<{w}} {'IOPS':>10} {'vs plain':>9} {'vs glibc':>9}")
    for wl, k, v, ratio, vs_glibc in rows:
        print(f"{wl:<32} {k:<{w}} {v:>10,.0f} {ratio:>8.2f}x {vs_glibc:>8.2f}x")
    by = {(wl, k): v for wl, k, v, _, _ in rows}
    for wl in dict.fromkeys(r[0] for r in rows):
        for kind in ("engine", "native engine"):
            off = by.get((wl, f"{kind}, tracing off ({dn} daemons)"))
            on = by.get((wl, f"{kind}, tracing on ({dn} daemons)"))
            glibc = by.get((wl, "glibc POSIX AIO (ctypes)"))
            if off and on:
                print(f"{kind} tracing cost on '{wl}': {off / on:.2f}x slower with the recorder on")
            if off and glibc:
                print(f"{kind} (tracing off) / glibc on '{wl}': {off / glibc:.2f}")


if __name__ == "__main__":
    main()

"""The spec run on projections: states in which a job may be ``HIDDEN`` (a copy not shown).

The any-size argument (docs/proofs.md, "The argument") checks each step on the projection
of a state onto the copies the step touches and the copies a lemma names.  A step of the
small model run on a projection is the large step seen through it only if it never needs a
hidden job: a path that reads one is *cut* (``ReadsHidden``), since a larger projection shows
that job and judges the step there.  The rules, the same for the explicit check
(``commute.py``) and the encoder (``encode(..., hidden=True)``):

- indexing a job or lio record by ``HIDDEN``, or reading a hidden job's static data (its
  opcode, fd, lio) from the scenario's table, is a read of that job;
- a hidden job's user pointer is none of the shown ones (copies never share an aiocb), so
  comparing it with one answers "no" without a read;
- asking a list about a hidden job (is it on the list, what follows it, remove it) is a read:
  a marker stands for a run of hidden jobs, so the answer is not known;
- two job pointers that are both ``HIDDEN`` may name different jobs, so comparing them is a
  read (the encoder knows which values are pointers: ``Pointer``);
- after a step, each run of hidden list entries is one marker, as projecting makes it.
"""

from __future__ import annotations

import z3

from .layout import HIDDEN, SymList
from .tables import SymStatic, SymTable
from .values import SymInt


class ReadsHidden(Exception):
    """A step of a projection needed a job or lio the projection does not show: its path is cut."""


def refuse(i) -> None:
    """Raise ``ReadsHidden`` if ``i`` is ``HIDDEN`` (for a symbolic ``i``, on the paths where it is)."""
    if isinstance(i, SymInt):
        if i.ex.decide(i.e == HIDDEN):
            raise ReadsHidden("a hidden job")
    elif isinstance(i, int) and i == HIDDEN:
        raise ReadsHidden("a hidden job")


class Pointer(SymInt):
    """A value read from a variable that holds a job: a walk's ``A``/``B``, the daemon's or the
    sync task's job, a resumed walk's job, a list entry.  Two of them both ``HIDDEN`` may be two
    different jobs, so comparing them cuts the path (a comparison with NIL or a shown job does not)."""

    __slots__ = ()

    def _both_hidden(self, o) -> None:
        if isinstance(o, Pointer):
            if self.ex.decide(z3.And(self.e == HIDDEN, o.e == HIDDEN)):
                raise ReadsHidden("two hidden pointers compared")
        elif isinstance(o, int) and o == HIDDEN:
            refuse(self)

    def __eq__(self, o):  # type: ignore[override]
        self._both_hidden(o)
        return SymInt.__eq__(self, o)

    def __ne__(self, o):  # type: ignore[override]
        self._both_hidden(o)
        return SymInt.__ne__(self, o)

    __hash__ = SymInt.__hash__


class Unnamed(str):
    """A hidden job's aiocb: unequal to every name, and no key to look anything up by."""

    def __hash__(self) -> int:
        raise ReadsHidden(str(self))

    __eq__ = str.__eq__


class OtherCopysSlot:
    """``sc.slots[HIDDEN]``: a job of a copy not shown.  Its user pointer is known to be none
    of the shown ones (copies do not share aiocbs: ``family.signature``), so comparing it with
    one answers "no", as ``aio_return``'s and ``aio_suspend``'s searches do.  Anything else
    about it is unknown: reading it is reading a hidden job."""

    aiocb = Unnamed("(another copy's aiocb)")

    def __getattr__(self, name: str):
        raise ReadsHidden(name)


OTHER = OtherCopysSlot()


class StrictTuple(tuple):
    """A frozen State's job or lio records, read by a guard: ``HIDDEN`` is refused (a tuple
    would read the second-to-last record)."""

    def __getitem__(self, i):
        if not isinstance(i, slice):
            refuse(i)
        return tuple.__getitem__(self, i)


class StrictSlots(tuple):
    """The scenario's static table of jobs, where ``HIDDEN`` is another copy's job (``OTHER``)."""

    def __getitem__(self, i):
        if isinstance(i, int) and i == HIDDEN:
            return OTHER
        return tuple.__getitem__(self, i)


class HiddenStatic(SymStatic):
    """``StrictSlots`` for the encoder: a symbolic index first decides whether it is ``HIDDEN``."""

    def __getitem__(self, i):
        if (isinstance(i, SymInt) and i.ex.decide(i.e == HIDDEN)) or (isinstance(i, int) and i == HIDDEN):
            return OTHER
        return SymStatic.__getitem__(self, i)


class HiddenTable(SymTable):
    """The View's job or lio records for the encoder: ``HIDDEN`` is refused."""

    def __getitem__(self, i):
        if not isinstance(i, slice):
            refuse(i)
        return SymTable.__getitem__(self, i)

    def __setitem__(self, i, value) -> None:
        refuse(i)
        list.__setitem__(self, i, value)


def merged_list(lst) -> tuple:
    """A concrete list with each run of ``HIDDEN`` entries one marker."""
    return tuple(x for k, x in enumerate(lst) if not (x == HIDDEN and k and lst[k - 1] == HIDDEN))


def merge_markers(el: list[z3.BitVecRef], ln: z3.BitVecRef) -> tuple[list[z3.BitVecRef], z3.BitVecRef]:
    """The same for a list as terms (slots and length), after one removal: the slots held no two
    markers in a row before it (``Layout.type_ok``), so at most one pair stands now; the entries
    after it move up one place."""
    w = ln.size()
    none = z3.BitVecVal(-1, w)
    seen = z3.BoolVal(False)
    out = [el[0]] if el else []
    for k in range(1, len(el)):
        seen = z3.Or(seen, z3.And(ln > k, el[k - 1] == HIDDEN, el[k] == HIDDEN))
        out.append(z3.simplify(z3.If(seen, el[k + 1] if k + 1 < len(el) else none, el[k])))
    return out, z3.simplify(z3.If(seen, ln - 1, ln))


def is_hidden(x) -> bool:
    """Is ``x`` ``HIDDEN`` on this path?  (Not through ``Pointer.__eq__``, which would cut.)"""
    return x.ex.decide(x.e == HIDDEN) if isinstance(x, SymInt) else x == HIDDEN


class HiddenSymList(SymList):
    """A list of a frozen projection, read by a guard: its entries are ``Pointer``s, and asking
    it about a hidden job is a read of that job."""

    __slots__ = ()
    entry = Pointer

    def __contains__(self, x) -> bool:
        refuse(x)
        return SymList.__contains__(self, x)

    def index(self, x) -> int:
        refuse(x)
        return SymList.index(self, x)

    def count(self, x) -> int:
        refuse(x)
        return SymList.count(self, x)

"""Properties of a network in the form the verification world uses (VNN-LIB semantics).

A :class:`Specification` states *where a counterexample would be*: it is **violated** iff
there is a case ``c``, a point ``x`` in ``c.box`` and a polytope ``P`` in ``c.unsafe`` with
``P.A @ f(x) <= P.b`` (every row). It **holds** iff no such point exists. This is exactly
the meaning of a VNN-LIB file: its assertions describe the unsafe set, a ``sat`` answer is
a counterexample, ``unsat`` means the property holds.

The type is a plain immutable value (like :class:`~reluscope.Box`): the VNN-LIB reader in
:mod:`reluscope.io` produces it, :func:`reluscope.verify` consumes it, and it can be built
by hand:

>>> import numpy as np
>>> from reluscope import Box
>>> spec = Specification.single(Box([0, 0], [1, 1]), A=[[1.0, -1.0]], b=[0.0])
>>> spec.n_inputs, spec.n_outputs, len(spec.cases)
(2, 2, 1)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from ._results import ResultMixin
from .domain import Box
from .errors import InvalidArgument

__all__ = ["UnsafePolytope", "SpecCase", "Specification"]


@dataclass(frozen=True)
class UnsafePolytope(ResultMixin):
    """The output set ``{y : A y <= b}`` (a conjunction of linear constraints)."""

    A: np.ndarray  # (r, k) float64
    b: np.ndarray  # (r,)   float64

    def __post_init__(self) -> None:
        A = np.array(self.A, dtype=np.float64, copy=True)
        b = np.array(self.b, dtype=np.float64, copy=True).reshape(-1)
        if A.ndim != 2 or A.shape[0] != b.size or A.shape[0] == 0:
            raise InvalidArgument(f"an unsafe polytope needs A of shape (r, k) and b of shape (r,); got {A.shape} and {b.shape}")
        if not (np.isfinite(A).all() and np.isfinite(b).all()):
            raise InvalidArgument("an unsafe polytope's A and b must be finite")
        A.setflags(write=False)
        b.setflags(write=False)
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "b", b)

    def contains(self, Y: ArrayLike) -> np.ndarray:
        """Which rows of ``Y`` (shape ``(n, k)``) lie in the polytope (all constraints met)."""
        Y = np.atleast_2d(np.asarray(Y, dtype=np.float64))
        return np.all(Y @ self.A.T <= self.b, axis=1)

    def slack(self, Y: ArrayLike) -> np.ndarray:
        """``max_j (A_j y - b_j)`` per row: ``<= 0`` exactly when the row is inside."""
        Y = np.atleast_2d(np.asarray(Y, dtype=np.float64))
        return np.max(Y @ self.A.T - self.b, axis=1)


@dataclass(frozen=True)
class SpecCase(ResultMixin):
    """One input box and the unsafe output polytopes (a disjunction) that go with it."""

    box: Box
    unsafe: tuple[UnsafePolytope, ...]


@dataclass(frozen=True)
class Specification(ResultMixin):
    """A property: violated iff some case has ``x`` in its box with ``f(x)`` in one of its
    unsafe polytopes (see the module docstring)."""

    cases: tuple[SpecCase, ...]
    name: str = ""
    n_inputs: int = field(init=False)
    n_outputs: int = field(init=False)

    def __post_init__(self) -> None:
        if not self.cases:
            raise InvalidArgument("a specification needs at least one case")
        dims = {c.box.lo.size for c in self.cases}
        outs = {p.A.shape[1] for c in self.cases for p in c.unsafe}
        if len(dims) != 1 or len(outs) != 1:
            raise InvalidArgument(f"the cases of a specification disagree on sizes: inputs {sorted(dims)}, outputs {sorted(outs)}")
        object.__setattr__(self, "cases", tuple(self.cases))
        object.__setattr__(self, "n_inputs", dims.pop())
        object.__setattr__(self, "n_outputs", outs.pop())

    @classmethod
    def single(cls, box: Box, A: ArrayLike, b: ArrayLike, name: str = "") -> "Specification":
        """One box and one unsafe polytope ``A y <= b``."""
        return cls((SpecCase(box, (UnsafePolytope(np.asarray(A), np.asarray(b)),)),), name)

    def is_counterexample(self, net, x: ArrayLike) -> bool:
        """``True`` iff ``x`` lies in some case's box and ``net(x)`` in one of its unsafe
        polytopes, evaluated in float64 on the real network."""
        x = np.asarray(x, dtype=np.float64).reshape(1, -1)
        y = net(x)
        for case in self.cases:
            lo, hi = case.box.bounds(x.shape[1])
            if np.all(x[0] >= lo) and np.all(x[0] <= hi) and any(p.contains(y)[0] for p in case.unsafe):
                return True
        return False

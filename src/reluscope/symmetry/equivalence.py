"""Exact equivalence: whether two networks are the same up to hidden-neuron permutations and
positive rescalings, with the permutation and scales that map one onto the other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._results import ResultMixin
from .._validation import check_network, check_tol
from ..network import ReLUNetwork
from ._matching import _layer_perms, _max_rel_dev
from .actions import FloatArray, _apply_all, _lists
from .alignment import Alignment
from .balancing import _zero_dangling

__all__ = ["Equivalence", "equivalent"]


@dataclass(frozen=True)
class Equivalence(ResultMixin):
    """Result of :func:`equivalent` (truthy iff the networks are equivalent).

    Attributes
    ----------
    equivalent:
        ``True`` iff ``b`` maps onto ``a`` by permutations and positive rescalings of hidden
        neurons (and the zeroing of dangling weights, see ``exact_orbit``), up to ``tol``.
    permutations, scales:
        Per hidden layer; ``apply_alignment(b, alignment)`` (permute, then rescale) gives
        ``a`` up to ``tol`` when ``equivalent``.
    alignment:
        The full :class:`Alignment` of ``b`` onto ``a``.
    max_deviation:
        Largest entrywise relative difference ``|x - y| / max(|x|, |y|)`` between the
        parameters of ``a`` and of the aligned ``b``, both in the normalized gauge (every
        hidden neuron's incoming row and bias of unit norm; entries that are 0 in both count
        as equal). Rescalings and permutations only multiply and move entries, so exact
        copies deviate by a few units of rounding (~1e-15).
    tol:
        The tolerance used: equivalent iff ``max_deviation <= tol``.
    exact_orbit:
        ``True`` when neither network had dangling neurons, so ``b`` is mapped onto ``a``
        by rescalings and permutations alone; ``False`` when dangling weights (which never
        affect the realization) had to be zeroed first.
    reason:
        One line explaining the verdict.
    """

    equivalent: bool
    permutations: tuple[NDArray[np.intp], ...]
    scales: tuple[FloatArray, ...]
    alignment: Alignment | None
    max_deviation: float
    tol: float
    exact_orbit: bool
    reason: str

    def __bool__(self) -> bool:
        return bool(self.equivalent)

    def to_dict(self) -> dict[str, Any]:
        return {
            "equivalent": bool(self.equivalent),
            "permutations": [p.tolist() for p in self.permutations],
            "scales": [s.tolist() for s in self.scales],
            "methods": [] if self.alignment is None else list(self.alignment.methods),
            "max_deviation": self.max_deviation,
            "tol": self.tol,
            "exact_orbit": self.exact_orbit,
            "reason": self.reason,
        }

    def __str__(self) -> str:
        head = "equivalent" if self.equivalent else "NOT equivalent"
        text = f"{head}: {self.reason}"
        if self.alignment is not None:
            text += "\n" + str(self.alignment)
        return text


def _normalized_gauge(net: ReLUNetwork) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], list]:
    """Dangling weights zeroed, then every hidden neuron rescaled (first layer to last) so that
    its incoming row and bias have unit Euclidean norm. Returns (weights, biases, scales, zeroed);
    zeroed neurons get scale 1."""
    ws, bs, _ = _lists(net)
    n_hidden = net.depth - 1
    zeroed = _zero_dangling(ws, bs, n_hidden)
    scales = []
    for h in range(1, n_hidden + 1):
        norms = np.sqrt(np.einsum("ij,ij->i", ws[h - 1], ws[h - 1]) + bs[h - 1] ** 2)
        f = np.ones_like(norms)
        np.divide(1.0, norms, out=f, where=norms > 0)
        ws[h - 1] *= f[:, None]
        bs[h - 1] *= f
        ws[h] /= f[None, :]
        scales.append(f)
    return ws, bs, scales, zeroed


def equivalent(a: ReLUNetwork, b: ReLUNetwork, *, tol: float = 1e-8) -> Equivalence:
    """Decide whether two networks are the same up to hidden-neuron permutations and positive
    rescalings, and recover the permutation and scales.

    The rescaling gauge is fixed in one pass: dangling weights are zeroed (see
    :func:`balance_result`), then, from the first hidden layer to the last, every neuron is
    rescaled so that its incoming row and bias have unit norm. Two networks on one orbit have
    the same normalized form up to a permutation of each hidden layer (the balanced form would
    do as well, but needs iterations). The permutation is found layer by layer from the
    neurons' incoming rows (previous permutation applied), biases and outgoing weights: a
    sorted projection, accepted only if every pair agrees to ``tol``, else an optimal
    assignment (``scipy.optimize.linear_sum_assignment``). The normalized parameters are then
    compared entrywise.

    Parameters
    ----------
    a, b:
        The networks (not modified).
    tol:
        Entrywise relative tolerance: equivalent iff every normalized parameter of the aligned
        ``b`` differs from ``a``'s by at most ``tol`` times the larger of the two magnitudes.

    Returns
    -------
    Equivalence
        Truthy iff equivalent; ``permutations`` and ``scales`` map ``b`` onto ``a`` via
        :func:`apply_alignment` (permute every hidden layer, then rescale).
    """
    a = check_network(a, "a")
    b = check_network(b, "b")
    tol = check_tol(tol, "tol")
    if a.widths != b.widths:
        return Equivalence(False, (), (), None, float("inf"), tol, False,
                           f"different widths {a.widths} and {b.widths}")
    n_hidden = a.depth - 1
    wa, ba, sa, za = _normalized_gauge(a)
    wb, bb, sb, zb = _normalized_gauge(b)
    if n_hidden:
        perms, methods, checks = _layer_perms(wa, ba, wb, bb, tol, return_checks=True)
    else:
        perms, methods, checks = [], [], []
    # every entry is checked once: incoming rows of hidden layers verified by the sorted match,
    # the remaining layers (assignment-matched ones and the output layer) here
    dev = max([c for c in checks if c is not None], default=0.0)
    for k in range(a.depth):
        if k < n_hidden and checks[k] is not None:
            continue
        w, bias = wb[k], bb[k]
        rows = perms[k] if k < n_hidden else None
        cols = perms[k - 1] if k >= 1 else None
        if rows is not None and cols is not None:
            w = w[np.ix_(rows, cols)]
        elif rows is not None:
            w = w[rows]
        elif cols is not None:
            w = w[:, cols]
        if rows is not None:
            bias = bias[rows]
        dev = max(dev, _max_rel_dev(wa[k], w), _max_rel_dev(ba[k], bias))
    scales = [sb[h][perms[h]] / sa[h] for h in range(n_hidden)]
    for arr in (*perms, *scales):
        arr.setflags(write=False)

    def make() -> ReLUNetwork:
        # b with dangling weights zeroed, in a's gauge: normalized b, permuted, times 1/sa
        nb = ReLUNetwork(wb, bb, None if b.masks is None else list(b.masks))
        return _apply_all(nb, perms, [1.0 / x for x in sa]) if n_hidden else b

    al = Alignment(tuple(perms), tuple(scales), tuple(methods), tuple(zb), a, None, make)
    ok = dev <= tol
    exact_orbit = not za and not zb
    if ok:
        reason = f"normalized parameters agree after alignment (max relative deviation {dev:.3g} <= tol {tol:.0e})"
    else:
        reason = f"normalized parameters differ after the best alignment (max relative deviation {dev:.3g} > tol {tol:.0e})"
    return Equivalence(ok, al.permutations, al.scales, al, dev, tol, exact_orbit, reason)

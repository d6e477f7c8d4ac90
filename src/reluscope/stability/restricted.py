"""The restricted parametrization set for shallow networks with an explicit affine part.

A :class:`RestrictedShallowNetwork` realizes

``f(x) = sum_i c_i relu(<a_i, x> + b_i) + <w, x> + e``   (scalar output)

and lies in the *restricted set* on a box ``Omega`` when every used neuron satisfies

(i)   balanced: ``|c_i| = ||(a_i, b_i)||_2``;
(ii)  ``a_i != 0`` and the kink hyperplane ``{<a_i, x> + b_i = 0}`` meets the interior of ``Omega``;
(iii) no two neurons have the same normalized ``(a_i, b_i)`` (no parallel pair);
(iv)  no two neurons have opposite normalized ``(a_i, b_i)`` (no opposite pair).

A neuron whose parameters ``(a_i, b_i, c_i)`` are all exactly zero is an *unused slot*;
conditions (i)-(iv) apply to the used neurons only (unused slots are how a restricted
network of a fixed width represents fewer kinks).

:func:`to_restricted` maps any shallow network to this set with the same realization on
``Omega``; :meth:`RestrictedShallowNetwork.to_network` converts back to a plain
:class:`~reluscope.ReLUNetwork` (the affine part becomes one always-active neuron plus the
output bias). Proofs are in ``docs/background/inverse-stability.md``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._results import ResultMixin
from .._validation import check_tol
from ..domain import Box, as_domain
from ..errors import InvalidDomain, InvalidNetwork
from ..network import ReLUNetwork

__all__ = [
    "RestrictedShallowNetwork",
    "Violation",
    "RestrictedSetCheck",
    "in_restricted_set",
    "to_restricted",
    "box_bounds",
]

FloatArray = NDArray[np.float64]


def box_bounds(domain: Any, dim: int) -> tuple[FloatArray, FloatArray]:
    """``(lo, hi)`` of a box domain for ``dim`` inputs (``None`` means ``[-1, 1]^dim``).

    Raises :class:`~reluscope.errors.InvalidDomain` for anything but a box: the restricted
    set is defined through the interior of a bounded box.
    """
    dom = as_domain(domain, dim)
    if not isinstance(dom, Box):
        raise InvalidDomain(
            f"the restricted set needs a box domain (a region with interior); got {type(dom).__name__}"
        )
    lo, hi = dom.bounds(dim)
    return np.array(lo, dtype=float), np.array(hi, dtype=float)


def _preactivation_range(a: FloatArray, b: FloatArray, lo: FloatArray, hi: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Min and max of ``<a_i, x> + b_i`` over the box, for every row ``a_i``."""
    center = (lo + hi) / 2.0
    radius = (hi - lo) / 2.0
    mid = a @ center + b
    spread = np.abs(a) @ radius
    return mid - spread, mid + spread


@dataclasses.dataclass(frozen=True, eq=False)
class RestrictedShallowNetwork:
    """Shallow scalar network with explicit affine part, ``sum_i c_i relu(<a_i,x>+b_i) + <w,x> + e``.

    Parameters
    ----------
    a:
        Incoming weights, shape ``(m, d)``.
    b:
        Hidden biases, shape ``(m,)``.
    c:
        Outgoing weights, shape ``(m,)``.
    w:
        Linear part, shape ``(d,)``.
    e:
        Output bias (a float).

    The arrays are copied to read-only float64 arrays. Being a value of this class does
    not by itself mean being in the restricted set: check with :func:`in_restricted_set`.
    """

    a: FloatArray
    b: FloatArray
    c: FloatArray
    w: FloatArray
    e: float

    def __post_init__(self) -> None:
        try:
            a = np.array(self.a, dtype=np.float64, copy=True)
            b = np.array(self.b, dtype=np.float64, copy=True).ravel()
            c = np.array(self.c, dtype=np.float64, copy=True).ravel()
            w = np.array(self.w, dtype=np.float64, copy=True).ravel()
            e = float(np.asarray(self.e, dtype=np.float64).reshape(()))
        except (TypeError, ValueError) as exc:
            raise InvalidNetwork(f"restricted network parameters must be numeric arrays: {exc}") from None
        if a.ndim != 2:
            raise InvalidNetwork(f"restricted network: a must have shape (m, d); got {a.shape}")
        m, d = a.shape
        if d == 0:
            raise InvalidNetwork(f"restricted network: input dimension must be >= 1; a has shape {a.shape}")
        for name, arr, size in (("b", b, m), ("c", c, m), ("w", w, d)):
            if arr.size != size:
                raise InvalidNetwork(
                    f"restricted network: {name} must have {size} entries to match a of shape {a.shape}; got {arr.size}"
                )
        for name, arr in (("a", a), ("b", b), ("c", c), ("w", w), ("e", np.array([e]))):
            if not np.isfinite(arr).all():
                raise InvalidNetwork(f"restricted network: {name} has a non-finite entry")
            arr.setflags(write=False)
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "c", c)
        object.__setattr__(self, "w", w)
        object.__setattr__(self, "e", e)

    # ---------------------------------------------------------------- structure
    @property
    def width(self) -> int:
        """Number of neuron slots ``m`` (used or not)."""
        return int(self.a.shape[0])

    @property
    def input_dim(self) -> int:
        return int(self.a.shape[1])

    @property
    def used(self) -> NDArray[np.bool_]:
        """Boolean mask of used neurons (not all of ``a_i, b_i, c_i`` zero)."""
        return (np.abs(self.a).sum(axis=1) + np.abs(self.b) + np.abs(self.c)) > 0

    def to_vector(self) -> FloatArray:
        """All parameters: ``a`` (row-major), ``b``, ``c``, ``w``, ``e``."""
        return np.concatenate([self.a.ravel(), self.b, self.c, self.w, [self.e]])

    def __call__(self, X: ArrayLike) -> FloatArray:
        """Realization: ``X`` of shape ``(n, d)`` gives ``(n, 1)``; ``(d,)`` gives ``(1,)``."""
        arr = np.asarray(X, dtype=np.float64)
        single = arr.ndim == 1
        if single:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != self.input_dim:
            raise InvalidNetwork(f"input must have shape (n, {self.input_dim}); got {np.shape(X)}")
        out = np.maximum(arr @ self.a.T + self.b, 0.0) @ self.c + arr @ self.w + self.e
        out = out[:, None]
        return out[0] if single else out

    def __repr__(self) -> str:
        return f"RestrictedShallowNetwork(d={self.input_dim}, width={self.width}, used={int(self.used.sum())})"

    def allclose(self, other: RestrictedShallowNetwork, rtol: float = 1e-9, atol: float = 1e-12) -> bool:
        """Parameters agree within tolerances (same width, same order)."""
        return (
            isinstance(other, RestrictedShallowNetwork)
            and self.a.shape == other.a.shape
            and np.allclose(self.to_vector(), other.to_vector(), rtol=rtol, atol=atol)
        )

    # ---------------------------------------------------------------- conversion
    def to_network(self, domain: Any = None, width: int | None = None) -> ReLUNetwork:
        """The same realization on ``domain`` as a plain shallow :class:`ReLUNetwork`.

        The affine part ``<w, x> + e`` becomes one balanced neuron that is active (or zero)
        on the whole box, ``relu(<w, x> + beta)`` with ``beta = -min_Omega <w, x>``, plus the
        output bias ``e - beta`` (no extra neuron when ``w = 0``). Unused slots stay zero
        neurons. ``width`` pads with zero neurons (an error if it is too small).

        Parameters
        ----------
        domain:
            Box (default ``[-1, 1]^d``) on which the realizations agree.
        width:
            Hidden width of the result; default: the neurons needed (at least 1).
        """
        lo, hi = box_bounds(domain, self.input_dim)
        a_rows = [self.a]
        b_vals = [self.b]
        c_vals = [self.c]
        bias = self.e
        if np.any(self.w != 0):
            z_min, _ = _preactivation_range(self.w[None, :], np.zeros(1), lo, hi)
            beta = -float(z_min[0])
            scale = float(np.sqrt(np.linalg.norm(np.append(self.w, beta))))
            a_rows.append(self.w[None, :] / scale)
            b_vals.append(np.array([beta / scale]))
            c_vals.append(np.array([scale]))
            bias = self.e - beta
        A = np.concatenate(a_rows, axis=0)
        B = np.concatenate(b_vals)
        C = np.concatenate(c_vals)
        needed = max(A.shape[0], 1)
        target = needed if width is None else int(width)
        if target < A.shape[0]:
            raise InvalidNetwork(
                f"to_network: width {width} is too small; this restricted network needs {A.shape[0]} neurons"
            )
        pad = target - A.shape[0]
        if pad:
            A = np.vstack([A, np.zeros((pad, self.input_dim))])
            B = np.concatenate([B, np.zeros(pad)])
            C = np.concatenate([C, np.zeros(pad)])
        return ReLUNetwork([A, C[None, :]], [B, np.array([bias])])

    def padded(self, width: int) -> RestrictedShallowNetwork:
        """The same network with unused zero slots appended up to ``width``."""
        pad = int(width) - self.width
        if pad < 0:
            raise InvalidNetwork(f"padded: width {width} is smaller than the current width {self.width}")
        d = self.input_dim
        return RestrictedShallowNetwork(
            np.vstack([self.a, np.zeros((pad, d))]), np.concatenate([self.b, np.zeros(pad)]),
            np.concatenate([self.c, np.zeros(pad)]), self.w, self.e,
        )


# ---------------------------------------------------------------------------- checking
@dataclasses.dataclass(frozen=True)
class Violation(ResultMixin):
    """One violated condition: ``condition`` in ``"i".."iv"``, the neuron(s), and why."""

    condition: str
    neurons: tuple[int, ...]
    detail: str

    def __str__(self) -> str:
        who = "neuron " + str(self.neurons[0]) if len(self.neurons) == 1 else "neurons " + ", ".join(map(str, self.neurons))
        return f"({self.condition}) {who}: {self.detail}"


@dataclasses.dataclass(frozen=True)
class RestrictedSetCheck(ResultMixin):
    """Result of :func:`in_restricted_set`: ``ok`` and every violation found."""

    ok: bool
    violations: tuple[Violation, ...]
    width: int
    used: int
    tol: float

    def __bool__(self) -> bool:
        return self.ok

    def by_condition(self, condition: str) -> tuple[Violation, ...]:
        """The violations of one condition (``"i"``, ``"ii"``, ``"iii"`` or ``"iv"``)."""
        return tuple(v for v in self.violations if v.condition == condition)

    def __str__(self) -> str:
        head = f"restricted set: {'yes' if self.ok else 'no'} ({self.used} used of {self.width} neurons, tol={self.tol:g})"
        return "\n".join([head] + [f"  {v}" for v in self.violations])


def _as_restricted_view(net: RestrictedShallowNetwork | ReLUNetwork) -> RestrictedShallowNetwork:
    """Read a plain shallow (or affine) scalar network as a restricted-form network with ``w = 0``."""
    if isinstance(net, RestrictedShallowNetwork):
        return net
    if not isinstance(net, ReLUNetwork):
        raise InvalidNetwork(f"expected a ReLUNetwork or RestrictedShallowNetwork; got {type(net).__name__}")
    if net.output_dim != 1:
        raise InvalidNetwork(f"the restricted set is defined for scalar output; network has widths {net.widths}")
    if net.depth == 1:
        return RestrictedShallowNetwork(np.zeros((0, net.input_dim)), [], [], net.weights[0][0], net.biases[0][0])
    if net.depth != 2:
        raise InvalidNetwork(
            f"the restricted set is defined for shallow networks (one hidden layer); got widths {net.widths}"
        )
    return RestrictedShallowNetwork(
        net.weights[0], net.biases[0], net.weights[1][0], np.zeros(net.input_dim), net.biases[1][0]
    )


def in_restricted_set(
    net: RestrictedShallowNetwork | ReLUNetwork, domain: Any = None, tol: float = 1e-9
) -> RestrictedSetCheck:
    """Check conditions (i)-(iv) of the restricted set on a box and list every violation.

    A plain shallow :class:`ReLUNetwork` is read as a restricted network with zero
    affine part (``w = 0``, ``e`` = output bias).

    Parameters
    ----------
    net:
        The network.
    domain:
        Box ``Omega`` (default ``[-1, 1]^d``).
    tol:
        (i) is violated when ``| |c_i| - ||(a_i,b_i)|| | > tol * max(1, ||(a_i,b_i)||)``;
        (ii) when the normalized pre-activation ``(<a_i,x>+b_i)/||(a_i,b_i)||`` does not take
        values both ``< -tol`` and ``> tol`` on the box; (iii)/(iv) when two normalized
        ``(a_i, b_i)`` are within Euclidean distance ``tol`` of each other / of each
        other's negative.

    Returns
    -------
    RestrictedSetCheck
        ``ok`` is ``True`` when no condition is violated; ``violations`` lists each
        violated condition with the neuron indices (0-based) and the offending value.
    """
    tol = check_tol(tol)
    r = _as_restricted_view(net)
    lo, hi = box_bounds(domain, r.input_dim)
    used = r.used
    norms = np.sqrt((r.a ** 2).sum(axis=1) + r.b ** 2)
    z_min, z_max = _preactivation_range(r.a, r.b, lo, hi)
    violations: list[Violation] = []
    idx = np.flatnonzero(used)
    for i in idx:
        s = norms[i]
        gap = abs(abs(r.c[i]) - s)
        if gap > tol * max(1.0, s):
            violations.append(Violation("i", (int(i),), f"not balanced: |c|={abs(r.c[i]):.6g} but ||(a,b)||={s:.6g}"))
        if s == 0 or not np.any(r.a[i] != 0):
            violations.append(Violation("ii", (int(i),), "incoming weight a is zero (no kink)"))
            continue
        lo_n, hi_n = z_min[i] / s, z_max[i] / s
        if not (lo_n < -tol and hi_n > tol):
            if hi_n <= tol:
                what = "dead on the domain (never active)"
            elif lo_n >= -tol:
                what = "always active on the domain (affine there)"
            else:  # pragma: no cover - covered by the two branches above
                what = "kink on the boundary"
            violations.append(
                Violation("ii", (int(i),), f"kink hyperplane misses the interior: {what}; "
                          f"normalized pre-activation range [{lo_n:.3g}, {hi_n:.3g}]")
            )
    keep = [int(i) for i in idx if norms[i] > 0]
    if len(keep) > 1:
        U = np.column_stack([r.a[keep], r.b[keep]]) / norms[keep][:, None]
        diff = np.linalg.norm(U[:, None, :] - U[None, :, :], axis=2)
        summ = np.linalg.norm(U[:, None, :] + U[None, :, :], axis=2)
        for p in range(len(keep)):
            for q in range(p + 1, len(keep)):
                if diff[p, q] <= tol:
                    violations.append(Violation("iii", (keep[p], keep[q]), f"parallel (distance of normalized (a,b) {diff[p, q]:.3g})"))
                if summ[p, q] <= tol:
                    violations.append(Violation("iv", (keep[p], keep[q]), f"opposite (distance of normalized (a,b) to the negative {summ[p, q]:.3g})"))
    return RestrictedSetCheck(not violations, tuple(violations), r.width, int(used.sum()), float(tol))


# ---------------------------------------------------------------------------- conversion
def to_restricted(
    net: RestrictedShallowNetwork | ReLUNetwork,
    domain: Any = None,
    *,
    width: int | None = None,
    tol: float = 1e-9,
) -> RestrictedShallowNetwork:
    """A parametrization in the restricted set with the same realization on the box.

    Steps (each keeps the realization on ``Omega``; see the background page for proofs):

    1. neurons with ``c_i = 0`` or ``(a_i, b_i) = 0`` are dropped (a constant
       ``c_i relu(b_i)`` goes into ``e``);
    2. a neuron whose kink hyperplane misses the interior of the box is dead there
       (dropped) or affine there (``c_i (<a_i, x> + b_i)`` is added to ``(w, e)``);
    3. neurons with the same normalized ``u_i = (a_i, b_i)/||(a_i, b_i)||`` are merged
       (their ``v_i = c_i ||(a_i, b_i)||`` add up); a neuron with ``u_j = -u_i`` is merged
       with ``i`` through ``relu(-z) = relu(z) - z``: ``v_i += v_j`` and ``-v_j z`` goes into
       ``(w, e)``; merged neurons whose ``v`` cancels are dropped;
    4. each remaining neuron is written balanced, ``(a, b) = sqrt|v| u``, ``c = sign(v) sqrt|v|``;
    5. ``width`` (optional) pads with unused zero slots.

    Parameters
    ----------
    net:
        A shallow scalar-output :class:`ReLUNetwork` (an affine one is accepted too) or a
        :class:`RestrictedShallowNetwork`.
    domain:
        Box ``Omega`` (default ``[-1, 1]^d``).
    width:
        Width of the result (unused slots appended); default: the number of neurons kept.
    tol:
        The same tolerance as :func:`in_restricted_set`: directions within ``tol`` are
        merged and kinks within ``tol`` (normalized) of the boundary are folded, so the
        result passes ``in_restricted_set(..., tol)``. The realization changes by at most
        about ``tol * sum_i |c_i| ||(a_i, b_i)||`` (0 when no merge or fold is approximate).
    """
    r = _as_restricted_view(net)
    d = r.input_dim
    lo, hi = box_bounds(domain, d)
    w = r.w.copy()
    e = float(r.e)
    norms = np.sqrt((r.a ** 2).sum(axis=1) + r.b ** 2)
    z_min, z_max = _preactivation_range(r.a, r.b, lo, hi)
    kept: list[int] = []
    for i in range(r.width):
        c, s = r.c[i], norms[i]
        if c == 0 or s == 0:
            continue
        if not np.any(r.a[i] != 0):
            e += c * max(r.b[i], 0.0)  # constant neuron
            continue
        lo_n, hi_n = z_min[i] / s, z_max[i] / s
        if hi_n <= tol:
            continue  # dead on the box
        if lo_n >= -tol:
            w += c * r.a[i]  # affine on the box
            e += c * r.b[i]
            continue
        kept.append(i)
    dirs: list[FloatArray] = []
    vals: list[float] = []
    mags: list[float] = []
    for i in kept:
        u = np.append(r.a[i], r.b[i]) / norms[i]
        v = float(r.c[i] * norms[i])
        for g, ug in enumerate(dirs):
            if np.linalg.norm(u - ug) <= tol:
                vals[g] += v
                mags[g] += abs(v)
                break
            if np.linalg.norm(u + ug) <= tol:
                # v relu(-z) = v relu(z) - v z with z = <ug, (x, 1)>
                vals[g] += v
                mags[g] += abs(v)
                w -= v * ug[:d]
                e -= v * ug[d]
                break
        else:
            dirs.append(u)
            vals.append(v)
            mags.append(abs(v))
    A, B, C = [], [], []
    for u, v, mag in zip(dirs, vals, mags):
        if abs(v) <= 1e-12 * mag:
            continue  # cancelled
        root = np.sqrt(abs(v))
        A.append(root * u[:d])
        B.append(root * u[d])
        C.append(np.sign(v) * root)
    out = RestrictedShallowNetwork(np.array(A).reshape(len(A), d), np.array(B), np.array(C), w, e)
    if width is not None:
        if width < out.width:
            raise InvalidNetwork(
                f"to_restricted: width {width} is too small; the realization needs {out.width} neurons on this domain"
            )
        out = out.padded(width)
    return out

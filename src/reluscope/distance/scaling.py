"""Numerical honesty on extreme domains: an exact change of scale of the input box, and a
check that flags problems the MILP / LP machinery cannot solve reliably.

A ReLU network is positively homogeneous in (input, biases): with ``x = s u`` and ``s > 0``,
``f(s u) = s f_s(u)`` where ``f_s`` has the same weights and every bias divided by ``s``.
So on a box ``B`` with ``R = max |B|`` large, the problem is solved on ``B / s`` (``s`` the
power of two just above ``R``, so that the division is exact in floating point) for the
networks ``f_s, g_s``; then

* ``sup_B |f - g| = s sup_{B/s} |f_s - g_s|``;
* ``J_f(s u) = J_{f_s}(u)``: gradient norms and Lipschitz constants are unchanged.

The proofs and the thresholds are in ``docs/background/numerical-scaling.md``. Whatever
remains numerically unreliable after that (huge big-M constants, overflow, values whose
float spacing exceeds the solver tolerances, a box thin relative to its distance from 0,
biases that lose precision in the division) is reported with ``status="numerical_risk"``: never
``exact``, with the upper bound widened to a bound that needs no solver (interval
arithmetic for the sup norm, ``max_kj sum |W_L| ... |W_1|`` for gradients).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ..domain import Box
from ..milp import interval_bounds
from ..network import ReLUNetwork
from .pointwise import Terms, _all_patterns_jacobian_bound, _jacobian_diff, _terms, _values
from .results import DistanceResult

__all__: list[str] = []

#: boxes inside ``[-R, R]^d`` with ``R`` at most this are solved as given
SCALE_FREE = 16.0
#: largest pre-activation bound (big-M constant) of an unstable neuron trusted to HiGHS,
#: whose feasibility and integrality tolerances are absolute (1e-7, 1e-6)
MAX_BIG_M = 1e6
#: largest magnitude of a value in the model: above it the float spacing (about
#: ``2.2e-16 * value``) exceeds HiGHS's absolute feasibility tolerance 1e-7
MAX_MAGNITUDE = 1e9
#: smallest width of a box side relative to its distance from 0 (below: precision loss)
MIN_RELATIVE_WIDTH = 1e-6
#: outward rounding of the solver-free fallback bounds (floating-point sums)
_SAFE_PAD = 1e-9

RISK_STATUS = "numerical_risk"
#: region enumerations up to this input dimension certify their own rounding error
CERTIFIED_ENUMERATION_DIM = 2
#: gradients: enumerated bounds count once they cover every region realized with this
#: margin (the default ``region_margin``)
CERTIFIED_MARGIN = 1e-6


@dataclass(frozen=True)
class ScalePlan:
    """How a single-box problem is solved: ``x = scale * u`` with ``u`` in ``[lo, hi]`` for
    the networks ``f, g`` (biases divided by ``scale``); ``risk`` names what makes that
    problem numerically unreliable (``None``: nothing)."""

    f: ReLUNetwork
    g: ReLUNetwork | None
    lo: np.ndarray
    hi: np.ndarray
    scale: float
    risk: str | None
    #: the part of ``risk`` that no method can certify away: the scaled problem is not
    #: exactly the original one (non-finite box, biases lost in the division)
    exact_risk: str | None = None

    @property
    def box(self) -> Box:
        return Box(self.lo, self.hi)

    @property
    def terms(self) -> Terms:
        return _terms(self.f, self.g)


def _scaled(net: ReLUNetwork, exponent: int) -> tuple[ReLUNetwork, bool]:
    """``net`` with every bias times ``2**exponent``; and whether that was exact."""
    bs = [np.ldexp(b, exponent) for b in net.biases]
    exact = all(np.array_equal(np.ldexp(b2, -exponent), b) for b2, b in zip(bs, net.biases))
    return net.replace(biases=bs), exact


def numerical_risk(terms: Terms, lo: np.ndarray, hi: np.ndarray) -> str | None:
    """Why the problem on ``[lo, hi]`` is numerically unreliable for the MILP / LP machinery,
    or ``None``. Cheap: one interval-arithmetic pass per network."""
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        return "the box has non-finite bounds"
    width = hi - lo
    radius = np.maximum(np.abs(lo), np.abs(hi))
    thin = (width > 0) & (width < MIN_RELATIVE_WIDTH * radius)
    if thin.any():
        j = int(np.argmax(thin))
        return (f"input {j} varies by {width[j]:.3g} around {0.5 * (lo[j] + hi[j]):.6g}: "
                f"below the solvers' relative precision")
    with np.errstate(all="ignore"):
        for net, _ in terms:
            for layer, (zl, zh) in enumerate(interval_bounds(net, Box(lo, hi)), start=1):
                if not (np.all(np.isfinite(zl)) and np.all(np.isfinite(zh))):
                    return f"layer {layer} overflows (non-finite interval bounds)"
                # big-M constants: the hidden neurons that can change sign
                unstable = (zl < 0) & (zh > 0) & (layer < net.depth)
                if unstable.any():
                    big_m = float(np.max(np.maximum(-zl, zh)[unstable]))
                    if big_m > MAX_BIG_M:
                        return f"big-M constants up to {big_m:.3g} in layer {layer} (HiGHS tolerances are absolute)"
                magnitude = float(np.max(np.maximum(np.abs(zl), np.abs(zh))))
                if magnitude > MAX_MAGNITUDE:
                    return (f"layer {layer}: values up to {magnitude:.3g}, where the float spacing "
                            f"exceeds the solvers' absolute tolerances (precision loss)")
    return None


def plan(f: ReLUNetwork, g: ReLUNetwork | None, lo: np.ndarray, hi: np.ndarray) -> ScalePlan:
    """The scaled problem for ``f - g`` (``g=None``: ``f``) on ``[lo, hi]`` and its risk."""
    with np.errstate(all="ignore"):
        radius = float(np.max(np.maximum(np.abs(lo), np.abs(hi)))) if lo.size else 0.0
    if not math.isfinite(radius) or radius <= SCALE_FREE:
        risk = numerical_risk(_terms(f, g), lo, hi)
        finite = bool(np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)))
        return ScalePlan(f, g, lo, hi, 1.0, risk, None if finite else risk)
    exponent = min(math.frexp(radius)[1], 1023)  # 2**exponent >= radius (largest finite power)
    fs, exact_f = _scaled(f, -exponent)
    gs, exact_g = (None, True) if g is None else _scaled(g, -exponent)
    ls, hs = np.ldexp(lo, -exponent), np.ldexp(hi, -exponent)
    risk = numerical_risk(_terms(fs, gs), ls, hs)
    lost = None if exact_f and exact_g else f"biases lose precision when divided by the input scale 2^{exponent}"
    return ScalePlan(fs, gs, ls, hs, math.ldexp(1.0, exponent), risk or lost, lost)


def _safe_upper(terms: Terms, lo: np.ndarray, hi: np.ndarray, norm: str) -> float:
    """An upper bound needing no solver: interval arithmetic (sup norm) or the all-patterns
    Jacobian bound (gradients), rounded outward."""
    with np.errstate(all="ignore"):
        if norm != "sup":
            return _all_patterns_jacobian_bound(terms) * (1 + _SAFE_PAD)
        out_lo = out_hi = 0.0
        mag = 0.0
        for net, s in terms:
            zl, zh = interval_bounds(net, Box(lo, hi))[-1]
            out_lo, out_hi = (out_lo + zl, out_hi + zh) if s > 0 else (out_lo - zh, out_hi - zl)
            mag = mag + np.maximum(np.abs(zl), np.abs(zh))
        value = float(np.max(np.maximum(out_hi, -out_lo) + _SAFE_PAD * mag))
    return value if math.isfinite(value) else math.inf


def flag(result: DistanceResult, plan_: ScalePlan) -> DistanceResult:
    """``result`` (computed on the plan's problem) marked when the computation that made it
    is at risk: not exact, status ``"numerical_risk"``, upper bound at least the solver-free
    one.

    Which risk counts depends on the computation actually done
    (docs/background/rounding-errors.md): a region enumeration in one or two dimensions
    carries its own rigorous rounding-error bound (and reports ``"numerical_risk"`` itself
    when that bound keeps the interval open), so only the plan's ``exact_risk`` applies to
    it; MILP / LP results get the plan's whole ``risk`` (HiGHS's tolerances are absolute, so
    its error grows with the big-M constants and magnitudes the plan measured)."""
    enumerated = result.method == "enumerate" and plan_.lo.size <= CERTIFIED_ENUMERATION_DIM
    risk = plan_.exact_risk if enumerated else plan_.risk
    if risk is None:
        return result
    safe = _safe_upper(plan_.terms, plan_.lo, plan_.hi, result.norm)
    # (sampling asked for no upper bound: it stays infinite)
    upper = result.upper if result.status == "sampled" else max(result.upper, safe)
    lower = result.lower if math.isfinite(result.lower) else 0.0
    cert = None if result.certified_upper is None else max(result.certified_upper, safe)
    return replace(result, lower=lower, upper=upper, exact=False, status=RISK_STATUS,
                   certified_upper=cert)


def unscale(result: DistanceResult, plan_: ScalePlan, f: ReLUNetwork, g: ReLUNetwork | None,
            lo: np.ndarray, hi: np.ndarray, gap: float, seconds: float,
            near: DistanceResult | None = None) -> DistanceResult:
    """The result on the original box from ``result``, computed on the plan's scaled box:
    the witness mapped back and the lower bound re-evaluated there with the real networks;
    upper bounds times ``scale`` (sup norm).

    Gradients: the scaled problem's regions near 0 are ``scale`` times smaller than the
    original ones, below what its ``region_margin`` and the solver tolerances resolve, so
    only its margin-free ``certified_upper`` is kept as the upper bound; ``near`` (the
    problem on the part of the box near 0, solved as given) may give a better lower bound.
    A gap left open there is reported with status ``"numerical_risk"``."""
    s, terms = plan_.scale, _terms(f, g)
    sup = result.norm == "sup"
    witness, lower, comp = None, result.lower, result.component
    risk = result.status == RISK_STATUS or plan_.exact_risk is not None
    with np.errstate(all="ignore"):
        if sup:
            lower = min(s * result.lower, np.finfo(float).max) if math.isfinite(result.lower) else result.lower
        if result.witness is not None:
            witness = np.clip(s * result.witness, lo, hi)
            if sup:
                D = np.abs(_values(terms, witness[None, :]))[0]
                if np.all(np.isfinite(D)):
                    kb = int(np.argmax(D))
                    lower, comp = float(D[kb]), (kb,)
                else:
                    risk = True  # the real networks overflow at the witness
            else:
                J, zmin = _jacobian_diff(terms, witness[None, :])
                A = np.abs(J[0])
                if zmin[0] > 0 and np.all(np.isfinite(A)):
                    k2, j2 = np.unravel_index(int(np.argmax(A)), A.shape)
                    lower, comp = float(A[k2, j2]), (int(k2), int(j2))
        upper = s * result.upper if sup else result.upper
        cert = result.certified_upper
        if sup and cert is not None:
            cert = s * cert
    if not sup:
        upper = cert if cert is not None else max(result.upper, _safe_upper(terms, lo, hi, result.norm))
        # a certified enumeration: its bound covers the scaled regions with margin above
        # certified_margin, i.e. the original regions with margin above scale times that
        if (result.method == "enumerate" and result.certified_margin is not None and lo.size <= CERTIFIED_ENUMERATION_DIM
                and result.status == "optimal" and s * result.certified_margin <= CERTIFIED_MARGIN):
            upper = result.upper
        if near is not None and near.lower > lower:
            lower, witness, comp = near.lower, near.witness, near.component
    upper = max(upper, lower) if math.isfinite(lower) else upper
    closed = math.isfinite(upper) and math.isfinite(lower) and upper - lower <= gap * max(1.0, abs(upper), abs(lower))
    status = RISK_STATUS if risk or (not sup and not closed and result.status == "optimal") else result.status
    exact = not risk and (result.exact or not sup) and closed and status != "sampled"
    return replace(result, lower=float(lower), upper=float(upper), witness=witness, exact=exact,
                   status=status, seconds=seconds, component=comp, certified_upper=cert)

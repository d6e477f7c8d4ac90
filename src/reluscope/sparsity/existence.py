"""Does the training problem of a sparse ReLU network admit an optimum?

:func:`optimum_exists` returns a three-valued :class:`ExistenceVerdict`:

* ``"no optimum guaranteed"`` — ``L_I`` is not closed. With a limit ``A`` in
  ``closure(L_I) \\ L_I`` and its explicit factor family, the networks
  ``f_eps(x) = W_L(eps)...W_1(eps) x`` (hidden biases making every unit active, output bias
  cancelling the constant) converge uniformly on bounded domains to ``x -> A x``, which no
  network of the pattern realizes on any open set nor on a training set of more than
  ``2^H N_0`` points in general position. The verdict carries such a training set (points on
  the moment curve, hence in general position), labels ``A x`` and a numerically checked
  parameter sequence: the loss tends to 0 while ``||theta||`` grows without bound.
* ``"an optimum always exists"`` — one hidden layer and output dimension 1 (the theorem
  claimed by Le, Riccietti & Gribonval 2023), any pattern.
* ``"undecided"`` — e.g. a closed ``L_I`` (which does not settle the ReLU case), or a
  decision that ran out of time.
"""

from __future__ import annotations

import dataclasses
import math
from itertools import combinations
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._results import ResultMixin
from .._validation import check_time_limit
from ..errors import InvalidArgument
from ..domain import Box, PointSet, as_domain
from ..network import ReLUNetwork
from .certificates import ClosednessVerdict, NotClosedCertificate
from .check import verify
from .decide import is_closed
from .families import find_degeneration_certificate
from .pattern import SparsityPattern, as_pattern

__all__ = [
    "ExistenceVerdict",
    "optimum_exists",
    "relu_lift",
    "moment_curve_points",
    "NO_OPTIMUM",
    "OPTIMUM_EXISTS",
    "UNDECIDED",
]

NO_OPTIMUM = "no optimum guaranteed"
OPTIMUM_EXISTS = "an optimum always exists"
UNDECIDED = "undecided"


@dataclasses.dataclass(frozen=True)
class ExistenceVerdict(ResultMixin):
    """Verdict on the existence of optimal parameters for a sparse ReLU training problem.

    Attributes
    ----------
    status:
        ``"no optimum guaranteed"``, ``"an optimum always exists"`` or ``"undecided"``.
    reasoning:
        The argument, in words.
    pattern:
        The sparsity pattern (text notation).
    closedness:
        The closedness verdict on ``L_I`` when one was computed.
    certificate_valid:
        Result of :func:`~reluscope.sparsity.verify` on the non-closedness certificate.
    training_inputs, training_labels:
        The finite training set (``(n, N_0)`` and ``(n, N_L)``) when one was built.
    sequence:
        Rows ``(eps, loss, theta_norm)`` of the numerical check (loss = sum of squared errors
        over the training set).
    """

    status: str
    reasoning: str
    pattern: str
    closedness: ClosednessVerdict | None = None
    certificate_valid: bool | None = None
    training_inputs: np.ndarray | None = None
    training_labels: np.ndarray | None = None
    sequence: tuple[tuple[float, float, float], ...] = ()

    @property
    def exists(self) -> bool | None:
        """``False`` (no optimum guaranteed), ``True`` (always exists) or ``None``."""
        return {NO_OPTIMUM: False, OPTIMUM_EXISTS: True}.get(self.status)

    def __str__(self) -> str:
        lines = [f"{self.status} (pattern {self.pattern})", f"  reasoning: {self.reasoning}"]
        if self.training_inputs is not None:
            lines.append(f"  training set: {self.training_inputs.shape[0]} points in general position, labels A x")
        if self.sequence:
            lines.append("  eps        loss          ||theta||_2")
            for eps, loss, norm in self.sequence:
                lines.append(f"  {eps:<9.1e}  {loss:<12.4e}  {norm:.4g}")
        if self.closedness is not None and self.closedness.certificate is not None:
            lines += ["  " + line for line in str(self.closedness.certificate).splitlines()]
            if self.certificate_valid is not None:
                lines.append(f"  certificate verified: {self.certificate_valid}")
        return "\n".join(lines)


def moment_curve_points(n: int, dim: int, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    """``n`` points of the box ``[lo, hi]^dim`` in general position.

    ``x_i = lo + (hi - lo) (t_i, t_i^2, ..., t_i^dim)`` with distinct ``t_i = (i + 1)/(n + 1)``:
    any ``dim + 1`` of them are affinely independent (their lifted matrix is a Vandermonde
    matrix in distinct nodes, with an affine change of coordinates that preserves affine
    independence).
    """
    t = (np.arange(n, dtype=np.float64) + 1.0) / (n + 1.0)
    powers = np.stack([t**p for p in range(1, dim + 1)], axis=1)
    return lo + (hi - lo) * powers


def relu_lift(
    factors: Sequence[np.ndarray], X: np.ndarray, margin: float = 1.0, beta: Sequence[float] | None = None
) -> ReLUNetwork:
    """A ReLU network computing ``x -> W_L ... W_1 x`` exactly on the points ``X``.

    Hidden layer ``l`` gets bias ``beta_l 1 - W_l c_{l-1}`` where ``c_{l-1}`` is the constant
    carried from the previous layers, so its pre-activation is ``(W_l...W_1) x + beta_l``; with
    ``beta_l = max_x ||W_l...W_1 x||_inf + margin`` (or the given ``beta``) every unit is
    active on ``X``. The output bias cancels the constant.
    """
    X = np.asarray(X, dtype=np.float64)
    weights = [np.asarray(w, dtype=np.float64) for w in factors]
    biases = []
    const = np.zeros(weights[0].shape[1])
    partial = np.eye(weights[0].shape[1])
    for l, w in enumerate(weights):
        partial = w @ partial
        carried = w @ const
        if l == len(weights) - 1:
            biases.append(-carried)
        else:
            b = margin + float(np.max(np.abs(X @ partial.T))) if beta is None else float(beta[l])
            biases.append(b * np.ones(w.shape[0]) - carried)
            const = carried + biases[-1]
    return ReLUNetwork(weights, biases)


def _general_position(X: np.ndarray, max_subsets: int = 200_000) -> bool | None:
    n, d = X.shape
    if n < d + 1:
        return True
    if math.comb(n, d + 1) > max_subsets:
        return None
    lifted = np.hstack([X, np.ones((n, 1))])
    for subset in combinations(range(n), d + 1):
        if abs(np.linalg.det(lifted[list(subset)])) < 1e-12:
            return False
    return True


def optimum_exists(
    pattern_or_network: SparsityPattern | ReLUNetwork | Any,
    domain: Box | PointSet | np.ndarray | str | None = None,
    time_limit: float = 30.0,
    epsilons: Sequence[float] = (1e-1, 1e-2, 1e-3, 1e-4),
    max_points: int = 20_000,
    verify_time_limit: float = 10.0,
    *,
    X: np.ndarray | None = None,
) -> ExistenceVerdict:
    """Three-valued verdict on the existence of an optimum for the sparse ReLU training problem.

    Parameters
    ----------
    pattern_or_network:
        A :class:`SparsityPattern`, a masked ``ReLUNetwork``, text notation or masks.
    domain:
        ``None`` (the box ``[-1, 1]^{N_0}``), a :class:`~reluscope.Box`, or a finite
        :class:`~reluscope.PointSet` / array of inputs. For a box, a training set of
        ``2^H N_0 + 1`` points in general position (moment curve) is built when that is at most
        ``max_points``. For a point set, the set itself is used; the finite-set argument then
        needs more than ``2^H N_0`` points in general position.
    time_limit:
        Seconds for the closedness decision (and the certificate search).
    epsilons:
        Values of ``eps`` for the numerical check of the diverging sequence.
    max_points:
        Largest training set built for a box domain.
    verify_time_limit:
        Seconds for re-verifying the non-closedness certificate with Z3.
    X:
        A finite training set (array ``(n, N_0)``), the same as ``domain=PointSet(X)``: the
        verdict says whether the no-optimum construction applies to these inputs (more than
        ``2^H N_0`` points in general position, so that for every parameter some activation
        region holds ``N_0 + 1`` affinely independent points) and, when it does, returns the
        labels ``A x_i`` on them (``training_labels``) with the numerically checked sequence of
        losses tending to 0 and norms growing without bound.

    Returns
    -------
    ExistenceVerdict
    """
    time_limit = check_time_limit(time_limit)
    verify_time_limit = check_time_limit(verify_time_limit, "verify_time_limit")
    pattern = as_pattern(pattern_or_network)
    text = pattern.to_text()
    n_in = pattern.input_dim
    if X is not None:
        if domain is not None:
            raise InvalidArgument("give either domain= or X=, not both")
        domain = PointSet(X)
    dom = as_domain(domain, n_in)
    if pattern.n_factors == 2 and pattern.output_dim == 1:
        return ExistenceVerdict(
            OPTIMUM_EXISTS,
            "one hidden layer and output dimension 1: by the theorem of Le, Riccietti & Gribonval (NeurIPS 2023) "
            "the training problem admits a global optimum for every pattern and every finite training set",
            text,
        )
    verdict = is_closed(pattern, time_limit=time_limit)
    if verdict.closed is None:
        return ExistenceVerdict(UNDECIDED, f"closedness of L_I undecided within the time limit ({verdict.reasoning})",
                                text, verdict)
    if verdict.closed:
        return ExistenceVerdict(
            UNDECIDED,
            "L_I is closed; a closed linear counterpart does not settle whether the ReLU training problem "
            "has an optimum",
            text,
            verdict,
        )
    certificate = verdict.certificate
    if not isinstance(certificate, NotClosedCertificate):
        certificate = find_degeneration_certificate(pattern, time_limit=time_limit)
        if certificate is not None:
            verdict = dataclasses.replace(verdict, certificate=certificate)
    if certificate is None:
        return ExistenceVerdict(
            NO_OPTIMUM,
            "L_I is not closed (quantifier elimination), so the ReLU function set is not closed on any domain with "
            "nonempty interior; no explicit factor family was found, so no training set is exhibited",
            text,
            verdict,
        )
    check = verify(certificate, time_limit=verify_time_limit)
    if check.valid is False:
        return ExistenceVerdict(
            UNDECIDED,
            "the non-closedness certificate FAILED independent verification ("
            + "; ".join(f"{c.name}: {c.message}" for c in check.failures)
            + "); no conclusion is drawn",
            text, verdict, False,
        )
    H = sum(pattern.hidden_widths)
    needed = 2**H * n_in + 1
    if isinstance(dom, PointSet):
        X = np.array(dom.points, dtype=np.float64)
        if X.shape[0] < needed:
            return ExistenceVerdict(
                UNDECIDED,
                f"L_I is not closed, but the given {X.shape[0]} points are not more than 2^H N_0 = {needed - 1}; "
                "the finite-set argument does not apply",
                text, verdict, check.valid,
            )
        gp = _general_position(X)
        if gp is not True:
            return ExistenceVerdict(
                UNDECIDED,
                "L_I is not closed, but the given points are " + ("not in general position" if gp is False else
                                                                 "too many to check general position exactly"),
                text, verdict, check.valid,
            )
        where = f"the given {X.shape[0]} points (general position checked)"
    else:
        if needed > max_points:
            X = None
            where = None
        else:
            lo, hi = dom.bounds(n_in)
            t = moment_curve_points(needed, n_in, 0.0, 1.0)
            X = lo + (hi - lo) * t
            where = f"{needed} = 2^{H}*{n_in}+1 points on the moment curve in the box (general position)"
    A = certificate.limit_array()
    rows: list[tuple[float, float, float]] = []
    # numerical check: on the training set, or (when none is built) on box samples
    check_points = X if X is not None else dom.sample(1000, n_in, seed=0)
    labels = check_points @ A.T
    for eps in epsilons:
        net = relu_lift(certificate.evaluate(eps), check_points)
        loss = float(np.sum((net(check_points) - labels) ** 2))
        rows.append((float(eps), loss, float(np.linalg.norm(net.to_vector()))))
    Y = labels if X is not None else None
    decreasing = all(rows[i + 1][1] <= rows[i][1] for i in range(len(rows) - 1)) if rows else None
    growing = all(rows[i + 1][2] > rows[i][2] for i in range(len(rows) - 1)) if rows else None
    reasoning = (
        "L_I is not closed: the certificate's limit A is a limit of products of supported factors with "
        "diverging norm but is not itself such a product. Lifting the factors to ReLU networks with all units "
        "active gives f_eps -> (x -> A x) uniformly on bounded sets, and x -> A x is not realized on any open set"
    )
    if X is not None:
        reasoning += (
            f", nor on {where}: some activation region would hold N_0+1 affinely independent points, forcing "
            "its linear part, an element of L_I, to equal A. With labels A x the square loss has infimum 0 and no "
            "minimizer."
        )
        reasoning += f" Numerically: loss decreasing {decreasing}, ||theta|| growing {growing}."
    else:
        reasoning += (
            f"; a finite training set would need {needed} points (> max_points={max_points}), not built. "
            f"Numerically on 1000 box samples: loss decreasing {decreasing}, ||theta|| growing {growing}."
        )
    if check.valid is None:
        reasoning += " (the certificate's Z3 re-check did not finish in time; its exact checks passed)"
    return ExistenceVerdict(NO_OPTIMUM, reasoning, text, verdict, check.valid, X, Y, tuple(rows))

"""The range of each output of a network over a box by the one branch and bound
(:mod:`reluscope.search`): :func:`output_range`.

For output ``k`` the search minimizes ``f_k`` and ``-f_k`` over the box; each gives a sound
lower bound (the search's global ``lower``) and a value attained at a witness evaluated on
the real network in float64 (its ``upper``). So ``min f_k`` and ``max f_k`` are bracketed,
and the spread ``max f_k - min f_k`` lies between the difference of the two attained values
and the difference of the two bounds. The search splits input boxes, each bounded by the
engine's batched linear tier (:func:`reluscope.bounds.differential_linear.batch_layer_bounds`);
in high dimension the bounds stay near the root's, but they are valid at every moment.
Proofs in ``docs/background/branch-and-bound.md``.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np

from .._budget import Budget
from .._results import ResultMixin
from .._validation import check_network, check_seed, check_time_limit
from ..bounds import layer_bounds
from ..domain import Box, as_domain
from ..errors import InvalidArgument
from ..network import ReLUNetwork
from ..bounds.differential_linear import batch_layer_bounds
from ..search import minimize_max
from ..search.crown import TorchNet

__all__ = ["OutputRange", "output_range"]


@dataclass(frozen=True)
class OutputRange(ResultMixin):
    """Brackets of every output's extremes over a box.

    ``min_lower[k] <= min f_k <= min_upper[k]`` (``min_upper`` attained at
    ``min_witness[k]``) and ``max_lower[k] <= max f_k <= max_upper[k]`` (``max_lower``
    attained at ``max_witness[k]``). ``spread_lower`` is the largest attained spread
    ``max_lower[k] - min_upper[k]`` (both ends real values) of output ``output``;
    ``spread_upper`` bounds every output's spread ``max f_k - min f_k``. ``exact``: every
    bracket closed to ``gap`` (relative). ``status``: ``"optimal"`` or ``"time_limit"``.
    """

    min_lower: np.ndarray
    min_upper: np.ndarray
    max_lower: np.ndarray
    max_upper: np.ndarray
    min_witness: np.ndarray
    max_witness: np.ndarray
    spread_lower: float
    spread_upper: float
    output: int
    exact: bool
    status: str
    seconds: float

    def __str__(self) -> str:
        how = "exact" if self.exact else self.status
        return (f"largest output spread in [{self.spread_lower:.6g}, {self.spread_upper:.6g}] (output {self.output}; "
                f"{how}, {self.seconds:.2f}s)")


class _OutputBounder:
    """The search's bounder of ``phi(x) = c f_k(x)`` (``c = ±1``) on input boxes: the
    engine's batched linear-tier bounds of the output layer (NumPy, or PyTorch when it is
    already imported: importing it can take longer than a whole short call)."""

    def __init__(self, f: ReLUNetwork, k: int, c: float) -> None:
        self.f, self.k, self.c = f, k, c
        self.n_inputs = f.input_dim
        width = max(f.widths)
        self.batch_size = int(np.clip(4_000_000 // (width * width + 1), 16, 256))
        if "torch" in sys.modules:
            self.torch_objective = self._torch_objective
            self._tnet = None

    def bound(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        lows, highs = batch_layer_bounds(self.f, lo, hi)
        out = lows[-1][:, self.k] if self.c > 0 else -highs[-1][:, self.k]
        return out[:, None]

    def evaluate(self, X: np.ndarray) -> np.ndarray:
        return self.c * self.f(X)[:, self.k:self.k + 1]

    def _torch_objective(self, X):
        if self._tnet is None:
            C = np.zeros((1, self.f.output_dim))
            C[0, self.k] = self.c
            self._tnet = TorchNet(list(self.f.weights), list(self.f.biases), C, np.zeros(1))
        return self._tnet.forward(X)


def output_range(f: ReLUNetwork, domain: Box | str | None = None, *, time_limit: float = 10.0, seed: int = 0,
                 gap: float = 1e-6, budget: Budget | None = None) -> OutputRange:
    """Sound brackets of ``min f_k`` and ``max f_k`` over a box for every output ``k``, by
    the branch and bound of :mod:`reluscope.search` (``2 k`` searches sharing the time).

    Parameters
    ----------
    f:
        The network.
    domain:
        A :class:`~reluscope.Box` (``None``: ``[-1, 1]^d``; ``"lo,hi"`` strings as elsewhere).
    time_limit:
        Seconds for all searches together; when it hits, the brackets are the bounds proved
        so far (never a guess).
    seed:
        Seed of the searches' attacks.
    gap:
        Relative gap at which a search stops.
    budget:
        A caller's :class:`~reluscope._budget.Budget` (replaces ``time_limit``).
    """
    check_network(f)
    check_seed(seed)
    budget = Budget.of(check_time_limit(time_limit), budget)
    box = as_domain(domain, f.input_dim)
    if not isinstance(box, Box):
        raise InvalidArgument(f"output_range needs a box domain, got {type(box).__name__}")
    lo, hi = (np.asarray(v, dtype=np.float64) for v in box.bounds(f.input_dim))
    k, d = f.output_dim, f.input_dim
    rng = np.random.default_rng(seed)
    bounds = np.full((k, 2, 2), np.nan)  # [output, (min f, min -f), (lower, upper)]
    witnesses = np.tile(0.5 * (lo + hi), (k, 2, 1))
    # before any search: the centre's values are attained, the interval bounds are valid
    centre = f(0.5 * (lo + hi)[None, :])[0]
    out_lo, out_hi = layer_bounds(f, box, method="interval").output
    bounds[:, 0] = np.stack([out_lo, centre], axis=1)
    bounds[:, 1] = np.stack([-out_hi, -centre], axis=1)
    closed = np.zeros((k, 2), dtype=bool)
    order = [(j, s) for j in range(k) for s in (0, 1)]
    for n, (j, s) in enumerate(order):
        if budget.expired():
            break
        C = np.zeros((1, k))
        C[0, j] = 1.0 if s == 0 else -1.0
        share = budget.child(budget.remaining() / (len(order) - n))
        res = minimize_max(_OutputBounder(f, j, float(C[0, j])), lo, hi, budget=share, rng=rng, gap_rel=gap,
                           n_random=1)
        if math.isfinite(res.lower):
            bounds[j, s, 0] = max(bounds[j, s, 0], res.lower)
        if res.witness is not None and res.upper < bounds[j, s, 1]:
            x = np.clip(res.witness, lo, hi)
            value = float(C[0] @ f(x[None, :])[0])  # the real network, float64
            if value < bounds[j, s, 1]:
                bounds[j, s, 1], witnesses[j, s] = value, x
        closed[j, s] = bounds[j, s, 1] - bounds[j, s, 0] <= gap * max(1.0, abs(bounds[j, s, 1]))
    min_lower, min_upper = bounds[:, 0, 0], bounds[:, 0, 1]
    max_lower, max_upper = -bounds[:, 1, 1], -bounds[:, 1, 0]
    attained = max_lower - min_upper
    j = int(np.argmax(attained))
    exact = bool(closed.all())
    return OutputRange(min_lower, min_upper, max_lower, max_upper, witnesses[:, 0].copy(), witnesses[:, 1].copy(),
                       float(max(attained[j], 0.0)), float(np.max(max_upper - min_lower)), j, exact,
                       "optimal" if exact else "time_limit", budget.elapsed())

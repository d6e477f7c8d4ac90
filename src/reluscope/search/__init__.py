"""The one branch and bound of reluscope, on top of the bound engine (:mod:`reluscope.bounds`).

Every question is put in one form: anytime bounds on

    m* = min over a domain of  max_j phi_j(x)        (j < m),

with a sound, non-decreasing global ``lower`` bound and a non-increasing ``upper`` bound
attained by a ``witness`` point evaluated on the real network(s) in float64. A property
``A f(x) <= b`` is violated iff ``m* <= 0`` for ``phi = A f - b``; a maximum of ``psi`` is
``-min(-psi)`` (``m = 1``). Proofs: ``docs/background/branch-and-bound.md``.

Modules (imports run one way, bottom-up): :mod:`.core` (the loop: best-first frontier,
batches, global bounds, budget, stopping rules, witness checking) ← :mod:`.attack`
(projected gradient, sampling) ← :mod:`.input_split` (input boxes over any bounder; the
scalar :func:`maximize`) ← :mod:`.crown` (batched CROWN / alpha / beta bounds of a network
in PyTorch float64) ← :mod:`.leaf_lp` (exact LPs of subdomains with no unstable neuron) ←
:mod:`.relu_split` (ReLU splitting) ← :mod:`.network` (a network's objective: the bounder
and the automatic choice of splitting); :mod:`.pair_split` (joint ReLU splitting of two
networks side by side, for differential questions).

The pluggable bounder (the interface for other bound engines, e.g. differential bounds)
---------------------------------------------------------------------------------------
Any object with

* ``n_inputs: int``;
* ``bound(lo, hi)`` with ``lo``, ``hi`` of shape ``(B, d)`` (``B`` boxes) returning sound
  lower bounds of every ``phi_j`` on every box: an array ``(B, m)`` — or a
  :class:`BoxBounds` ``(lower, sensitivity=None, points=None)`` adding ``(B, d)`` split
  scores ``|d phi / d x_k|`` and ``(k, d)`` points worth evaluating;
* ``evaluate(X)``: ``(n, d) -> (n, m)``, the exact ``phi`` in float64 on the real networks;
* optionally ``torch_objective(X_t)``: the same ``phi`` on a torch float64 tensor, for the
  projected-gradient attack (without it the attack samples), and ``batch_size``;

plugs into :func:`minimize_max` (input splitting)::

    out = minimize_max(bounder, lo, hi, budget=Budget(60), rng=np.random.default_rng(0),
                       target=0.0)     # or gap_abs=/gap_rel= for an optimum
    out.lower, out.upper, out.witness, out.status   # "proved", "refuted", "gap", ...

For a difference objective ``psi(x) = s (f_i(x) - g_i(x))`` to be *maximized*, give the
bounder ``phi = -psi`` (lower bounds of ``phi`` are minus upper bounds of ``psi``); then
``max psi`` lies in ``[-out.upper, -out.lower]`` with ``out.witness`` attaining
``-out.upper``. :func:`maximize` does exactly this for a scalar ``upper_bound(lo, hi)``.
The generic loop (:func:`branch_and_bound` over a :class:`Problem`) is shared with ReLU
splitting; a new kind of subdomain is a new ``Problem``, never a new loop.
"""

from .attack import pgd_minimize, sample_boxes
from .core import Problem, SearchOutcome, branch_and_bound
from .input_split import Bounder, BoxBounds, InputSplitProblem, SearchResult, maximize, minimize_max

__all__ = [
    "Problem",
    "SearchOutcome",
    "branch_and_bound",
    "Bounder",
    "BoxBounds",
    "InputSplitProblem",
    "minimize_max",
    "maximize",
    "SearchResult",
    "pgd_minimize",
    "sample_boxes",
]

"""The exact degenerate local minimum for ``M = Q`` in closed form.

On the region of parameter space where every hidden pre-activation of the training data is
positive, a width-``Q`` shallow network acts on the data as an affine map
``x ↦ W x + c`` with ``W = W_2 W_1``, ``c = W_2 b_1 + b_2``. Writing ``W = Z X_red^{-1}``
and using that class fluctuations sum to zero, the class-balanced squared cost is

``C²(Z, c) = ||Z + c 1ᵀ - Y||²_HS + tr(Z Δ_2 Zᵀ)``,  ``Δ_2 = Δ_1 𝒩^{-1} Δ_1ᵀ``.

* zero offset (``c = 0``): minimizer ``Z = Y (1 + Δ_2)^{-1}``, value
  ``||Y Δ_2^{1/2} (1 + Δ_2)^{-1/2}||_HS`` -- the minimum over *linear* maps;
* free offset: minimizer ``Z = Y Π (Π + Δ_2)^{-1}``, ``c = (Y - Z) 1 / Q`` with
  ``Π = 1 - 1 1ᵀ / Q``, value ``sqrt(tr(Y [Π - Π (Π + Δ_2)^+ Π] Yᵀ))`` -- the minimum over
  *affine* maps, hence a genuine (degenerate) local minimum of the network cost.

Proofs: ``docs/background/constructive.md``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._results import ResultMixin
from .._validation import check_tol
from ..errors import InvalidData
from ..network import ReLUNetwork
from ._data import prepare, reduced_inverse
from .shallow import training_costs

FloatArray = NDArray[np.float64]

__all__ = ["ExactLocalMinimum", "exact_local_minimum", "class_balanced_lstsq"]


@dataclasses.dataclass(frozen=True, eq=False)
class ExactLocalMinimum(ResultMixin):
    """Closed-form minima of the class-balanced cost on the ReLU-identity region (``M = Q``).

    Attributes
    ----------
    value:
        Zero-offset minimum ``||Y Δ_2^{1/2}(1 + Δ_2)^{-1/2}||_HS`` (the minimum over linear maps
        ``x ↦ W x``; balanced cost, not squared).
    network:
        Width-``Q`` network attaining ``value`` on the training data
        (``W_1 = X_red^{-1}``, ``W_2 = Y (1 + Δ_2)^{-1}``, large hidden bias, zero net offset).
    free_offset_value, free_offset_network:
        The minimum over affine maps ``x ↦ W x + c`` and a network attaining it; always
        ``<= value``. This one is a local minimum of the cost over all network parameters.
    network_cost, free_offset_network_cost:
        Balanced costs of the two networks evaluated on the data (equal to the values up to
        rounding).
    constructive_cost:
        Balanced cost of :func:`~reluscope.constructive.fit` (``sqrt(tr(Y Δ_2 Yᵀ))``).
    relative_gap:
        ``1 - value / constructive_cost`` (``O(δ_P²)``; ``0`` when the cost is ``0``).
    delta_P, Delta_2:
        Noise-to-signal ratio and ``Δ_2 = Δ_1 𝒩^{-1} Δ_1ᵀ`` (Q x Q).
    """

    classes: tuple[Hashable, ...]
    value: float
    network: ReLUNetwork
    linear_map: FloatArray
    network_cost: float
    free_offset_value: float
    free_offset_network: ReLUNetwork
    free_offset_linear_map: FloatArray
    free_offset: FloatArray
    free_offset_network_cost: float
    constructive_cost: float
    relative_gap: float
    delta_P: float
    Delta_2: FloatArray

    def __str__(self) -> str:
        return "\n".join(
            [
                f"exact degenerate local minimum (M = Q = {len(self.classes)}), class-balanced cost (not squared)",
                f"  delta_P: {self.delta_P:.6g}",
                f"  constructive cost:       {self.constructive_cost:.6g}",
                f"  zero-offset minimum:     {self.value:.6g}  (relative gap {self.relative_gap:.3g})",
                f"  free-offset minimum:     {self.free_offset_value:.6g}",
            ]
        )


def class_balanced_lstsq(X: ArrayLike, y: Any, targets: Any = None, offset: bool = False) -> tuple[float, FloatArray]:
    """Direct minimum of ``Σ_j (1/N_j) Σ_i |W x_{j,i} (+ c) - y_j|²`` by ``numpy.linalg.lstsq``.

    Independent of the closed forms (used to check them). Returns ``(sqrt(min), coef)`` with
    ``coef`` of shape ``(M (+1), k)``.
    """
    data = prepare(X, y, targets)
    w = np.sqrt(1.0 / data.counts[data.index])
    A = data.X if not offset else np.hstack([data.X, np.ones((data.X.shape[0], 1))])
    B = data.Y[:, data.index].T
    coef, *_ = np.linalg.lstsq(A * w[:, None], B * w[:, None], rcond=None)
    resid = (A @ coef - B) * w[:, None]
    return float(np.sqrt(np.sum(resid**2))), coef


def _ro(a: np.ndarray) -> np.ndarray:
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a


def exact_local_minimum(
    X: ArrayLike,
    y: Any,
    targets: Any = None,
    *,
    margin: float = 1.0,
    rank_tol: float = 1e-10,
) -> ExactLocalMinimum:
    """Closed-form degenerate local minimum of the class-balanced cost for ``M = Q``.

    Parameters
    ----------
    X, y, targets:
        As in :func:`~reluscope.constructive.fit`; ``X`` must have exactly ``Q`` features.
    margin:
        Smallest hidden pre-activation on the training data in the returned networks.
    rank_tol:
        Relative singular-value tolerance for linearly dependent class means.

    Returns
    -------
    ExactLocalMinimum
        Both the zero-offset value (the paper's formula) and the free-offset value, with
        networks attaining them.

    Raises
    ------
    InvalidData
        ``M != Q`` or any error of :func:`~reluscope.constructive.fit`.
    """
    data = prepare(X, y, targets)
    Q, M = data.n_classes, data.X.shape[1]
    if M != Q:
        raise InvalidData(f"exact_local_minimum needs as many features as classes (M = Q); got M={M}, Q={Q}")
    margin = check_tol(margin, "margin")
    means = data.means
    inv = reduced_inverse(means, rank_tol)  # X_red^{-1}
    idx, Y = data.index, data.Y
    D1 = (data.X - means[idx]) @ inv.T  # (N, Q)
    Delta2 = (D1 / data.counts[idx][:, None]).T @ D1
    Delta2 = 0.5 * (Delta2 + Delta2.T)
    evals, evecs = np.linalg.eigh(Delta2)
    evals = np.clip(evals, 0.0, None)
    I = np.eye(Q)

    # zero offset: ||Y |Δ2|^{1/2} (1+Δ2)^{-1/2}||_HS
    root = evecs @ np.diag(np.sqrt(evals / (1.0 + evals))) @ evecs.T
    value = float(np.linalg.norm(Y @ root))
    Z0 = Y @ np.linalg.inv(I + Delta2)
    # free offset
    Pi = I - np.full((Q, Q), 1.0 / Q)
    G = np.linalg.pinv(Pi + Delta2, hermitian=True)
    Zf = Y @ Pi @ G
    cf = (Y - Zf) @ np.ones(Q) / Q
    # equals tr(Y [Π - Π (Π + Δ_2)^+ Π] Yᵀ); evaluated at the minimizer to avoid cancellation
    free_sq = float(np.sum((Zf + cf[:, None] - Y) ** 2) + np.trace(Zf @ Delta2 @ Zf.T))
    free_value = float(np.sqrt(max(free_sq, 0.0)))

    pre = data.X @ inv.T
    beta = float(np.max(-pre)) + margin
    b1 = np.full(Q, beta)
    net0 = ReLUNetwork([inv, Z0], [b1, -Z0 @ b1])
    netf = ReLUNetwork([inv, Zf], [b1, cf - Zf @ b1])
    cost0, _ = training_costs(net0(data.X), Y, idx, data.counts)
    costf, _ = training_costs(netf(data.X), Y, idx, data.counts)
    constructive = float(np.sqrt(max(np.trace(Y @ Delta2 @ Y.T), 0.0)))
    gap = 0.0 if constructive == 0.0 else 1.0 - value / constructive
    return ExactLocalMinimum(
        classes=data.classes,
        value=value,
        network=net0,
        linear_map=_ro(Z0 @ inv),
        network_cost=cost0,
        free_offset_value=free_value,
        free_offset_network=netf,
        free_offset_linear_map=_ro(Zf @ inv),
        free_offset=_ro(cf),
        free_offset_network_cost=costf,
        constructive_cost=constructive,
        relative_gap=float(gap),
        delta_P=float(np.max(np.linalg.norm(D1, axis=1))),
        Delta_2=_ro(Delta2),
    )

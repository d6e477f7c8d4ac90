"""Exact linear regions of ReLU networks on a low-dimensional box (input dimension 1 or 2).

On a box in one or two dimensions the common linear regions of a few networks can be listed
outright: each hidden neuron's pre-activation is affine on a cell of the current partition,
so cutting every cell along the line (or point) where a pre-activation changes sign, layer
by layer and network by network, ends with convex cells (segments or polygons) on which
every network is affine. A continuous piecewise-affine function attains its maximum over a
cell at a vertex, so maxima over the box are maxima over finitely many vertices.

Used by :func:`reluscope.sup_distance` with ``method="enumerate"`` (and by ``"auto"`` in
one and two dimensions), where it replaces the MILP. The geometry is floating point: a
sign is "changing" on a cell when the pre-activation exceeds ``tol`` in absolute value at
vertices on both sides, so a cell may straddle a hyperplane by at most ``tol``; the caller
widens the upper bound accordingly (see :func:`affine_pieces`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import InvalidDomain, SolverError
from .network import ReLUNetwork

__all__ = ["Piece", "affine_pieces", "arrangement_vertices"]


@dataclass(frozen=True)
class Piece:
    """A convex cell and the affine form of each network on it.

    ``vertices`` has shape ``(m, d)`` (a segment's two end points for ``d = 1``, a polygon's
    corners in order for ``d = 2``); ``maps[i] = (J, c)`` gives network ``i`` as
    ``x -> J x + c`` (``J`` of shape ``(k, d)``) on the cell.
    """

    vertices: np.ndarray
    maps: tuple[tuple[np.ndarray, np.ndarray], ...]


def _split(vertices: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cut a convex cell along the zero set of an affine function with the given values at
    the vertices; return the parts where it is ``>= 0`` and ``<= 0``."""
    if vertices.shape[1] == 1:
        a, b = vertices[0], vertices[1]
        va, vb = values
        q = a + (b - a) * (va / (va - vb))
        pos, neg = (np.array([a, q]), np.array([q, b])) if va > 0 else (np.array([q, b]), np.array([a, q]))
        return pos, neg
    pos: list[np.ndarray] = []
    neg: list[np.ndarray] = []
    m = len(vertices)
    for i in range(m):
        p, vp = vertices[i], values[i]
        q, vq = vertices[(i + 1) % m], values[(i + 1) % m]
        if vp >= 0:
            pos.append(p)
        if vp <= 0:
            neg.append(p)
        if (vp > 0 > vq) or (vp < 0 < vq):
            cross = p + (q - p) * (vp / (vp - vq))
            pos.append(cross)
            neg.append(cross)
    return np.array(pos), np.array(neg)


def _refine(cells: list[tuple[np.ndarray, np.ndarray, np.ndarray]], W: np.ndarray, b: np.ndarray,
            tol: float, max_cells: int, deadline: float) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Cut each cell ``(vertices, A, c)`` (layer input ``h = A x + c``) by the sign changes
    of the pre-activations ``W h + b``; return cells with the post-activation map."""
    out: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    n_out = 0
    for verts, A, c in cells:
        ZA = W @ A
        zc = W @ c + b
        stack = [(verts, 0)]
        while stack:
            v, start = stack.pop()
            vals = v @ ZA[start:].T + zc[start:]  # (m, n - start)
            crossing = (vals.max(axis=0) > tol) & (vals.min(axis=0) < -tol)
            hit = np.flatnonzero(crossing)
            if hit.size == 0:
                # no neuron crosses zero on this cell (beyond tol): a neuron is active iff it
                # exceeds tol at some vertex (else |z| <= tol on the whole cell)
                active = (v @ ZA.T + zc).max(axis=0) > tol
                out.append((v, ZA * active[:, None], zc * active))
                n_out += 1
                if n_out > max_cells:
                    raise SolverError(f"more than {max_cells} linear regions")
                if n_out % 256 == 0 and time.perf_counter() > deadline:
                    raise SolverError("region enumeration ran out of time")
                continue
            j = start + int(hit[0])
            pos, neg = _split(v, v @ ZA[j] + zc[j])
            stack.append((pos, j + 1))
            stack.append((neg, j + 1))
    return out


def affine_pieces(nets: Sequence[ReLUNetwork], lo: np.ndarray, hi: np.ndarray,
                  tol: float = 1e-12, max_cells: int = 200_000,
                  time_limit: float = math.inf) -> list[Piece]:
    """The common linear regions of ``nets`` on the box ``[lo, hi]`` (``d <= 2``).

    Parameters
    ----------
    nets:
        Networks with the same input dimension ``d`` (1 or 2).
    lo, hi:
        The box, arrays of shape ``(d,)``.
    tol:
        Pre-activations within ``tol`` of zero on a whole cell are not cut along.
    max_cells:
        Give up (:class:`~reluscope.SolverError`) beyond this many cells.
    time_limit:
        Give up (:class:`~reluscope.SolverError`) after this many seconds.

    Returns
    -------
    list of Piece
        Convex cells covering the box, each with every network's affine form on it.
    """
    deadline = time.perf_counter() + time_limit
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    d = lo.size
    if d not in (1, 2) or any(net.input_dim != d for net in nets):
        raise InvalidDomain(f"region enumeration needs input dimension 1 or 2; got {d}")
    if d == 1:
        box = np.array([[lo[0]], [hi[0]]])
    else:
        box = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]])
    # cells carry, per network already processed, its affine output map
    cells: list[tuple[np.ndarray, tuple]] = [(box, ())]
    for net in nets:
        nxt: list[tuple[np.ndarray, tuple]] = []
        for verts, maps in cells:
            layer_cells = [(verts, np.eye(d), np.zeros(d))]
            for W, b in zip(net.weights[:-1], net.biases[:-1]):
                layer_cells = _refine(layer_cells, W, b, tol, max_cells, deadline)
            W, b = net.weights[-1], net.biases[-1]
            for v, A, c in layer_cells:
                nxt.append((v, (*maps, (W @ A, W @ c + b))))
            if len(nxt) > max_cells:
                raise SolverError(f"more than {max_cells} linear regions")
        cells = nxt
    return [Piece(v, maps) for v, maps in cells]


def arrangement_vertices(W: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                         min_sin: float = 1e-4) -> np.ndarray:
    """The vertices of the arrangement of the lines ``W_i · x + b_i = 0`` inside the box
    ``[lo, hi]`` of the plane (with the box's edges as four more lines): every pairwise
    intersection that lies in the box, plus the corners.

    For networks with one hidden layer these lines are all the kinks, so every linear region
    is a polygon whose vertices are among these points, and a maximum of the difference of
    such networks over the box is attained at one of them.

    Two lines meeting in the box at an angle whose sine is below ``min_sin`` (but not
    parallel) make the intersection ill-conditioned: then :class:`~reluscope.SolverError`
    is raised (callers fall back to :func:`affine_pieces`). Otherwise each computed vertex is
    within about ``1e-16 / min_sin`` (relative) of the true one.
    """
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    if W.ndim != 2 or W.shape[1] != 2 or lo.shape != (2,) or hi.shape != (2,):
        raise InvalidDomain(f"arrangement_vertices needs lines in the plane; got weights of shape {W.shape}")
    edges_W = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    edges_b = np.array([-lo[0], -hi[0], -lo[1], -hi[1]])
    keep = np.abs(W).sum(axis=1) > 0  # a zero row is no line (the neuron is constant)
    A = np.vstack([W[keep], edges_W])
    c = np.concatenate([b[keep], edges_b])
    i, j = np.triu_indices(len(A), k=1)
    det = A[i, 0] * A[j, 1] - A[i, 1] * A[j, 0]
    scale = np.linalg.norm(A[i], axis=1) * np.linalg.norm(A[j], axis=1)
    meet = det != 0  # parallel (or identical) lines add no vertex
    i, j, det, sin = i[meet], j[meet], det[meet], np.abs(det[meet]) / scale[meet]
    # Cramer's rule for A_i x = -c_i, A_j x = -c_j
    x = (-c[i] * A[j, 1] + c[j] * A[i, 1]) / det
    y = (-A[i, 0] * c[j] + A[j, 0] * c[i]) / det
    P = np.column_stack([x, y])
    slack = 1e-9 * np.maximum(1.0, np.abs(hi - lo))
    inside = np.all((P >= lo - slack) & (P <= hi + slack), axis=1)
    if np.any(inside & (sin < min_sin)):
        raise SolverError("two kink lines meet in the box at a very small angle")
    return np.clip(P[inside], lo, hi)

"""Exact linear regions of ReLU networks on a box of low input dimension.

On a box of small dimension the common linear regions of a few networks can be listed
outright: each hidden neuron's pre-activation is affine on a cell of the current partition,
so cutting every cell along the hyperplane where a pre-activation changes sign, layer by
layer and network by network, ends with convex cells (segments, polygons, polytopes) on
which every network is affine. A continuous piecewise-affine function attains its maximum
over a cell at a vertex, so maxima over the box are maxima over finitely many vertices.

Used by :func:`reluscope.sup_distance` and the gradient functions with
``method="enumerate"`` (and by ``"auto"`` in low dimension), where it replaces the MILPs.
The geometry is floating point: a sign is "changing" on a cell when the pre-activation
exceeds ``tol`` in absolute value at vertices on both sides, so a cell may straddle a
hyperplane by at most ``tol``; the callers widen their upper bounds accordingly
(docs/background/distances.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ._budget import Budget
from ._validation import check_int, check_memory, check_time_limit
from .errors import InvalidDomain, SolverError
from .network import ReLUNetwork

__all__ = ["Piece", "affine_pieces", "arrangement_vertices", "refine"]


@dataclass(frozen=True)
class Piece:
    """A convex cell and the affine form of each network on it.

    ``vertices`` has shape ``(m, d)`` (a segment's two end points for ``d = 1``, a polygon's
    corners in order for ``d = 2``); ``maps[i] = (J, c)`` gives network ``i`` as
    ``x -> J x + c`` (``J`` of shape ``(k, d)``) on the cell.
    """

    vertices: np.ndarray
    maps: tuple[tuple[np.ndarray, np.ndarray], ...]
    incidence: np.ndarray | None = None  # d >= 3: vertex-facet incidences (for further cuts)


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


_ENUMERATION_HINT = "use the MILP / bound methods in this dimension"


def _split_incidence(V: np.ndarray, I: np.ndarray, vals: np.ndarray, tol: float
                     ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Cut a convex polytope in ``d >= 3`` dimensions, given by its vertices ``V`` and their
    facet incidences ``I`` (``I[v, F]``: vertex ``v`` lies on facet ``F``), along the zero set
    of an affine function with values ``vals`` at the vertices.

    Every edge joins two vertices sharing at least ``d - 1`` facets, so the points where such
    pairs of opposite sign meet the cut contain all new vertices (in a degenerate polytope
    a few extra points inside faces may come along; they lie in the part, so maxima over
    the point set are unchanged). Vertices within ``tol`` of the cut belong to both parts."""
    d = V.shape[1]
    pos, neg = vals > tol, vals < -tol
    zero = ~(pos | neg)
    P, N = np.flatnonzero(pos), np.flatnonzero(neg)
    Ii = I.astype(np.int32)
    # the int32 table of shared facets of every opposite pair
    check_memory(4.0 * len(P) * len(N), f"region enumeration (cutting a cell with {len(V)} vertices in {d} dimensions)",
                 _ENUMERATION_HINT, error=SolverError)
    common = Ii[P] @ Ii[N].T
    pi, ni = np.nonzero(common >= d - 1)
    a, b = P[pi], N[ni]
    t = vals[a] / (vals[a] - vals[b])
    newV = V[a] + (V[b] - V[a]) * t[:, None]
    newI = I[a] & I[b]

    newI = np.concatenate([newI, np.ones((len(newV), 1), dtype=bool)], axis=1)
    I1 = np.concatenate([I, zero[:, None]], axis=1)

    def part(keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Vp = np.concatenate([V[keep], newV])
        Ip = np.concatenate([I1[keep], newI])
        # a facet of a d-polytope has at least d vertices: drop hyperplanes that are not facets
        return Vp, Ip[:, Ip.sum(axis=0) >= d]

    return part(pos | zero), part(neg | zero)


def _refine(cells: list[tuple[np.ndarray, np.ndarray, np.ndarray]], W: np.ndarray, b: np.ndarray,
            tol: float, max_cells: int, budget: Budget) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Cut each cell ``(vertices, A, c)`` (layer input ``h = A x + c``) by the sign changes
    of the pre-activations ``W h + b``; return cells with the post-activation map."""
    out: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    n_out = 0
    for (verts, inc), A, c in cells:
        ZA = W @ A
        zc = W @ c + b
        stack = [(verts, inc, 0)]
        while stack:
            v, I, start = stack.pop()
            vals = v @ ZA.T + zc  # (m, n): every pre-activation at every vertex
            top = vals.max(axis=0)
            crossing = (top[start:] > tol) & (vals[:, start:].min(axis=0) < -tol)
            hit = np.flatnonzero(crossing)
            if hit.size == 0:
                # no neuron crosses zero on this cell (beyond tol): a neuron is active iff it
                # exceeds tol at some vertex (else |z| <= tol on the whole cell)
                active = top > tol
                out.append(((v, I), ZA * active[:, None], zc * active))
                n_out += 1
                if n_out > max_cells:
                    raise SolverError(f"more than {max_cells} linear regions")
                if n_out % 256 == 0 and budget.expired():
                    raise SolverError("region enumeration ran out of time")
                continue
            j = start + int(hit[0])
            if I is None:
                pos, neg = _split(v, vals[:, j])
                stack.append((pos, None, j + 1))
                stack.append((neg, None, j + 1))
            else:
                (pv, pi), (nv, ni) = _split_incidence(v, I, vals[:, j], tol)
                stack.append((pv, pi, j + 1))
                stack.append((nv, ni, j + 1))
    return out


def affine_pieces(nets: Sequence[ReLUNetwork], lo: np.ndarray, hi: np.ndarray, *,
                  tol: float = 1e-12, max_cells: int = 200_000,
                  time_limit: float | None = None, budget: Budget | None = None) -> list[Piece]:
    """The common linear regions of ``nets`` on the box ``[lo, hi]``.

    In one and two dimensions the cells are segments and polygons (vertices in order); in
    ``d >= 3`` they are polytopes given by their vertices (unordered), cut with the help of
    vertex-facet incidences. The number of regions grows quickly with ``d``: beyond a few
    dimensions use the MILPs instead.

    Parameters
    ----------
    nets:
        Networks with the same input dimension ``d``.
    lo, hi:
        The box, arrays of shape ``(d,)``.
    tol:
        Pre-activations within ``tol`` of zero on a whole cell are not cut along.
    max_cells:
        Give up (:class:`~reluscope.SolverError`) beyond this many cells.
    time_limit:
        Give up (:class:`~reluscope.SolverError`) after this many seconds (``None``: no limit
        but ``budget``'s).
    budget:
        A caller's ``Budget`` (``reluscope._budget``); ``time_limit`` then caps it.

    Returns
    -------
    list of Piece
        Convex cells covering the box, each with every network's affine form on it.
    """
    budget = Budget.of(check_time_limit(time_limit, allow_none=True), budget)
    max_cells = check_int(max_cells, "max_cells")
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    d = lo.size
    if d < 1 or any(net.input_dim != d for net in nets):
        raise InvalidDomain(f"region enumeration needs networks on the box's dimension {d}")
    if d == 1:
        box, inc = np.array([[lo[0]], [hi[0]]]), None
    elif d == 2:
        box, inc = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]]), None
    else:
        # the 2^d corners (coordinates, bits, incidences)
        check_memory(2.0 ** d * d * 18, f"region enumeration in {d} dimensions (the 2^{d} box corners)",
                     _ENUMERATION_HINT, error=SolverError)
        # corner v lies on facet "x_j = lo_j" or "x_j = hi_j" for every j
        bits = (np.arange(2 ** d)[:, None] >> np.arange(d)[None, :]) & 1
        box = np.where(bits == 1, hi, lo)
        inc = np.concatenate([bits == 0, bits == 1], axis=1)
    pieces = [Piece(box, (), inc)]
    for net in nets:
        nxt: list[Piece] = []
        for piece in pieces:
            nxt.extend(refine(piece, net, tol=tol, max_cells=max_cells - len(nxt), budget=budget))
        pieces = nxt
    return pieces


def refine(piece: Piece, net: ReLUNetwork, *, tol: float = 1e-12, max_cells: int = 200_000,
           budget: Budget | None = None) -> list[Piece]:
    """Cut ``piece`` into the linear regions of ``net`` on it; each part keeps the piece's
    maps and gets ``net``'s affine form appended. :class:`~reluscope.SolverError` beyond
    ``max_cells`` cells or when ``budget`` (a ``reluscope._budget.Budget``; ``None``: no
    limit) is spent."""
    budget = Budget.of(None, budget)
    d = piece.vertices.shape[1]
    layer_cells = [((piece.vertices, piece.incidence), np.eye(d), np.zeros(d))]
    for W, b in zip(net.weights[:-1], net.biases[:-1]):
        layer_cells = _refine(layer_cells, W, b, tol, max_cells, budget)
    W, b = net.weights[-1], net.biases[-1]
    return [Piece(g[0], (*piece.maps, (W @ A, W @ c + b)), g[1]) for g, A, c in layer_cells]


def arrangement_vertices(W: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray, *,
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

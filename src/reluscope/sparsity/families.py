"""Explicit factor families ``W(eps)`` and the not-closed certificates built from them.

* :func:`degeneration_family` — the first-order degeneration between two neurons of one
  hidden layer, as exact Laurent polynomials; :func:`lu_certificate` — the LU pattern's
  explicit certificate.
* :func:`find_degeneration_certificate` — a search over all neuron pairs (any depth) for a
  family whose limit Z3 proves outside ``L_I``.
* :func:`candidate_certificate` — the family of a two-factor
  :class:`~reluscope.sparsity.candidates.FirstOrderCandidate` on the original neurons.

Every certificate here is a :class:`~reluscope.sparsity.certificates.NotClosedCertificate`,
re-checked from scratch by :func:`reluscope.sparsity.verify`.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from .._budget import Budget
from ..errors import InvalidPattern
from .candidates import FirstOrderCandidate
from .certificates import LaurentPoly, NotClosedCertificate, laurent_matmul
from .pattern import SparsityPattern
from .qe import membership
from .terms import Term

__all__ = ["degeneration_family", "lu_certificate", "find_degeneration_certificate", "candidate_certificate"]


def _zero_matrix(rows: int, cols: int) -> list[list[LaurentPoly]]:
    return [[LaurentPoly() for _ in range(cols)] for _ in range(rows)]


def degeneration_family(
    pattern: SparsityPattern,
    layer: int,
    k: int,
    l: int,
    a: Sequence[Any],
    b: Sequence[Any],
    a_prime: Sequence[Any],
    b_prime: Sequence[Any],
    fixed: Sequence[np.ndarray] | None = None,
    a_second: Sequence[Any] | None = None,
    b_second: Sequence[Any] | None = None,
) -> tuple[tuple[tuple[LaurentPoly, ...], ...], ...]:
    """The first-order degeneration family between neurons ``k`` and ``l`` of hidden layer ``layer``.

    With ``u`` the columns of ``W_{layer+1}`` and ``v`` the rows of ``W_layer``:
    ``u_k = (a + eps a')/eps``, ``v_k = b + eps b'``, ``u_l = -a/eps + a''``, ``v_l = b + eps b''``,
    so ``u_k v_k^T + u_l v_l^T = a (b' - b'')^T + (a' + a'') b^T + eps (a' b'^T + a'' b''^T)``
    (``a'' = b'' = 0`` by default). All other entries take the
    rational values of ``fixed`` (a list of integer/rational matrices, one per factor,
    default zero). Supports: ``a`` within ``C_k & C_l``, ``b`` within ``R_k & R_l``, ``a'``
    within ``C_k``, ``b'`` within ``R_k``, ``a''`` within ``C_l``, ``b''`` within ``R_l``
    (checked later by :func:`verify`).
    """
    masks = pattern.masks
    factors = []
    for f, m in enumerate(masks):
        base = _zero_matrix(*m.shape)
        if fixed is not None:
            for i in range(m.shape[0]):
                for j in range(m.shape[1]):
                    if fixed[f][i][j] != 0:
                        base[i][j] = LaurentPoly.const(Fraction(fixed[f][i][j]))
        factors.append(base)
    left, right = factors[layer], factors[layer - 1]  # W_{layer+1} (u columns), W_layer (v rows)
    a2 = [0] * masks[layer].shape[0] if a_second is None else a_second
    b2 = [0] * masks[layer - 1].shape[1] if b_second is None else b_second
    for i in range(masks[layer].shape[0]):
        left[i][k] = LaurentPoly(((-1, Fraction(a[i])), (0, Fraction(a_prime[i]))))
        left[i][l] = LaurentPoly(((-1, -Fraction(a[i])), (0, Fraction(a2[i]))))
    for j in range(masks[layer - 1].shape[1]):
        right[k][j] = LaurentPoly(((0, Fraction(b[j])), (1, Fraction(b_prime[j]))))
        right[l][j] = LaurentPoly(((0, Fraction(b[j])), (1, Fraction(b2[j]))))
    return tuple(tuple(tuple(r) for r in f) for f in factors)


def _limit_of(factors: tuple) -> tuple[tuple[Fraction, ...], ...] | None:
    product = factors[0]
    for f in factors[1:]:
        product = laurent_matmul(f, product)
    out = []
    for row in product:
        vals = []
        for p in row:
            lim = p.limit()
            if lim is None:
                return None
            vals.append(lim)
        out.append(tuple(vals))
    return tuple(out)


def lu_certificate(n: int) -> NotClosedCertificate:
    """An explicit, checkable non-closedness certificate for the ``n x n`` LU pattern (``n >= 2``).

    Degeneration of neuron ``n-1`` (full support) against neuron ``0`` (support ``{0} x {0}``)
    with ``a = b = e_0`` and ``a' = b' = e_{n-1}``: the limit is
    ``A = E_{0,n-1} + E_{n-1,0}`` (the anti-diagonal ones of the corner block; for ``n = 2``
    this is the notes' ``U_eps L_eps -> J``). ``A`` is not a product ``U L``: its corner
    entry ``A[n-1, n-1] = U[n-1,n-1] L[n-1,n-1]`` vanishes, which forces row ``n-1`` or column
    ``n-1`` of ``U L`` to vanish, and neither does in ``A``.
    """
    n = int(n)
    if n < 2:
        raise InvalidPattern(f"LU certificate needs n >= 2, got {n}")
    pattern = SparsityPattern.lu(n)
    e0 = [1] + [0] * (n - 1)
    en = [0] * (n - 1) + [1]
    factors = degeneration_family(pattern, 1, n - 1, 0, e0, e0, en, en)
    limit = _limit_of(factors)
    assert limit is not None
    return NotClosedCertificate(pattern, limit, factors, rule="lu-corner-degeneration",
                                note="u_k=(a+e a')/e, v_k=b+e b', u_l=-a/e, v_l=b")


def find_degeneration_certificate(
    pattern: SparsityPattern, time_limit: float | None = 10.0, seed: int = 0, max_tries: int = 200,
    *, budget: Budget | None = None,
) -> NotClosedCertificate | None:
    """Search first-order degenerations for a limit outside ``L_I`` (checked with Z3).

    For every hidden layer and ordered pair of neurons ``(k, l)`` whose rank-one supports
    overlap, small random integer vectors ``a, b, a', b'`` on the allowed supports (other
    entries zero or small random integers) give a family ``W(eps)`` with a rational limit
    ``A``; ``A`` is kept when Z3 proves ``A not in L_I``. Returns ``None`` if nothing is
    found within ``time_limit`` seconds or ``budget`` (which proves nothing either way).
    """
    budget = Budget.of(time_limit, budget)
    # each Z3 call gets at most a quarter of the search's time (at least 1 s)
    per_call = max(1.0, budget.solver_limit() / 4)
    rng = np.random.default_rng(seed)
    masks = pattern.masks
    candidates = []
    for layer in range(1, pattern.n_factors):
        m_left, m_right = masks[layer], masks[layer - 1]
        for k in range(m_left.shape[1]):
            for l in range(m_left.shape[1]):
                if k == l:
                    continue
                ca = m_left[:, k] & m_left[:, l]
                rb = m_right[k] & m_right[l]
                if ca.any() and rb.any():
                    candidates.append((layer, k, l, ca, rb))
    if not candidates:
        return None
    tries = 0
    seen: set = set()
    while not budget.expired() and tries < max_tries:
        layer, k, l, ca, rb = candidates[tries % len(candidates)]
        round_ = tries // len(candidates)
        tries += 1
        m_left, m_right = masks[layer], masks[layer - 1]

        def draw(mask: np.ndarray, sparse: bool) -> list[int]:
            vals = rng.integers(1, 4, size=mask.shape) * rng.choice([-1, 1], size=mask.shape)
            if sparse:  # a single entry: the simplest degenerations first
                keep = np.zeros_like(mask)
                idx = np.flatnonzero(mask)
                keep[rng.choice(idx)] = True
                mask = mask & keep
            return [int(v) if mask[i] else 0 for i, v in enumerate(vals)]

        sparse = round_ % 2 == 0
        a = draw(ca, sparse)
        b = draw(rb, sparse)
        a_p = draw(m_left[:, k].copy(), sparse)
        b_p = draw(m_right[k].copy(), sparse)
        a_2 = b_2 = None
        if round_ % 4 >= 2:  # perturb neuron l too
            a_2 = draw(m_left[:, l].copy(), sparse) if rng.random() < 0.5 else None
            b_2 = draw(m_right[l].copy(), sparse) if (a_2 is None or rng.random() < 0.5) else None
        # factors outside the degenerating pair get generic values (else the product vanishes);
        # the other neurons of the pair get zeros or, every third round, generic values too
        fixed = [np.where(m, rng.integers(-2, 3, size=m.shape), 0) for m in masks]
        if round_ % 3 != 2:
            fixed[layer][:] = 0
            fixed[layer - 1][:] = 0
        fixed[layer][:, [k, l]] = 0
        fixed[layer - 1][[k, l], :] = 0
        factors = degeneration_family(pattern, layer, k, l, a, b, a_p, b_p, fixed, a_2, b_2)
        limit = _limit_of(factors)
        if limit is None or limit in seen:
            continue
        seen.add(limit)
        if budget.remaining() <= 0.05:
            break
        member = membership(pattern, limit, time_limit=None, budget=budget.child(per_call))
        if member is False:
            return NotClosedCertificate(
                pattern, limit, factors, rule="first-order-degeneration",
                note=f"hidden layer {layer}, neurons k={k}, l={l}: u_k=(a+e a')/e, v_k=b+e b', u_l=-a/e+a'', v_l=b+e b''",
            )
    return None


def candidate_certificate(pattern: SparsityPattern, cand: FirstOrderCandidate) -> NotClosedCertificate:
    """The explicit factor family of a first-order candidate on the original neurons."""
    w1m, w2m = pattern.masks
    H, n0 = w1m.shape
    n2 = w2m.shape[0]
    W1 = [[LaurentPoly() for _ in range(n0)] for _ in range(H)]
    W2 = [[LaurentPoly() for _ in range(H)] for _ in range(n2)]
    used: set[int] = set()

    def neuron_of(term: Term) -> int:
        for k in term.neurons:
            if k not in used:
                used.add(k)
                return k
        raise InvalidPattern("internal: no free neuron left in a term")  # pragma: no cover

    i, j = cand.entry
    ks, kt = neuron_of(cand.s), neuron_of(cand.t)
    W2[i][ks] = LaurentPoly.monomial(1, -1)
    W2[i][kt] = LaurentPoly.monomial(-1, -1)
    W1[ks][j] = LaurentPoly.const(1)
    W1[kt][j] = LaurentPoly.const(1)
    for k, a, b in ((ks, cand.a1, cand.b1), (kt, cand.a2, cand.b2)):
        for ii, v in a:
            W2[ii][k] = W2[ii][k] + LaurentPoly.const(v)
        for jj, v in b:
            W1[k][jj] = W1[k][jj] + LaurentPoly.monomial(v, 1)
    for q, u, w in cand.extra:
        k = neuron_of(q)
        for ii, x in u:
            W2[ii][k] = LaurentPoly.const(x)
        for jj, y in w:
            W1[k][jj] = LaurentPoly.const(y)
    A = cand.limit()
    limit = tuple(tuple(A.get((r, c), Fraction(0)) for c in range(n0)) for r in range(n2))
    return NotClosedCertificate(
        pattern,
        limit,
        (tuple(tuple(r) for r in W1), tuple(tuple(r) for r in W2)),
        rule=f"reductions/{cand.kind}",
        note=f"neurons {ks} and {kt} diverge like 1/eps at entry {cand.entry}; Z3 proves A not in L_I",
    )

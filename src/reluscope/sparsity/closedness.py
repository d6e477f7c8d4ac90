"""Deciding whether the linear counterpart ``L_I`` of a sparsity pattern is closed.

:func:`is_closed` returns a :class:`~reluscope.sparsity.verdict.ClosednessVerdict`:

* ``method="auto"`` — the fast decisions of :mod:`reluscope.sparsity.reductions` when that
  module is present, then the exact rules ``single-factor`` / ``dense``, then quantifier
  elimination on the pattern;
* ``method="qe"`` — quantifier elimination only (support variables only, see
  :mod:`reluscope.sparsity.qe`);
* ``method="plain"`` — the published plain encoding (baseline; no certificate search).

When quantifier elimination proves non-closedness, :func:`find_degeneration_certificate`
searches explicit first-order degenerations for a checkable
:class:`~reluscope.sparsity.verdict.NotClosedCertificate`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from ..errors import InvalidPattern
from .pattern import SparsityPattern
from .verdict import ClosedCertificate, ClosednessVerdict, LaurentPoly, NotClosedCertificate, laurent_matmul

__all__ = ["is_closed", "as_pattern", "lu_certificate", "find_degeneration_certificate", "degeneration_family"]

_METHODS = ("auto", "qe", "plain")


def as_pattern(value: Any) -> SparsityPattern:
    """A :class:`SparsityPattern` from a pattern, a ``ReLUNetwork``, text notation or masks."""
    if isinstance(value, SparsityPattern):
        return value
    from ..network import ReLUNetwork

    if isinstance(value, ReLUNetwork):
        return SparsityPattern.from_network(value)
    if isinstance(value, str):
        return SparsityPattern.from_text(value)
    if isinstance(value, (list, tuple)):
        return SparsityPattern(value)
    raise InvalidPattern(f"cannot make a sparsity pattern from {type(value).__name__}")


# ---------------------------------------------------------------------------------- certificates
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
    pattern: SparsityPattern, time_limit: float = 10.0, seed: int = 0, max_tries: int = 200
) -> NotClosedCertificate | None:
    """Search first-order degenerations for a limit outside ``L_I`` (checked with Z3).

    For every hidden layer and ordered pair of neurons ``(k, l)`` whose rank-one supports
    overlap, small random integer vectors ``a, b, a', b'`` on the allowed supports (other
    entries zero or small random integers) give a family ``W(eps)`` with a rational limit
    ``A``; ``A`` is kept when Z3 proves ``A not in L_I``. Returns ``None`` if nothing is
    found within ``time_limit`` seconds (which proves nothing either way).
    """
    from .qe import membership

    rng = np.random.default_rng(seed)
    masks = pattern.masks
    deadline = time.monotonic() + float(time_limit)
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
    while time.monotonic() < deadline and tries < max_tries:
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
        remaining = deadline - time.monotonic()
        if remaining <= 0.05:
            break
        member = membership(pattern, limit, time_limit=min(remaining, max(1.0, float(time_limit) / 4)))
        if member is False:
            return NotClosedCertificate(
                pattern, limit, factors, rule="first-order-degeneration",
                note=f"hidden layer {layer}, neurons k={k}, l={l}: u_k=(a+e a')/e, v_k=b+e b', u_l=-a/e+a'', v_l=b+e b''",
            )
    return None


# ---------------------------------------------------------------------------------- decision
def _fast_rules(pattern: SparsityPattern, start: float) -> ClosednessVerdict | None:
    if pattern.n_factors == 1:
        return ClosednessVerdict(True, "single-factor", time.perf_counter() - start,
                                 ClosedCertificate(pattern, "single-factor"),
                                 "one factor: L_I is a coordinate subspace")
    if pattern.is_dense():
        return ClosednessVerdict(True, "dense", time.perf_counter() - start, ClosedCertificate(pattern, "dense"),
                                 f"full masks: L_I = matrices of rank <= {min(pattern.widths)}, a closed set")
    return None


def is_closed(
    pattern: SparsityPattern | Any,
    time_limit: float = 30.0,
    method: str = "auto",
    certificate_time_limit: float | None = None,
    seed: int = 0,
) -> ClosednessVerdict:
    """Decide whether ``L_I = {W_L ... W_1 : supp W_l in I_l}`` is closed.

    Parameters
    ----------
    pattern:
        A :class:`SparsityPattern` (or a ``ReLUNetwork`` / text notation / list of masks).
    time_limit:
        Wall-clock seconds for the decision (quantifier elimination runs in a child process
        killed at the limit).
    method:
        ``"auto"`` (fast decisions if available, then QE), ``"qe"`` (QE only) or
        ``"plain"`` (the published encoding, no certificate search).
    certificate_time_limit:
        Seconds for the certificate search after QE proves non-closedness (default:
        ``time_limit``).
    seed:
        Seed of the certificate search.

    Returns
    -------
    ClosednessVerdict
        ``closed`` True / False / None (undecided within the limit — never a guess).
    """
    if method not in _METHODS:
        raise InvalidPattern(f"unknown closedness method {method!r}; use one of {', '.join(_METHODS)}")
    if not time_limit > 0:
        raise InvalidPattern(f"time_limit must be positive, got {time_limit}")
    pattern = as_pattern(pattern)
    start = time.perf_counter()
    if method == "auto":
        try:
            from .reductions import decide_fast
        except ModuleNotFoundError as exc:
            if exc.name != "reluscope.sparsity.reductions":
                raise
            decide_fast = None
        if decide_fast is not None:
            verdict = decide_fast(pattern, time_limit=time_limit)
            if verdict is not None:
                return verdict
        verdict = _fast_rules(pattern, start)
        if verdict is not None:
            return verdict
    from .qe import decide_plain, decide_qe

    remaining = max(0.1, time_limit - (time.perf_counter() - start))
    if method == "plain":
        closed, _, message = decide_plain(pattern, time_limit=remaining)
        seconds = time.perf_counter() - start
        certificate = ClosedCertificate(pattern, "qe", {"encoding": "plain"}) if closed else None
        return ClosednessVerdict(closed, "plain", seconds, certificate, message)
    closed, _, message = decide_qe(pattern, time_limit=remaining)
    if closed is None:
        return ClosednessVerdict(None, "qe", time.perf_counter() - start, None,
                                 f"quantifier elimination undecided: {message}")
    if closed:
        return ClosednessVerdict(True, "qe", time.perf_counter() - start, ClosedCertificate(pattern, "qe"),
                                 f"quantifier elimination: the non-closedness sentence is false ({message})")
    budget = time_limit if certificate_time_limit is None else certificate_time_limit
    certificate = find_degeneration_certificate(pattern, time_limit=budget, seed=seed)
    reasoning = f"quantifier elimination: the non-closedness sentence is true ({message})"
    if certificate is None:
        reasoning += "; no explicit factor family found within the search budget (certificate missing)"
    else:
        reasoning += f"; explicit family found ({certificate.rule}): limit A is not in L_I"
    return ClosednessVerdict(False, "qe", time.perf_counter() - start, certificate, reasoning)

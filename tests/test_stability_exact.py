"""Exact 1-D sup and W^{1,inf} distances by kink enumeration (a TEST helper used to
cross-check the stability module; the library itself uses reluscope.distance).

For shallow 1-D networks f, g the difference is piecewise linear with breakpoints among
the kinks -b_i/a_i; its sup over [lo, hi] is attained at a breakpoint or an endpoint and
its derivative is constant between consecutive breakpoints."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from reluscope import ReLUNetwork


def _kinks(net, lo: float, hi: float) -> np.ndarray:
    if isinstance(net, ReLUNetwork):
        a, b = net.weights[0][:, 0], net.biases[0]
    else:  # RestrictedShallowNetwork
        a, b = net.a[:, 0], net.b
    nz = a != 0
    k = -b[nz] / a[nz]
    return k[(k > lo) & (k < hi)]


def exact_1d(f, g, lo: float = -1.0, hi: float = 1.0) -> tuple[float, float]:
    """(sup |f - g|, ess sup |f' - g'|) on [lo, hi] for shallow 1-D networks."""
    pts = np.unique(np.concatenate([[lo, hi], _kinks(f, lo, hi), _kinks(g, lo, hi)]))
    diff = lambda X: (f(X[:, None]) - g(X[:, None]))[:, 0]
    sup = float(np.abs(diff(pts)).max())
    left, right = pts[:-1], pts[1:]
    keep = right - left > 1e-14
    left, right = left[keep], right[keep]
    if left.size == 0:
        return sup, 0.0
    slopes = (diff(right) - diff(left)) / (right - left)
    return sup, float(np.abs(slopes).max())


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 6))
def test_exact_1d_matches_dense_sampling(seed, width):
    f = ReLUNetwork.random((1, width, 1), seed=seed, bias_scale=1.0)
    g = ReLUNetwork.random((1, width, 1), seed=seed + 1, bias_scale=1.0)
    sup, lip = exact_1d(f, g)
    X = np.linspace(-1, 1, 20001)
    d = (f(X[:, None]) - g(X[:, None]))[:, 0]
    assert sup >= np.abs(d).max() - 1e-12
    assert sup <= np.abs(d).max() + 1e-3 * (1 + lip)
    fd = np.abs(np.diff(d) / np.diff(X))
    assert lip >= fd.max() - 1e-6
    assert lip <= fd.max() + 1e-6 or np.isclose(lip, np.sort(fd)[-1], rtol=1e-3)

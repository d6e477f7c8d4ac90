"""Verification of the exact function-space distances (reluscope.distance).

Ground truth is computed independently of the MILPs:
* in 1-D, by exact enumeration of the kinks of f and g (a continuous piecewise-linear
  function attains its extrema over an interval at kinks or endpoints; its derivative is
  constant between consecutive kinks);
* in 2-D, by a fine grid plus the exact maximum (one LP) of every affine piece met.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from reluscope import Box, PointSet, ReLUNetwork
from reluscope.distance import (
    DistanceResult,
    SobolevResult,
    lipschitz_constant,
    sobolev_distance,
    sup_distance,
)
from reluscope.errors import InvalidArgument, InvalidDomain, InvalidNetwork, ReluscopeError
from reluscope.symmetry import parameter_distance

TOL = 1e-5


# ----------------------------------------------------------------------------- ground truth
def kinks_1d(nets, lo, hi):
    """Endpoints plus every point of (lo, hi) where a hidden neuron of one of ``nets``
    changes sign (found segment by segment, layer by layer: exact up to rounding)."""
    pts = np.array([lo, hi], dtype=np.float64)
    for net in nets:
        for layer in range(net.depth - 1):
            Z = net.preactivations(pts[:, None])[layer]
            new = []
            for j in range(Z.shape[1]):
                z = Z[:, j]
                for a in range(len(pts) - 1):
                    if z[a] * z[a + 1] < 0:
                        new.append(pts[a] + (pts[a + 1] - pts[a]) * z[a] / (z[a] - z[a + 1]))
            pts = np.unique(np.concatenate([pts, np.array(new)]))
    # layer l is affine between the kinks of layers < l, so its zeros are found exactly
    return pts


def true_sup_1d(f, g, lo, hi):
    pts = kinks_1d([f, g], lo, hi)
    return float(np.abs(f(pts[:, None]) - g(pts[:, None])).max())


def true_grad_1d(f, g, lo, hi):
    """max over segments between consecutive kinks of |d/dx (f - g)_k| (exact: the
    full-dimensional linear regions in 1-D are exactly these segments)."""
    pts = kinks_1d([f, g] if g is not None else [f], lo, hi)
    best = 0.0
    for a, b in zip(pts[:-1], pts[1:]):
        if b - a <= 1e-12:
            continue
        x = np.array([(a + b) / 2])
        J = f.local_affine(x)[0] - (g.local_affine(x)[0] if g is not None else 0.0)
        best = max(best, float(np.abs(J).max()))
    return best


def region_constraints(net, x):
    """Affine maps of every hidden pre-activation on the linear region of x, with signs."""
    d = net.input_dim
    A, c, h = np.eye(d), np.zeros(d), x
    rows, rhs = [], []
    for i, (W, b) in enumerate(net.layers()):
        A, c = W @ A, W @ c + b
        z = W @ h + b
        if i == net.depth - 1:
            break
        act = z > 0
        s = np.where(act, 1.0, -1.0)
        rows.append(-s[:, None] * A)
        rhs.append(s * c)
        A, c, h = A * act[:, None], c * act, np.maximum(z, 0)
    return np.vstack(rows), np.concatenate(rhs)


def true_sup_2d(f, g, lo, hi, n=121):
    """Grid + exact maximum of every affine piece of f - g met by the grid (one LP each)."""
    xs = np.linspace(lo, hi, n)
    X = np.array(np.meshgrid(xs, xs)).reshape(2, -1).T
    pats = np.hstack([np.hstack(f.activation_pattern(X)), np.hstack(g.activation_pattern(X))])
    _, first = np.unique(pats, axis=0, return_index=True)
    best = float(np.abs(f(X) - g(X)).max())
    for i in first:
        x = X[i]
        A1, b1 = region_constraints(f, x)
        A2, b2 = region_constraints(g, x)
        Jf, _ = f.local_affine(x)
        Jg, _ = g.local_affine(x)
        for k in range(f.output_dim):
            for s in (1.0, -1.0):
                res = linprog(-s * (Jf[k] - Jg[k]), A_ub=np.vstack([A1, A2]), b_ub=np.concatenate([b1, b2]),
                              bounds=[(lo, hi)] * 2, method="highs")
                if res.status == 0:
                    y = np.clip(res.x, lo, hi)
                    best = max(best, float(np.abs(f(y) - g(y)).max()))
    return best


def joint_pattern(f, g, X):
    return np.hstack([np.hstack(f.activation_pattern(X)), np.hstack(g.activation_pattern(X))])


def true_grad_2d_grid(f, g, lo, hi, n=151):
    """Max |Jacobian entry| of f - g over the linear regions met by a grid, and the set of
    activation patterns met."""
    xs = np.linspace(lo, hi, n)
    X = np.array(np.meshgrid(xs, xs)).reshape(2, -1).T + 1e-7 * np.pi  # avoid exact kinks
    X = np.clip(X, lo, hi)
    best = 0.0
    pats = joint_pattern(f, g, X)
    uniq, first = np.unique(pats, axis=0, return_index=True)
    for i in first:
        J = f.local_affine(X[i])[0] - g.local_affine(X[i])[0]
        best = max(best, float(np.abs(J).max()))
    return best, {p.tobytes() for p in uniq}


def nets_pair(seed, d, widths_hidden, k):
    f = ReLUNetwork.random((d, *widths_hidden, k), seed=seed)
    g = ReLUNetwork.random((d, *widths_hidden[::-1], k), seed=seed + 1000)
    return f, g


def assert_bracket(r, truth, tol=TOL):
    scale = max(1.0, abs(truth))
    assert r.lower <= truth + tol * scale, (r, truth)
    assert r.upper >= truth - tol * scale, (r, truth)


# ----------------------------------------------------------------------------- sup norm
@pytest.mark.parametrize("seed", range(14))
def test_sup_distance_1d_equals_kink_enumeration(seed):
    rng = np.random.default_rng(seed)
    hidden = tuple(int(w) for w in rng.integers(1, 7, size=int(rng.integers(1, 4))))
    k = int(rng.integers(1, 3))
    f, g = nets_pair(seed, 1, hidden, k)
    lo = float(rng.uniform(-3, 0))
    hi = lo + float(rng.uniform(0.5, 4))
    truth = true_sup_1d(f, g, lo, hi)
    r = sup_distance(f, g, Box(lo, hi), method="exact")
    assert r.exact and r.status == "optimal"
    assert r.lower == pytest.approx(truth, abs=TOL * max(1, truth))
    assert_bracket(r, truth)
    # the witness attains the lower bound with the real networks
    assert np.abs(f(r.witness) - g(r.witness)).max() == pytest.approx(r.lower, abs=1e-12)
    assert Box(lo, hi).contains(r.witness).all()
    s = sup_distance(f, g, Box(lo, hi), method="sampled", seed=seed)
    assert s.upper == math.inf and not s.exact and s.lower <= truth + 1e-9


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), w1=st.integers(1, 6), w2=st.integers(1, 6))
def test_sup_distance_1d_property(seed, w1, w2):
    f = ReLUNetwork.random((1, w1, w2, 1), seed=seed)
    g = ReLUNetwork.random((1, w2, 1), seed=seed + 1)
    truth = true_sup_1d(f, g, -1.0, 1.0)
    r = sup_distance(f, g, Box(-1.0, 1.0), method="auto", time_limit=20)
    assert r.exact
    assert r.lower == pytest.approx(truth, abs=TOL * max(1, truth))


@pytest.mark.parametrize("seed", range(6))
def test_sup_distance_2d_equals_region_maxima(seed):
    rng = np.random.default_rng(50 + seed)
    hidden = (int(rng.integers(2, 6)), int(rng.integers(2, 6)))
    f, g = nets_pair(50 + seed, 2, hidden, int(rng.integers(1, 3)))
    truth = true_sup_2d(f, g, -1.0, 1.0)
    r = sup_distance(f, g, Box(-1.0, 1.0), method="exact")
    assert r.exact
    assert_bracket(r, truth)
    assert r.lower == pytest.approx(truth, abs=TOL * max(1, truth))


@pytest.mark.parametrize("seed", range(8))
def test_exact_lies_within_sampled_lower_and_upper(seed):
    rng = np.random.default_rng(70 + seed)
    d = int(rng.integers(2, 5))
    f, g = nets_pair(70 + seed, d, (6, 6), 1)
    box = Box(-1.0, 1.0)
    s = sup_distance(f, g, box, method="sampled", seed=seed)
    e = sup_distance(f, g, box, method="exact", seed=seed + 1)
    assert e.exact
    assert s.lower <= e.upper + 1e-9
    assert e.lower >= s.lower - TOL * max(1, s.lower)
    # no sample anywhere exceeds the exact upper bound
    X = box.sample(20000, d, seed=seed)
    assert np.abs(f(X) - g(X)).max() <= e.upper + 1e-9


def test_identical_networks_have_distance_zero():
    f = ReLUNetwork.random((2, 5, 5, 1), seed=3)
    r = sup_distance(f, f, Box(-1, 1), method="exact")
    assert r.lower == 0.0 and r.exact and r.upper <= 1e-5


def test_pointset_is_exact_maximum_over_points():
    f, g = nets_pair(5, 3, (4,), 2)
    X = np.random.default_rng(1).normal(size=(40, 3))
    r = sup_distance(f, g, PointSet(X))
    D = np.abs(f(X) - g(X))
    assert r.exact and r.status == "points" and r.method == "points"
    # the library evaluates f - g its own way (a joint evaluation, other matmul shapes): the
    # same number up to rounding, which another BLAS may do differently
    assert r.lower == r.upper == pytest.approx(D.max(), rel=1e-12, abs=1e-15)
    assert np.abs(f(r.witness) - g(r.witness)).max() == pytest.approx(D.max(), rel=1e-12)
    rg = sobolev_distance(f, g, X)
    assert rg.gradient_part.status == "points" and rg.exact


@pytest.mark.slow
def test_time_limited_solve_returns_valid_interval():
    f = ReLUNetwork.random((3, 16, 16, 1), seed=1)
    g = ReLUNetwork.random((3, 16, 16, 1), seed=2)
    box = Box(-1.0, 1.0)
    quick = sup_distance(f, g, box, method="exact", time_limit=0.3)
    assert quick.lower <= quick.upper
    long = sup_distance(f, g, box, method="exact", time_limit=300)
    assert long.exact
    truth = long.lower
    assert quick.lower <= truth + 1e-9
    assert quick.upper >= truth - TOL * max(1, truth)
    if not quick.exact:
        assert quick.status == "time_limit" and quick.lower < quick.upper


# ----------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("method", ["exact", "enumerate"])
@pytest.mark.parametrize("seed", range(10))
def test_gradient_and_sobolev_1d_equal_enumeration(seed, method):
    rng = np.random.default_rng(300 + seed)
    hidden = tuple(int(w) for w in rng.integers(1, 6, size=int(rng.integers(1, 4))))
    f, g = nets_pair(300 + seed, 1, hidden, int(rng.integers(1, 3)))
    lo, hi = -1.5, 1.0
    tsup = true_sup_1d(f, g, lo, hi)
    tgrad = true_grad_1d(f, g, lo, hi)
    r = sobolev_distance(f, g, Box(lo, hi), method=method)
    assert isinstance(r, SobolevResult)
    assert r.gradient_part.method == method and r.sup_part.method == method
    assert r.exact
    assert r.gradient_part.lower == pytest.approx(tgrad, abs=TOL * max(1, tgrad))
    assert r.sup_part.lower == pytest.approx(tsup, abs=TOL * max(1, tsup))
    assert r.lower == pytest.approx(max(tsup, tgrad), abs=TOL * max(1, tsup, tgrad))
    assert r.gradient_part.certified_upper >= tgrad - TOL
    # the witness of the gradient part realizes the gradient lower bound
    w = r.gradient_part.witness
    J = f.local_affine(w)[0] - g.local_affine(w)[0]
    assert np.abs(J).max() == pytest.approx(r.gradient_part.lower, abs=1e-12)


@pytest.mark.parametrize("method", ["exact", "enumerate"])
@pytest.mark.parametrize("seed", range(8))
def test_lipschitz_1d_equals_enumeration(seed, method):
    rng = np.random.default_rng(400 + seed)
    f = ReLUNetwork.random((1, int(rng.integers(1, 7)), int(rng.integers(1, 7)), 1), seed=400 + seed)
    truth = true_grad_1d(f, None, -1.0, 1.0)
    r = lipschitz_constant(f, Box(-1.0, 1.0), method=method)
    assert r.exact and r.norm == "lipschitz" and r.method == method
    assert r.lower == pytest.approx(truth, abs=TOL * max(1, truth))
    # Lipschitz inequality on random pairs
    X = np.random.default_rng(seed).uniform(-1, 1, size=(2000, 2))
    fx, fy = f(X[:, :1]), f(X[:, 1:])
    assert np.all(np.abs(fx - fy).max(axis=1) <= r.upper * np.abs(X[:, 0] - X[:, 1]) + 1e-9)


@pytest.mark.parametrize("method", ["exact", "enumerate"])
@pytest.mark.parametrize("seed", range(5))
def test_gradient_2d_against_grid_regions(seed, method):
    f, g = nets_pair(500 + seed, 2, (5, 4), 1)
    truth, seen = true_grad_2d_grid(f, g, -1.0, 1.0)
    r = sobolev_distance(f, g, Box(-1.0, 1.0), method=method).gradient_part
    assert r.exact and r.method == method
    assert r.upper >= truth - TOL
    assert r.lower >= truth - TOL * max(1, truth)
    # the witness lies inside a linear region (no pre-activation vanishes) whose gradient
    # realizes the lower bound
    w = r.witness
    zs = np.concatenate([z.ravel() for z in f.preactivations(w[None])[:-1] + g.preactivations(w[None])[:-1]])
    assert np.all(zs != 0)
    J = f.local_affine(w)[0] - g.local_affine(w)[0]
    assert np.abs(J).max() == pytest.approx(r.lower, abs=1e-12)
    if r.lower > truth + TOL * max(1, truth):
        # larger than every region met by the grid: the witness's region was missed by it
        assert joint_pattern(f, g, w[None])[0].tobytes() not in seen


@pytest.mark.parametrize("seed", range(4))
def test_lipschitz_deep_3d_within_sampled_and_certified(seed):
    f = ReLUNetwork.random((3, 6, 6, 6, 2), seed=600 + seed)
    e = lipschitz_constant(f, Box(-1, 1), method="exact", time_limit=120)  # seconds; margin for slow machines
    s = lipschitz_constant(f, Box(-1, 1), method="sampled", seed=seed)
    assert e.exact
    assert s.lower <= e.upper + 1e-9 and e.lower >= s.lower - TOL
    assert e.certified_upper >= e.upper - TOL


@pytest.mark.parametrize("method", ["exact", "enumerate"])
def test_opposite_neurons_only_full_dimensional_regions_count(method):
    # f(x) = relu(x) - relu(-x) = x: slope 1 everywhere; the pattern "both active" exists
    # only at x = 0 and would give slope 2
    f = ReLUNetwork([np.array([[1.0], [-1.0]]), np.array([[1.0, -1.0]])], [np.zeros(2), np.zeros(1)])
    r = lipschitz_constant(f, Box(-1, 1), method=method)
    assert r.exact and r.lower == pytest.approx(1.0, abs=1e-9)
    assert r.certified_upper >= 1.0
    # pathology 4 of the math note: G realizes x, g_n = x + relu(x - 1/2)/n; W^{1,inf} distance 1/n
    G = ReLUNetwork([np.array([[1.0], [-1.0]]), np.array([[1.0, -1.0]])], [np.array([0.5, -0.5]), np.array([-0.5])])
    for n in (2, 10, 100):
        g = ReLUNetwork([np.array([[1.0], [-1.0], [1.0]]), np.array([[1.0, -1.0, 1.0 / n]])],
                        [np.array([0.0, 0.0, -0.5]), np.array([0.0])])
        s = sobolev_distance(G, g, Box(-1, 1), method=method)
        assert s.exact and s.lower == pytest.approx(1.0 / n, abs=1e-7)
        assert s.sup_part.lower == pytest.approx(0.5 / n, abs=1e-7)


@pytest.mark.slow
def test_time_limited_gradient_interval_is_valid():
    f = ReLUNetwork.random((3, 10, 10, 1), seed=21)
    quick = lipschitz_constant(f, Box(-1, 1), time_limit=0.2)
    long = lipschitz_constant(f, Box(-1, 1), time_limit=300)
    assert long.exact
    assert quick.lower <= long.lower + 1e-9
    assert quick.certified_upper >= long.lower - TOL
    assert quick.lower <= quick.upper


# ----------------------------------------------------------------------------- parameters
@pytest.mark.parametrize("seed", range(6))
def test_parameter_distance_modulo_symmetry(seed):
    from reluscope.symmetry import permute, rescale

    rng = np.random.default_rng(seed)
    f = ReLUNetwork.random((3, 5, 4, 2), seed=seed)
    g = f
    for layer, n in ((1, 5), (2, 4)):
        g = permute(g, layer, rng.permutation(n))
        g = rescale(g, layer, rng.uniform(0.3, 3.0, size=n))
    X = Box(-1, 1).sample(500, 3, seed=seed)
    np.testing.assert_allclose(f(X), g(X), atol=1e-9)
    plain = parameter_distance(f, g, modulo_symmetry=False)
    assert plain.distance == pytest.approx(np.abs(f.to_vector() - g.to_vector()).max())
    mod = parameter_distance(f, g)
    assert plain.distance > 1e-3
    assert mod.distance <= 1e-6 * max(1.0, np.abs(f.to_vector()).max())
    assert mod.distance <= mod.before == pytest.approx(plain.distance)
    np.testing.assert_allclose(mod.aligned(X), g(X), atol=1e-8)
    # with a perturbation, the aligned distance is at most the perturbation size scale
    h = ReLUNetwork.from_vector(g.widths, g.to_vector() + 1e-3 * rng.standard_normal(g.n_parameters))
    assert parameter_distance(f, h).distance <= parameter_distance(f, h, modulo_symmetry=False).distance


# ----------------------------------------------------------------------------- results & input
def test_results_serialize_and_print():
    f, g = nets_pair(1, 2, (3,), 1)
    r = sup_distance(f, g, "-1,1")
    assert isinstance(r, DistanceResult)
    d = json.loads(r.to_json())
    assert d["lower"] == r.lower and d["method"] == "enumerate" and len(d["witness"]) == 2
    assert "sup distance" in str(r)
    s = sobolev_distance(f, g)
    assert "W^(1,inf)" in str(s) and json.loads(s.to_json())["sup_part"]["norm"] == "sup"
    assert "parameter distance" in str(parameter_distance(f, f))
    with pytest.raises(Exception):
        r.lower = 0.0


def test_bad_input():
    f = ReLUNetwork.random((2, 3, 1), seed=0)
    with pytest.raises(InvalidNetwork, match="inputs"):
        sup_distance(f, ReLUNetwork.random((3, 3, 1), seed=0))
    with pytest.raises(InvalidNetwork, match="outputs"):
        sup_distance(f, ReLUNetwork.random((2, 3, 2), seed=0))
    with pytest.raises(InvalidDomain):
        sup_distance(f, f, Box([-1, -1, -1], [1, 1, 1]))
    with pytest.raises(InvalidDomain):
        sup_distance(f, f, "nonsense")
    with pytest.raises(InvalidArgument, match="method"):
        sup_distance(f, f, method="fast")
    with pytest.raises(InvalidArgument, match="time_limit"):
        sup_distance(f, f, time_limit=0)
    with pytest.raises(InvalidArgument, match="mip_gap"):
        sobolev_distance(f, f, mip_gap=2.0)
    with pytest.raises(InvalidArgument, match="region_margin"):
        lipschitz_constant(f, region_margin=-1.0)
    with pytest.raises(InvalidNetwork):
        sup_distance(f, "g")
    with pytest.raises(InvalidNetwork, match="widths"):
        parameter_distance(f, ReLUNetwork.random((2, 4, 1), seed=0))
    with pytest.raises(ReluscopeError):
        lipschitz_constant(np.eye(2))


def test_gradient_part_with_constant_neurons_is_exact_and_finite():
    """Regression: neurons with zero incoming weights and bias (constant 0) used to make
    every sample look like it sat on a kink, so the gradient part came out as -inf."""
    zero = ReLUNetwork([[[0.0]], [[0.0]]], [[0.0], [0.0]])
    ramp = ReLUNetwork([[[1.0]], [[0.25]]], [[-0.5], [0.0]])
    res = sobolev_distance(zero, ramp, Box(-1, 1), time_limit=20)
    assert res.exact
    assert res.lower == pytest.approx(0.25) and res.upper == pytest.approx(0.25, abs=1e-6)
    assert res.gradient_part.lower == pytest.approx(0.25)
    mixed = ReLUNetwork([[[0.0], [2.0]], [[1.0, 1.0]]], [[0.0, 0.0], [0.0]])
    lip = lipschitz_constant(mixed, Box(-1, 1), time_limit=20)
    assert lip.exact and lip.lower == pytest.approx(2.0)


@pytest.mark.slow
def test_solver_error_is_retried_and_reported_honestly():
    """Regression: on this instance HiGHS 1.x stops one cutoff MILP with "Solve error"; the
    result used to be an interval with status "time_limit" after 4 s of a 60 s budget. The
    retry (no presolve, then no cutoff row) now closes it; the value is checked against the
    region enumeration."""
    f = ReLUNetwork.random((3, 8, 8, 8, 1), seed=1002)
    g = ReLUNetwork.random((3, 8, 8, 8, 1), seed=1003)
    r = sup_distance(f, g, Box(-1, 1), method="exact", time_limit=120)
    e = sup_distance(f, g, Box(-1, 1), method="enumerate")
    assert e.exact
    assert r.status in ("optimal", "solver_error", "time_limit")
    assert r.lower <= e.upper + 1e-9 and r.upper >= e.lower - 1e-9
    assert r.exact and r.lower == pytest.approx(e.lower, abs=1e-6)

"""Symbolic differential bounds (reluscope.bounds.differential_linear): every bound contains
the sampled values of f - g on random pairs (perturbed, pruned and float16 copies) and
random boxes, the relaxation of relu(z^f) - relu(z^g) holds at sampled points, and the
symbolic route is never looser than the interval differential route."""

from __future__ import annotations

import numpy as np
import pytest

from reluscope import Box, ReLUNetwork
from reluscope.bounds import difference_bounds
from reluscope.bounds import differential_linear as dl


def _copy(f: ReLUNetwork, kind: int, rng: np.random.Generator) -> ReLUNetwork:
    if kind == 0:  # fine-tuned: small perturbation of every parameter
        return ReLUNetwork([W + rng.normal(0, 0.02, W.shape) for W in f.weights],
                           [b + rng.normal(0, 0.02, b.shape) for b in f.biases])
    if kind == 1:  # pruned
        return ReLUNetwork([W * (np.abs(W) > 0.15) for W in f.weights], f.biases)
    return ReLUNetwork([W.astype(np.float16).astype(float) for W in f.weights],  # float16
                       [b.astype(np.float16).astype(float) for b in f.biases])


def _instance(seed: int):
    rng = np.random.default_rng(seed)
    d = int(rng.integers(1, 7))
    hidden = tuple(int(w) for w in rng.integers(2, 14, size=int(rng.integers(1, 4))))
    f = ReLUNetwork.random((d, *hidden, int(rng.integers(1, 4))), seed=seed)
    g = _copy(f, seed % 3, rng)
    B = 6
    scale = 10.0 ** rng.uniform(-3, 1, (B, 1))
    c = rng.uniform(-1, 1, (B, d)) * scale
    r = 10.0 ** rng.uniform(-3, 0.3, (B, d)) * scale
    return f, g, c - r, c + r, rng


@pytest.mark.parametrize("seed", range(60))
def test_bounds_contain_sampled_differences_and_beat_the_interval_route(seed):
    f, g, lo, hi, rng = _instance(seed)
    sym = dl.batch_difference_bounds(f, g, lo, hi)
    ivl = dl.batch_difference_bounds(f, g, lo, hi, symbolic=False)
    assert sym.lower.shape == (lo.shape[0], f.output_dim)
    for i in range(lo.shape[0]):
        X = np.vstack([lo[i] + (hi[i] - lo[i]) * rng.random((1500, lo.shape[1])), lo[i], hi[i]])
        D = f(X) - g(X)
        tol = 1e-12 * (1 + np.abs(D).max())
        assert np.all(D >= sym.lower[i] - tol) and np.all(D <= sym.upper[i] + tol)
        assert np.all(D >= ivl.lower[i] - tol) and np.all(D <= ivl.upper[i] + tol)
    assert np.all(sym.lower >= ivl.lower - 1e-12 * (1 + np.abs(ivl.lower)))
    assert np.all(sym.upper <= ivl.upper + 1e-12 * (1 + np.abs(ivl.upper)))
    # hidden layers' difference bounds contain the sampled Δz too
    X = lo[0] + (hi[0] - lo[0]) * rng.random((500, lo.shape[1]))
    af, ag = X, X
    for layer, (dlo, dhi) in enumerate(sym.delta):
        zf = af @ f.weights[layer].T + f.biases[layer]
        zg = ag @ g.weights[layer].T + g.biases[layer]
        assert np.all(zf - zg >= dlo[0] - 1e-9) and np.all(zf - zg <= dhi[0] + 1e-9)
        af, ag = np.maximum(zf, 0), np.maximum(zg, 0)


@pytest.mark.parametrize("seed", range(20))
def test_difference_relaxation_holds_at_sampled_points(seed):
    rng = np.random.default_rng(seed)
    n = 400
    zg = rng.normal(0, 1, (n, 2000)) * rng.uniform(0.01, 3, (n, 1)) + rng.normal(0, 1, (n, 1))
    dz = rng.normal(0, 1, (n, 2000)) * 10.0 ** rng.uniform(-4, 0.5, (n, 1)) + rng.normal(0, 0.1, (n, 1))
    zf = zg + dz
    box = [a.min(axis=1) for a in (dz, zg, zf)], [a.max(axis=1) for a in (dz, zg, zf)]
    (dlo, glo, flo), (dhi, ghi, fhi) = box
    sl, tl, su, tu = dl.difference_relaxation(dlo, dhi, glo, ghi, flo, fhi)
    da = np.maximum(zf, 0) - np.maximum(zg, 0)
    tol = 1e-12 * (1 + np.abs(zf) + np.abs(zg))
    assert np.all(sl[:, None] * dz + tl[:, None] <= da + tol)
    assert np.all(da <= su[:, None] * dz + tu[:, None] + tol)
    assert np.all((sl >= 0) & (sl <= 1) & (su >= 0) & (su <= 1))


def test_numpy_fallback_agrees_with_torch(monkeypatch):
    pytest.importorskip("torch")
    f, g, lo, hi, _ = _instance(7)
    with_torch = dl.batch_difference_bounds(f, g, lo, hi)
    monkeypatch.setattr(dl._B, "use_torch", False)
    with_numpy = dl.batch_difference_bounds(f, g, lo, hi)
    np.testing.assert_allclose(with_numpy.lower, with_torch.lower, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(with_numpy.upper, with_torch.upper, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("seed", range(8))
def test_batch_layer_bounds_match_single_box_crown(seed):
    from reluscope.bounds import layer_bounds

    f, _, lo, hi, rng = _instance(seed)
    L, H = dl.batch_layer_bounds(f, lo, hi)
    for i in range(lo.shape[0]):
        ref = layer_bounds(f, Box(lo[i], hi[i]))
        for layer in range(f.depth):
            scale = 1e-7 * (1 + np.abs(ref.lower[layer]) + np.abs(ref.upper[layer]))
            assert np.all(np.abs(L[layer][i] - ref.lower[layer]) <= scale)
            assert np.all(np.abs(H[layer][i] - ref.upper[layer]) <= scale)


def test_difference_bounds_take_the_symbolic_route_and_stay_sound():
    f = ReLUNetwork.random((3, 20, 20, 2), seed=3)
    g = ReLUNetwork([W.astype(np.float16).astype(float) for W in f.weights], f.biases)
    lo, hi = -0.5 * np.ones(3), 0.5 * np.ones(3)
    box = Box(lo, hi)
    db = difference_bounds(f, g, box)
    batch = dl.batch_difference_bounds(f, g, lo[None], hi[None])
    assert np.all(db.lower >= batch.lower[0] - 1e-12) and np.all(db.upper <= batch.upper[0] + 1e-12)
    X = box.sample(4000, seed=0)
    D = f(X) - g(X)
    assert np.all(D >= db.lower - 1e-12) and np.all(D <= db.upper + 1e-12)

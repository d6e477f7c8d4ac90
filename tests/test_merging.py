"""Interpolation and merging after alignment by permutations and rescalings."""

from __future__ import annotations

import numpy as np
import pytest

import reluscope as rs
from reluscope.errors import InvalidArgument, InvalidNetwork
from reluscope.symmetry import Merge, interpolate, merge, permute, rescale


def _symmetric_copy(net, seed):
    rng = np.random.default_rng(seed)
    for h in range(1, net.depth):
        net = permute(net, h, rng.permutation(net.widths[h]))
        net = rescale(net, h, np.exp(rng.uniform(-2, 2, net.widths[h])))
    return net


def test_public_name():
    assert rs.interpolate is interpolate


@pytest.mark.parametrize("seed", range(5))
def test_endpoints_and_the_naive_line(seed):
    a = rs.ReLUNetwork.random((3, 7, 5, 2), seed=seed)
    b = rs.ReLUNetwork.random((3, 7, 5, 2), seed=seed + 100)
    X = np.random.default_rng(seed).uniform(-2, 2, (200, 3))
    assert interpolate(a, b, 0.0) == a
    assert np.allclose(interpolate(a, b, 1.0)(X), b(X), atol=1e-10)  # b's function, other parameters
    mid = interpolate(a, b, 0.25, align=False)
    assert np.allclose(mid.to_vector(), 0.75 * a.to_vector() + 0.25 * b.to_vector())


@pytest.mark.parametrize("seed", range(5))
def test_the_path_between_symmetric_copies_is_constant_only_after_alignment(seed):
    a = rs.ReLUNetwork.random((4, 6, 6, 3), seed=seed)
    b = _symmetric_copy(a, seed + 1)
    X = np.random.default_rng(seed).uniform(-1, 1, (300, 4))
    for t in (0.3, 0.5, 0.8):
        assert np.allclose(interpolate(a, b, t)(X), a(X), atol=1e-8)
    naive = max(float(np.abs(interpolate(a, b, t, align=False)(X) - a(X)).max()) for t in (0.3, 0.5, 0.8))
    assert naive > 1e-3


def test_alignment_object_reused_and_merge_report():
    a = rs.ReLUNetwork.random((5, 8, 3), seed=1)
    b = rs.ReLUNetwork.random((5, 8, 3), seed=2)
    al = rs.align(a, b)
    for t in (0.2, 0.6):
        assert interpolate(a, b, t, align=al).allclose(interpolate(a, b, t))
    m = merge(a, b, 0.4)
    assert isinstance(m, Merge) and m.aligned
    assert m.network.allclose(interpolate(a, b, 0.4))
    assert m.distance_after <= m.distance_before
    assert m.distance_before == pytest.approx(float(np.linalg.norm(a.to_vector() - b.to_vector())))
    plain = merge(a, b, 0.4, align=False)
    assert plain.distance_after == plain.distance_before and plain.alignment is None
    assert "0.4" in str(m) and m.to_dict()["alignment"]["widths"] == [5, 8, 3]


def test_masks_union_and_errors():
    a = rs.ReLUNetwork.random((4, 6, 2), seed=3)
    ma = [np.random.default_rng(0).random(w.shape) < 0.5 for w in a.weights]
    mb = [np.random.default_rng(1).random(w.shape) < 0.5 for w in a.weights]
    pa = rs.ReLUNetwork([np.where(m, w, 0) for m, w in zip(ma, a.weights)], a.biases, ma)
    pb = rs.ReLUNetwork([np.where(m, w, 0) for m, w in zip(mb, a.weights)], a.biases, mb)
    mid = interpolate(pa, pb, 0.5, align=False)
    assert all(np.array_equal(m, x | y) for m, x, y in zip(mid.masks, ma, mb))
    with pytest.raises(InvalidNetwork, match="different widths"):
        interpolate(a, rs.ReLUNetwork.random((4, 5, 2), seed=0), 0.5)
    with pytest.raises(InvalidArgument, match="t must be a finite number"):
        interpolate(a, a, float("nan"))
    with pytest.raises(InvalidArgument, match="align must be"):
        interpolate(a, a, 0.5, align="yes")

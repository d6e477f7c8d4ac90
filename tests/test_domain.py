"""Box and PointSet: validation, bounds, sampling, vertices, parsing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reluscope import Box, InvalidDomain, PointSet
from reluscope.domain import as_domain


@settings(max_examples=50, deadline=None)
@given(
    lo=st.lists(st.floats(-100, 100), min_size=1, max_size=5),
    width=st.floats(1e-3, 50),
    seed=st.integers(0, 2**31),
)
def test_box_sample_and_vertices_inside(lo, width, seed):
    lo = np.array(lo)
    box = Box(lo, lo + width)
    assert box.dim == lo.size
    X = box.sample(30, seed=seed)
    assert X.shape == (30, lo.size) and box.contains(X).all()
    np.testing.assert_array_equal(X, box.sample(30, seed=seed))  # reproducible
    V = box.vertices()
    assert V.shape == (2 ** lo.size, lo.size)
    assert box.contains(V).all()
    assert len({tuple(v) for v in V}) == 2 ** lo.size


def test_scalar_box_needs_dim():
    box = Box(-2, 3)
    assert box.dim is None
    lo, hi = box.bounds(3)
    assert lo.tolist() == [-2.0] * 3 and hi.tolist() == [3.0] * 3
    with pytest.raises(InvalidDomain):
        box.bounds()
    assert not box.contains([[0.0, 4.0, 0.0]])[0]


@pytest.mark.parametrize(
    "lo, hi, needle",
    [
        ([0.0, 1.0], [1.0, 1.0], "coordinate 1"),
        (1.0, 0.0, "lo=1.0"),
        ([0.0, np.nan], [1.0, 2.0], "finite"),
        ([[0.0]], [[1.0]], "1-D"),
        ([0.0, 0.0], [1.0, 1.0, 1.0], "different lengths"),
        ("a", 1.0, "numbers"),
    ],
)
def test_box_validation(lo, hi, needle):
    with pytest.raises(InvalidDomain) as info:
        Box(lo, hi)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_box_parse():
    assert Box.parse("-1,1") == Box(-1, 1)
    assert Box.parse("0:1, -2:2") == Box([0, -2], [1, 2])
    for bad in ("1", "a,b", "0:1,2", ""):
        with pytest.raises(InvalidDomain, match="cannot parse"):
            Box.parse(bad)


def test_pointset_validation_and_copy():
    X = np.arange(6.0).reshape(3, 2)
    ps = PointSet(X)
    X[0, 0] = 99
    assert ps.points[0, 0] == 0 and len(ps) == 3 and ps.dim == 2
    assert ps.bounding_box().contains(ps.points).all()
    with pytest.raises(InvalidDomain, match="row 1, column 0"):
        PointSet([[0.0, 1.0], [np.inf, 0.0]])
    with pytest.raises(InvalidDomain, match=r"\(0, 2\)"):
        PointSet(np.zeros((0, 2)))


def test_as_domain():
    assert as_domain(None, 2) == Box(-1, 1)
    assert as_domain("0,2", 3) == Box(0, 2)
    assert isinstance(as_domain(np.zeros((4, 2)), 2), PointSet)
    with pytest.raises(InvalidDomain, match="3 coordinates but the network takes 2"):
        as_domain(Box([0, 0, 0], [1, 1, 1]), 2)
    with pytest.raises(InvalidDomain, match="2 inputs"):
        as_domain(np.zeros((4, 3)), 2)

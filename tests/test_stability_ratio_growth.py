"""Issue 24: every pathology family's inverse-stability ratio behaves as its docstring proves
up to n = 4096, computed exactly (status "exact"): unbounded (like sqrt(n), or like n for
family 0 in the uniform norm) in the norms where the family converges, bounded for family 0
in W^{1,inf}; and an undecided function distance gives an interval of ratios, not a point."""

from __future__ import annotations

import math

import pytest

from reluscope import Box
from reluscope.stability import DOMAIN, FAMILIES
from reluscope.stability.ratio import inverse_stability_ratio

NS = (4, 16, 64, 256, 1024, 4096)


def _ratios(family, norm):
    out = []
    for n in NS:
        gamma, g = family(n)
        r = inverse_stability_ratio(gamma, g, DOMAIN, norm=norm, time_limit=20,
                                    distance_lower_bound=family.distance_lower_bound(n))
        # computed exactly: the function distance is decided and equals the analytic one
        assert r.status == "exact" and r.decided and r.function_exact, (family.name, n, str(r))
        assert r.function_upper == pytest.approx(family.function_distance(n, norm), rel=1e-6)
        lo, hi = r.ratio_interval
        assert lo <= r.ratio <= hi and hi == pytest.approx(lo, rel=1e-5)
        # the analytic lower bound on the true ratio, and the searched ratio above it
        assert r.ratio_lower == pytest.approx(family.ratio_lower_bound(n, norm), rel=1e-5)
        assert r.ratio >= r.ratio_lower * (1 - 1e-9)
        out.append(r)
    return out


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.name)
@pytest.mark.parametrize("norm", ["sup", "sobolev"])
def test_ratio_follows_the_proved_rate_up_to_4096(family, norm):
    rs = _ratios(family, norm)
    if norm not in family.converges:
        # family 0 in W^{1,inf}: g_n does not converge, and the balanced parametrization of
        # size ~sqrt(n) keeps the ratio bounded (between 1/sqrt(2) and the searched ~1)
        assert all(1 / math.sqrt(2) - 1e-9 <= r.ratio <= 1.5 for r in rs), [r.ratio for r in rs]
        return
    # proved: every parametrization of g_n stays at distance >= L(n) from gamma, with
    # L(n) >= 1/3 (families 1-4) or L(n) = sqrt(n/2) (family 0), while ||g_n - gamma|| ~ 1/n:
    # the true ratio is >= L(n) / ||g_n - gamma||^{1/2}, which grows like sqrt(n) (like n
    # for family 0)
    floor = (lambda n: math.sqrt(n / 2)) if family.index == 0 else (lambda n: 1 / 3)
    rate = (lambda n: n) if family.index == 0 else math.sqrt
    for r, n in zip(rs, NS):
        proved = floor(n) / math.sqrt(family.function_distance(n, norm))
        assert r.ratio_lower >= proved * (1 - 1e-6) and r.ratio >= proved * (1 - 1e-6), (family.name, n)
        assert proved >= 0.99 * rate(n) / rate(NS[0]) * floor(NS[0]) / math.sqrt(family.function_distance(NS[0], norm))
    # and the searched ratio does not grow faster than the rate either (it is the ratio of a
    # near-optimal parametrization: within a constant factor of the lower bound)
    assert max(r.ratio / r.ratio_lower for r in rs) <= 3.0


@pytest.mark.parametrize("status", ["time_limit", "numerical_risk"])
def test_undecided_function_distance_gives_an_interval_not_a_point(monkeypatch, status):
    """The ratio of an undecided distance: the distance module is replaced by one returning
    the bounds [1/(2n), 2/n] of 1/n (deterministic; no clock)."""
    from reluscope.distance.results import DistanceResult
    from reluscope.stability import ratio as ratio_module

    n = 1024
    family = FAMILIES[0]
    gamma, g = family(n)

    def undecided(f, h, box, **_):
        return DistanceResult(0.5 / n, 2.0 / n, None, False, status, 0.0, "exact", "sup", (0,), 0)

    monkeypatch.setattr(ratio_module, "sup_distance", undecided)
    r = inverse_stability_ratio(gamma, g, DOMAIN, norm="sup", distance_lower_bound=family.distance_lower_bound(n))
    assert r.status == "undecided" and not r.decided and r.ratio is None and r.function_status == status
    lo, hi = r.ratio_interval
    d = r.parameter_distance
    assert lo == pytest.approx(d / math.sqrt(2.0 / n)) and hi == pytest.approx(d / math.sqrt(0.5 / n))
    assert lo <= d * math.sqrt(n) <= hi  # the ratio with the true distance 1/n is inside
    assert r.ratio_upper == hi
    # the analytic lower bound stays a lower bound, taken with the distance's upper bound
    assert r.ratio_lower == pytest.approx(family.distance_lower_bound(n) / math.sqrt(2.0 / n))
    text = str(r)
    assert "undecided" in text and status in text and f"{lo:.6g}" in text
    assert r.to_dict()["ratio"] is None

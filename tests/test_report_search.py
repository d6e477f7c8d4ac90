"""The report's gradient searches (issue 24): the output scale of the relative columns and
the lower bounds are values attained at witness points on the real network, meaningful in
784 dimensions; plain notes when the domain is much larger than where the model is used;
the sparsity certificate as an attached JSON file, not a 0/1 dump in the report body."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

import reluscope
from reluscope import Box, ReLUNetwork
from reluscope._budget import Budget
from reluscope.bounds import jacobian_bounds, layer_bounds
from reluscope.distance.ascent import jacobian_ascent, output_ascent, starting_pool
from reluscope.report import analyze

pytest.importorskip("torch")

MNIST_256X2 = Path(__file__).resolve().parents[1] / "benchmarks/vnncomp2021/mnistfc/mnist-net_256x2.onnx"


@pytest.fixture(scope="module")
def mnist_net() -> ReLUNetwork:
    """The 784-256-256-10 network of the public VNN-COMP 2021 mnistfc benchmark (vendored);
    a random network of the same shape if the file is missing."""
    if MNIST_256X2.is_file():
        return reluscope.load(MNIST_256X2)
    rng = np.random.default_rng(0)
    shapes = [(256, 784), (256, 256), (10, 256)]
    return ReLUNetwork([rng.normal(size=s) / np.sqrt(s[1]) for s in shapes], [rng.normal(size=s[0]) * 0.1 for s in shapes])


def _random_net(seed: int, widths=(4, 12, 10, 3)) -> ReLUNetwork:
    rng = np.random.default_rng(seed)
    return ReLUNetwork([rng.normal(size=(o, i)) for i, o in zip(widths[:-1], widths[1:])],
                       [0.3 * rng.normal(size=o) for o in widths[1:]])


# ------------------------------------------------------------------------ the search itself


@pytest.mark.parametrize("seed", range(8))
def test_ascent_values_are_attained_at_witnesses_inside_sound_bounds(seed):
    """Over random networks and boxes: every output value is the network's at a witness in
    the box, never above the bound engine's bound; every Jacobian entry is the network's at
    a witness interior to a linear region, never above the entry-wise Jacobian bound."""
    net, g = _random_net(seed), _random_net(seed + 100)
    rng = np.random.default_rng(seed)
    lo = rng.uniform(-2, 0, size=4)
    hi = lo + rng.uniform(0.1, 2, size=4)
    box = Box(lo, hi)
    starts = starting_pool(lo, hi, 32, seed=seed)
    out = output_ascent(net, None, lo, hi, starts, budget=Budget(5), steps=20, seed=seed)
    b_lo, b_hi = layer_bounds(net, box).output
    for (k, s), v, x in zip(out.targets, out.values, out.witnesses):
        assert np.all(x >= lo) and np.all(x <= hi)
        assert v == pytest.approx(s * net(x[None, :])[0, k], abs=1e-12)
        assert v <= (b_hi[k] if s > 0 else -b_lo[k]) + 1e-9
    assert np.all(out.values >= out.start_values - 1e-12)
    diff = output_ascent(net, g, lo, hi, starts, budget=Budget(5), steps=20, seed=seed)
    for (k, s), v, x in zip(diff.targets, diff.values, diff.witnesses):
        assert v == pytest.approx(s * (net(x[None, :]) - g(x[None, :]))[0, k], abs=1e-12)
    jac = jacobian_ascent(net, None, lo, hi, starts, budget=Budget(5), steps=20, seed=seed)
    jb = jacobian_bounds(net, box)
    for (k, j, s), v, x in zip(jac.targets, jac.values, jac.witnesses):
        if not np.isfinite(v):
            continue
        J, _ = net.local_affine(x)
        assert v == pytest.approx(s * J[k, j], abs=1e-12)
        # interior of a linear region: the Jacobian is the same at nearby points
        for _ in range(3):
            y = np.clip(x + 1e-10 * rng.standard_normal(4), lo, hi)
            assert net.local_affine(y)[0][k, j] == pytest.approx(J[k, j], abs=1e-9)
        assert v <= (jb.upper[k, j] if s > 0 else -jb.lower[k, j]) + 1e-9


# ------------------------------------------------------------------------ the 784-256-256-10 network


@pytest.mark.slow
def test_lipschitz_lower_bound_is_attained_and_far_above_sampling(mnist_net, tmp_path):
    rep = analyze(mnist_net, tmp_path, domain="0,1", time_limit=4, quiet=True, sections=("lipschitz",))
    info = rep.sections["lipschitz"]
    assert info["lower"] <= info["upper"]
    # attained: the network's own gradient entry at the witness
    x = np.array(info["lower_witness"])
    assert x.shape == (784,) and np.all((x >= 0) & (x <= 1))
    k, j = info["lower_component"]
    J, _ = mnist_net.local_affine(x)
    assert abs(J[k, j]) == pytest.approx(info["lower"], rel=1e-9)
    assert np.abs(J).max() <= info["upper"]
    # far above what uniform sampling sees in 784 dimensions (the old lower bound)
    X = Box(0, 1).sample(512, 784, seed=3)
    sampled = max(float(np.abs(mnist_net.local_affine(p)[0]).max()) for p in X)
    assert info["lower"] >= 5 * sampled
    md = rep.markdown.read_text()
    assert "gradient search" in md and "much larger than where the model is typically evaluated" in md


def test_lipschitz_search_within_a_stated_factor_of_the_upper_bound_on_a_small_box(mnist_net):
    """On a small box around an image most neurons are stable and the solver's upper bound is
    tight; the search's realized gradient is within a factor 1.25 of it."""
    image = np.zeros((28, 28))
    image[4:24, 13:15] = 1.0  # a stroke, read as a "1"
    lo, hi = np.clip(image.ravel() - 0.005, 0, 1), np.clip(image.ravel() + 0.005, 0, 1)
    found = jacobian_ascent(mnist_net, None, lo, hi, starting_pool(lo, hi, 64), budget=Budget(4), rounds=3)
    i = found.best()
    k, j, s = found.targets[i]
    J, _ = mnist_net.local_affine(found.witnesses[i])
    assert found.values[i] == pytest.approx(s * J[k, j], rel=1e-9)
    upper = reluscope.lipschitz_constant(mnist_net, Box(lo, hi), time_limit=4).upper
    assert found.values[i] <= upper and upper <= 1.25 * found.values[i]


@pytest.mark.slow
def test_relative_scale_and_distance_lower_bounds_are_attained(mnist_net, tmp_path):
    rep = analyze(mnist_net, tmp_path, domain="0,1", time_limit=3, quiet=True, sections=("distances",))
    dist = rep.sections["distances"]
    scale = dist["output_scale"]
    k = scale["output"]
    hi_x, lo_x = np.array(scale["witness_high"]), np.array(scale["witness_low"])
    for x in (hi_x, lo_x):
        assert np.all((x >= 0) & (x <= 1))
    R = float(mnist_net(hi_x[None, :])[0, k] - mnist_net(lo_x[None, :])[0, k])
    assert dist["output_range"] == pytest.approx(R, rel=1e-12)
    assert R <= scale["upper_bound"]
    # meaningful: far beyond the spread at uniform points (the old scale, 0.044 for the public network)
    assert R >= 10 * scale["uniform_sample_spread"]
    # lower bounds: attained by the two networks at their witnesses, below the upper bounds
    sup, sob = dist["sup"], dist["sobolev"]
    assert 0 < sup["lower"] <= sup["upper"] and sob["lower"] <= sob["upper"] and sup["lower"] <= sob["lower"]
    from reluscope.report.sections.distances import _pruned_further

    pruned = _pruned_further(mnist_net, dist["fraction"])
    searched = dist["searched"]["sup"]
    x = np.array(searched["witness"])
    assert float(np.abs(mnist_net(x[None, :]) - pruned(x[None, :])).max()) == pytest.approx(searched["lower"], rel=1e-9)
    assert sup["lower"] >= searched["lower"]
    md = rep.markdown.read_text()
    assert "Relative numbers divide by R" in md and "much larger than where the model is typically evaluated" in md
    assert "relative to the output range attained" in str(rep.summary)


def test_sparsity_certificate_is_an_attached_json_file(mnist_net, tmp_path):
    from reluscope import sparsity

    rep = analyze(mnist_net, tmp_path, domain="0,1", time_limit=5, quiet=True, sections=("sparsity",))
    info = rep.sections["sparsity"]["linear_closedness"]
    name = info["certificate"]["file"]
    path = tmp_path / name
    assert path.is_file() and path in rep.attachments
    assert json.loads(rep.json.read_text())["attachments"] == [name]
    cert = sparsity.certificate_from_dict(json.loads(path.read_text()))
    assert cert.pattern == sparsity.SparsityPattern.from_network(mnist_net)
    assert sparsity.verify(cert).valid is True
    md, html = rep.markdown.read_text(), rep.html.read_text()
    assert f"]({name})" in md and f'href="{name}"' in html
    for text in (md, html, rep.json.read_text()):
        assert not re.search(r"[01]{64}", text), "no 0/1 dump of the masks in the report"
    assert "784x256x256x10" in md and "**valid**" in md


def test_not_closed_certificate_file_verifies(tmp_path):
    from reluscope import sparsity

    rng = np.random.default_rng(0)
    L, U = np.array([[1, 0], [1, 1]], bool), np.array([[1, 1], [0, 1]], bool)
    lu = ReLUNetwork([rng.normal(size=(2, 2)) * L, rng.normal(size=(2, 2)) * U], [np.zeros(2)] * 2, masks=[L, U])
    rep = analyze(lu, tmp_path, domain=Box(-1, 1), time_limit=10, quiet=True, sections=("sparsity",))
    data = json.loads((tmp_path / rep.sections["sparsity"]["linear_closedness"]["certificate"]["file"]).read_text())
    assert data["kind"] == "not-closed"
    assert sparsity.verify(sparsity.certificate_from_dict(data)).valid is True
    assert "It proves that L_I is not closed" in rep.markdown.read_text()


def test_domain_much_larger_than_the_data_is_said_plainly(tmp_path):
    net = _random_net(1, widths=(4, 16, 16, 2))
    rng = np.random.default_rng(2)
    X = rng.uniform(0.0, 0.1, size=(60, 4))
    y = (X[:, 0] > 0.05).astype(int)
    wide = analyze(net, tmp_path / "wide", domain=Box(-5, 5), X=X, y=y, time_limit=5, quiet=True,
                   sections=("network",))
    note = wide.sections["network"]["domain_note"]
    assert "much larger than where the model is used" in note and "In 4 of 4 features" in note
    assert note in wide.markdown.read_text()
    # on the data's own box there is nothing to say about the features
    tight = analyze(net, tmp_path / "tight", X=X, y=y, time_limit=5, quiet=True, sections=("network",))
    assert "features the domain box" not in tight.sections["network"]["domain_note"]


def test_without_pytorch_the_starting_points_are_used_and_the_report_says_so(tmp_path, monkeypatch):
    import reluscope.distance.ascent as ascent

    monkeypatch.setattr(ascent, "_torch", lambda: None)
    net = _random_net(3)
    rep = analyze(net, tmp_path, domain=Box(-1, 1), time_limit=2, quiet=True, sections=("network", "lipschitz"))
    scale = rep.sections["network"]["output_scale"]
    assert scale["method"] == "sampled (PyTorch is not installed)"
    k = scale["output"]
    R = float(net(np.array([scale["witness_high"]]))[0, k] - net(np.array([scale["witness_low"]]))[0, k])
    assert scale["attained"] == pytest.approx(R, rel=1e-12)
    lip = rep.sections["lipschitz"]
    assert lip["search"]["method"] == "sampled (PyTorch is not installed)" and lip["search"]["steps"] == 0
    assert lip["lower"] <= lip["upper"]
    assert "PyTorch is not installed" in rep.markdown.read_text()

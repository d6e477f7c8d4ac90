"""Tests of reluscope.report.analyze: report files, section content, graceful degradation."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest

import reluscope
from reluscope import Box, ReLUNetwork
from reluscope.errors import InvalidArgument, InvalidData, ReluscopeError
from reluscope.report import SECTION_KEYS, analyze
from reluscope.report.data import load_csv
from reluscope.report.document import Document, Figure, Paragraph, Section, Table

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def degenerate_network() -> ReLUNetwork:
    """2-4-3-2 network on [-1,1]^2 with known degeneracies in the first hidden layer.

    neuron 0: dead (pre-activation x1 - 5 < 0 on the box); neuron 1 and neuron 2 parallel
    (neuron 2 = 2 * neuron 1); neuron 3 always active (x2 + 3 > 0); a mask on layer 2.
    """
    W1 = np.array([[1.0, 0.0], [1.0, -1.0], [2.0, -2.0], [0.0, 1.0]])
    b1 = np.array([-5.0, 0.1, 0.2, 3.0])
    mask2 = np.array([[1, 1, 0, 1], [1, 1, 1, 0], [0, 1, 1, 1]], dtype=bool)
    W2 = np.array([[0.5, -1.0, 0.0, 0.7], [0.3, 0.8, -0.4, 0.0], [0.0, 0.6, 0.9, -0.5]])
    b2 = np.array([0.1, -0.2, 0.3])
    W3 = np.array([[1.0, -1.0, 0.5], [-0.3, 0.7, 1.2]])
    b3 = np.array([0.0, 0.1])
    masks = (np.ones_like(W1, dtype=bool), mask2, np.ones_like(W3, dtype=bool))
    return ReLUNetwork([W1, W2, W3], [b1, b2, b3], masks=masks)


def _png_ok(path: Path) -> bool:
    data = path.read_bytes()
    return data.startswith(PNG_MAGIC) and len(data) > 1000


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("analysis")
    return analyze(degenerate_network(), out, domain=Box(-1, 1), time_limit=10, quiet=True)


def test_report_files_exist_and_reference_each_figure(report):
    assert report.markdown.is_file() and report.html.is_file() and report.json.is_file()
    md = report.markdown.read_text()
    html = report.html.read_text()
    assert report.figures, "at least the weight figure is written"
    for fig in report.figures:
        assert fig.parent == report.out_dir
        assert _png_ok(fig), fig
        assert f"]({fig.name})" in md
        assert f'src="{fig.name}"' in html
    # every image referenced in the HTML exists next to it (self-contained folder)
    for src in re.findall(r'<img src="([^"]+)"', html):
        assert (report.out_dir / src).is_file()
    # no external resources or scripts
    assert "<script" not in html and "http://" not in html and "https://" not in html


def test_every_section_is_present_with_a_status(report):
    md = report.markdown.read_text()
    data = json.loads(report.json.read_text())
    assert list(report.sections) == list(SECTION_KEYS)
    assert list(data["sections"]) == list(SECTION_KEYS)
    for key, info in report.sections.items():
        assert info["status"] in ("ok", "partial", "not computed")
        if info["status"] != "ok":
            assert info["reason"], key
            assert info["reason"].split(":")[0] in md
    # no data given: the constructive baseline says why it is absent
    assert report.status("constructive") == "not computed"
    assert "no data given" in report.sections["constructive"]["reason"]


def test_network_section_numbers(report):
    net = degenerate_network()
    info = report.sections["network"]
    assert info["status"] == "ok"
    assert info["widths"] == list(net.widths)
    assert info["n_parameters"] == net.n_parameters
    assert info["n_free_parameters"] == net.n_free_parameters
    assert [layer["mask_entries"] for layer in info["layers"]] == [8, 9, 6]
    md = report.markdown.read_text()
    assert f"{net.n_parameters} parameters" in md


def test_activation_section_matches_an_independent_count(report):
    net = degenerate_network()
    info = report.sections["activations"]
    assert info["status"] == "ok"
    X = Box(-1, 1).sample(info["n_points"], 2, seed=0 + 4)
    # independent forward pass in numpy
    h = X
    freqs = []
    for W, b in zip(net.weights[:-1], net.biases[:-1]):
        z = h @ W.T + b
        freqs.append((z > 0).mean(axis=0))
        h = np.maximum(z, 0)
    for got, want in zip(info["active_fraction"], freqs):
        np.testing.assert_allclose(got, want)
    # neuron 0 of layer 1 is dead on the whole box, neuron 3 always active
    assert info["layers"][0]["never_active"] == 1
    assert info["layers"][0]["always_active"] == 1


def test_summary_is_printed_by_str(report):
    text = str(report)
    assert str(report.out_dir) in text and "widths: 2-4-3-2" in text


def test_data_enables_constructive_section_or_says_why(tmp_path):
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(-1, 0.2, (30, 2)), rng.normal(1, 0.2, (30, 2))])
    y = np.repeat([0, 1], 30)
    rep = analyze(degenerate_network(), tmp_path, X=X, y=y, time_limit=5, quiet=True,
                  sections=("network", "activations", "constructive"))
    assert list(rep.sections) == ["network", "activations", "constructive"]
    # domain defaults to the data's bounding box; activation stats are on the data
    assert rep.sections["activations"]["n_points"] == 60
    assert "given data" in rep.sections["activations"]["source"]
    from reluscope.report.document import format_value

    assert f"lo from {format_value(float(X.min()))}" in rep.sections["network"]["domain"]
    assert f"hi up to {format_value(float(X.max()))}" in rep.sections["network"]["domain"]
    # constructive baseline: numbers equal an independent evaluation
    from reluscope.constructive import fit

    info = rep.sections["constructive"]
    assert info["status"] == "ok", info
    net = degenerate_network()
    assert info["model_accuracy"] == pytest.approx(np.mean(np.argmax(net(X), axis=1) == y))
    fitted = fit(X, y)
    outputs = fitted.network(X)
    nearest = np.argmin(np.linalg.norm(outputs[:, None, :] - np.eye(2)[None], axis=2), axis=1)
    assert info["constructive_accuracy"] == pytest.approx(np.mean(nearest == y))
    assert info["constructive_balanced_cost"] == pytest.approx(fitted.cost)
    assert info["constructive_balanced_cost"] <= info["constructive_upper_bound"] + 1e-9
    sq = np.sum((net(X) - np.eye(2)[y]) ** 2, axis=1)
    assert info["model_mean_cost"] == pytest.approx(sq.mean())
    assert info["model_balanced_cost"] == pytest.approx(np.sqrt(np.sum(sq / 30)))
    assert info["constructive_widths"] == [2, 2, 2]
    md = rep.markdown.read_text()
    assert "| accuracy on all given data (training accuracy for the constructive network; the model may" in md
    assert (rep.out_dir / "constructive.png").is_file()
    assert "accuracy on all given data (model / constructive)" in rep.summary
    # with the model's own split, accuracies are labelled held-out and training, measured on those rows
    held_out = np.zeros(60, dtype=bool)
    held_out[::4] = True
    rep = analyze(net, tmp_path / "split", X=X, y=y, held_out=held_out, time_limit=5, quiet=True,
                  sections=("constructive",))
    held = rep.sections["constructive"]["held_out_accuracy"]
    pred = np.argmax(net(X), axis=1)
    assert held["model"] == pytest.approx(np.mean(pred[held_out] == y[held_out]))
    assert held["model_training"] == pytest.approx(np.mean(pred[~held_out] == y[~held_out]))
    part = fit(X[~held_out], y[~held_out])
    assert held["constructive"] == pytest.approx(np.mean(part.network_predict(X[held_out]) == y[held_out]))
    assert "held-out accuracy (model / constructive)" in rep.summary
    assert "| held-out accuracy (15 rows the model did not train on) |" in rep.markdown.read_text()


def test_failing_analysis_is_reported_not_computed_and_others_continue(tmp_path, monkeypatch):
    import reluscope.report.analysis as module

    def broken(ctx):
        raise InvalidData("synthetic failure for the test")

    monkeypatch.setitem(module._SECTIONS, "degeneracies", ("Degeneracies", broken))
    rep = analyze(degenerate_network(), tmp_path, time_limit=5, quiet=True,
                  sections=("network", "degeneracies", "activations"))
    assert rep.status("degeneracies") == "not computed"
    assert "synthetic failure for the test" in rep.sections["degeneracies"]["reason"]
    assert rep.status("network") == "ok" and rep.status("activations") == "ok"
    md = rep.markdown.read_text()
    assert "**Not computed:** InvalidData: synthetic failure for the test" in md
    assert "synthetic failure for the test" in rep.html.read_text()


def test_section_over_budget_is_abandoned_with_a_reason(tmp_path, monkeypatch):
    import reluscope.report.analysis as module

    def slow(ctx):
        time.sleep(120)

    monkeypatch.setitem(module._SECTIONS, "lipschitz", ("Lipschitz constant", slow))
    start = time.perf_counter()
    # the network section needs well under a second; 20 s leaves room on a loaded machine
    rep = analyze(degenerate_network(), tmp_path, time_limit=1, section_timeout=20.0, quiet=True,
                  sections=("lipschitz", "network"))
    assert time.perf_counter() - start < 60
    assert rep.status("lipschitz") == "not computed"
    assert "did not finish" in rep.sections["lipschitz"]["reason"]
    assert rep.status("network") == "ok"


def test_bad_inputs_raise_one_line_errors(tmp_path):
    net = degenerate_network()
    with pytest.raises(InvalidData, match=r"shape \(5, 3\).*\(n, 2\)"):
        analyze(net, tmp_path, X=np.zeros((5, 3)), y=np.zeros(5), quiet=True)
    with pytest.raises(InvalidData, match="without labels"):
        analyze(net, tmp_path, X=np.zeros((5, 2)), quiet=True)
    with pytest.raises(InvalidData, match="NaN"):
        analyze(net, tmp_path, X=np.full((5, 2), np.nan), y=np.zeros(5), quiet=True)
    with pytest.raises(InvalidArgument, match="unknown report section"):
        analyze(net, tmp_path, sections=("nope",), quiet=True)
    with pytest.raises(ReluscopeError):
        analyze(net, tmp_path, domain="1,0", quiet=True)


def test_inputs_not_mutated(tmp_path):
    X = np.linspace(-1, 1, 40).reshape(20, 2)
    y = np.arange(20) % 2
    X0, y0 = X.copy(), y.copy()
    analyze(degenerate_network(), tmp_path, X=X, y=y, quiet=True, sections=("activations",))
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


# ----------------------------------------------------------------------------- document


def test_document_escapes_html_and_renders_tables():
    doc = Document("<b>t</b>", (
        Section("A & B", (Paragraph("use `x<y` and **bold**"), Table(("k", "v"), (("a|b", 1.5),)))),
        Section("C", status="not computed", reason="no <data>"),
    ))
    html = doc.to_html()
    assert "<b>t</b>" not in html and "&lt;b&gt;t&lt;/b&gt;" in html
    assert "<code>x&lt;y</code>" in html and "<strong>bold</strong>" in html
    assert "<td>a|b</td><td>1.5</td>" in html
    assert "no &lt;data&gt;" in html
    md = doc.to_markdown()
    assert "| a\\|b | 1.5 |" in md
    assert "> **Not computed:** no <data>" in md


def test_figure_block_markdown_and_html():
    doc = Document("t", (Section("s", (Figure("f.png", "cap"),)),))
    assert "![cap](f.png)" in doc.to_markdown()
    assert '<img src="f.png" alt="cap">' in doc.to_html()


# ----------------------------------------------------------------------------- CSV


def test_load_csv_roundtrip_and_errors(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,label\n0.5,1,0\n-1,2.5,1\n")
    X, y, names = load_csv(path, "label")
    np.testing.assert_array_equal(X, [[0.5, 1.0], [-1.0, 2.5]])
    np.testing.assert_array_equal(y, [0, 1])
    assert names == ["a", "b"]
    with pytest.raises(InvalidData, match="no column named 'cls'"):
        load_csv(path, "cls")
    path.write_text("a,label\nx,0\n")
    with pytest.raises(InvalidData, match=r"line 2, column 'a': non-numeric feature value 'x'"):
        load_csv(path, "label")
    path.write_text("a,label\n1,0,3\n")
    with pytest.raises(InvalidData, match="line 2 has 3 fields"):
        load_csv(path, "label")
    with pytest.raises(InvalidData, match="no such data file"):
        load_csv(tmp_path / "missing.csv", "label")


# ----------------------------------------------------------------------------- real content


def test_degeneracy_counts_equal_the_library(report):
    net = degenerate_network()
    expected = reluscope.degeneracies(net, Box(-1, 1), time_limit=10)
    info = report.sections["degeneracies"]
    assert info["status"] == "ok"
    assert info["counts"] == expected.counts
    assert info["counts_by_layer"] == expected.counts_by_layer
    # the known degeneracies of the constructed first layer
    first = info["counts_by_layer"]["hidden layer 1"]
    assert first["dead"] == 1 and first["always_active"] == 1 and first["parallel"] == 2
    md = report.markdown.read_text()
    section = md.split("## Degeneracies", 1)[1].split("\n## ", 1)[0]
    for status, total in expected.counts.items():
        per_layer = " | ".join(str(c[status]) for c in expected.counts_by_layer.values())
        assert f"| {status} | {per_layer} | {total} |" in section


def test_reduction_section_matches_reduce_and_is_exactly_equal(report):
    net = degenerate_network()
    info = report.sections["reduction"]
    assert info["status"] in ("ok", "partial"), info
    reduced = reluscope.reduce(net, Box(-1, 1))
    assert info["widths_after"] == list(reduced.widths)
    assert sum(info["widths_after"][1:-1]) < sum(info["widths_before"][1:-1])
    # the reduction is the same function on the domain: sup distance 0 up to the MILP tolerance
    assert 0 <= info["sup_distance"]["lower"] <= info["sup_distance"]["upper"] <= 1e-5
    assert info["sampled_max_abs_difference"] <= 1e-9


def test_canonical_section(report):
    info = report.sections["canonical-form"]
    assert info["status"] == "ok"
    assert info["equivalent_to_original"] is True
    assert info["sampled_max_abs_difference"] <= 1e-9
    canon = reluscope.canonical_form(degenerate_network())
    assert info["parameter_norm_after"] == pytest.approx(float(np.linalg.norm(canon.to_vector())))
    assert info["parameter_distance_modulo_symmetry"] <= 1e-8 * max(1.0, info["parameter_distance_raw"])
    expected = reluscope.parameter_distance(degenerate_network(), canon, modulo_symmetry=False)
    assert info["parameter_distance_raw"] == pytest.approx(expected.distance)


def test_lipschitz_section_equals_the_library(report):
    info = report.sections["lipschitz"]
    expected = reluscope.lipschitz_constant(degenerate_network(), Box(-1, 1), time_limit=10)
    assert info["status"] == "ok" and info["exact"] is True
    assert info["upper"] == pytest.approx(expected.upper, rel=1e-6)
    # the sampled gradient entries are a valid lower bound
    assert info["sampled_lower_bound"] <= info["upper"] + 1e-9
    assert info["lower"] <= info["upper"] + 1e-9


def test_sparsity_section_verdicts(report, tmp_path):
    from reluscope import sparsity

    # the fixture network: a three-valued verdict, partial exactly when undecided
    info = report.sections["sparsity"]
    assert info["answer"] in ("no optimum guaranteed", "an optimum always exists", "undecided")
    assert info["status"] == ("partial" if info["answer"] == "undecided" else "ok")
    assert f"**{info['answer']}**" in report.markdown.read_text()

    rng = np.random.default_rng(0)
    # LU pattern: L_I not closed, so no optimum is guaranteed (with a verified certificate)
    L, U = np.array([[1, 0], [1, 1]], bool), np.array([[1, 1], [0, 1]], bool)
    lu = ReLUNetwork([rng.normal(size=(2, 2)) * L, rng.normal(size=(2, 2)) * U], [np.zeros(2)] * 2, masks=[L, U])
    # one hidden layer, scalar output: an optimum always exists, whatever the mask
    M1 = np.array([[1, 0], [0, 1], [1, 1], [1, 0]], bool)
    shallow = ReLUNetwork([rng.normal(size=(4, 2)) * M1, rng.normal(size=(1, 4))], [np.zeros(4), np.zeros(1)],
                          masks=[M1, np.ones((1, 4), bool)])
    for net, answer in ((lu, "no optimum guaranteed"), (shallow, "an optimum always exists")):
        expected = sparsity.optimum_exists(net, domain=Box(-1, 1), time_limit=10)
        assert expected.status == answer
        rep = analyze(net, tmp_path / answer.replace(" ", "-"), domain=Box(-1, 1), time_limit=10, quiet=True,
                      sections=("sparsity",))
        got = rep.sections["sparsity"]
        assert got["status"] == "ok" and got["answer"] == answer
        assert got["certificate_valid"] == expected.certificate_valid
        if answer == "no optimum guaranteed":
            assert got["certificate_valid"] is True
            assert got["linear_closedness"]["closed"] is False
            losses = [row[1] for row in got["sequence"]]
            norms = [row[2] for row in got["sequence"]]
            assert losses == sorted(losses, reverse=True) and norms == sorted(norms)
            assert "A parameter sequence whose loss tends to 0" in rep.markdown.read_text()


def test_distances_section_equals_the_library_and_bounds_samples(report):
    from reluscope.report.sections.distances import _pruned_further

    net = degenerate_network()
    pruned = _pruned_further(net, 0.1)
    # 10 % of each layer's remaining weights, rounded: layers have 6, 9, 6 nonzero weights
    assert net.n_free_parameters - pruned.n_free_parameters == info_removed(net)
    info = report.sections["distances"]
    assert info["weights_removed"] == info_removed(net)
    expected = reluscope.sup_distance(net, pruned, Box(-1, 1), time_limit=10)
    assert info["sup"]["exact"] and expected.exact
    assert info["sup"]["upper"] == pytest.approx(expected.upper, rel=1e-5, abs=1e-6)
    X = Box(-1, 1).sample(4000, 2, seed=11)
    sampled = float(np.abs(net(X) - pruned(X)).max())
    assert sampled <= info["sup"]["upper"] + 1e-6
    assert info["sobolev"]["lower"] >= info["sup"]["lower"] - 1e-6


def info_removed(net: ReLUNetwork) -> int:
    return sum(int(round(0.1 * np.count_nonzero(W))) for W in net.weights)


def test_unbalanced_is_shown_apart_from_degeneracies(report):
    info = report.sections["degeneracies"]
    md = report.markdown.read_text()
    section = md.split("## Degeneracies", 1)[1].split("\n## ", 1)[0]
    first_table, rest = section.split("| not a degeneracy |", 1)
    assert "| unbalanced |" not in first_table
    assert f"| {info['counts']['unbalanced']} |" in rest.split("\n")[2]
    assert not any(k.startswith("unbalanced") for k in report.summary["degenerate neurons"].split(", "))


def test_section_times_and_consistent_distance_bounds(report):
    md = report.markdown.read_text()
    head = md.split("\n## ", 1)[0]
    assert "| section | status | seconds |" in head
    for key, info in report.sections.items():
        assert info["seconds"] >= 0
    dist = report.sections["distances"]
    sup, sob = dist["sup"], dist["sobolev"]
    # sup |f - g| <= ||f - g||_{W^{1,inf}}: the reported bounds respect it
    assert sob["lower"] >= sup["lower"] and sup["upper"] <= sob["upper"]
    # the scale: an output spread attained at two witness points, at least the sampled spread,
    # at most the bound engine's range
    X = Box(-1, 1).sample(2000, 2, seed=5)
    net = degenerate_network()
    out = net(X)
    scale = report.sections["network"]["output_scale"]
    k = scale["output"]
    attained = float(net(np.array([scale["witness_high"]]))[0, k] - net(np.array([scale["witness_low"]]))[0, k])
    assert dist["output_range"] == pytest.approx(attained, rel=1e-12) == pytest.approx(scale["attained"], rel=1e-12)
    assert dist["output_range"] >= float((out.max(0) - out.min(0)).max()) - 1e-12
    assert dist["output_range"] <= scale["upper_bound"]
    assert "lower / R" in md


def test_reduction_dropping_only_zero_contributions_is_exact_without_milp(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    W1, W2 = rng.normal(size=(5, 3)), rng.normal(size=(2, 5))
    W2[:, 2] = 0.0  # neuron 2 has zero outgoing weights
    W1z = W1.copy()
    W1z[4] = 0.0  # neuron 4 is the constant relu(b_4): folded into the next bias
    net = ReLUNetwork([W1z, W2], [np.abs(rng.normal(size=5)) + 0.5, rng.normal(size=2)])
    import reluscope.distance

    def no_milp(*args, **kwargs):
        raise AssertionError("no MILP should be needed")

    monkeypatch.setattr(reluscope.distance, "sup_distance", no_milp)
    rep = analyze(net, tmp_path, domain=Box(-1, 1), time_limit=5, quiet=True, sections=("reduction",))
    info = rep.sections["reduction"]
    assert info["status"] == "ok" and info["widths_after"][1] == 3
    assert any("zero outgoing" in a for a in info["actions"]) and any("zero incoming" in a for a in info["actions"])
    assert info["sup_distance"] == {"lower": 0.0, "upper": 0.0, "exact": True,
                                    "status": "exact: rules 1-3 only"}
    assert "sup distance exactly 0 (no MILP needed" in rep.markdown.read_text()
    # nothing to reduce: identical, distance exactly 0
    dense = ReLUNetwork([W1, rng.normal(size=(2, 5))], [np.zeros(5), np.zeros(2)])  # every neuron crosses 0
    rep = analyze(dense, tmp_path / "b", domain=Box(-1, 1), time_limit=5, quiet=True, sections=("reduction",))
    red = rep.sections["reduction"]
    assert red["actions"] == [] and red["status"] == "ok"
    assert red["sup_distance"]["status"] == "identical" and red["sup_distance"]["upper"] == 0.0

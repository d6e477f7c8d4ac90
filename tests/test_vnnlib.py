"""VNN-LIB reader (issue 25): every vendored VNN-COMP 2021 property parses into the boxes
and unsafe polytopes its text states; the disjunctive normal form is the formula's meaning
(random formulas evaluated directly); malformed files fail in one line naming file and line.
"""

from __future__ import annotations

import gzip
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reluscope import Box
from reluscope.io.vnnlib import VNNLibError, load_vnnlib, resolve_vnnlib_path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "vnncomp2021"
ACAS = sorted((BENCH / "acasxu").glob("prop_*.vnnlib"))
MNIST = sorted((BENCH / "mnistfc").glob("prop_*.vnnlib.gz"))
_BOUND = re.compile(r"\((<=|>=) X_(\d+) ([-+0-9.eE]+)\)")


def _bounds_in(text: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The box stated by literal bounds ``(<= X_i c)`` / ``(>= X_i c)`` in ``text``."""
    lo, hi = np.full(n, -np.inf), np.full(n, np.inf)
    for op, i, c in _BOUND.findall(text):
        if op == "<=":
            hi[int(i)] = min(hi[int(i)], float(c))
        else:
            lo[int(i)] = max(lo[int(i)], float(c))
    return lo, hi


def test_all_vendored_properties_are_there():
    assert len(ACAS) == 10 and len(MNIST) == 30


@pytest.mark.parametrize("path", ACAS, ids=lambda p: p.stem)
def test_acasxu_properties_match_their_text(path):
    spec = load_vnnlib(path, n_inputs=5, n_outputs=5)
    text = path.read_text()
    assert spec.n_inputs == 5 and spec.n_outputs == 5 and spec.name == path.name
    if path.stem == "prop_6":  # two input boxes (a disjunction), the same four unsafe rows for each
        boxes = [_bounds_in(line, 5) for line in text.splitlines() if line.strip().startswith("(and (<= X_0")]
        assert len(spec.cases) == 2 and len(boxes) == 2
        for case, (lo, hi) in zip(spec.cases, boxes):
            assert np.array_equal(case.box.lo, lo) and np.array_equal(case.box.hi, hi)
            assert len(case.unsafe) == 4 and all(p.A.shape == (1, 5) for p in case.unsafe)
        return
    lo, hi = _bounds_in(text, 5)
    assert len(spec.cases) == 1
    case = spec.cases[0]
    assert np.array_equal(case.box.lo, lo) and np.array_equal(case.box.hi, hi)
    y_lines = [ln for ln in text.splitlines() if "Y_" in ln and not ln.lstrip().startswith((";", "(declare"))]
    y_atoms = sum(len(re.findall(r"\((?:<=|>=) Y_\d+ [^()]*\)", ln)) for ln in y_lines)
    n_and = sum(ln.count("(and") for ln in y_lines)  # a disjunction of conjunctions, or asserted rows
    if n_and:
        assert len(case.unsafe) == n_and and sum(p.A.shape[0] for p in case.unsafe) == y_atoms
    else:
        assert len(case.unsafe) == 1 and case.unsafe[0].A.shape[0] == y_atoms >= 1


def test_acasxu_property_1_and_4_exactly():
    """Property 1: unsafe iff y_0 >= 3.991125645861615 (COC above the threshold);
    property 4 fixes X_2 = 0 (a flat coordinate) and its unsafe set is y_0 <= y_j for all j."""
    p1 = load_vnnlib(BENCH / "acasxu" / "prop_1.vnnlib")
    (poly,) = p1.cases[0].unsafe
    assert poly.A.tolist() == [[-1.0, 0.0, 0.0, 0.0, 0.0]] and poly.b.tolist() == [-3.991125645861615]
    p4 = load_vnnlib(BENCH / "acasxu" / "prop_4.vnnlib")
    box = p4.cases[0].box
    assert box.lo[2] == box.hi[2] == 0.0
    (poly,) = p4.cases[0].unsafe
    assert poly.A.tolist() == [[1.0, -1.0, 0, 0, 0], [1.0, 0, -1.0, 0, 0], [1.0, 0, 0, -1.0, 0], [1.0, 0, 0, 0, -1.0]]
    assert poly.b.tolist() == [0.0] * 4
    again = pickle.loads(pickle.dumps(p4))  # flat boxes survive pickling (Dask ships specs this way)
    assert again.cases[0].box == box


@pytest.mark.parametrize("path", MNIST, ids=lambda p: p.name.split(".vnnlib")[0])
def test_mnistfc_properties_match_their_text(path):
    spec = load_vnnlib(path, n_inputs=784, n_outputs=10)
    text = gzip.decompress(path.read_bytes()).decode()
    label = int(re.search(r"label: (\d+)", text).group(1))
    eps = float(re.search(r"prop_\d+_([0-9.]+)\.vnnlib", path.name).group(1))
    lo, hi = _bounds_in(text, 784)
    (case,) = spec.cases
    assert np.array_equal(case.box.lo, lo) and np.array_equal(case.box.hi, hi)
    assert np.all(case.box.lo >= 0.0) and np.all(case.box.hi <= 1.0)
    assert np.all(case.box.hi - case.box.lo <= 2 * eps + 1e-7)
    assert len(case.unsafe) == 9  # unsafe iff some other class scores at least the label
    others = set()
    for poly in case.unsafe:
        (row,) = poly.A
        assert poly.b.tolist() == [0.0] and row[label] == 1.0 and row.sum() == 0.0
        (other,) = np.flatnonzero(row == -1.0)
        others.add(int(other))
    assert others == set(range(10)) - {label}


def test_gzip_and_the_plain_fallback(tmp_path):
    src = MNIST[0]
    plain = tmp_path / src.name[:-3]
    plain.write_bytes(gzip.decompress(src.read_bytes()))
    a, b = load_vnnlib(src), load_vnnlib(plain)
    assert a.cases[0].box == b.cases[0].box
    assert all(np.array_equal(p.A, q.A) for p, q in zip(a.cases[0].unsafe, b.cases[0].unsafe))
    named = BENCH / "mnistfc" / src.name[:-3]  # as the instances CSV names it
    assert not named.exists() and resolve_vnnlib_path(named) == src
    assert load_vnnlib(named).cases[0].box == a.cases[0].box


# ---------------------------------------------------------------------- random formulas
def _atom_text(atom):
    kind, *rest = atom
    if kind == "xb":  # bound of one input
        op, i, c = rest
        return f"({op} X_{i} {c})"
    op, coeffs, c = rest  # linear in outputs: sum coeffs * Y op c
    terms = " ".join(f"(* {a} Y_{j})" for j, a in coeffs)
    return f"({op} (+ {terms}) {c})"


def _atom_value(atom, x, y):
    kind, op, *rest = atom
    if kind == "xb":
        i, c = rest
        v = x[i]
    else:
        coeffs, c = rest
        v = sum(a * y[j] for j, a in coeffs)
    return {"<=": v <= c, ">=": v >= c}[op]


def _formula_text(f):
    if f[0] in ("and", "or"):
        return f"({f[0]} " + " ".join(_formula_text(g) for g in f[1]) + ")"
    return _atom_text(f)


def _formula_value(f, x, y):
    if f[0] == "and":
        return all(_formula_value(g, x, y) for g in f[1])
    if f[0] == "or":
        return any(_formula_value(g, x, y) for g in f[1])
    return _atom_value(f, x, y)


@st.composite
def _properties(draw):
    """A random property: a disjunction of input boxes (each bounding every input, integer
    bounds) conjoined with a random and/or formula over output atoms, sometimes with the
    boxes and output formulas paired inside one disjunction (as later VNN-COMPs write)."""
    n, k = draw(st.integers(1, 3)), draw(st.integers(1, 3))

    def box():
        atoms = []
        for i in range(n):
            a, b = sorted(draw(st.lists(st.integers(-3, 3), min_size=2, max_size=2)))
            atoms += [("xb", ">=", i, a), ("xb", "<=", i, b)]
        return ("and", atoms)

    def out_atom():
        coeffs = [(j, draw(st.sampled_from([-2, -1, 1, 2]))) for j in sorted(
            draw(st.sets(st.integers(0, k - 1), min_size=1)))]
        return ("y", draw(st.sampled_from(["<=", ">="])), coeffs, draw(st.integers(-3, 3)))

    def out_formula(depth):
        if depth == 0 or draw(st.booleans()):
            return out_atom()
        return (draw(st.sampled_from(["and", "or"])), [out_formula(depth - 1) for _ in range(draw(st.integers(1, 3)))])

    if draw(st.booleans()):
        asserts = [("or", [box() for _ in range(draw(st.integers(1, 3)))]), out_formula(3)]
    else:
        asserts = [("or", [("and", [box(), out_formula(2)]) for _ in range(draw(st.integers(1, 3)))])]
    return n, k, asserts


@settings(max_examples=60, deadline=None)
@given(prop=_properties(), seed=st.integers(0, 2**32 - 1))
def test_random_formulas_mean_what_their_cases_say(tmp_path_factory, prop, seed):
    n, k, asserts = prop
    text = "".join(f"(declare-const X_{i} Real)\n" for i in range(n))
    text += "".join(f"(declare-const Y_{j} Real)\n" for j in range(k))
    text += "".join(f"(assert {_formula_text(a)})\n" for a in asserts)
    path = tmp_path_factory.mktemp("v") / "p.vnnlib"
    path.write_text(text)
    spec = load_vnnlib(path)
    assert spec.n_inputs == n and spec.n_outputs == k
    rng = np.random.default_rng(seed)
    # points on a half-integer grid hit the integer boundaries of atoms and boxes exactly
    X = rng.integers(-8, 9, size=(300, n)) / 2
    Y = rng.integers(-8, 9, size=(300, k)) / 2
    for x, y in zip(X, Y):
        truth = all(_formula_value(a, x, y) for a in asserts)
        cases = any(np.all(c.box.lo <= x) and np.all(x <= c.box.hi) and any(p.contains(y[None])[0] for p in c.unsafe)
                    for c in spec.cases)
        assert truth == cases


# ---------------------------------------------------------------------- errors
_HEAD = "(declare-const X_0 Real)\n(declare-const Y_0 Real)\n"


@pytest.mark.parametrize("body, needle", [
    ("(assert (<= X_0 1)\n", "line 3: '(' is never closed"),
    ("(assert (<= X_0 1)))\n", "line 3: unbalanced ')'"),
    ("(assert (<= X_1 1))\n", "line 3: X_1 is used before it is declared"),
    ("(assert (<= X_0 1))\n(assert (>= X_0 0))\n(assert (foo Y_0 1))\n", "line 5: unsupported operator 'foo'"),
    ("(assert (<= X_0 1))\n(assert (>= X_0 0))\n(assert (<= Y_0 X_0))\n", "line 5: a constraint mixes inputs and outputs"),
    ("(assert (<= (+ X_0 X_0 Y_0) 1))\n", "line 3: a constraint mixes"),
    ("(assert (<= X_0 1))\n(assert (<= Y_0 0))\n", "X_0 has no lower bound"),
    ("(assert (<= X_0 1))\n(assert (>= X_0 0))\n(assert (<= (* Y_0 Y_0) 0))\n", "line 5: (* ...) multiplies two"),
    ("(assert (<= X_0 abc))\n", "line 3: 'abc' is neither a number"),
    ("(check-sat)\n(assert (<= X_0 1))\n(assert (>= X_0 2))\n(assert (<= Y_0 0))\n", "contradictory"),
    ("(declare-fun f () Real)\n", "line 3: unsupported command 'declare-fun'"),
    ("", "no assertions"),
])
def test_malformed_files_fail_in_one_line_naming_file_and_line(tmp_path, body, needle):
    path = tmp_path / "bad.vnnlib"
    path.write_text(_HEAD + body)
    with pytest.raises(VNNLibError) as info:
        load_vnnlib(path)
    message = str(info.value)
    assert needle in message and str(path) in message and "\n" not in message


def test_sizes_are_checked_against_the_network_and_the_declarations(tmp_path):
    path = tmp_path / "p.vnnlib"
    path.write_text(_HEAD + "(assert (<= X_0 1))(assert (>= X_0 0))(assert (<= Y_0 0))")
    with pytest.raises(VNNLibError, match="declares 1 inputs but the network has 5"):
        load_vnnlib(path, n_inputs=5)
    with pytest.raises(VNNLibError, match="declares 1 outputs but the network has 2"):
        load_vnnlib(path, n_outputs=2)
    gap = tmp_path / "gap.vnnlib"
    gap.write_text("(declare-const X_0 Real)(declare-const X_2 Real)(declare-const Y_0 Real)")
    with pytest.raises(VNNLibError, match="X_1 ... are not declared but X_2 is"):
        load_vnnlib(gap)
    with pytest.raises(VNNLibError, match="no such file"):
        load_vnnlib(tmp_path / "missing.vnnlib")


def test_strict_and_equality_atoms_and_no_output_constraint(tmp_path):
    """``<`` reads as ``<=`` (the closure of the unsafe set), ``=`` as two rows, and a
    property without output constraints makes every output unsafe."""
    path = tmp_path / "p.vnnlib"
    path.write_text(_HEAD + "(declare-const Y_1 Real)(assert (and (> X_0 -1) (< X_0 1)))"
                    "(assert (= (- Y_0 Y_1) 0.5))")
    (case,) = load_vnnlib(path).cases
    assert case.box == Box([-1.0], [1.0])
    assert case.unsafe[0].A.tolist() == [[1.0, -1.0], [-1.0, 1.0]] and case.unsafe[0].b.tolist() == [0.5, -0.5]
    free = tmp_path / "free.vnnlib"
    free.write_text(_HEAD + "(assert (<= X_0 2))(assert (>= X_0 1))")
    (case,) = load_vnnlib(free).cases
    assert case.unsafe[0].contains(np.array([[1e6]]))[0]

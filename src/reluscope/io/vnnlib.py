"""VNN-LIB property files (the VNN-COMP format, VNN-LIB 1.0): :func:`load_vnnlib` reads one
into a :class:`~reluscope.spec.Specification`.

A file declares inputs ``X_0 ... X_{n-1}`` and outputs ``Y_0 ... Y_{k-1}``
(``(declare-const X_0 Real)``) and asserts linear constraints whose conjunction describes a
counterexample: the property is violated iff some ``x`` satisfies all assertions together
with ``y = f(x)``. Supported, as in the VNN-COMP 2021 benchmarks and beyond:

* atoms ``(<= s t)``, ``(>= s t)`` (and ``<``, ``>``, read as non-strict: the unsafe set is
  closed up, so "holds" stays sound), ``(= s t)``; terms are variables, decimal numbers and
  linear combinations ``(+ ...)``, ``(- ...)``, ``(* c t)``;
* ``(and ...)`` and ``(or ...)`` nested in any way, over input and output atoms (ACAS Xu
  property 6 is a disjunction of two input boxes; mnistfc's outputs are a disjunction of
  nine one-row polytopes).

The assertions are brought to disjunctive normal form; each disjunct's input atoms must be
bounds of single inputs (they form a box) and its output atoms linear in the outputs only
(they form a polytope ``A y <= b``). Disjuncts are grouped by box into
:class:`~reluscope.spec.SpecCase` values; disjuncts whose box is empty are dropped (no
point satisfies them). Arithmetic on the file's numbers is exact (rationals) and each
resulting coefficient is rounded once to the nearest float64, so a bound written as a
literal is exactly ``float(literal)``.

Files may be gzip-compressed (``*.vnnlib.gz``, or gzip content under any name); a missing
``X.vnnlib`` is read from ``X.vnnlib.gz`` beside it (:func:`resolve_vnnlib_path`).

Why not the ``vnnlib`` package from PyPI: its maintained releases (1.x, MIT, 2026) parse
the VNN-LIB **2.0** language and reject these VNN-LIB 1.0 files at their first
``declare-const``; its 0.0.1 release (a different, unmaintained project that held the name
before) reads them but is superseded under the same name. This reader is small and exact.
"""

from __future__ import annotations

import gzip
import os
import re
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..domain import Box
from ..errors import ReluscopeError
from ..spec import SpecCase, Specification, UnsafePolytope

__all__ = ["load_vnnlib", "resolve_vnnlib_path", "VNNLibError", "MAX_DISJUNCTS"]

MAX_DISJUNCTS = 100_000  # disjunctive normal form larger than this is refused, not enumerated
_TOKEN = re.compile(r";[^\n]*|\(|\)|[^\s();]+")
_VAR = re.compile(r"^([XY])_(\d+)$")


class VNNLibError(ReluscopeError, ValueError):
    """A VNN-LIB file that cannot be read; the message names the file and the line."""


class _Node(list):
    """A parenthesized expression (its items), with the line it starts on."""

    line: int = 0


# a linear form: {("X" | "Y", index): coefficient} plus a constant, all exact rationals
_Linear = tuple[dict[tuple[str, int], Fraction], Fraction]
# a classified atom: ("const", truth) | ("upper" | "lower", input index, bound)
# | ("output", ((output index, coefficient), ...), right-hand side)
_Atom = tuple


@lru_cache(maxsize=65536)
def _number(token: str) -> Fraction:
    """The exact rational value of a decimal literal (cached: files repeat their numbers)."""
    return Fraction(token)


def resolve_vnnlib_path(path: str | os.PathLike[str]) -> Path:
    """``path``, or ``path + ".gz"`` when only the compressed copy exists."""
    p = Path(path)
    if not p.exists() and Path(str(p) + ".gz").is_file():
        return Path(str(p) + ".gz")
    return p


def _read_text(path: Path) -> str:
    if not path.exists():
        raise VNNLibError(f"{path}: no such file")
    if not path.is_file():
        raise VNNLibError(f"{path}: is not a regular file")
    try:
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        return data.decode("utf-8")
    except (OSError, EOFError) as exc:
        raise VNNLibError(f"{path}: cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
    except UnicodeDecodeError as exc:
        raise VNNLibError(f"{path}: is not a text file (byte {exc.start} is not UTF-8)") from None


class _Reader:
    def __init__(self, path: Path, text: str) -> None:
        self.path, self.text = path, text
        self.declared: dict[str, set[int]] = {"X": set(), "Y": set()}
        self.asserts: list[tuple[int, list[list[_Atom]]]] = []  # (line, DNF)

    def err(self, line: int, message: str) -> VNNLibError:
        return VNNLibError(f"{self.path}: line {line}: {message}")

    # ------------------------------------------------------------------ s-expressions
    def parse(self) -> list[_Node]:
        stack: list[_Node] = []
        top: list[_Node] = []
        line = 1
        pos = 0
        for m in _TOKEN.finditer(self.text):
            line += self.text.count("\n", pos, m.start())
            pos = m.start()
            tok = m.group()
            if tok.startswith(";"):
                continue
            if tok == "(":
                node = _Node()
                node.line = line
                stack.append(node)
            elif tok == ")":
                if not stack:
                    raise self.err(line, "unbalanced ')'")
                node = stack.pop()
                (stack[-1] if stack else top).append(node)
            elif stack:
                stack[-1].append(tok)
            else:
                raise self.err(line, f"{tok[:40]!r} outside parentheses")
        if stack:
            raise self.err(stack[-1].line, "'(' is never closed")
        return top

    # ------------------------------------------------------------------ commands
    def run(self) -> None:
        for cmd in self.parse():
            head = cmd[0] if cmd and isinstance(cmd[0], str) else None
            if head == "declare-const":
                self.declare(cmd)
            elif head == "assert":
                if len(cmd) != 2:
                    raise self.err(cmd.line, f"assert takes one formula, got {len(cmd) - 1}")
                self.asserts.append((cmd.line, self.formula(cmd[1], cmd.line)))
            elif head in ("check-sat", "get-model", "set-logic", "set-info", "exit"):
                continue
            else:
                raise self.err(cmd.line, f"unsupported command {head or '(...)'!r}; expected declare-const or assert")

    def declare(self, cmd: _Node) -> None:
        if len(cmd) != 3 or not isinstance(cmd[1], str) or cmd[2] != "Real":
            raise self.err(cmd.line, "expected (declare-const X_i Real) or (declare-const Y_j Real)")
        m = _VAR.match(cmd[1])
        if not m:
            raise self.err(cmd.line, f"variable {cmd[1][:40]!r} is neither X_i (input) nor Y_j (output)")
        self.declared[m.group(1)].add(int(m.group(2)))

    # ------------------------------------------------------------------ formulas -> DNF
    def formula(self, f: object, line: int) -> list[list[_Atom]]:
        """Disjunctive normal form: a list of conjunctions (lists of atoms)."""
        if not isinstance(f, _Node) or not f or not isinstance(f[0], str):
            raise self.err(line, f"expected a formula such as (<= X_0 1.0), got {_show(f)}")
        op, args, line = f[0], f[1:], f.line
        if op == "and":
            out: list[list[_Atom]] = [[]]
            for a in args:
                part = self.formula(a, line)
                if len(out) * len(part) > MAX_DISJUNCTS:
                    raise self.err(line, f"the disjunctive normal form exceeds {MAX_DISJUNCTS} cases")
                out = [x + y for x in out for y in part]
            return out
        if op == "or":
            out = []
            for a in args:
                out.extend(self.formula(a, line))
            if not args:
                raise self.err(line, "(or) with no arguments")
            return out
        if op in ("<=", ">=", "<", ">", "="):
            if len(args) != 2:
                raise self.err(line, f"({op} ...) needs two arguments, got {len(args)}")
            lhs, rhs = self.term(args[0], line), self.term(args[1], line)
            if op == "=":
                return [[self.atom(_minus(lhs, rhs), line), self.atom(_minus(rhs, lhs), line)]]
            le = _minus(lhs, rhs) if op in ("<=", "<") else _minus(rhs, lhs)
            return [[self.atom(le, line)]]
        raise self.err(line, f"unsupported operator {op!r}; expected and, or, <=, >=, <, >, =")

    def atom(self, form: _Linear, line: int) -> _Atom:
        """Classify ``sum coeffs * v + const <= 0``: a constant truth value, a bound of one
        input (rounded once to float64), or an output row ``a . y <= b``."""
        coeffs, const = form
        if not coeffs:
            return ("const", const <= 0)
        kinds = {kind for kind, _ in coeffs}
        if kinds == {"X"}:
            if len(coeffs) != 1:
                raise self.err(line, f"an input constraint relates several inputs ({_show_linear(coeffs)}); "
                                     "only bounds of single inputs (boxes) are supported")
            ((_, j), a), = coeffs.items()
            return ("upper" if a > 0 else "lower", j, float(-const / a))
        if kinds == {"Y"}:
            return ("output", tuple((j, float(a)) for (_, j), a in coeffs.items()), float(-const))
        raise self.err(line, f"a constraint mixes inputs and outputs ({_show_linear(coeffs)}); not supported")

    def term(self, t: object, line: int) -> _Linear:
        if isinstance(t, str):
            m = _VAR.match(t)
            if m:
                key = (m.group(1), int(m.group(2)))
                if key[1] not in self.declared[key[0]]:
                    raise self.err(line, f"{t} is used before it is declared")
                return {key: Fraction(1)}, Fraction(0)
            try:
                value = _number(t)
            except (ValueError, ZeroDivisionError):
                raise self.err(line, f"{t[:40]!r} is neither a number nor a declared X_i / Y_j") from None
            return {}, value
        if not isinstance(t, _Node) or not t or not isinstance(t[0], str):
            raise self.err(line, f"expected a term, got {_show(t)}")
        op, args, line = t[0], [self.term(a, t.line) for a in t[1:]], t.line
        if op == "+" and args:
            out: _Linear = ({}, Fraction(0))
            for a in args:
                out = _plus(out, a)
            return out
        if op == "-" and len(args) == 1:
            return _scale(args[0], Fraction(-1))
        if op == "-" and len(args) >= 2:
            out = args[0]
            for a in args[1:]:
                out = _minus(out, a)
            return out
        if op == "*" and args:
            out = args[0]
            for a in args[1:]:
                if a[0] and out[0]:
                    raise self.err(line, "(* ...) multiplies two variables (not linear)")
                out = _scale(a, out[1]) if not out[0] else _scale(out, a[1])
            return out
        raise self.err(line, f"unsupported term operator {op!r}; expected +, -, * (linear terms)")

    # ------------------------------------------------------------------ DNF -> cases
    def specification(self, n_inputs: int | None, n_outputs: int | None) -> Specification:
        n = self.size("X", "input", n_inputs)
        k = self.size("Y", "output", n_outputs)
        if not self.asserts:
            raise VNNLibError(f"{self.path}: no assertions (nothing describes a counterexample)")
        dnf: list[list[_Atom]] = [[]]
        for line, part in self.asserts:  # conjunction of the assertions
            if len(dnf) * len(part) > MAX_DISJUNCTS:
                raise self.err(line, f"the disjunctive normal form exceeds {MAX_DISJUNCTS} cases")
            dnf = [x + y for x in dnf for y in part]
        cases: dict[tuple[bytes, bytes], tuple[Box, list[UnsafePolytope]]] = {}
        for i, conj in enumerate(dnf):
            split = self.disjunct(conj, n, k, i)
            if split is None:
                continue  # an empty box or a false constant atom: nothing satisfies this disjunct
            (lo, hi), poly = split
            key = (lo.tobytes(), hi.tobytes())
            if key not in cases:
                cases[key] = (Box(lo, hi, allow_flat=True), [])  # X_i = c is a fixed coordinate
            cases[key][1].append(poly)
        if not cases:
            raise VNNLibError(f"{self.path}: the constraints are contradictory (every input box is empty); "
                              "no input can be a counterexample")
        return Specification(tuple(SpecCase(box, tuple(polys)) for box, polys in cases.values()),
                             name=self.path.name)

    def size(self, kind: str, what: str, given: int | None) -> int:
        idx = self.declared[kind]
        if not idx:
            raise VNNLibError(f"{self.path}: declares no {what}s ({kind}_0, {kind}_1, ...)")
        n = max(idx) + 1
        missing = sorted(set(range(n)) - idx)
        if missing:
            raise VNNLibError(f"{self.path}: {what}s {kind}_{missing[0]} ... are not declared but {kind}_{n - 1} is")
        if given is not None and given != n:
            raise VNNLibError(f"{self.path}: declares {n} {what}s but the network has {given}")
        return n

    def disjunct(self, conj: list[_Atom], n: int, k: int, i: int):
        """The box and polytope of one conjunction, or ``None`` when nothing satisfies it."""
        lo = np.full(n, -np.inf)
        hi = np.full(n, np.inf)
        rows, rhs = [], []
        for atom in conj:
            kind = atom[0]
            if kind == "upper":
                hi[atom[1]] = min(hi[atom[1]], atom[2])
            elif kind == "lower":
                lo[atom[1]] = max(lo[atom[1]], atom[2])
            elif kind == "output":
                row = np.zeros(k)
                for j, a in atom[1]:
                    row[j] = a
                rows.append(row)
                rhs.append(atom[2])
            elif not atom[1]:
                return None  # a false constant atom
        unbounded = np.flatnonzero(~np.isfinite(lo) | ~np.isfinite(hi))
        if unbounded.size:
            j = int(unbounded[0])
            side = "lower" if not np.isfinite(lo[j]) else "upper"
            raise VNNLibError(f"{self.path}: input X_{j} has no {side} bound"
                              + (f" in disjunct {i}" if i else "") + " (the input set must be a box)")
        if np.any(lo > hi):
            return None
        if not rows:  # no output constraint: every output is unsafe (0 <= 0)
            rows, rhs = [np.zeros(k)], [0.0]
        return (lo, hi), UnsafePolytope(np.array(rows), np.array(rhs))


def _show(x: object) -> str:
    if isinstance(x, _Node):
        return "(" + " ".join(_show(a) for a in x[:4]) + (" ...)" if len(x) > 4 else ")")
    return repr(x)[:40]


def _show_linear(coeffs: dict) -> str:
    return " + ".join(f"{float(a):g}*{kind}_{j}" for (kind, j), a in list(coeffs.items())[:4])


def _plus(a: _Linear, b: _Linear) -> _Linear:
    out = dict(a[0])
    for key, v in b[0].items():
        out[key] = out.get(key, Fraction(0)) + v
    return {key: v for key, v in out.items() if v != 0}, a[1] + b[1]


def _scale(a: _Linear, c: Fraction) -> _Linear:
    return {key: v * c for key, v in a[0].items() if v * c != 0}, a[1] * c


def _minus(a: _Linear, b: _Linear) -> _Linear:
    return _plus(a, _scale(b, Fraction(-1)))


def load_vnnlib(path: str | os.PathLike[str], n_inputs: int | None = None,
                n_outputs: int | None = None) -> Specification:
    """The property in a VNN-LIB file (see the module docstring).

    Parameters
    ----------
    path:
        A ``.vnnlib`` file, gzip-compressed or not (``X.vnnlib`` falls back to ``X.vnnlib.gz``).
    n_inputs, n_outputs:
        The network's input and output sizes, checked against the declarations (default:
        taken from the declarations).

    Returns
    -------
    Specification
        Violated iff some case's box holds an ``x`` with ``f(x)`` in one of its unsafe
        polytopes; ``name`` is the file name.

    Raises
    ------
    VNNLibError
        Malformed or unsupported file, in one line naming the file (and the line).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "p.vnnlib"
    >>> _ = p.write_text("(declare-const X_0 Real)(declare-const Y_0 Real)"
    ...                  "(assert (>= X_0 -1))(assert (<= X_0 1))(assert (>= Y_0 2.5))")
    >>> spec = load_vnnlib(p)
    >>> spec.cases[0].box, spec.cases[0].unsafe[0].A.tolist(), spec.cases[0].unsafe[0].b.tolist()
    (Box(lo=[-1.0], hi=[1.0]), [[-1.0]], [-2.5])
    """
    if not isinstance(path, (str, os.PathLike)):
        raise VNNLibError(f"a VNN-LIB path must be a str or path-like; got {type(path).__name__}")
    p = resolve_vnnlib_path(path)
    reader = _Reader(p, _read_text(p))
    reader.run()
    return reader.specification(n_inputs, n_outputs)

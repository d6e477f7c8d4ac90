"""Closedness verdicts and certificates as plain, checkable data (the bottom layer of the
closedness code: it imports only the pattern, the errors and the result helpers).

* :class:`LaurentPoly` — exact Laurent polynomials in ``eps`` with rational coefficients
  (``fractions.Fraction``): the entries of an explicit factor family ``W(eps)``;
  :func:`laurent_matmul` multiplies matrices of them exactly.
* :class:`NotClosedCertificate` — a rational limit ``A``, a factor family ``W(eps)``
  supported on the pattern with ``W_L(eps) ... W_1(eps) -> A`` as ``eps -> 0+`` and
  ``max |W(eps)| -> infinity``, and the claim ``A not in L_I``.
* :class:`ClosedCertificate` — the rule that proves closedness (``"dense"``,
  ``"single-factor"``, ``"qe"``, ``"components"``, ``"reductions"``, ...), its data and
  optional sub-certificates ``parts``.
* :class:`ClosednessVerdict` — what :func:`~reluscope.sparsity.is_closed` returns.
* :class:`CertificateCheck` / :class:`CheckItem` — what
  :func:`~reluscope.sparsity.verify` (in :mod:`reluscope.sparsity.check`) returns.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from fractions import Fraction
from typing import Any, Union

import numpy as np

from .._results import ResultMixin, to_jsonable
from ..errors import InvalidCertificate
from .pattern import SparsityPattern

__all__ = [
    "LaurentPoly",
    "LaurentMatrix",
    "NotClosedCertificate",
    "ClosedCertificate",
    "Certificate",
    "ClosednessVerdict",
    "CertificateCheck",
    "CheckItem",
    "laurent_matmul",
    "certificate_from_dict",
]

Number = Union[int, Fraction, str]


def _frac(value: Any) -> Fraction:
    if isinstance(value, float):
        raise InvalidCertificate(f"certificate entries must be exact rationals, got float {value!r}")
    try:
        return Fraction(value)
    except (TypeError, ValueError, ZeroDivisionError):
        raise InvalidCertificate(f"not an exact rational: {value!r}") from None


# ---------------------------------------------------------------------------------- Laurent
@dataclasses.dataclass(frozen=True)
class LaurentPoly:
    """A Laurent polynomial ``sum_k c_k eps^k`` (``k`` any integer, ``c_k`` rational).

    ``terms`` is a tuple of ``(exponent, coefficient)`` pairs, sorted by exponent, without
    zero coefficients (normalized on construction).
    """

    terms: tuple[tuple[int, Fraction], ...] = ()

    def __post_init__(self) -> None:
        acc: dict[int, Fraction] = {}
        for e, c in self.terms:
            if not isinstance(e, int) or isinstance(e, bool):
                raise InvalidCertificate(f"Laurent exponent must be an integer, got {e!r}")
            acc[e] = acc.get(e, Fraction(0)) + _frac(c)
        object.__setattr__(self, "terms", tuple((e, c) for e, c in sorted(acc.items()) if c != 0))

    # constructors
    @classmethod
    def const(cls, value: Number) -> LaurentPoly:
        return cls(((0, _frac(value)),))

    @classmethod
    def monomial(cls, coefficient: Number, exponent: int) -> LaurentPoly:
        return cls(((int(exponent), _frac(coefficient)),))

    @classmethod
    def coerce(cls, value: Any) -> LaurentPoly:
        """A LaurentPoly from itself, an int/Fraction/rational string constant, or a string
        such as ``"-1*e^-1 + 1/2 + 3*e"`` (see :meth:`parse`)."""
        if isinstance(value, LaurentPoly):
            return value
        if isinstance(value, str):
            return cls.parse(value)
        return cls.const(value)

    @classmethod
    def parse(cls, text: str) -> LaurentPoly:
        """Parse ``str(poly)`` output: terms ``c``, ``c*e``, ``c*e^k`` joined by ``+``/``-``."""
        s = "".join(str(text).split())
        if s in ("", "0"):
            return cls()
        if s[0] not in "+-":
            s = "+" + s
        terms = []
        pos = 0
        pattern = re.compile(r"([+-])(\d+(?:/\d+)?)?(\*?e(?:\^\(?(-?\d+)\)?)?)?")
        while pos < len(s):
            m = pattern.match(s, pos)
            if not m or m.end() == pos or (m.group(2) is None and m.group(3) is None):
                raise InvalidCertificate(f"cannot parse Laurent polynomial {text!r} at {s[pos:]!r}")
            sign = -1 if m.group(1) == "-" else 1
            coef = Fraction(m.group(2)) if m.group(2) else Fraction(1)
            if m.group(3):
                exp = int(m.group(4)) if m.group(4) is not None else 1
            else:
                exp = 0
            terms.append((exp, sign * coef))
            pos = m.end()
        return cls(tuple(terms))

    # arithmetic
    def __add__(self, other: Any) -> LaurentPoly:
        other = LaurentPoly.coerce(other)
        return LaurentPoly(self.terms + other.terms)

    __radd__ = __add__

    def __neg__(self) -> LaurentPoly:
        return LaurentPoly(tuple((e, -c) for e, c in self.terms))

    def __sub__(self, other: Any) -> LaurentPoly:
        return self + (-LaurentPoly.coerce(other))

    def __mul__(self, other: Any) -> LaurentPoly:
        other = LaurentPoly.coerce(other)
        return LaurentPoly(tuple((e1 + e2, c1 * c2) for e1, c1 in self.terms for e2, c2 in other.terms))

    __rmul__ = __mul__

    # analysis
    def is_zero(self) -> bool:
        return not self.terms

    @property
    def min_exponent(self) -> int | None:
        """Lowest exponent with a nonzero coefficient (``None`` for the zero polynomial)."""
        return self.terms[0][0] if self.terms else None

    def diverges(self) -> bool:
        """Whether ``|p(eps)| -> infinity`` as ``eps -> 0+`` (a negative exponent is present)."""
        return bool(self.terms) and self.terms[0][0] < 0

    def limit(self) -> Fraction | None:
        """``lim_{eps -> 0+} p(eps)``, or ``None`` when it diverges."""
        if self.diverges():
            return None
        return dict(self.terms).get(0, Fraction(0))

    def __call__(self, eps: float) -> float:
        return float(sum(float(c) * eps**e for e, c in self.terms))

    def __str__(self) -> str:
        if not self.terms:
            return "0"
        parts = []
        for e, c in self.terms:
            mag = abs(c)
            sign = "-" if c < 0 else "+"
            if e == 0:
                body = str(mag)
            else:
                power = "e" if e == 1 else f"e^{e}"
                body = power if mag == 1 else f"{mag}*{power}"
            parts.append((sign, body))
        first_sign, first_body = parts[0]
        out = ("-" if first_sign == "-" else "") + first_body
        for sign, body in parts[1:]:
            out += f" {sign} {body}"
        return out

    def to_dict(self) -> str:  # JSON form is the string
        return str(self)


LaurentMatrix = tuple[tuple[LaurentPoly, ...], ...]


def _laurent_matrix(value: Any, what: str) -> LaurentMatrix:
    try:
        rows = [list(r) for r in value]
    except TypeError:
        raise InvalidCertificate(f"{what} must be a matrix (list of rows)") from None
    if not rows or not rows[0] or len({len(r) for r in rows}) != 1:
        raise InvalidCertificate(f"{what} must be a non-empty rectangular matrix")
    return tuple(tuple(LaurentPoly.coerce(v) for v in r) for r in rows)


def laurent_matmul(a: LaurentMatrix, b: LaurentMatrix) -> LaurentMatrix:
    """Exact product of two matrices of Laurent polynomials (sparse: the cost grows with the
    nonzero entries, so products of large, mostly zero factor families stay cheap)."""
    n, m, p = len(a), len(b), len(b[0])
    if len(a[0]) != m:
        raise InvalidCertificate(f"cannot multiply {n}x{len(a[0])} by {m}x{p} Laurent matrices")
    nonzero_b = [[(j, y) for j, y in enumerate(row) if y.terms] for row in b]
    zero = LaurentPoly()
    out = []
    for i in range(n):
        acc: dict[int, LaurentPoly] = {}
        for k, x in enumerate(a[i]):
            if x.terms:
                for j, y in nonzero_b[k]:
                    acc[j] = acc.get(j, zero) + x * y
        out.append(tuple(acc.get(j, zero) for j in range(p)))
    return tuple(out)


# ---------------------------------------------------------------------------------- certificates
@dataclasses.dataclass(frozen=True)
class NotClosedCertificate(ResultMixin):
    """Checkable proof that ``L_I`` is not closed.

    Attributes
    ----------
    pattern:
        The pattern ``I``.
    limit:
        Rational matrix ``A`` of shape ``(N_L, N_0)`` (tuples of ``Fraction``).
    factors:
        ``W_1(eps), ..., W_L(eps)`` as matrices of :class:`LaurentPoly`, ``W_l`` of shape
        ``(N_l, N_{l-1})``; ``W_L(eps) ... W_1(eps) -> A`` and ``max |W(eps)| -> infinity``.
    rule:
        How it was found (informational only; :func:`verify` does not trust it).
    note:
        Free text.
    """

    pattern: SparsityPattern
    limit: tuple[tuple[Fraction, ...], ...]
    factors: tuple[LaurentMatrix, ...]
    rule: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.pattern, SparsityPattern):
            raise InvalidCertificate(f"certificate pattern must be a SparsityPattern, got {type(self.pattern).__name__}")
        try:
            limit = tuple(tuple(_frac(v) for v in row) for row in self.limit)
        except TypeError:
            raise InvalidCertificate("certificate limit must be a matrix of rationals") from None
        if not limit or len({len(r) for r in limit}) != 1:
            raise InvalidCertificate("certificate limit must be a non-empty rectangular matrix")
        object.__setattr__(self, "limit", limit)
        object.__setattr__(
            self, "factors", tuple(_laurent_matrix(f, f"factor W_{i + 1}") for i, f in enumerate(self.factors))
        )

    @property
    def kind(self) -> str:
        return "not-closed"

    def evaluate(self, eps: float) -> list[Any]:
        """The factors at a numeric ``eps`` as float numpy arrays (``W_1`` first)."""
        return [np.array([[p(eps) for p in row] for row in f], dtype=np.float64) for f in self.factors]

    def limit_array(self) -> Any:
        return np.array([[float(v) for v in row] for row in self.limit], dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "pattern": self.pattern.to_text(),
            "limit": [[str(v) for v in row] for row in self.limit],
            "factors": [[[str(p) for p in row] for row in f] for f in self.factors],
            "rule": self.rule,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NotClosedCertificate:
        try:
            return cls(
                SparsityPattern.from_text(data["pattern"]),
                tuple(tuple(_frac(v) for v in row) for row in data["limit"]),
                tuple(tuple(tuple(LaurentPoly.parse(p) for p in row) for row in f) for f in data["factors"]),
                data.get("rule", ""),
                data.get("note", ""),
            )
        except InvalidCertificate:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, ZeroDivisionError) as exc:
            raise InvalidCertificate(f"malformed not-closed certificate: {type(exc).__name__}: {exc}") from None

    def __str__(self) -> str:
        lines = [f"not-closed certificate for {self.pattern} ({self.rule or 'no rule given'})"]
        lines.append("  limit A = " + "; ".join(" ".join(str(v) for v in row) for row in self.limit))
        for i, f in enumerate(self.factors, start=1):
            lines.append(f"  W_{i}(e) = " + "; ".join(", ".join(str(p) for p in row) for row in f))
        if self.note:
            lines.append(f"  note: {self.note}")
        return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class ClosedCertificate(ResultMixin):
    """Proof that ``L_I`` is closed: a named rule, its data, and sub-certificates.

    Built-in rules checked by :func:`verify`:

    * ``"dense"`` — every mask is full: ``L_I`` is the set of matrices of rank at most the
      smallest width, a closed set.
    * ``"single-factor"`` — one factor: ``L_I`` is a linear subspace.
    * ``"qe"`` — exact quantifier elimination (re-run by :func:`verify`).
    * ``"components"`` — two factors: ``parts`` are closed certificates of the
      :meth:`~SparsityPattern.components` patterns, in order (direct sum of closed sets).
    """

    pattern: SparsityPattern
    rule: str
    details: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    parts: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.pattern, SparsityPattern):
            raise InvalidCertificate(f"certificate pattern must be a SparsityPattern, got {type(self.pattern).__name__}")
        if not isinstance(self.rule, str) or not self.rule:
            raise InvalidCertificate("closed certificate needs a rule name")
        object.__setattr__(self, "details", dict(self.details))
        object.__setattr__(self, "parts", tuple(self.parts))

    @property
    def kind(self) -> str:
        return "closed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "pattern": self.pattern.to_text(),
            "rule": self.rule,
            "details": to_jsonable(self.details),
            "parts": [p.to_dict() for p in self.parts],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClosedCertificate:
        """Inverse of :meth:`to_dict` (JSON values as written; :func:`verify` re-checks
        everything, so nothing read here is trusted). Malformed input raises
        :class:`~reluscope.errors.InvalidCertificate`."""
        if not isinstance(data, Mapping):
            raise InvalidCertificate(f"a closed certificate must be a JSON object, got {type(data).__name__}")
        if data.get("kind", "closed") != "closed":
            raise InvalidCertificate(f"not a closed certificate: kind {data.get('kind')!r}")
        try:
            details = data.get("details", {})
            if not isinstance(details, Mapping):
                raise TypeError(f"details must be an object, got {type(details).__name__}")
            parts = data.get("parts", [])
            if not isinstance(parts, list):
                raise TypeError(f"parts must be a list, got {type(parts).__name__}")
            return cls(SparsityPattern.from_text(data["pattern"]), data["rule"], dict(details),
                       tuple(certificate_from_dict(p) for p in parts))
        except InvalidCertificate:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InvalidCertificate(f"malformed closed certificate: {type(exc).__name__}: {exc}") from None

    def __str__(self) -> str:
        lines = [f"closed certificate for {self.pattern}: rule {self.rule!r}"]
        for k, v in self.details.items():
            lines.append(f"  {k}: {v}")
        for p in self.parts:
            lines += ["  " + line for line in str(p).splitlines()]
        return "\n".join(lines)


Certificate = Union[NotClosedCertificate, ClosedCertificate]


def certificate_from_dict(data: Mapping[str, Any]) -> Certificate:
    """A certificate of either kind from its :meth:`to_dict` form (dispatch on ``"kind"``)."""
    if not isinstance(data, Mapping):
        raise InvalidCertificate(f"a certificate must be a JSON object, got {type(data).__name__}")
    kind = data.get("kind")
    if kind == "closed":
        return ClosedCertificate.from_dict(data)
    if kind == "not-closed":
        return NotClosedCertificate.from_dict(data)
    raise InvalidCertificate(f"unknown certificate kind {kind!r}; expected 'closed' or 'not-closed'")


@dataclasses.dataclass(frozen=True)
class ClosednessVerdict(ResultMixin):
    """Decision on the closedness of ``L_I``.

    ``closed`` is ``True``, ``False`` or ``None`` (undecided within the time limit — never a
    guess); ``method`` names the procedure that decided; ``certificate`` is checkable by
    :func:`verify` (``None`` when undecided).
    """

    closed: bool | None
    method: str
    seconds: float
    certificate: Certificate | None = None
    reasoning: str = ""

    def __str__(self) -> str:
        state = {True: "closed", False: "NOT closed", None: "undecided"}[self.closed]
        lines = [f"L_I is {state} (method {self.method}, {self.seconds:.3f} s)"]
        if self.reasoning:
            lines.append(f"  reasoning: {self.reasoning}")
        if self.certificate is not None:
            lines += ["  " + line for line in str(self.certificate).splitlines()]
        return "\n".join(lines)


# ---------------------------------------------------------------------------------- verification
@dataclasses.dataclass(frozen=True)
class CheckItem(ResultMixin):
    """One step of a verification: ``passed`` is True, False or None (could not be decided)."""

    name: str
    passed: bool | None
    message: str = ""


@dataclasses.dataclass(frozen=True)
class CertificateCheck(ResultMixin):
    """Outcome of :func:`verify`: ``valid`` is True (every check passed), False (some check
    failed) or None (no check failed but one could not be completed, e.g. a Z3 time-out)."""

    valid: bool | None
    checks: tuple[CheckItem, ...]
    seconds: float = 0.0

    def __bool__(self) -> bool:
        return self.valid is True

    @property
    def failures(self) -> tuple[CheckItem, ...]:
        return tuple(c for c in self.checks if c.passed is False)

    def __str__(self) -> str:
        state = {True: "VALID", False: "INVALID", None: "UNDECIDED"}[self.valid]
        lines = [f"certificate {state} ({self.seconds:.3f} s)"]
        for c in self.checks:
            mark = {True: "ok", False: "FAIL", None: "??"}[c.passed]
            lines.append(f"  [{mark}] {c.name}: {c.message}")
        return "\n".join(lines)

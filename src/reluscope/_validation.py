"""One place for argument checks, in the spirit of scikit-learn's ``utils/validation.py``.

Every public function checks its options here, so the same mistake gets the same error
class and the same wording everywhere: :class:`~reluscope.errors.InvalidArgument` (a
``ValueError``) for options, :class:`~reluscope.errors.InvalidNetwork` for networks.
Each check returns the normalized value (a ``float``, a ``Generator``, ...), so callers
write ``time_limit = check_time_limit(time_limit)`` and use the result.

``network.py`` and ``domain.py`` sit below this module (it imports them), so they raise
:class:`InvalidArgument` for a bad seed themselves with the same message.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

import numpy as np

from .errors import InvalidArgument, InvalidNetwork
from .network import ReLUNetwork

__all__ = [
    "MAX_TIME_LIMIT",
    "check_network",
    "check_pair",
    "check_time_limit",
    "check_seed",
    "check_choice",
    "check_tol",
    "check_fraction",
    "check_int",
    "check_memory",
    "memory_allowance",
]

#: Largest accepted ``time_limit`` in seconds (one week). Larger values are almost always
#: a unit mistake, and solvers reject or overflow on them.
MAX_TIME_LIMIT = 7 * 24 * 3600.0

#: Share of the machine's physical memory one allocation may ask for.
MEMORY_SHARE = 0.5

T = TypeVar("T")


def memory_allowance() -> float:
    """Bytes one array (or one step's arrays) may take: :data:`MEMORY_SHARE` of the physical
    memory (16 GiB where the platform does not say)."""
    try:
        total = float(os.sysconf("SC_PAGE_SIZE")) * float(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        total = 32.0 * 2**30
    return MEMORY_SHARE * total


def _size_text(n_bytes: float) -> str:
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:.3g} {unit}"
    return f"{n_bytes:.0f} bytes"


def check_memory(n_bytes: float, what: str, hint: str = "", error: type[Exception] = InvalidArgument) -> None:
    """Refuse, before allocating, a computation estimated to need more than
    :func:`memory_allowance` bytes; the message names the size, what needs it and the fix.
    ``error``: the class raised (a solver stage that can report partial results raises
    :class:`~reluscope.errors.SolverError`)."""
    limit = memory_allowance()
    if not math.isfinite(n_bytes) or n_bytes > limit:
        raise error(f"{what} would need about {_size_text(n_bytes)} of memory, more than the "
                              f"{_size_text(limit)} allowed here (half the machine's memory)" + (f"; {hint}" if hint else ""))


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_network(net: Any, name: str = "net") -> ReLUNetwork:
    """``net`` itself if it is a :class:`ReLUNetwork`, else :class:`InvalidNetwork`."""
    if not isinstance(net, ReLUNetwork):
        raise InvalidNetwork(f"{name} must be a ReLUNetwork; got {type(net).__name__}")
    return net


def check_pair(f: Any, g: Any, names: tuple[str, str] = ("f", "g"), *,
               allow_none: bool = False) -> None:
    """Two networks that can be compared as functions: same input and output sizes.

    With ``allow_none=True`` a missing ``g`` is accepted (one-network questions such as
    the Lipschitz constant share code with the two-network ones).
    """
    check_network(f, names[0])
    if g is None and allow_none:
        return
    check_network(g, names[1])
    if f.input_dim != g.input_dim:
        raise InvalidNetwork(f"{names[0]} takes {f.input_dim} inputs but {names[1]} takes {g.input_dim}")
    if f.output_dim != g.output_dim:
        raise InvalidNetwork(f"{names[0]} has {f.output_dim} outputs but {names[1]} has {g.output_dim}")


def check_time_limit(value: Any, name: str = "time_limit", *, allow_none: bool = False,
                     allow_zero: bool = False) -> float | None:
    """A finite, positive number of seconds at most :data:`MAX_TIME_LIMIT`.

    ``None`` is accepted (meaning "no limit") only with ``allow_none=True``; ``0`` (meaning
    "skip the time-limited part") only with ``allow_zero=True``.
    """
    if value is None and allow_none:
        return None
    if allow_zero and _is_real(value) and float(value) == 0:
        return 0.0
    if not _is_real(value) or not math.isfinite(float(value)) or float(value) <= 0:
        what = "0 or positive" if allow_zero else "positive"
        raise InvalidArgument(f"{name} must be {what} (a finite number of seconds); got {value!r}")
    if float(value) > MAX_TIME_LIMIT:
        raise InvalidArgument(f"{name} must be at most {MAX_TIME_LIMIT:.0f} s (one week); got {value!r}")
    return float(value)


def check_seed(seed: Any, name: str = "seed") -> np.random.Generator:
    """A ``numpy.random.Generator`` from ``None``, a non-negative integer, a sequence of
    them, a ``SeedSequence`` or a ``Generator`` (returned as is, so callers can share one)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    if isinstance(seed, (numbers.Integral, np.integer)) and not isinstance(seed, bool):
        if seed < 0:
            raise InvalidArgument(f"{name} must be a non-negative integer; got {seed!r}")
        return np.random.default_rng(int(seed))
    if isinstance(seed, Sequence) and not isinstance(seed, (str, bytes)) and seed and all(
            isinstance(s, (numbers.Integral, np.integer)) and not isinstance(s, bool) and s >= 0
            for s in seed):
        return np.random.default_rng([int(s) for s in seed])
    raise InvalidArgument(f"{name} must be a non-negative integer or a numpy Generator; got {seed!r}")


def check_choice(value: Any, allowed: Iterable[T], name: str) -> T:
    """``value`` if it is one of ``allowed``, else :class:`InvalidArgument` listing them."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise InvalidArgument(f"{name} must be one of {', '.join(repr(a) for a in allowed)}; got {value!r}")
    return value


def check_tol(value: Any, name: str = "tol", *, positive: bool = False) -> float:
    """A finite tolerance ``>= 0`` (``> 0`` with ``positive=True``)."""
    ok = _is_real(value) and math.isfinite(float(value)) and (float(value) > 0 if positive else float(value) >= 0)
    if not ok:
        what = "a positive" if positive else "a non-negative"
        raise InvalidArgument(f"{name} must be {what} finite number; got {value!r}")
    return float(value)


def check_fraction(value: Any, name: str, *, include_one: bool = False) -> float:
    """A number in ``[0, 1)`` (``[0, 1]`` with ``include_one=True``)."""
    ok = _is_real(value) and 0 <= float(value) and (float(value) <= 1 if include_one else float(value) < 1)
    if not ok:
        raise InvalidArgument(f"{name} must be in [0, {'1]' if include_one else '1)'}; got {value!r}")
    return float(value)


def check_int(value: Any, name: str, *, minimum: int = 0, maximum: int | None = None) -> int:
    """An integer in ``[minimum, maximum]`` (booleans refused)."""
    if not isinstance(value, (numbers.Integral, np.integer)) or isinstance(value, bool):
        raise InvalidArgument(f"{name} must be an integer; got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" and <= {maximum}"
        raise InvalidArgument(f"{name} must be an integer >= {minimum}{upper}; got {value!r}")
    return int(value)

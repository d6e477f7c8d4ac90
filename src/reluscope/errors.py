"""Exception hierarchy of reluscope.

Every error raised on bad input is a :class:`ReluscopeError`; its message is one line
that names the file, layer, shape or value at fault. The CLI turns any of them into one
line on stderr and exit code 2.
"""

from __future__ import annotations

__all__ = [
    "ReluscopeError",
    "InvalidArgument",
    "InvalidNetwork",
    "InvalidDomain",
    "InvalidData",
    "UnsupportedLayer",
    "ModelFileError",
    "SolverError",
    "InvalidPattern",
    "InvalidCertificate",
]


class ReluscopeError(Exception):
    """Base class of every error reluscope raises on bad input or an impossible request."""

    def __init__(self, message: str) -> None:
        # One line, always: the CLI prints it as is.
        super().__init__(" ".join(str(message).split()))


class InvalidArgument(ReluscopeError, ValueError):
    """An option with a bad value: a time limit, seed, tolerance, choice or count."""


class InvalidNetwork(ReluscopeError, ValueError):
    """Weights, biases or masks that do not form a valid ReLU network."""


class InvalidDomain(ReluscopeError, ValueError):
    """A domain (box or point set) that is malformed or does not fit the network."""


class InvalidData(ReluscopeError, ValueError):
    """Training data (inputs, labels, targets) that cannot be used."""


class UnsupportedLayer(ReluscopeError, TypeError):
    """A PyTorch layer that is not a Linear/ReLU stack element."""


class ModelFileError(ReluscopeError, OSError):
    """A model file that is missing, truncated, corrupted or lacks tensors."""


class SolverError(ReluscopeError, RuntimeError):
    """A solver failed in a way that is not a time limit (time limits give bounds)."""


class InvalidPattern(ReluscopeError, ValueError):
    """A sparsity pattern that is malformed (shapes do not chain, not boolean, ...)."""


class InvalidCertificate(ReluscopeError, ValueError):
    """A certificate that is malformed (as opposed to one that fails verification)."""

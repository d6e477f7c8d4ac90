"""What every section builder receives: the network, the domain, the data, the budget."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..._budget import Budget
from ...domain import Box, PointSet
from ...network import ReLUNetwork
from ..document import format_value

__all__ = ["Context", "domain_text", "sample", "TORCH_IMPORT_ROOM", "SEARCH_ROOM"]

#: seconds a section must have left for a search to import PyTorch (about 2 s, more on a busy machine)
TORCH_IMPORT_ROOM = 4.0
#: seconds a section must have left for a gradient search at all (its setup alone takes a fraction of a second)
SEARCH_ROOM = 1.5


@dataclasses.dataclass
class Context:
    """The inputs of one analysis, shared by its sections (run one after the other).

    ``time_limit`` is the per-call solver limit the report states; ``budget`` is the
    running section's budget, set by the driver before each section.
    """

    net: ReLUNetwork
    domain: Box | PointSet
    X: np.ndarray | None
    y: np.ndarray | None
    out_dir: Path
    time_limit: float
    seed: int
    n_samples: int
    held_out: np.ndarray | None = None  # boolean mask of the rows of X the model did not train on
    domain_reason: str = ""  # why this domain: the data's bounding box, the caller's, or the default
    budget: Budget = dataclasses.field(default_factory=Budget)
    figures: list[Path] = dataclasses.field(default_factory=list)
    attachments: list[Path] = dataclasses.field(default_factory=list)  # other files of the report (JSON)
    cache: dict[str, Any] = dataclasses.field(default_factory=dict)  # results shared by sections

    def attachment(self, name: str) -> Path:
        """Path of a non-figure file in the report folder (e.g. a certificate), recorded as
        written by the report (listed in ``report.json``)."""
        path = self.out_dir / name
        self.attachments.append(path)
        return path

    def search_budget(self, share: float) -> Budget:
        """Budget of a gradient search: ``share`` of what is left of the section's budget,
        at most a quarter of the per-call time limit (searches stop early on small networks
        only when they run out of rounds). PyTorch is imported first (seconds on a busy
        machine) so that the search's time is the search's; with less than
        ``TORCH_IMPORT_ROOM`` seconds left in the section it is not imported at all, and with
        less than ``SEARCH_ROOM`` there is no search: the budget returned is then expired."""
        left = self.budget.remaining()
        if left < SEARCH_ROOM or ("torch" not in sys.modules and left < TORCH_IMPORT_ROOM):
            return Budget(0.0)  # too little time: the section keeps its time for the solvers
        if "torch" not in sys.modules:
            try:
                import torch  # noqa: F401
            except ImportError:  # the searches fall back to their starting points
                pass
        return self.budget.share(share).child(0.25 * self.time_limit)

    def figure(self, name: str) -> Path:
        """Path of a figure file in the report folder, recorded as written by the report."""
        path = self.out_dir / name
        self.figures.append(path)
        return path

    def solver_limit(self, share: float = 1.0) -> float:
        """Seconds for the next library call: the per-call ``time_limit``, capped by
        ``share`` of what is left of the section's budget (a section making several calls
        gives the earlier ones a share, so that the later ones still get time). Raises
        :class:`~reluscope._budget.OutOfTime` when nothing is left."""
        self.budget.check()
        return min(self.time_limit, share * self.budget.solver_limit())


def domain_text(domain: Box | PointSet, dim: int) -> str:
    """How the report names the domain of the analyses."""
    if isinstance(domain, PointSet):
        return f"the {len(domain)} given points in R^{domain.dim}"
    lo, hi = domain.bounds(dim)
    if np.all(lo == lo[0]) and np.all(hi == hi[0]):
        return f"the box [{format_value(float(lo[0]))}, {format_value(float(hi[0]))}]^{dim}"
    return f"a box in R^{dim} with per-coordinate bounds (lo from {format_value(float(lo.min()))}, hi up to {format_value(float(hi.max()))})"


def sample(domain: Box | PointSet, dim: int, n: int, seed: int) -> np.ndarray:
    """The points of a point set, or ``n`` uniform points of a box."""
    if isinstance(domain, PointSet):
        return np.array(domain.points, dtype=float)
    return domain.sample(n, dim, seed=seed)

"""Reports: ``analyze`` one network into a report folder, ``reproduce`` registered experiments.

Both write Markdown (``report.md``), self-contained HTML (``report.html``: inline CSS, no
scripts, figures as relative PNG files in the same folder) and the numbers as JSON
(``report.json``). Sections degrade gracefully: an analysis that fails or runs out of
time is reported as "not computed" with its reason.
"""

from __future__ import annotations

from .analysis import SECTION_KEYS, AnalysisReport, analyze
from .reproduction import ReproduceReport, reproduce

__all__ = ["analyze", "AnalysisReport", "SECTION_KEYS", "reproduce", "ReproduceReport"]

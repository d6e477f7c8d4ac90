"""The sections of an :func:`~reluscope.report.analyze` report, one module each.

Each module defines ``build(ctx) -> SectionContent`` for one section; the driver
(:mod:`reluscope.report.analysis`) holds the registry of keys, titles and builders, runs
each within its share of the run's time budget and renders the outcome. Builders take
every solver time limit from ``ctx.solver_limit()`` (the per-call limit, capped by what
is left of the section's budget).

Library topics are imported inside the builders, not at module level, so that importing
the report (which the ``reluscope`` command does at start-up for ``SECTION_KEYS``) does not
load every analysis and its solvers.
"""

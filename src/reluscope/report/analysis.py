"""``analyze(network, ...)``: every cheap analysis of one network, as a report folder.

The folder holds ``report.md``, ``report.html`` (self-contained: plain HTML + inline CSS,
figures as relative PNG files in the same folder), ``report.json`` (the numbers of every
section) and the PNG figures. Each section runs on its own: a section whose analysis
raises a :class:`~reluscope.errors.ReluscopeError`, lacks a module or runs out of time
says so ("not computed: reason") and the others go on.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .._results import ResultMixin, dump_json, to_jsonable, make_out_dir
from ..domain import Box, PointSet, as_domain
from ..errors import InvalidData, ReluscopeError
from ..network import ReLUNetwork
from . import figures
from ._runner import NotComputed, SectionContent, SectionOutcome, progress, run_section
from .document import Code, Document, Figure, Paragraph, Table, format_value

__all__ = ["AnalysisReport", "analyze", "SECTION_KEYS"]

#: Keys of the sections of an analysis report, in order.
SECTION_KEYS: tuple[str, ...] = (
    "network",
    "degeneracies",
    "reduction",
    "canonical-form",
    "lipschitz",
    "distances",
    "sparsity",
    "activations",
    "constructive",
)


@dataclasses.dataclass(frozen=True)
class AnalysisReport(ResultMixin):
    """What :func:`analyze` wrote.

    Attributes
    ----------
    out_dir, markdown, html, json : Path
        The report folder and its three documents.
    figures : tuple of Path
        PNG figures written into ``out_dir``.
    sections : dict
        Section key -> ``{"status": "ok" | "partial" | "not computed", "reason": ..., <numbers>}``.
    summary : dict
        The headline numbers (also printed by the CLI).
    seconds : float
        Wall-clock time of the whole analysis.
    """

    out_dir: Path
    markdown: Path
    html: Path
    json: Path
    figures: tuple[Path, ...]
    sections: dict[str, dict[str, Any]]
    summary: dict[str, Any]
    seconds: float

    def status(self, key: str) -> str:
        """Status of section ``key``."""
        return self.sections[key]["status"]

    def __str__(self) -> str:
        lines = [f"reluscope analysis written to {self.out_dir} ({self.seconds:.1f} s)"]
        for key, value in self.summary.items():
            lines.append(f"  {key}: {format_value(value)}")
        missing = [k for k, v in self.sections.items() if v["status"] == "not computed"]
        for key in missing:
            lines.append(f"  {key}: not computed: {self.sections[key].get('reason', '')}")
        lines.append(f"  report: {self.html}")
        return "\n".join(lines)


# ---------------------------------------------------------------------------- helpers


def _attr(obj: Any, *names: str, default: Any = None) -> Any:
    """First existing attribute among ``names`` (called if it is a method without arguments)."""
    for name in names:
        if obj is not None and hasattr(obj, name):
            value = getattr(obj, name)
            if callable(value) and not isinstance(value, (np.ndarray, type)):
                try:
                    value = value()
                except TypeError:
                    continue
            return value
    return default


def _scalar_rows(result: Any, skip: tuple[str, ...] = ()) -> list[tuple[str, Any]]:
    """(field, value) rows for the scalar fields of a result object (dataclass or dict)."""
    if hasattr(result, "to_dict"):
        data = result.to_dict()
    elif dataclasses.is_dataclass(result):
        data = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
    elif isinstance(result, dict):
        data = result
    else:
        return []
    rows = []
    for key, value in data.items():
        if key in skip:
            continue
        if isinstance(value, (bool, int, float, str, np.floating, np.integer)) or value is None:
            if isinstance(value, str) and len(value) > 200:
                value = value[:200] + "…"
            rows.append((key, value))
    return rows


def _with_time_limit(function: Callable[..., Any], time_limit: float, **kwargs: Any) -> dict[str, Any]:
    """Add ``time_limit=`` to ``kwargs`` when ``function`` accepts it."""
    import inspect

    try:
        params = inspect.signature(function).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return kwargs
    if "time_limit" in params or any(p.kind is p.VAR_KEYWORD for p in params.values()):
        kwargs["time_limit"] = time_limit
    return kwargs


def _domain_text(domain: Box | PointSet, dim: int) -> str:
    if isinstance(domain, PointSet):
        return f"the {len(domain)} given points in R^{domain.dim}"
    lo, hi = domain.bounds(dim)
    if np.all(lo == lo[0]) and np.all(hi == hi[0]):
        return f"the box [{format_value(float(lo[0]))}, {format_value(float(hi[0]))}]^{dim}"
    return f"a box in R^{dim} with per-coordinate bounds (lo from {format_value(float(lo.min()))}, hi up to {format_value(float(hi.max()))})"


def _sample(domain: Box | PointSet, dim: int, n: int, seed: int) -> np.ndarray:
    if isinstance(domain, PointSet):
        return np.array(domain.points, dtype=float)
    return domain.sample(n, dim, seed=seed)


@dataclasses.dataclass
class _Context:
    net: ReLUNetwork
    domain: Box | PointSet
    X: np.ndarray | None
    y: np.ndarray | None
    out_dir: Path
    time_limit: float
    seed: int
    n_samples: int
    shared: dict[str, Any] = dataclasses.field(default_factory=dict)
    figures: list[Path] = dataclasses.field(default_factory=list)

    def figure(self, name: str) -> Path:
        path = self.out_dir / name
        self.figures.append(path)
        return path


# ---------------------------------------------------------------------------- sections


def _section_network(ctx: _Context) -> SectionContent:
    net = ctx.net
    rows = []
    for i, W in enumerate(net.weights):
        mask = net.mask(i) if net.masks is not None else None
        allowed = int(mask.sum()) if mask is not None else W.size
        nonzero = int(np.count_nonzero(W))
        rows.append((i + 1, f"{W.shape[0]} x {W.shape[1]}", W.size + W.shape[0], allowed,
                     nonzero, nonzero / W.size, float(np.abs(W).max()) if W.size else 0.0))
    path = figures.weight_heatmaps(net.weights, net.masks, ctx.figure("weights.png"))
    data = {
        "widths": list(net.widths),
        "depth": net.depth,
        "n_parameters": net.n_parameters,
        "n_free_parameters": net.n_free_parameters,
        "masked": net.masks is not None,
        "domain": _domain_text(ctx.domain, net.input_dim),
        "layers": [dict(zip(("layer", "shape", "parameters", "mask_entries", "nonzero_weights",
                             "weight_density", "max_abs_weight"), r)) for r in rows],
    }
    blocks = [
        Paragraph(f"Widths `{'-'.join(map(str, net.widths))}` (input, hidden..., output): "
                  f"{net.depth} affine layers, {net.n_parameters} parameters, "
                  f"{net.n_free_parameters} free (inside the masks). "
                  + ("The network carries sparsity masks." if net.masks is not None else "The network is dense (no masks).")),
        Paragraph(f"Analyses below use the domain {_domain_text(ctx.domain, net.input_dim)}."),
        Table(("layer", "weight shape", "parameters (with bias)", "mask entries", "nonzero weights",
               "weight density", "max |w|"), tuple(rows)),
        Figure(path.name, "Weight magnitudes per layer (log10 |w|); grey entries are zero or outside the mask."),
    ]
    return SectionContent(blocks, data)


def _section_degeneracies(ctx: _Context) -> SectionContent:
    from ..degeneracy import degeneracies

    report = degeneracies(ctx.net, ctx.domain, time_limit=ctx.time_limit, seed=ctx.seed)
    ctx.shared["degeneracies"] = report
    counts = {str(k): int(v) for k, v in report.counts.items()}
    per_layer = {str(k): {str(s): int(n) for s, n in v.items()} for k, v in report.counts_by_layer.items()}
    layers = list(per_layer)
    rows = tuple((status, *(per_layer[layer].get(status, 0) for layer in layers), total)
                 for status, total in counts.items())
    blocks: list[Any] = [
        Paragraph("Status of every hidden neuron on the domain: dead (never active), always active "
                  "(affine on the domain), zero incoming or outgoing weights, parallel or opposite to "
                  "another neuron of its layer, unbalanced (incoming and outgoing norms differ, so a "
                  "positive rescaling changes the parameters but not the function). First hidden layer "
                  "on a box: exact interval arithmetic; deeper layers: LP/MILP bounds on HiGHS."),
        Table(("status", *layers, "total"), rows),
        Paragraph(f"{len(report.neurons)} hidden neurons, {report.n_degenerate} with at least one "
                  "degeneracy (unbalanced excluded); "
                  + ("every status is exact." if report.exact else
                     f"{counts.get('undecided', 0)} neuron(s) undecided within the time limit "
                     "(dead / always-active open: only valid bounds were found).")),
    ]
    path = figures.status_bars(per_layer, ctx.figure("degeneracies.png"), "Hidden neurons per degeneracy status")
    blocks.append(Figure(path.name, "Number of hidden neurons per degeneracy status and hidden layer."))
    listed = [s for s in report.neurons if [lab for lab in s.labels if not lab.startswith("unbalanced")]]
    if listed:
        shown = listed[:60]
        blocks.append(Table(
            ("hidden layer", "neuron", "pre-activation range on the domain", "statuses"),
            tuple((s.layer, s.neuron,
                   f"[{format_value(s.pre_min, 4)}{'' if s.exact_min else '*'}, "
                   f"{format_value(s.pre_max, 4)}{'' if s.exact_max else '*'}]",
                   "; ".join(s.labels)) for s in shown),
            caption="Degenerate neurons (* = valid bound, not attained)"
                    + (f"; first {len(shown)} of {len(listed)}" if len(listed) > len(shown) else "")))
    status, reason = ("ok", "") if report.exact else (
        "partial", f"{counts.get('undecided', 0)} neuron status(es) undecided within {ctx.time_limit:g} s")
    return SectionContent(blocks, {"counts": counts, "counts_by_layer": per_layer, "exact": bool(report.exact),
                                   "n_degenerate": int(report.n_degenerate),
                                   "report": to_jsonable(report)}, status, reason)


def _section_reduction(ctx: _Context) -> SectionContent:
    from ..degeneracy import reduction

    result = reduction(ctx.net, ctx.domain, time_limit=ctx.time_limit, seed=ctx.seed)
    reduced = result.network
    ctx.shared["reduced"] = reduced
    X = _sample(ctx.domain, ctx.net.input_dim, ctx.n_samples, ctx.seed + 1)
    sampled_gap = float(np.abs(ctx.net(X) - reduced(X)).max()) if len(X) else 0.0
    data: dict[str, Any] = {
        "widths_before": list(ctx.net.widths),
        "widths_after": list(reduced.widths),
        "parameters_before": ctx.net.n_parameters,
        "parameters_after": reduced.n_parameters,
        "removed_neurons": int(result.removed),
        "actions": list(result.actions),
        "sampled_max_abs_difference": sampled_gap,
        "n_sample_points": int(len(X)),
    }
    blocks: list[Any] = [
        Paragraph("`reduce` drops dead and disconnected neurons, merges parallel ones and folds "
                  "always-active ones; the reduced network has the same realization on the domain."),
        Table(("", "before", "after"), (
            ("widths", "-".join(map(str, ctx.net.widths)), "-".join(map(str, reduced.widths))),
            ("parameters", ctx.net.n_parameters, reduced.n_parameters),
        )),
    ]
    if result.actions:
        shown = list(result.actions[:40])
        if len(result.actions) > 40:
            shown.append(f"... ({len(result.actions) - 40} more)")
        blocks.append(Code("\n".join(shown)))
    else:
        blocks.append(Paragraph("No rule applies: the network is already reduced on this domain."))
    status, reason = "ok", ""
    try:
        from ..distance import sup_distance

        dist = sup_distance(ctx.net, reduced, ctx.domain, time_limit=ctx.time_limit)
        lower, upper, exact = float(dist.lower), float(dist.upper), bool(dist.exact)
        data["sup_distance"] = {"lower": lower, "upper": upper, "exact": exact, "status": str(dist.status)}
        blocks.append(Paragraph(
            f"Sup distance between the network and its reduction on the domain (MILP): "
            + (f"{format_value(upper)} (exact up to the solver tolerance)." if exact else
               f"between {format_value(lower)} and {format_value(upper)} (bounds; solver status {dist.status}).")))
        if not exact:
            status, reason = "partial", (f"the exact sup distance was not closed (solver status {dist.status}, "
                                         f"time limit {ctx.time_limit:g} s); bounds reported")
    except ImportError:
        status, reason = "partial", "the exact sup distance is not available in this installation; sampled check only"
    except ReluscopeError as exc:
        status, reason = "partial", f"exact sup distance not computed: {type(exc).__name__}: {exc}"
    blocks.append(Paragraph(f"Largest |difference| on {len(X)} sampled points of the domain: {format_value(sampled_gap)}."))
    return SectionContent(blocks, data, status, reason)


def _section_canonical(ctx: _Context) -> SectionContent:
    from ..symmetry import canonical_form

    canon = canonical_form(ctx.net)
    ctx.shared["canonical"] = canon
    X = _sample(ctx.domain, ctx.net.input_dim, ctx.n_samples, ctx.seed + 2)
    gap = float(np.abs(ctx.net(X) - canon(X)).max()) if len(X) else 0.0
    norm_before = float(np.linalg.norm(ctx.net.to_vector()))
    norm_after = float(np.linalg.norm(canon.to_vector()))
    data: dict[str, Any] = {
        "widths": list(canon.widths),
        "parameter_norm_before": norm_before,
        "parameter_norm_after": norm_after,
        "sampled_max_abs_difference": gap,
    }
    blocks: list[Any] = [
        Paragraph("The canonical form is the representative of the network's orbit under positive "
                  "rescalings and permutations of hidden neurons (balanced, then ordered); two networks "
                  "related by these symmetries have the same canonical form."),
        Table(("quantity", "value"), (
            ("Euclidean norm of the parameters (original)", norm_before),
            ("Euclidean norm of the parameters (canonical)", norm_after),
            (f"max |f(x) - canonical(x)| on {len(X)} sampled points", gap),
        )),
    ]
    from ..distance import parameter_distance
    from ..symmetry import equivalent

    pd = parameter_distance(ctx.net, canon, modulo_symmetry=True)
    data["parameter_distance_raw"] = float(pd.before)
    data["parameter_distance_modulo_symmetry"] = float(pd.distance)
    blocks.append(Paragraph(
        f"Max-norm parameter distance between the network and its canonical form: "
        f"{format_value(pd.before)} as given, {format_value(pd.distance)} after aligning by the best "
        f"permutation and rescaling (`parameter_distance(..., modulo_symmetry=True)`): the two "
        f"parametrizations differ, the function does not."))
    verdict = equivalent(ctx.net, canon)
    data["equivalent_to_original"] = bool(verdict.equivalent)
    data["equivalence_max_deviation"] = float(verdict.max_deviation)
    blocks.append(Paragraph(f"`equivalent(network, canonical_form(network))`: "
                            f"**{'yes' if verdict.equivalent else 'no'}** ({verdict.reason})."))
    return SectionContent(blocks, data)


def _section_lipschitz(ctx: _Context) -> SectionContent:
    X = _sample(ctx.domain, ctx.net.input_dim, min(ctx.n_samples, 512), ctx.seed + 3)
    sampled = 0.0
    for x in X:
        J, _ = ctx.net.local_affine(x)
        sampled = max(sampled, float(np.abs(J).max()) if J.size else 0.0)
    data: dict[str, Any] = {"sampled_lower_bound": sampled, "n_sample_points": int(len(X))}
    blocks: list[Any] = [
        Paragraph("Lipschitz constant in the W^{1,inf} sense: the essential supremum over the domain of the "
                  "largest absolute partial derivative of any output."),
    ]
    from .. import lipschitz_constant

    kwargs = _with_time_limit(lipschitz_constant, ctx.time_limit)
    result = lipschitz_constant(ctx.net, ctx.domain, **kwargs)
    lower, upper = float(_attr(result, "lower")), float(_attr(result, "upper"))
    exact = bool(_attr(result, "exact", default=False))
    data.update({"lower": lower, "upper": upper, "exact": exact, "result": to_jsonable(result)})
    blocks.append(Table(("bound", "value"), (
        ("lower (solver)", lower), ("upper (solver)", upper),
        (f"lower (largest gradient entry at {len(X)} sampled points)", sampled),
    )))
    status, reason = "ok", ""
    if not exact:
        status, reason = "partial", (f"the exact solve did not close the gap (solver status "
                                     f"{_attr(result, 'status')}, time limit {ctx.time_limit:g} s); the interval is reported")
    return SectionContent(blocks, data, status, reason)


def _pruned_further(net: ReLUNetwork, fraction: float) -> ReLUNetwork:
    """``net`` with the ``fraction`` smallest-magnitude nonzero weights of each layer removed.

    Exactly ``round(fraction * nonzero)`` weights per layer (ties broken by position); the
    removed entries leave the mask.
    """
    weights, masks = [], []
    for layer, W in enumerate(net.weights):
        mask = np.array(net.mask(layer), dtype=bool)
        rows, cols = np.nonzero(W)
        k = int(round(fraction * rows.size))
        order = np.argsort(np.abs(W[rows, cols]), kind="stable")[:k]
        mask[rows[order], cols[order]] = False
        weights.append(np.where(mask, W, 0.0))
        masks.append(mask)
    return net.replace(weights=weights, masks=masks)


def _section_distances(ctx: _Context) -> SectionContent:
    from ..distance import sobolev_distance, sup_distance

    fraction = 0.1
    pruned = _pruned_further(ctx.net, fraction)
    removed = sum(int(np.count_nonzero(a)) - int(np.count_nonzero(b)) for a, b in zip(ctx.net.weights, pruned.weights))
    sup = sup_distance(ctx.net, pruned, ctx.domain, time_limit=ctx.time_limit, seed=ctx.seed)
    sob = sobolev_distance(ctx.net, pruned, ctx.domain, time_limit=ctx.time_limit, seed=ctx.seed)
    rows: list[tuple[Any, ...]] = [
        ("sup |f - g| on the domain", sup.lower, sup.upper, "exact" if sup.exact else "bounds (time limit)"),
        ("W^{1,inf}: max(sup |f - g|, ess sup |grad(f - g)|) on the domain", sob.lower, sob.upper,
         "exact" if sob.exact else "bounds (time limit)"),
    ]
    data: dict[str, Any] = {
        "fraction": fraction,
        "weights_removed": int(removed),
        "sup": {"lower": float(sup.lower), "upper": float(sup.upper), "exact": bool(sup.exact)},
        "sobolev": {"lower": float(sob.lower), "upper": float(sob.upper), "exact": bool(sob.exact)},
    }
    if ctx.X is not None:
        on_data = sup_distance(ctx.net, pruned, PointSet(ctx.X))
        data["sup_on_data"] = float(on_data.upper)
        rows.append((f"max |f - g| over the {len(ctx.X)} data points", on_data.lower, on_data.upper, "exact"))
    blocks: list[Any] = [
        Paragraph(f"How much does the function move if pruning goes further? g is the network with the "
                  f"{fraction:.0%} smallest-magnitude remaining weights of each layer removed "
                  f"({removed} weights). Distances are computed by MILP on HiGHS within "
                  f"{ctx.time_limit:g} s each; when the limit hits, the true value lies between the bounds."),
        Table(("distance between f (the network) and g (pruned further)", "lower", "upper", "status"),
              tuple(rows)),
    ]
    status, reason = "ok", ""
    if not (sup.exact and sob.exact):
        status, reason = "partial", (f"the exact distances were not closed (solver status {sup.status} / "
                                     f"{sob.status}, time limit {ctx.time_limit:g} s); bounds reported")
    return SectionContent(blocks, data, status, reason)


def _section_sparsity(ctx: _Context) -> SectionContent:
    from .. import sparsity

    blocks: list[Any] = []
    status, reason = "ok", ""
    if ctx.net.masks is None:
        blocks.append(Paragraph("The network has no masks: its sparsity pattern is full support."))
    pattern = sparsity.SparsityPattern.from_network(ctx.net)
    verdict = sparsity.optimum_exists(pattern, domain=ctx.domain, time_limit=ctx.time_limit,
                                      verify_time_limit=ctx.time_limit)
    closed = verdict.closedness
    if closed is None:
        closed = sparsity.is_closed(pattern, time_limit=ctx.time_limit, seed=ctx.seed)
    data: dict[str, Any] = {
        "answer": verdict.status,
        "reasoning": verdict.reasoning,
        "certificate_valid": verdict.certificate_valid,
        "sequence": [list(map(float, row)) for row in verdict.sequence],
        "linear_closedness": {"closed": closed.closed, "method": closed.method, "seconds": closed.seconds,
                              "reasoning": closed.reasoning, "certificate": to_jsonable(closed.certificate)},
    }
    blocks.append(Paragraph(f"Existence of an optimum for the training problem of this architecture and "
                            f"mask (squared loss): **{verdict.status}**."))
    blocks.append(Paragraph(verdict.reasoning))
    if verdict.sequence:
        blocks.append(Table(("eps", "training loss", "parameter norm"), tuple(tuple(r) for r in verdict.sequence),
                            caption="A parameter sequence whose loss tends to 0 while its norm grows"))
    if verdict.certificate_valid is not None:
        blocks.append(Paragraph(f"Non-closedness certificate re-verified independently: "
                                f"**{'valid' if verdict.certificate_valid else 'INVALID'}**."))
    state = {True: "closed", False: "not closed", None: "undecided"}[closed.closed]
    blocks.append(Paragraph(
        f"Linear counterpart: the set L_I of products W_L ... W_1 with supports inside the masks is "
        f"**{state}** (method `{closed.method}`, {closed.seconds:.2f} s)."
        + (f" {closed.reasoning}" if closed.reasoning else "")))
    if closed.certificate is not None:
        text = str(closed.certificate)
        blocks.append(Code(text if len(text) < 3000 else text[:3000] + "\n… (truncated)"))
    if verdict.status == "undecided":
        why = " ".join(verdict.reasoning.split())
        status, reason = "partial", "existence undecided: " + (why if len(why) <= 240 else why[:240] + "…")
    return SectionContent(blocks, data, status, reason)


def _section_activations(ctx: _Context) -> SectionContent:
    X = ctx.X if ctx.X is not None else _sample(ctx.domain, ctx.net.input_dim, ctx.n_samples, ctx.seed + 4)
    if ctx.net.depth < 2:
        raise NotComputed("the network has no hidden layer")
    patterns = ctx.net.activation_pattern(X)
    freqs = [p.mean(axis=0) for p in patterns]
    joint = np.concatenate(patterns, axis=1)
    distinct = int(len(np.unique(np.packbits(joint, axis=1), axis=0))) if len(X) else 0
    rows = []
    for i, f in enumerate(freqs):
        rows.append((i + 1, len(f), int((f == 0).sum()), int((f == 1).sum()), float(f.mean())))
    source = "points of the given data" if ctx.X is not None else "points sampled uniformly from the domain"
    path = figures.activation_histograms(freqs, ctx.figure("activations.png"), len(X))
    data = {
        "n_points": int(len(X)),
        "source": source,
        "distinct_patterns": distinct,
        "layers": [dict(zip(("layer", "width", "never_active", "always_active", "mean_active_fraction"), r)) for r in rows],
        "active_fraction": [f.tolist() for f in freqs],
    }
    blocks = [
        Paragraph(f"Activation patterns of the hidden neurons on the {len(X)} {source}: "
                  f"{distinct} distinct joint patterns (linear regions met). Sample counts are "
                  "empirical; the degeneracy section gives the exact statuses on the whole domain."),
        Table(("hidden layer", "width", "never active on sample", "always active on sample",
               "mean active fraction"), tuple(rows)),
        Figure(path.name, "Fraction of sample points on which each hidden neuron is active."),
    ]
    return SectionContent(blocks, data)


def _model_predictions(net: ReLUNetwork, X: np.ndarray, classes: np.ndarray) -> np.ndarray | None:
    """The model's class decisions by argmax over outputs, when there is one output per class."""
    if net.output_dim != len(classes):
        return None
    return classes[np.argmax(net(X), axis=1)]


def _balanced_cost(outputs: np.ndarray, y: np.ndarray, classes: np.ndarray) -> tuple[float, float]:
    """(balanced, mean) cost of ``outputs`` against one-hot targets, as in reluscope.constructive."""
    from ..constructive.shallow import training_costs

    index = np.searchsorted(classes, y)
    counts = np.bincount(index, minlength=len(classes))
    return training_costs(outputs, np.eye(len(classes)), index, counts)


def _section_constructive(ctx: _Context) -> SectionContent:
    if ctx.X is None or ctx.y is None:
        raise NotComputed("no data given (use --data DATA.csv --label-column NAME)")
    from .. import constructive

    X, y = ctx.X, ctx.y
    classes = np.unique(y)
    affine_note = ""
    try:
        result = constructive.fit(X, y)
    except InvalidData as exc:
        if "linearly dependent" not in str(exc):
            raise
        # centred data make the class means linearly dependent; the affine lift (x, 1) only
        # needs them affinely independent
        result = constructive.fit(X, y, affine=True)
        affine_note = (f" The linear construction does not apply ({exc}); the construction uses the "
                       "affine lift (x, 1), which needs the class means only affinely independent.")
    affine = bool(result.affine)
    network = result.network
    con_acc = float(np.mean(np.asarray(result.network_predict(X)) == y))
    model_pred = _model_predictions(ctx.net, X, classes)
    model_acc = None if model_pred is None else float(np.mean(model_pred == y))
    model_cost = _balanced_cost(ctx.net(X), y, classes) if ctx.net.output_dim == len(classes) else (None, None)

    # held-out comparison: fit on 70 %, evaluate both on the other 30 %
    rng = np.random.default_rng(ctx.seed)
    order = rng.permutation(len(X))
    cut = int(round(0.7 * len(X)))
    held: dict[str, Any] = {}
    train, test = order[:cut], order[cut:]
    if len(np.unique(y[train])) == len(classes) and len(test):
        try:
            res70 = constructive.fit(X[train], y[train], affine=affine)
            held["constructive"] = float(np.mean(np.asarray(res70.network_predict(X[test])) == y[test]))
            if model_pred is not None:
                held["model"] = float(np.mean(model_pred[test] == y[test]))
        except ReluscopeError as exc:
            held["error"] = f"{type(exc).__name__}: {exc}"

    data: dict[str, Any] = {
        "n_samples": int(len(X)),
        "n_classes": int(len(classes)),
        "constructive_widths": list(network.widths),
        "affine_lift": affine,
        "constructive_parameters": int(network.n_parameters),
        "model_parameters": ctx.net.n_parameters,
        "constructive_accuracy": con_acc,
        "model_accuracy": model_acc,
        "constructive_balanced_cost": float(result.balanced_cost),
        "constructive_mean_cost": float(result.mean_cost),
        "constructive_upper_bound": float(result.upper_bound),
        "delta_P": float(result.delta_P),
        "model_balanced_cost": model_cost[0],
        "model_mean_cost": model_cost[1],
        "held_out_accuracy": held,
    }
    rows = [
        ("accuracy on the given data", model_acc, con_acc),
        ("accuracy on a random 30 % left out of the constructive fit (the model may have trained on it)", held.get("model"), held.get("constructive")),
        ("balanced cost against one-hot targets", model_cost[0], result.balanced_cost),
        ("mean squared error against one-hot targets", model_cost[1], result.mean_cost),
        ("parameters", ctx.net.n_parameters, network.n_parameters),
        ("widths", "-".join(map(str, ctx.net.widths)), "-".join(map(str, network.widths))),
    ]
    blocks: list[Any] = [
        Paragraph("The constructive network (explicit shallow construction of width Q, no gradient "
                  "descent) fitted to the same data, against the model. The model's decision is the "
                  "argmax of its outputs (one output per class, classes in sorted order); the "
                  "constructive network's decision is the nearest one-hot target. Costs use the "
                  "constructive network's one-hot targets, which the model was not necessarily "
                  "trained for." + affine_note
                  + ("" if model_pred is not None else
                     f" The model has {ctx.net.output_dim} outputs for {len(classes)} classes, so its "
                     "accuracy and cost are not computed.")),
        Table(("", "model", "constructive"), tuple(rows)),
        Paragraph(f"Constructive fit: noise-to-signal ratio delta_P = {format_value(result.delta_P)}, "
                  f"balanced cost {format_value(result.balanced_cost)} <= bound "
                  f"{format_value(result.upper_bound)} (sqrt(Q) ||Y||_op delta_P)."),
    ]
    if "error" in held:
        blocks.append(Paragraph(f"Held-out fit not computed: {held['error']}."))
    groups = {"given data": {"model": model_acc if model_acc is not None else np.nan, "constructive": con_acc}}
    if "constructive" in held:
        groups["held-out 30 %"] = {"model": held.get("model", np.nan), "constructive": held["constructive"]}
    path = figures.grouped_bars(groups, ctx.figure("constructive.png"), "Accuracy: model vs constructive", "accuracy")
    blocks.append(Figure(path.name, "Classification accuracy of the model and of the constructive baseline."))
    return SectionContent(blocks, data)


_SECTIONS: dict[str, tuple[str, Callable[[_Context], SectionContent]]] = {
    "network": ("Network", _section_network),
    "degeneracies": ("Degeneracies", _section_degeneracies),
    "reduction": ("Reduction", _section_reduction),
    "canonical-form": ("Canonical form", _section_canonical),
    "lipschitz": ("Lipschitz constant", _section_lipschitz),
    "distances": ("Pruning sensitivity (function distances)", _section_distances),
    "sparsity": ("Sparsity pattern and existence of optima", _section_sparsity),
    "activations": ("Activation patterns", _section_activations),
    "constructive": ("Constructive baseline", _section_constructive),
}


# ---------------------------------------------------------------------------- entry point


def analyze(
    network: ReLUNetwork | str | Path,
    out_dir: str | Path = "reluscope-report",
    *,
    domain: Box | PointSet | str | None = None,
    X: np.ndarray | None = None,
    y: np.ndarray | None = None,
    time_limit: float = 10.0,
    section_timeout: float | None = None,
    n_samples: int = 2000,
    seed: int = 0,
    title: str | None = None,
    sections: tuple[str, ...] | None = None,
    quiet: bool | None = None,
    source: str | None = None,
) -> AnalysisReport:
    """Analyze one network and write a report folder.

    Parameters
    ----------
    network : ReLUNetwork or path
        The network, or a model file readable by :func:`reluscope.load`.
    out_dir : path
        Folder to write ``report.md``, ``report.html``, ``report.json`` and the figures into
        (created if missing).
    domain : Box, PointSet, "LO,HI" or None
        Domain of the analyses. ``None``: the bounding box of ``X`` when data are given,
        else ``[-1, 1]^d``.
    X, y : arrays, optional
        Data ``(n, d)`` and labels ``(n,)``: enable the constructive baseline and the
        activation statistics on the data.
    time_limit : float
        Time limit in seconds passed to each solver call (MILP, Z3); a solver that hits it
        reports bounds or "undecided".
    section_timeout : float, optional
        Wall-clock budget per section; a section still running after it is reported as
        not computed. Default ``4 * time_limit + 30``.
    n_samples : int
        Number of points sampled from a box for the empirical checks.
    seed : int
        Seed of every random choice.
    title : str, optional
        Report title.
    sections : tuple of str, optional
        Subset of :data:`SECTION_KEYS` to run (default: all).
    quiet : bool, optional
        Force the progress bar off (``True``) or on (``False``); default: on a terminal only.
    source : str, optional
        Where the network came from (shown in the report); default: the path when
        ``network`` is a path.

    Returns
    -------
    AnalysisReport
    """
    start = time.perf_counter()
    if not isinstance(network, ReLUNetwork):
        from ..io import load

        source = source or str(network)
        network = load(network)
    if time_limit <= 0:
        raise InvalidData(f"time_limit must be positive, got {time_limit}")
    if int(seed) < 0:
        raise InvalidData(f"seed must be a non-negative integer, got {seed}")
    Xa = ya = None
    if X is not None:
        Xa = np.array(X, dtype=float, copy=True)
        if Xa.ndim != 2 or Xa.shape[1] != network.input_dim:
            raise InvalidData(f"data X has shape {Xa.shape}, expected (n, {network.input_dim}) for this network")
        if not np.all(np.isfinite(Xa)):
            raise InvalidData("data X contains NaN or Inf")
        if y is None:
            raise InvalidData("data X given without labels y")
        ya = np.array(y, copy=True)
        if ya.shape != (len(Xa),):
            raise InvalidData(f"labels y have shape {ya.shape}, expected ({len(Xa)},)")
    if domain is None and Xa is not None:
        dom: Box | PointSet = Box(Xa.min(axis=0), Xa.max(axis=0))
    else:
        dom = as_domain(domain, network.input_dim)
    keys = SECTION_KEYS if sections is None else tuple(sections)
    unknown = [k for k in keys if k not in _SECTIONS]
    if unknown:
        raise InvalidData(f"unknown report section(s) {unknown}; known: {', '.join(SECTION_KEYS)}")
    out = make_out_dir(out_dir)
    ctx = _Context(network, dom, Xa, ya, out, float(time_limit), int(seed), int(n_samples))
    budget = section_timeout if section_timeout is not None else 4 * time_limit + 30

    outcomes: list[SectionOutcome] = []
    for key in progress(list(keys), lambda k: f"analyze: {_SECTIONS[k][0]}", quiet=quiet):
        title_k, body = _SECTIONS[key]
        outcomes.append(run_section(key, title_k, lambda body=body: body(ctx), budget))

    summary = _summary(network, outcomes)
    intro = [
        Paragraph(f"Model: `{source}`." if source else f"Model: a `ReLUNetwork` with widths {network.widths}."),
        Paragraph("Sections: " + "; ".join(f"{o.section.title}: {o.status}" for o in outcomes) + "."),
        Table(("summary", "value"), tuple((k, v) for k, v in summary.items())),
        Paragraph(f"Solver time limit per call: {time_limit:g} s. Generated by reluscope "
                  f"in {time.perf_counter() - start:.1f} s."),
    ]
    doc = Document(title or "reluscope analysis", tuple(o.section for o in outcomes), tuple(intro))
    md_path, html_path, json_path = out / "report.md", out / "report.html", out / "report.json"
    md_path.write_text(doc.to_markdown())
    html_path.write_text(doc.to_html())
    section_data = {o.key: {**o.data, "seconds": o.seconds} for o in outcomes}
    written = tuple(p for p in ctx.figures if p.exists())
    seconds = time.perf_counter() - start
    dump_json({"model": source, "widths": list(network.widths), "domain": _domain_text(dom, network.input_dim),
               "time_limit": time_limit, "summary": summary, "sections": section_data,
               "figures": [p.name for p in written], "seconds": seconds}, json_path)
    return AnalysisReport(out, md_path, html_path, json_path, written, section_data, summary, seconds)


def _summary(net: ReLUNetwork, outcomes: list[SectionOutcome]) -> dict[str, Any]:
    data = {o.key: o.data for o in outcomes}
    summary: dict[str, Any] = {"widths": "-".join(map(str, net.widths)), "parameters": net.n_parameters}
    deg = data.get("degeneracies", {})
    if deg.get("status") == "ok":
        counts = deg.get("counts", {})
        flagged = {k: v for k, v in counts.items() if v and k not in ("ok", "regular", "healthy", "total")}
        summary["degenerate neurons"] = ", ".join(f"{k} {v}" for k, v in flagged.items()) or "none"
    red = data.get("reduction", {})
    if "widths_after" in red:
        summary["reduced widths"] = "-".join(map(str, red["widths_after"]))
    lip = data.get("lipschitz", {})
    if "lower" in lip:
        summary["Lipschitz constant"] = (format_value(lip["lower"]) if lip.get("exact")
                                         else f"[{format_value(lip['lower'])}, {format_value(lip['upper'])}]")
    dist = data.get("distances", {})
    if "sup" in dist:
        sup = dist["sup"]
        summary[f"sup |f - g|, g = f pruned {dist['fraction']:.0%} more"] = (
            format_value(sup["upper"]) if sup["exact"]
            else f"[{format_value(sup['lower'])}, {format_value(sup['upper'])}]")
    sp = data.get("sparsity", {})
    if "answer" in sp:
        summary["optimum exists"] = sp["answer"]
    con = data.get("constructive", {})
    if "constructive_accuracy" in con:
        summary["accuracy (model / constructive)"] = (
            f"{format_value(con['model_accuracy'])} / {format_value(con['constructive_accuracy'])}")
    not_computed = [o.key for o in outcomes if o.status == "not computed"]
    summary["sections not computed"] = ", ".join(not_computed) or "none"
    return summary

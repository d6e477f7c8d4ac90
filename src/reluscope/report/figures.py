"""Report figures (matplotlib, Agg canvas, no global pyplot state so sections may run in threads)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["weight_heatmaps", "status_bars", "activation_histograms", "grouped_bars"]


def _new_figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _integer_axis(axis) -> None:
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, format="png")
    return path


def weight_heatmaps(weights: Sequence[np.ndarray], masks: Sequence[np.ndarray] | None, path: Path) -> Path:
    """One panel per layer: log10 |W| with entries outside the mask shown in light grey."""
    n = len(weights)
    cols = min(n, 4)
    rows = (n + cols - 1) // cols
    fig = _new_figure(3.4 * cols, 3.0 * rows)
    import matplotlib

    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#dddddd")
    for i, W in enumerate(weights):
        ax = fig.add_subplot(rows, cols, i + 1)
        magnitude = np.abs(np.asarray(W, dtype=float))
        off = np.zeros_like(magnitude, dtype=bool) if masks is None else ~np.asarray(masks[i], dtype=bool)
        off = off | (magnitude == 0)
        shown = np.ma.masked_array(np.log10(np.where(off, 1.0, magnitude)), mask=off)
        image = ax.imshow(shown, aspect="auto", interpolation="nearest", cmap=cmap)
        ax.set_title(f"layer {i + 1}: W{i + 1} {W.shape[0]}x{W.shape[1]}", fontsize=9)
        ax.set_xlabel("input unit", fontsize=8)
        ax.set_ylabel("output unit", fontsize=8)
        ax.tick_params(labelsize=7)
        _integer_axis(ax.xaxis)
        _integer_axis(ax.yaxis)
        if not off.all():
            bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
            bar.set_label("log10 |w| (grey: zero / pruned)", fontsize=7)
            bar.ax.tick_params(labelsize=7)
    return _save(fig, path)


def _inner_keys(groups: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The inner keys of a mapping of mappings, in first-seen order."""
    keys: list[str] = []
    for inner in groups.values():
        keys.extend(k for k in inner if k not in keys)
    return keys


def _grouped(ax: Any, categories: Sequence[str], series: Sequence[str],
             value: Callable[[str, str], float]) -> list[Any]:
    """One bar per series in each category (``value(series, category)``); returns the bars."""
    x = np.arange(len(categories))
    width = 0.8 / max(1, len(series))
    bars: list[Any] = []
    for j, key in enumerate(series):
        bars.extend(ax.bar(x + j * width - 0.4 + width / 2, [value(key, c) for c in categories],
                           width, label=key))
    ax.set_xticks(x)
    return bars


def status_bars(counts_by_layer: Mapping[str, Mapping[str, int]], path: Path, title: str) -> Path:
    """Grouped bar chart: for each status, one bar per hidden layer."""
    layers = list(counts_by_layer)
    statuses = _inner_keys(counts_by_layer)
    fig = _new_figure(max(5.0, 0.9 * len(statuses) + 2.0), 3.6)
    ax = fig.add_subplot(1, 1, 1)
    _grouped(ax, statuses, layers, lambda layer, status: counts_by_layer[layer].get(status, 0))
    ax.set_xticklabels(statuses, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("neurons")
    _integer_axis(ax.yaxis)
    ax.set_title(title, fontsize=10)
    if len(layers) > 1:
        ax.legend(fontsize=8)
    return _save(fig, path)


def activation_histograms(frequencies: Sequence[np.ndarray], path: Path, n_points: int) -> Path:
    """Per hidden layer: histogram of the fraction of sample points on which each neuron is active."""
    n = len(frequencies)
    fig = _new_figure(3.4 * min(n, 4), 3.0 * ((n + 3) // 4))
    bins = np.linspace(0.0, 1.0, 21)
    for i, freq in enumerate(frequencies):
        ax = fig.add_subplot((n + 3) // 4, min(n, 4), i + 1)
        ax.hist(np.asarray(freq, dtype=float), bins=bins, color="#4472c4", edgecolor="white")
        ax.set_title(f"hidden layer {i + 1} ({len(freq)} neurons)", fontsize=9)
        ax.set_xlabel(f"fraction active on {n_points} points", fontsize=8)
        ax.set_ylabel("neurons", fontsize=8)
        ax.tick_params(labelsize=7)
        _integer_axis(ax.yaxis)
    return _save(fig, path)


def grouped_bars(groups: Mapping[str, Mapping[str, float]], path: Path, title: str, ylabel: str) -> Path:
    """Bars for a few named quantities (outer keys) compared across series (inner keys)."""
    names = list(groups)
    series = _inner_keys(groups)
    fig = _new_figure(max(4.5, 1.4 * len(names) + 1.5), 3.4)
    ax = fig.add_subplot(1, 1, 1)
    for bar in _grouped(ax, names, series, lambda key, name: float(groups[name].get(key, np.nan))):
        value = bar.get_height()
        if np.isfinite(value):
            ax.annotate(f"{value:.3g}", (bar.get_x() + bar.get_width() / 2, value),
                        ha="center", va="bottom", fontsize=7)
    ax.set_xticklabels(names, fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    finite = [float(v) for values in groups.values() for v in values.values() if np.isfinite(float(v))]
    top = max(finite, default=1.0)
    ax.set_ylim(0, top * 1.25 if top > 0 else 1.0)
    ax.legend(fontsize=8, loc="upper center", ncol=max(1, len(series)), frameon=False)
    return _save(fig, path)

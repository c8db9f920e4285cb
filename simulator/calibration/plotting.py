"""Shared plotting helpers: matplotlib's object API only (no pyplot state), imported lazily."""

from __future__ import annotations

from pathlib import Path

__all__ = ["new_axes", "new_figure", "save_axes"]


def new_axes(ax=None, figsize: tuple[float, float] = (7.5, 4.5)):
    """``ax`` itself, or the single Axes of a new Figure (not registered with pyplot)."""
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize, layout="constrained")
    return figure.add_subplot()


def new_figure(panels: int, figsize: tuple[float, float]):
    """A new Figure with ``panels`` Axes side by side; returns ``(figure, axes list)``."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize, layout="constrained")
    axes = figure.subplots(1, panels, squeeze=False)[0]
    return figure, list(axes)


def save_axes(figure, path: str | Path, dpi: int = 110) -> Path:
    """Write ``figure`` as a PNG at ``path`` (its folder must exist)."""
    path = Path(path)
    figure.savefig(path, dpi=dpi, format="png")
    return path

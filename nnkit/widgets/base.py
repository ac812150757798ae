"""The pattern every demo follows, and what the chapters' demos share (see :mod:`nnkit.widgets`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets
import matplotlib.pyplot as plt
from matplotlib.colors import LinearSegmentedColormap

from .. import backend
from ..viz import PALETTE

__all__ = ["slider_figure", "float_slider"]

# Classes get the colours and markers of nnkit.viz (Okabe-Ito: class 0 blue, class 1 orange).
CLASS_COLOURS = PALETTE[:2]
# A neuron's output from 0 (class-0 blue) through 0.5 (white) to 1 (class-1 orange).
OUTPUT_CMAP = LinearSegmentedColormap.from_list("nnkit_output",
                                                [CLASS_COLOURS[0], "#FFFFFF", CLASS_COLOURS[1]])


def float_slider(description: str, value: float, low: float, high: float, step: float = 0.1,
                 ) -> ipywidgets.FloatSlider:
    """A float slider with the course's look: label on the left, value shown to two decimals."""
    return ipywidgets.FloatSlider(value=value, min=low, max=high, step=step, description=description,
                                  continuous_update=False, readout_format=".2f",
                                  style={"description_width": "initial"},
                                  layout=ipywidgets.Layout(width="340px"))


def slider_figure(draw: Callable[..., Any], controls: dict[str, ipywidgets.ValueWidget],
                  figsize: tuple[float, float] = (6.4, 4.0)) -> ipywidgets.VBox:
    """Controls above a figure that ``draw(ax, **values)`` redraws whenever a control changes.

    draw:     callable taking a matplotlib Axes plus one keyword per control (its value).
    controls: name -> ipywidgets control (slider, dropdown, ...); the names are the keywords.
    Returns a VBox(controls row, Output); the first drawing happens at once.
    """
    def redraw(**values: Any) -> None:
        fig, ax = plt.subplots(figsize=figsize)
        draw(ax, **values)
        fig.tight_layout()
        plt.show()
        plt.close(fig)

    output = ipywidgets.interactive_output(redraw, controls)
    row = ipywidgets.HBox(list(controls.values()), layout=ipywidgets.Layout(flex_flow="row wrap"))
    return ipywidgets.VBox([row, output])


def host_points(X: Any, y: Any) -> tuple[Any, Any]:
    """(X, y) as host arrays: X (N, 2) float, y (N,) labels in {0, 1}."""
    X_host, y_host = backend.to_numpy(X), backend.to_numpy(y).reshape(-1)
    if X_host.ndim != 2 or X_host.shape[1] != 2:
        raise ValueError(f"expected 2-D points X of shape (N, 2), got shape {tuple(X_host.shape)}")
    if y_host.shape[0] != X_host.shape[0]:
        raise ValueError(f"X has {X_host.shape[0]} points but y has {y_host.shape[0]} labels")
    return X_host, y_host

"""Chapter 3 (softmax): interactive demos and their static twins."""

from __future__ import annotations

import math
from typing import Any

import ipywidgets

from .. import backend
from .base import CLASS_COLOURS, float_slider, slider_figure

__all__ = ["draw_softmax_temperature", "softmax_temperature"]


def draw_softmax_temperature(ax: Any, logits: Any, temperature: float = 1.0,
                             class_names: list[str] | None = None) -> Any:
    """Draw softmax(logits / temperature) as a bar chart on ``ax`` (chapter 3).

    logits: (K,) real scores of any backend. temperature: τ > 0; small τ sharpens the
    distribution towards the arg-max (one-hot), large τ flattens it towards 1/K (the dashed
    line). The largest bar is highlighted, every bar is labelled with its probability, and the
    title gives the entropy H(p) = −Σ p_k ln p_k in nats (0 for a one-hot p, ln K for uniform).
    Returns ax.
    """
    from ..functional import softmax  # stable (max-subtracted) along the last axis

    if temperature <= 0:
        raise ValueError(f"the temperature must be positive, got {temperature}")
    z = backend.to_numpy(logits).reshape(-1)
    p = softmax(z / temperature)
    hx = backend.namespace(p)
    k = int(z.shape[0])
    entropy = float(-hx.sum(p * hx.log(hx.clip(p, 1e-300, 1.0))))
    top = int(hx.argmax(p))
    positions = list(range(1, k + 1))
    colours = [CLASS_COLOURS[1] if i == top else "#9DB9D3" for i in range(k)]
    ax.bar(positions, p, color=colours, edgecolor="k", linewidth=0.5)
    ax.axhline(1.0 / k, color="0.35", linestyle="--", linewidth=1)
    for pos, value in zip(positions, p, strict=True):
        ax.text(pos, float(value) + 0.02, f"{float(value):.2f}", ha="center", va="bottom", fontsize=9)
    ax.set(ylim=(0, 1.08), xticks=positions, xticklabels=class_names or [str(i) for i in positions],
           xlabel=f"class k    (dashed: uniform 1/K = {1.0 / k:.2f})", ylabel="probability $p_k$")
    ax.set_title(f"softmax(z / τ), τ = {temperature:.2f}\nentropy {entropy:.2f} nats (uniform: ln K = "
                 f"{math.log(k):.2f})", fontsize=10)
    return ax


def softmax_temperature(logits: Any, temperature: float = 1.0, low: float = 0.05,
                        high: float = 10.0) -> ipywidgets.VBox:
    """A temperature slider (logarithmic, from ``low`` to ``high``) and a slider for the first logit
    over a softmax bar chart (chapter 3).

    logits: (K,) scores. Each move redraws :func:`draw_softmax_temperature`, whose title gives the
    entropy. Try: slide τ towards ``low`` and the bars collapse onto the largest logit (a hard
    arg-max, entropy 0); towards ``high`` they level out at 1/K (entropy ln K); the order of the bars
    never changes. Raise z₁ past the others and watch it take the probability from every class.
    """
    z = backend.to_numpy(logits).reshape(-1)  # fail early, in the cell that builds the widget
    style, layout = {"description_width": "initial"}, ipywidgets.Layout(width="340px")
    controls = {
        "temperature": ipywidgets.FloatLogSlider(value=temperature, base=10, min=math.log10(low),
                                                 max=math.log10(high), step=0.02, description="temperature τ",
                                                 continuous_update=False, readout_format=".2f", style=style,
                                                 layout=layout),
        "first": float_slider("logit $z_1$", float(z[0]), -5.0, 5.0),
    }

    def draw(ax: Any, temperature: float, first: float) -> None:
        shifted = z.copy()
        shifted[0] = first
        draw_softmax_temperature(ax, shifted, temperature)

    return slider_figure(draw, controls)

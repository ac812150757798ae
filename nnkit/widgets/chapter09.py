"""Chapter 9 (recurrent networks): interactive demos and their static twins."""

from __future__ import annotations

import math
from typing import Any

import ipywidgets

from .. import backend
from ..viz import MARKERS, PALETTE
from .base import float_slider, slider_figure

__all__ = ["rnn_input_gradient_norms", "draw_rnn_gradient_norms", "rnn_gradient_explorer",
           "next_char_probabilities", "sample_text", "draw_char_temperature", "char_temperature"]


def rnn_input_gradient_norms(scale: float, steps: int = 50, hidden: int = 32, inputs: int = 4,
                             input_scale: float = 0.1, n: int = 64, seed: int = 0) -> list[float]:
    """‖∂L/∂x_t‖ for t = 1 .. steps of a vanilla RNN whose Wh is ``scale`` times an orthogonal matrix.

    The RNN (``inputs`` → ``hidden``, zero bias, Wx with entries of size 1/√inputs) reads ``n``
    random sequences whose entries have standard deviation ``input_scale``; the loss
    L = h_T · r depends on the last state only (r a fixed random direction), so every gradient
    reaching x_t has travelled back T − t steps through the recurrence. Returns the norm for
    each step, averaged over the sequences, input side first. The weights and data come from a
    generator of their own (``seed``): every ``scale`` sees the same Wh direction and inputs.
    """
    from ..functional import rnn_backward, rnn_forward

    hx, generator = backend.host_xp(), backend.rng(seed)
    orthogonal, _ = hx.linalg.qr(generator.standard_normal((hidden, hidden)))
    Wx = generator.standard_normal((inputs, hidden)) / math.sqrt(inputs)
    x = input_scale * generator.standard_normal((n, steps, inputs))
    dh = hx.zeros((n, steps, hidden))
    dh[:, -1, :] = generator.standard_normal((n, hidden)) / math.sqrt(hidden)   # ∂L/∂h_T = r
    _, cache = rnn_forward(backend.asarray(x), backend.asarray(hx.zeros((n, hidden))), backend.asarray(Wx),
                           backend.asarray(scale * orthogonal), backend.asarray(hx.zeros(hidden)))
    dx = rnn_backward(backend.asarray(dh), cache)[0]
    xp = backend.namespace(dx)
    return [float(v) for v in backend.to_numpy(xp.mean(xp.sqrt(xp.sum(dx * dx, axis=2)), axis=0))]


def draw_rnn_gradient_norms(ax: Any, scales: float | tuple[float, ...] = (0.5, 0.9, 1.0, 1.5, 3.0),
                            steps: int = 50, input_scale: float = 0.1, reference: bool = False) -> Any:
    """Gradient norm reaching each input x_t (log scale) for each recurrent weight scale s (chapter 9).

    One line per scale, from :func:`rnn_input_gradient_norms`. With ``reference``, a dashed line
    per scale shows s^(T−t): what a linear RNN (no tanh) would give. Returns ax.
    """
    from matplotlib.ticker import MaxNLocator

    scales = (scales,) if isinstance(scales, (int, float)) else tuple(scales)
    t_axis = list(range(1, steps + 1))
    colours = ("#0072B2", "#56B4E9", "#000000", "#E69F00", "#D55E00", "#CC79A7", "#009E73")
    for i, s in enumerate(scales):
        colour = colours[i % len(colours)] if len(scales) > 1 else "#D55E00"
        norms = rnn_input_gradient_norms(s, steps=steps, input_scale=input_scale)
        ax.semilogy(t_axis, norms, color=colour, marker=MARKERS[i % len(MARKERS)], markersize=3,
                    label=f"s = {s:g}")
        if reference:
            ax.semilogy(t_axis, [norms[-1] * s ** (steps - t) for t in t_axis], "--", color=colour, lw=1,
                        alpha=0.7, label=f"{s:g}$^{{T-t}}$: a linear RNN (no tanh)")
    ax.set(xlabel=f"time step t of the input $x_t$ (the loss reads only $h_T$, T = {steps})",
           ylabel=r"$\|\partial L / \partial x_t\|$ (log scale)",
           title=f"Gradient reaching each input, $W_h$ = s · orthogonal, inputs of size {input_scale:g}")
    ax.title.set_fontsize(10)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8, loc="best")
    return ax


def rnn_gradient_explorer(scale: float = 1.5, input_scale: float = 0.1, steps: int = 50) -> ipywidgets.VBox:
    """Sliders for the recurrent weight scale s, the input size and the length over
    :func:`draw_rnn_gradient_norms` (chapter 9).

    Try: s below 1 and the gradient reaching early inputs fades exponentially, following s^(T−t)
    while the states stay small; above 1 the recurrence itself grows the state until tanh
    saturates, its derivative 1 − h² then cuts the growth (far below s^(T−t)), and larger inputs
    saturate it sooner.
    """
    controls = {
        "scale": float_slider("recurrent scale s", scale, 0.25, 3.0, step=0.05),
        "input_scale": ipywidgets.FloatLogSlider(value=input_scale, base=10, min=-2, max=0.5, step=0.05,
                                                 description="input size", continuous_update=False,
                                                 readout_format=".2f", style={"description_width": "initial"},
                                                 layout=ipywidgets.Layout(width="340px")),
        "steps": ipywidgets.IntSlider(value=steps, min=10, max=100, step=5, description="steps T",
                                      continuous_update=False, layout=ipywidgets.Layout(width="340px")),
    }

    def draw(ax: Any, scale: float, input_scale: float, steps: int) -> None:
        draw_rnn_gradient_norms(ax, scale, steps=steps, input_scale=input_scale, reference=True)

    return slider_figure(draw, controls, figsize=(8.0, 4.2))


def next_char_probabilities(model: Any, vocab: Any, prompt: str, temperature: float = 1.0,
                            context: int = 32) -> Any:
    """softmax(z / τ) over the vocabulary for the character that follows ``prompt``: host array (V,).

    model:   maps token indices (1, L) to scores (1, L, V), e.g. Embedding → LSTM → Linear;
    vocab:   the V characters (a str or list); a character's token is its position in vocab;
    context: only the last ``context`` characters of the prompt are read.
    z are the scores after the last character; the temperature τ > 0 sharpens (τ < 1) or flattens
    (τ > 1) them.
    """
    from ..functional import softmax

    if temperature <= 0:
        raise ValueError(f"the temperature must be positive, got {temperature}")
    tokens = [[vocab.index(c) for c in prompt[-context:]]]
    scores = backend.to_numpy(model(backend.asarray(tokens)))[0, -1]
    return softmax(scores / temperature)


def sample_text(model: Any, vocab: Any, prompt: str, length: int = 100, temperature: float = 1.0,
                context: int = 32, seed: int = 0) -> str:
    """Extend ``prompt`` by ``length`` characters, each drawn from :func:`next_char_probabilities`.

    Every new character is appended to the text and read back in for the next one. The draws
    come from a generator of their own (``seed``), so the same call gives the same text.
    """
    generator = backend.rng(seed)
    text = prompt
    for _ in range(length):
        p = next_char_probabilities(model, vocab, text, temperature, context)
        text += vocab[int(generator.choice(len(vocab), p=p))]
    return text


def _shown(c: str) -> str:
    """A character as a readable tick label: space → ␣, newline → ↵."""
    return {" ": "␣", "\n": "↵"}.get(c, c)


def draw_char_temperature(ax: Any, model: Any, vocab: Any, prompt: str, temperature: float = 1.0,
                          top: int = 12, context: int = 32) -> Any:
    """Bar chart of the ``top`` most likely next characters after ``prompt`` at temperature τ (chapter 9).

    The dashed line is the uniform guess 1/V. Returns ax.
    """
    p = next_char_probabilities(model, vocab, prompt, temperature, context)
    hx = backend.namespace(p)
    order = [int(i) for i in hx.argsort(-p, stable=True)[:top]]
    ax.bar(range(len(order)), [float(p[i]) for i in order], color=PALETTE[0], edgecolor="k", linewidth=0.5)
    for k, i in enumerate(order):
        ax.text(k, float(p[i]) + 0.02, f"{float(p[i]):.2f}", ha="center", va="bottom", fontsize=8)
    ax.axhline(1 / len(vocab), color="0.35", ls="--", lw=1)
    ax.set_xticks(range(len(order)), [_shown(vocab[i]) for i in order])
    tail = ("…" if len(prompt) > 30 else "") + prompt[-30:].replace("\n", "↵")
    ax.set(ylim=(0, 1.1), xlabel=f"the {top} likeliest next characters (dashed: uniform 1/V)",
           ylabel="probability")
    ax.set_title(f"after “{tail}”, τ = {temperature:.2f}", fontsize=10)
    return ax


def char_temperature(model: Any, vocab: Any, prompt: str, temperature: float = 1.0, length: int = 120,
                     context: int = 32, seed: int = 0) -> ipywidgets.VBox:
    """A temperature slider over the next-character distribution and a sampled text (chapter 9).

    Each move redraws :func:`draw_char_temperature` and a new :func:`sample_text` of ``length``
    characters after ``prompt``. Try: τ near 0.1 always takes the likeliest character (the text
    soon repeats itself); τ = 1 samples the model as trained; τ above 2 flattens the distribution
    towards 1/V and the text dissolves into random letters.
    """
    control = ipywidgets.FloatLogSlider(value=temperature, base=10, min=-1, max=math.log10(5), step=0.02,
                                        description="temperature τ", continuous_update=False,
                                        readout_format=".2f", style={"description_width": "initial"},
                                        layout=ipywidgets.Layout(width="340px"))

    def draw(ax: Any, temperature: float) -> None:
        grid = ax.get_subplotspec().subgridspec(2, 1, height_ratios=(1, 0.8), hspace=0.5)
        ax_bars, ax_text = grid.subplots()
        ax.remove()
        draw_char_temperature(ax_bars, model, vocab, prompt, temperature, context=context)
        ax_text.text(0, 1, sample_text(model, vocab, prompt, length, temperature, context, seed),
                     va="top", ha="left", family="monospace", fontsize=9, transform=ax_text.transAxes)
        ax_text.set_title("a sample at this temperature", fontsize=10, loc="left")
        ax_text.axis("off")

    return slider_figure(draw, {"temperature": control}, figsize=(8.0, 6.5))

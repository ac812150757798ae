"""Chapter 8 (convolution): interactive demos and their static twins."""

from __future__ import annotations

from typing import Any

import ipywidgets

from .. import backend
from ..viz import PALETTE, draw_kernel
from .base import slider_figure

__all__ = ["draw_conv_window", "conv_window_explorer", "HAND_SET_FILTERS", "filter_response",
           "draw_filter_response", "filter_explorer"]


def _grid(ax: Any, left: float, top: float, rows: int, columns: int, colour: Any = "white") -> None:
    """Draw a rows × columns grid of unit squares whose top-left corner is (left, top)."""
    from matplotlib.patches import Rectangle

    for r in range(rows):
        for c in range(columns):
            fill = colour(r, c) if callable(colour) else colour
            ax.add_patch(Rectangle((left + c, top + r), 1, 1, facecolor=fill, edgecolor="0.45",
                                   linewidth=0.6))


def draw_conv_window(ax: Any, size: int = 7, kernel: int = 3, stride: int = 1, padding: int = 0,
                     position: int = 0, title: str | None = None, explain: int = 70) -> Any:
    """One kernel position on a square input (left) and the output cell it fills (right); returns ax.

    size, kernel, stride, padding: the geometry along each axis (square input and kernel).
    position: which output cell, counted row by row (wraps around).
    Grey cells are the zero padding, the blue frame is the window, the blue cell the output it
    produces. When the stride does not tile the padded input, the pixels no window reaches are
    hatched in vermillion: nnkit and PyTorch both drop them (the ⌊ ⌋).
    The text under the grids is :func:`nnkit.functional.explain_output_size`, wrapped at
    ``explain`` characters (0 leaves it out).
    """
    import textwrap

    from matplotlib.patches import Rectangle

    from ..functional import explain_output_size

    padded = size + 2 * padding
    fits = kernel <= padded
    n_out = (padded - kernel) // stride + 1 if fits else 0
    reach = (n_out - 1) * stride + kernel if fits else 0          # pixels some window covers
    p, q = divmod(position % max(n_out * n_out, 1), max(n_out, 1))

    def input_colour(r: int, c: int) -> str:
        inside = padding <= r < padding + size and padding <= c < padding + size
        return "white" if inside else "0.82"

    ax.clear()
    _grid(ax, 0, 0, padded, padded, input_colour)
    if fits and reach < padded:                                     # rows/columns never reached
        for r in range(padded):
            for c in range(padded):
                if r >= reach or c >= reach:
                    ax.add_patch(Rectangle((c, r), 1, 1, facecolor="none", edgecolor=PALETTE[5],
                                           hatch="///", linewidth=0))
    gap, top = 2.0, (padded - n_out) / 2
    if fits:
        ax.add_patch(Rectangle((q * stride, p * stride), kernel, kernel, facecolor=PALETTE[4], alpha=0.35,
                               edgecolor=PALETTE[0], linewidth=2.5))
        _grid(ax, padded + gap, top, n_out, n_out,
              lambda r, c: PALETTE[4] if (r, c) == (p, q) else "white")
        ax.annotate("", xy=(padded + gap + q + 0.5, top + p + 0.5),
                    xytext=(q * stride + kernel, p * stride + kernel / 2),
                    arrowprops={"arrowstyle": "->", "color": PALETTE[0], "linewidth": 1.5})
        ax.text(padded + gap + n_out / 2, top - 0.4, f"output {n_out}×{n_out}", ha="center", va="bottom")
    label = f"input {size}×{size}" + (f", padded to {padded}×{padded}" if padding else "")
    ax.text(padded / 2, -0.4, label, ha="center", va="bottom")
    exact = (padded - kernel) / stride + 1
    formula = f"({size} + 2·{padding} − {kernel}) / {stride} + 1 = {exact:g}"
    if not fits:
        formula += ": the kernel does not fit"
    elif reach < padded:
        missed = padded - reach
        formula += (f" → ⌊ ⌋ gives {n_out};\n{missed} row{'s' * (missed > 1)} and column{'s' * (missed > 1)} "
                    f"never reached")
    ax.set_title(title or f"kernel {kernel}, stride {stride}, padding {padding}:\n{formula}", fontsize=10)
    if explain:
        ax.text(0, padded + 0.6, textwrap.fill(explain_output_size(size, kernel, stride, padding), explain),
                ha="left", va="top", fontsize=8, color="0.25")
    ax.set(xlim=(-0.5, padded + gap + max(n_out, 1) + 0.5), ylim=(padded + (4.2 if explain else 0.5), -1.6),
           aspect="equal")
    ax.axis("off")
    return ax


def conv_window_explorer(size: int = 7, kernel: int = 3, stride: int = 1,
                         padding: int = 0) -> ipywidgets.VBox:
    """Sliders for input size, kernel, stride and padding, and one for the window's position (chapter 8).

    The figure is :func:`draw_conv_window`: the padded input with the window, the output grid with
    the cell it fills, the output-size formula and nnkit's explanation. Try: a 7-pixel input with
    kernel 3 and stride 2 (3 outputs), then size 8 (a pixel left over: what padding fixes it?);
    find the padding that keeps a 5 × 5 kernel's output as large as its input ("same" padding).
    """
    def int_slider(description: str, value: int, low: int, high: int) -> ipywidgets.IntSlider:
        return ipywidgets.IntSlider(value=value, min=low, max=high, description=description,
                                    continuous_update=False, layout=ipywidgets.Layout(width="250px"))

    controls = {"size": int_slider("input size", size, 3, 12), "kernel": int_slider("kernel", kernel, 1, 7),
                "stride": int_slider("stride", stride, 1, 4), "padding": int_slider("padding", padding, 0, 3),
                "position": int_slider("window", 0, 0, 1)}

    def update_positions(change: Any = None) -> None:
        padded = controls["size"].value + 2 * controls["padding"].value
        n_out = max((padded - controls["kernel"].value) // controls["stride"].value + 1, 1)
        controls["position"].max = n_out * n_out - 1

    update_positions()
    for name in ("size", "kernel", "stride", "padding"):
        controls[name].observe(update_positions, names="value")
    return slider_figure(draw_conv_window, controls, figsize=(9.0, 6.0))


# Hand-set 3 × 3 filters (weights as nested lists; rows are y, pointing down, columns x).
HAND_SET_FILTERS: dict[str, list[list[float]]] = {
    "∂/∂x (vertical edges)": [[-1 / 6, 0, 1 / 6]] * 3,
    "∂/∂y (horizontal edges)": [[-1 / 6] * 3, [0.0] * 3, [1 / 6] * 3],
    "diagonal edges": [[0, 1 / 4, 1 / 2], [-1 / 4, 0, 1 / 4], [-1 / 2, -1 / 4, 0]],
    "blur (3×3 mean)": [[1 / 9] * 3] * 3,
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
}


def filter_response(image: Any, kernel: Any) -> Any:
    """The feature map of one grey image under one filter, same size as the image (zero padding).

    image: (H, W); kernel: (kh, kw) with kh, kw odd (a host array, a nested list or a backend array).
    Returns a host array (H, W), computed with nnkit's ``conv2d_forward`` on the active backend.
    """
    from ..functional import conv2d_forward

    hx = backend.host_xp()
    image, kernel = backend.to_numpy(backend.asarray(image)), backend.to_numpy(backend.asarray(kernel))
    kh, kw = kernel.shape
    if kh != kw or kh % 2 == 0:
        raise ValueError(f"filter_response needs a square kernel of odd size, "
                         f"got shape {tuple(kernel.shape)}.")
    out, _ = conv2d_forward(backend.asarray(hx.reshape(image, (1, 1, *image.shape))),
                            backend.asarray(hx.reshape(kernel, (1, 1, kh, kw))), None, padding=kh // 2)
    return backend.to_numpy(out)[0, 0]


def draw_filter_response(ax: Any, image: Any, kernel: Any, relu: bool = False, title: str | None = None,
                         colorbar: bool = False) -> Any:
    """The feature map :func:`filter_response` of ``image`` under ``kernel`` (a name of
    :data:`HAND_SET_FILTERS` or a weight array); returns ax.

    Signed responses use the purple (negative) to orange (positive) map centred on 0; with
    ``relu`` the negative part is cut off (what a ReLU after the convolution keeps) and shown
    in viridis from 0.
    """
    from ..viz import FILTER_CMAP

    hx = backend.host_xp()
    name = kernel if isinstance(kernel, str) else None
    response = filter_response(image, HAND_SET_FILTERS[kernel] if name else kernel)
    if relu:
        response = hx.maximum(response, 0.0)
        shown = ax.imshow(response, cmap="viridis", vmin=0)
    else:
        limit = float(hx.max(hx.abs(response))) or 1.0
        shown = ax.imshow(response, cmap=FILTER_CMAP, vmin=-limit, vmax=limit)
    if colorbar:
        ax.figure.colorbar(shown, ax=ax, shrink=0.8)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title or f"{name or 'filter'}{' + ReLU' if relu else ''}", fontsize=10)
    return ax


def filter_explorer(images: dict[str, Any], kernel: str = "∂/∂x (vertical edges)", image: str | None = None,
                    relu: bool = False) -> ipywidgets.VBox:
    """Choose a grey image and a hand-set filter; see the kernel and the feature map (chapter 8).

    images: name -> (H, W) grey image. The filters are :data:`HAND_SET_FILTERS`; the figure shows
    the input, the kernel's weights and :func:`draw_filter_response`. Try: which filter lights up
    the left edge of a bright square, and with which sign? What does the ReLU keep of it? Which
    filter leaves the image unchanged, and which makes it blurrier?
    """
    controls = {
        "image": ipywidgets.Dropdown(options=list(images), value=image or next(iter(images)),
                                     description="image", layout=ipywidgets.Layout(width="240px")),
        "kernel": ipywidgets.Dropdown(options=list(HAND_SET_FILTERS), value=kernel, description="filter",
                                      layout=ipywidgets.Layout(width="300px")),
        "relu": ipywidgets.Checkbox(value=relu, description="ReLU after the filter", indent=False),
    }

    def draw(ax: Any, image: str, kernel: str, relu: bool) -> None:
        ax_in, ax_k, ax_out = ax.get_subplotspec().subgridspec(1, 3, width_ratios=(1, 0.45, 1)).subplots()
        ax.remove()
        ax_in.imshow(backend.to_numpy(backend.asarray(images[image])), cmap="gray")
        ax_in.set(xticks=[], yticks=[], title=f"input: {image}")
        ax_in.title.set_fontsize(10)
        draw_kernel(ax_k, HAND_SET_FILTERS[kernel]).set_title("kernel", fontsize=10)
        draw_filter_response(ax_out, images[image], kernel, relu=relu)

    return slider_figure(draw, controls, figsize=(9.5, 3.6))

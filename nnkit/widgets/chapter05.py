"""Chapter 5 (backpropagation): interactive demos and their static twins."""

from __future__ import annotations

import math
from typing import Any

import ipywidgets

from .. import backend
from .base import float_slider, slider_figure

__all__ = ["layer_gradient_norms", "draw_gradient_norms", "vanishing_gradients"]


# One colour and marker per activation in the chapter 5 figures (Okabe-Ito).
_ACTIVATION_STYLE = {"sigmoid": ("#D55E00", "o"), "tanh": ("#009E73", "s"), "relu": ("#0072B2", "^")}


def layer_gradient_norms(activation: str, depth: int = 10, width: int = 64, gain: float = 1.0,
                         n: int = 128, seed: int = 0) -> list[float]:
    """‖∂J/∂W‖ of each hidden layer of a freshly initialised deep MLP, input side first.

    The MLP has ``depth`` hidden layers of ``width`` units with ``activation`` ("sigmoid",
    "tanh" or "relu") and a linear output unit; J is the MSE against random targets on ``n``
    random inputs. Each layer gets the usual initialisation for its activation (Xavier for
    sigmoid and tanh, He for ReLU) times ``gain``, drawn from a generator of its own
    (``seed``), so calling this leaves nnkit's random stream untouched.
    """
    from ..layers import ACTIVATION_LAYERS, Linear
    from ..losses import MSELoss
    from ..module import Sequential

    generator = backend.rng(seed)

    def initial(fan_in: int, fan_out: int, shape: Any = None, dtype: str | None = None) -> Any:
        var = 2 / fan_in if activation == "relu" else 2 / (fan_in + fan_out)
        return backend.asarray(generator.standard_normal(shape or (fan_in, fan_out)) * gain * math.sqrt(var),
                               dtype=dtype)

    hidden = [Linear(width, width, init=initial) for _ in range(depth)]
    net = Sequential(*[m for layer in hidden for m in (layer, ACTIVATION_LAYERS[activation]())],
                     Linear(width, 1, init=initial))
    x = backend.asarray(generator.standard_normal((n, width)))
    target = backend.asarray(generator.standard_normal((n, 1)))
    loss = MSELoss()
    loss(net(x), target)
    net.backward(loss.backward())
    xp = backend.namespace(x)
    return [float(xp.sqrt(xp.sum(layer.W.grad * layer.W.grad))) for layer in hidden]


def draw_gradient_norms(ax: Any, depth: int = 10, gain: float = 1.0,
                        activations: tuple[str, ...] = ("sigmoid", "tanh", "relu")) -> Any:
    """Gradient norm per hidden layer (log scale) of deep MLPs with each activation; returns ax."""
    from matplotlib.ticker import MaxNLocator

    layers_axis = list(range(1, depth + 1))
    for name in activations:
        colour, marker = _ACTIVATION_STYLE.get(name, ("0.3", "o"))
        ax.semilogy(layers_axis, layer_gradient_norms(name, depth=depth, gain=gain), color=colour,
                    marker=marker, markersize=4, label=name)
    ax.set(xlabel="hidden layer (1 = next to the input)", ylabel="gradient norm ‖∂J/∂W‖ (log scale)",
           title=f"Gradient norm per layer at initialisation\n(depth {depth}, weight gain {gain:.2f})")
    ax.title.set_fontsize(10)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8)
    return ax


def vanishing_gradients(depth: int = 10, gain: float = 1.0) -> ipywidgets.VBox:
    """Sliders for the depth and the initial weight scale over :func:`draw_gradient_norms` (chapter 5).

    Try: deepen the net and watch the sigmoid line fall by a factor of about 5 per layer while
    tanh and ReLU stay level; raise the gain to 2 and ReLU's gradients explode (every layer
    doubles the signal), while larger weights only partly rescue the sigmoid.
    """
    controls = {"depth": ipywidgets.IntSlider(value=depth, min=2, max=30, description="depth",
                                              continuous_update=False,
                                              layout=ipywidgets.Layout(width="340px")),
                "gain": float_slider("weight gain", gain, 0.25, 3.0, step=0.25)}
    return slider_figure(lambda ax, depth, gain: draw_gradient_norms(ax, depth, gain), controls)

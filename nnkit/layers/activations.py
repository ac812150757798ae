"""Activation layers, made from the activation registry of :mod:`nnkit.functional`, and Softmax.

Each elementwise layer (ReLU, Sigmoid, ...) is an :class:`ActivationLayer` subclass whose
only content is the functional :class:`~nnkit.functional.Activation` it applies, so every
formula lives in one place. x, out, dout, dx: any shape, all alike.
"""

from __future__ import annotations

from inspect import signature
from typing import Any

from .. import functional as F
from ..module import Module

Array = Any

__all__ = [
    "ActivationLayer", "ACTIVATION_LAYERS", "Identity", "Step", "Sigmoid", "Tanh", "HardTanh",
    "Softsign", "ReLU", "LeakyReLU", "ELU", "Softplus", "GELU", "SiLU", "Gaussian", "Softmax", "LogSoftmax",
]


class ActivationLayer(Module):
    """A parameter-free layer applying ``fn`` elementwise; its arguments are fn's (e.g. alpha)."""

    fn: F.Activation

    def __init__(self, *args: float, **params: float) -> None:
        super().__init__()
        try:
            bound = signature(self.fn.f).bind(None, *args, **params)
        except TypeError as exc:
            raise TypeError(f"{type(self).__name__}: {exc}; its parameters (with defaults) are "
                            f"{self.fn.params or 'none'}.") from None
        bound.apply_defaults()
        self.params = dict(list(bound.arguments.items())[1:])

    def forward(self, x: Array) -> Array:
        self._check_input(x)
        out, self._cache = self.fn.forward(x, **self.params)
        return out

    def backward(self, dout: Array) -> Array:
        return self.fn.backward(dout, self._cache)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.params.items())


ACTIVATION_LAYERS: dict[str, type[ActivationLayer]] = {}


def _layer(name: str, fn: F.Activation) -> type[ActivationLayer]:
    """The ActivationLayer subclass called ``name`` that applies ``fn``, registered by fn's name."""
    summary = (fn.__doc__ or "").strip().splitlines()[0]
    cls = type(name, (ActivationLayer,), {"fn": fn, "__doc__": f"Layer form of ``{fn.name}``: {summary}"})
    ACTIVATION_LAYERS[fn.name] = cls
    return cls


Identity = _layer("Identity", F.identity)
Step = _layer("Step", F.step)
Sigmoid = _layer("Sigmoid", F.sigmoid)
Tanh = _layer("Tanh", F.tanh)
HardTanh = _layer("HardTanh", F.hard_tanh)
Softsign = _layer("Softsign", F.softsign)
ReLU = _layer("ReLU", F.relu)
LeakyReLU = _layer("LeakyReLU", F.leaky_relu)
ELU = _layer("ELU", F.elu)
Softplus = _layer("Softplus", F.softplus)
GELU = _layer("GELU", F.gelu)
SiLU = _layer("SiLU", F.silu)
Gaussian = _layer("Gaussian", F.gaussian)


class Softmax(Module):
    """Probabilities from logits along ``axis``, for reading a classifier's output.

    Train with :class:`~nnkit.losses.CrossEntropyLoss` on the logits instead: it includes
    the softmax and is stable. x, out: (N, K).
    """

    forward_fn, backward_fn = staticmethod(F.softmax_forward), staticmethod(F.softmax_backward)

    def __init__(self, axis: int = -1) -> None:
        super().__init__()
        self.axis = axis

    def forward(self, x: Array) -> Array:
        self._check_input(x)
        out, self._cache = self.forward_fn(x, self.axis)
        return out

    def backward(self, dout: Array) -> Array:
        return self.backward_fn(dout, self._cache)

    def extra_repr(self) -> str:
        return "" if self.axis == -1 else f"axis={self.axis}"


class LogSoftmax(Softmax):
    """Log-probabilities z − logsumexp(z) along ``axis``; followed by NLLLoss it is cross-entropy.

    x, out: (N, K).
    """

    forward_fn, backward_fn = staticmethod(F.log_softmax_forward), staticmethod(F.log_softmax_backward)

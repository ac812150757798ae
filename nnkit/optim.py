"""Optimisers, learning-rate schedules and gradient clipping.

An optimiser owns a list of :class:`~nnkit.module.Parameter` objects. After a backward
pass has filled every ``p.grad``, ``step()`` moves each ``p.data`` against its gradient
by the optimiser's rule, and ``zero_grad()`` clears the gradients for the next batch::

    optimizer = Adam(model.parameters(), lr=1e-3)
    for xb, yb in batches(X, y, batch_size=32):
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        model.backward(loss_fn.backward())
        optimizer.step()

Each rule is written as ``update(w, g, state) -> new w`` for one parameter, so that it
reads like its textbook formula; ``state`` is that parameter's own dict of running
averages, which start at zero. The learning rate ``lr`` is an attribute the schedules
change between epochs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from . import backend
from .module import Module, Parameter

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSProp", "Adam",
           "LRScheduler", "StepLR", "ExponentialLR", "CosineAnnealingLR", "clip_grad_norm"]


def _check_fraction(owner: str, name: str, value: float) -> None:
    """Raise unless 0 <= value < 1 (momentum, decay rates)."""
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{owner}: {name} must be in [0, 1), got {value!r}.")


class Optimizer:
    """The bookkeeping every optimiser shares: parameters, per-parameter state, step count.

    Subclasses implement ``update(w, g, state)`` for a single parameter.

    params: the parameters to train, e.g. ``model.parameters()``.
    lr:     the learning rate (step size), a positive number.
    """

    def __init__(self, params: Iterable[Parameter], lr: float) -> None:
        name = type(self).__name__
        if isinstance(params, Module):
            raise TypeError(f"{name} expects the model's parameters, not the model: "
                            f"write {name}(model.parameters(), lr=...).")
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{name} got an empty list of parameters: nothing to train. Did you "
                             "pass model.parameters() of a model whose layers have no weights?")
        for i, p in enumerate(self.params):
            if not isinstance(p, Parameter):
                raise TypeError(f"{name} expects Parameter objects (from model.parameters()), got "
                                f"{type(p).__name__} at position {i}.")
        if not (isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr)):
            raise ValueError(f"{name}: the learning rate lr must be a positive number, got {lr!r}.")
        self.lr = float(lr)
        self.state: list[dict[str, Any]] = [{} for _ in self.params]
        self.t = 0  # how many steps have been taken (Adam's bias correction needs it)

    def zero_grad(self) -> None:
        """Reset the gradient of every parameter to zero (call before each backward pass)."""
        for p in self.params:
            p.zero_grad()

    def step(self) -> None:
        """Update every parameter once, from the gradient in ``p.grad``."""
        self.t += 1
        for p, state in zip(self.params, self.state, strict=True):
            p.data = self.update(p.data, p.grad, state)

    def update(self, w: Any, g: Any, state: dict[str, Any]) -> Any:
        """The new value of one parameter ``w`` given its gradient ``g`` (both the same shape)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement update(w, g, state).")

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v}" for k, v in vars(self).items()
                             if k not in ("params", "state", "t"))
        return f"{type(self).__name__}({settings}; {len(self.params)} parameters)"


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum and L2 weight decay.

    Plain:     w ← w − lr · g
    Momentum:  v ← μ · v + g,   w ← w − lr · v          (v is a running sum of gradients)
    Nesterov:  v ← μ · v + g,   w ← w − lr · (g + μ · v) (look one step ahead)
    weight_decay λ adds λ · w to g first (the gradient of the penalty λ/2 · ‖w‖²).
    """

    def __init__(self, params: Iterable[Parameter], lr: float, momentum: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        _check_fraction("SGD", "momentum", momentum)
        if nesterov and momentum == 0:
            raise ValueError("SGD: nesterov=True needs a momentum > 0 (e.g. momentum=0.9).")
        if weight_decay < 0:
            raise ValueError(f"SGD: weight_decay must be >= 0, got {weight_decay!r}.")
        # Python floats: a NumPy scalar (from np.logspace, say) times a device array fails on strict backends
        self.momentum, self.nesterov, self.weight_decay = float(momentum), nesterov, float(weight_decay)

    def update(self, w: Any, g: Any, state: dict[str, Any]) -> Any:
        if self.weight_decay:
            g = g + self.weight_decay * w
        if self.momentum == 0:
            return w - self.lr * g
        v = state["v"] = self.momentum * state.get("v", 0.0) + g
        return w - self.lr * (g + self.momentum * v if self.nesterov else v)


class Adagrad(Optimizer):
    """Adagrad: each weight's step shrinks with the sum of its squared gradients so far.

    G ← G + g²,   w ← w − lr · g / (√G + ε)
    """

    def __init__(self, params: Iterable[Parameter], lr: float = 0.01, eps: float = 1e-8) -> None:
        super().__init__(params, lr)
        self.eps = float(eps)

    def update(self, w: Any, g: Any, state: dict[str, Any]) -> Any:
        xp = backend.namespace(w)
        G = state["G"] = state.get("G", 0.0) + g * g
        return w - self.lr * g / (xp.sqrt(G) + self.eps)


class RMSProp(Optimizer):
    """RMSProp: like Adagrad, but with a running *average* of squared gradients, so steps never stall.

    s ← ρ · s + (1 − ρ) · g²,   w ← w − lr · g / (√s + ε)
    """

    def __init__(self, params: Iterable[Parameter], lr: float = 0.001, rho: float = 0.9,
                 eps: float = 1e-8) -> None:
        super().__init__(params, lr)
        _check_fraction("RMSProp", "rho", rho)
        self.rho, self.eps = float(rho), float(eps)

    def update(self, w: Any, g: Any, state: dict[str, Any]) -> Any:
        xp = backend.namespace(w)
        s = state["s"] = self.rho * state.get("s", 0.0) + (1 - self.rho) * g * g
        return w - self.lr * g / (xp.sqrt(s) + self.eps)


class Adam(Optimizer):
    """Adam: momentum (a running mean m of g) scaled RMSProp-style (a running mean v of g²).

    m ← β₁ · m + (1 − β₁) · g,     m̂ = m / (1 − β₁ᵗ)      (bias correction: m and v start at 0)
    v ← β₂ · v + (1 − β₂) · g²,    v̂ = v / (1 − β₂ᵗ)
    w ← w − lr · m̂ / (√v̂ + ε)
    weight_decay λ adds λ · w to g first (L2, as torch.optim.Adam does; AdamW decouples it).
    """

    def __init__(self, params: Iterable[Parameter], lr: float = 0.001,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        _check_fraction("Adam", "betas[0]", betas[0])
        _check_fraction("Adam", "betas[1]", betas[1])
        if weight_decay < 0:
            raise ValueError(f"Adam: weight_decay must be >= 0, got {weight_decay!r}.")
        self.betas, self.eps = (float(betas[0]), float(betas[1])), float(eps)
        self.weight_decay = float(weight_decay)

    def update(self, w: Any, g: Any, state: dict[str, Any]) -> Any:
        xp = backend.namespace(w)
        b1, b2 = self.betas
        if self.weight_decay:
            g = g + self.weight_decay * w
        m = state["m"] = b1 * state.get("m", 0.0) + (1 - b1) * g
        v = state["v"] = b2 * state.get("v", 0.0) + (1 - b2) * g * g
        m_hat = m / (1 - b1 ** self.t)
        v_hat = v / (1 - b2 ** self.t)
        return w - self.lr * m_hat / (xp.sqrt(v_hat) + self.eps)


# ----------------------------------------------------------------------------- schedules

class LRScheduler:
    """Sets ``optimizer.lr`` from the epoch number; call ``step()`` once at the end of each epoch.

    Subclasses implement ``lr_at(epoch)``; ``base_lr`` is the optimiser's lr at construction.
    """

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__} expects an nnkit optimiser such as SGD or Adam, "
                            f"got {type(optimizer).__name__}.")
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.epoch = 0

    def lr_at(self, epoch: int) -> float:
        """The learning rate for epoch ``epoch`` (0 is the first)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement lr_at(epoch).")

    def step(self) -> None:
        """Move to the next epoch and set the optimiser's learning rate for it."""
        self.epoch += 1
        self.optimizer.lr = self.lr_at(self.epoch)

    def get_lr(self) -> float:
        """The learning rate the optimiser uses now."""
        return self.optimizer.lr


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs: lr₀ · γ^⌊epoch / step_size⌋."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        super().__init__(optimizer)
        name = type(self).__name__
        if not (isinstance(step_size, int) and step_size >= 1):
            raise ValueError(f"{name}: step_size must be a whole number of epochs >= 1, got {step_size!r}.")
        if not gamma > 0:
            raise ValueError(f"{name}: gamma must be positive, got {gamma!r}.")
        self.step_size, self.gamma = step_size, gamma

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class ExponentialLR(StepLR):
    """Multiply the learning rate by ``gamma`` every epoch: lr₀ · γ^epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float) -> None:
        super().__init__(optimizer, step_size=1, gamma=gamma)


class CosineAnnealingLR(LRScheduler):
    """Glide from lr₀ down to ``eta_min`` along half a cosine over ``T_max`` epochs, then stay there.

    lr = eta_min + (lr₀ − eta_min) · (1 + cos(π · min(epoch, T_max) / T_max)) / 2
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0) -> None:
        super().__init__(optimizer)
        if not (isinstance(T_max, int) and T_max >= 1):
            raise ValueError(f"CosineAnnealingLR: T_max must be a whole number of epochs >= 1, "
                             f"got {T_max!r}.")
        if not 0 <= eta_min <= self.base_lr:
            raise ValueError(f"CosineAnnealingLR: eta_min must be between 0 and the optimiser's lr "
                             f"({self.base_lr}), got {eta_min!r}.")
        self.T_max, self.eta_min = T_max, eta_min

    def lr_at(self, epoch: int) -> float:
        progress = min(epoch, self.T_max) / self.T_max
        return self.eta_min + (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * progress)) / 2


# ----------------------------------------------------------------------------- clipping

def clip_grad_norm(parameters: Iterable[Parameter], max_norm: float) -> float:
    """Scale all gradients together so that their global L2 norm is at most ``max_norm``.

    The norm is taken over every gradient entry of every parameter, as if they were one
    long vector; when it exceeds ``max_norm`` each ``p.grad`` is multiplied by
    max_norm / norm, which keeps the direction of the step and caps its length (the
    standard cure for exploding gradients in recurrent networks).

    Returns the norm *before* clipping (a float), handy for plotting how often it fires.
    The squares are summed on the device and read back once, one wait per call on a GPU.
    """
    if not max_norm > 0:
        raise ValueError(f"clip_grad_norm: max_norm must be positive, got {max_norm!r}.")
    params = list(parameters)
    squares = sum(backend.namespace(p.grad).sum(p.grad * p.grad) for p in params)
    total = math.sqrt(float(squares))
    if total > max_norm:
        scale = max_norm / (total + 1e-6)
        for p in params:
            p.grad = p.grad * scale
    return total

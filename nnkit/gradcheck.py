"""Gradient checking: compare a backward pass with central finite differences.

For every entry θᵢ of a tensor, the numeric gradient is

    ∂f/∂θᵢ ≈ (f(θ + h·eᵢ) − f(θ − h·eᵢ)) / 2h,

and each tensor is scored by the relative error ‖a − n‖ / max(‖a‖, ‖n‖, tiny) between
its analytic (a) and numeric (n) gradients, ‖·‖ the Euclidean norm over all entries.
In float64 a correct backward pass scores about 1e-8 or less; 1e-6 or more means a bug
(a missing factor or transpose scores near 1). float32 is refused: its rounding noise
alone would swamp the differences.

Why norms and not the worst single entry: an entry whose true gradient happens to be
tiny (terms cancelling) carries rounding noise as large as itself, so entry by entry a
correct network can score 1e-4 (2 of 180 random small MLPs did); against the size of
the whole tensor that noise is ~1e-10, while a real bug still scores far above 1e-6.

Three ways to call it:

>>> gradcheck(model, x)               # every parameter and x, for f = Σ model(x) ⊙ R, R fixed random
>>> gradcheck(loss_fn, pred, target)  # d(loss)/d(pred) from loss_fn.backward()
>>> gradcheck(f, x, grad=g)           # any f(x) -> float, with g its analytic gradient at x

Entries are perturbed on a host copy that is moved back with ``backend.asarray``, so it
works on every backend (the array API has no item assignment on device arrays). A module
sees the same random numbers in every forward pass, so dropout masks stay put.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import backend
from .losses import Loss
from .module import Module

Array = Any
# (name, value, analytic gradient, f evaluated with the tensor replaced by its argument)
Check = tuple[str, Array, Array, Callable[[Array], float]]

__all__ = ["gradcheck", "GradcheckReport"]


@dataclass(repr=False)
class GradcheckReport:
    """The outcome of :func:`gradcheck`: one row (name, shape, relative error) per tensor."""

    rows: list[tuple[str, tuple[int, ...], float]]
    tol: float

    @property
    def passed(self) -> bool:
        """True when every tensor's relative error is below tol."""
        return all(err < self.tol for _, _, err in self.rows)

    @property
    def errors(self) -> dict[str, float]:
        """Relative error per tensor name."""
        return {name: err for name, _, err in self.rows}

    def __str__(self) -> str:
        width = max(len("tensor"), *(len(name) for name, _, _ in self.rows))
        lines = [f"{'tensor':<{width}}  {'shape':<14}  {'rel. error':>10}"]
        for name, shape, err in self.rows:
            verdict = "ok" if err < self.tol else "FAIL"
            lines.append(f"{name:<{width}}  {str(shape):<14}  {err:10.1e}  {verdict}")
        lines.append(f"gradcheck {'passed' if self.passed else 'FAILED'}: "
                     f"every error must be below {self.tol:.0e}")
        return "\n".join(lines)

    __repr__ = __str__


def gradcheck(target: Module | Loss | Callable[[Array], float], *inputs: Array, grad: Array | None = None,
              h: float = 1e-5, tol: float = 1e-6, tiny: float = 1e-12, seed: int = 0,
              verbose: bool = False) -> GradcheckReport:
    """Check analytic gradients against central differences; returns a :class:`GradcheckReport`.

    target: a Module (inputs: x), a Loss (inputs: pred, target) or a function f(x) -> float
            (inputs: x, and ``grad``: its analytic gradient at x, shape of x).
    h:      the finite-difference step. tol: the pass mark for each tensor's relative error.
    tiny:   floor of the denominator, so a tensor whose gradients are both ~0 compares absolutely.
    seed:   seeds R, the fixed random weights of a module's outputs.
    verbose: print the report too.
    Leaves parameters, their gradients and nnkit's random generator as it found them.
    """
    if isinstance(target, Module):
        rows = _check_module(target, *inputs, h=h, tiny=tiny, seed=seed)
    elif isinstance(target, Loss):
        pred, labels = inputs
        _require_float64("pred", pred)
        target(pred, labels)
        rows = _score([("pred", pred, target.backward(), lambda v: target(v, labels))], h, tiny)
    elif callable(target):
        if grad is None:
            raise TypeError("gradcheck(f, x, grad=g) needs g, the analytic gradient of f at x.")
        (x,) = inputs
        _require_float64("x", x)
        rows = _score([("x", x, grad, target)], h, tiny)
    else:
        raise TypeError(f"gradcheck checks a Module, a Loss or a function, got {type(target).__name__}.")
    report = GradcheckReport(rows, tol)
    if verbose:
        print(report)
    return report


def _check_module(module: Module, x: Array, *, h: float, tiny: float,
                  seed: int) -> list[tuple[str, tuple[int, ...], float]]:
    """Rows for x and every parameter of f(x) = Σ module(x) ⊙ R."""
    _require_float64("x", x)
    named = list(module.named_parameters())
    for name, p in named:
        _require_float64(name, p.data)
    generator = backend.rng()
    state = generator.bit_generator.state
    saved = [(p.data, p.grad) for _, p in named]

    def f(x_: Array) -> float:
        generator.bit_generator.state = state  # replay the same random draws (dropout masks)
        out = module(x_)
        return float(backend.namespace(out).sum(out * R))

    def with_param(p: Any, data: Any) -> Callable[[Array], float]:
        def g(value: Array) -> float:
            p.data = value
            try:
                return f(x)
            finally:
                p.data = data
        return g

    out = module(x)
    R = backend.asarray(backend.rng(seed).standard_normal(tuple(out.shape)), dtype="float64")
    module.zero_grad()
    dx = module.backward(R)
    checks: list[Check] = [("x", x, dx, f)]
    checks += [(name, p.data, p.grad, with_param(p, p.data)) for name, p in named]
    try:
        return _score(checks, h, tiny)
    finally:
        for (_, p), (data, grad) in zip(named, saved, strict=True):
            p.data, p.grad = data, grad
        generator.bit_generator.state = state


def _score(checks: list[Check], h: float, tiny: float) -> list[tuple[str, tuple[int, ...], float]]:
    """(name, shape, relative error) for each check."""
    rows = []
    for name, value, analytic, f in checks:
        numeric = backend.asarray(_numeric_grad(f, value, h), dtype="float64")
        analytic = backend.asarray(analytic, dtype="float64")
        scale = max(_norm(analytic), _norm(numeric), tiny)
        rows.append((name, tuple(value.shape), _norm(analytic - numeric) / scale))
    return rows


def _norm(a: Array) -> float:
    """The Euclidean norm of all entries of a."""
    return math.sqrt(float(backend.namespace(a).sum(a * a)))


def _numeric_grad(f: Callable[[Array], float], value: Array, h: float) -> Any:
    """Central differences of f at ``value``, one entry at a time, on a host copy (a NumPy array)."""
    host = backend.to_numpy(value).copy()
    flat = host.reshape(-1)  # a view: writing flat[i] perturbs host
    grad = host.copy()
    grad_flat = grad.reshape(-1)
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + h
        plus = f(backend.asarray(host, dtype="float64"))
        flat[i] = original - h
        minus = f(backend.asarray(host, dtype="float64"))
        flat[i] = original
        grad_flat[i] = (plus - minus) / (2 * h)
    return grad


def _require_float64(name: str, a: Array) -> None:
    if not backend.is_array(a):
        raise TypeError(f"gradcheck: {name} must be an array, got {type(a).__name__}.")
    if backend.dtype_name(a.dtype) != "float64":
        raise TypeError(f"gradcheck needs float64, but {name} is {backend.dtype_name(a.dtype)}: in float32 "
                        "the rounding noise of finite differences swamps the gradient. Build the "
                        "model and data inside `with nnkit.use_dtype('float64'):`.")

"""Parameters, modules and Sequential: the registry every layer builds on.

A :class:`Module` computes ``forward(x)`` and, given the gradient of the loss with
respect to its output, ``backward(dout)`` returns the gradient with respect to its
input and *adds* the gradients of its own parameters into ``param.grad``. Assigning a
:class:`Parameter` or a :class:`Module` to an attribute registers it, so
``parameters()``, ``state_dict()`` and the ``repr`` find it with no bookkeeping.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from . import backend


class Parameter:
    """A trainable array and the gradient accumulated for it.

    data: the values, any shape, on the active backend.
    grad: d(loss)/d(data), same shape as data; zeros until a backward pass adds to it.
    """

    def __init__(self, data: Any) -> None:
        if not backend.is_array(data):
            data = backend.asarray(data)
        self.data = data
        self.grad = backend.namespace(data).zeros_like(data)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def dtype(self) -> Any:
        return self.data.dtype

    def zero_grad(self) -> None:
        """Reset the accumulated gradient to zero."""
        self.grad = backend.namespace(self.data).zeros_like(self.data)

    def __repr__(self) -> str:
        return f"Parameter(shape={self.shape}, dtype={self.dtype})"


class Module:
    """Base class of every layer, loss-free network block and container.

    Subclasses implement ``forward(x)`` (keeping what backward needs) and
    ``backward(dout) -> dx``. ``m(x)`` is ``m.forward(x)``.
    """

    training: bool = True

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # -------------------------------------------------------------- registry
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}.__init__ must call super().__init__() "
                               "before assigning attributes.")
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """(flat name, parameter) pairs, e.g. ("0.W", ...), in registration order."""
        for name, p in self._parameters.items():
            yield prefix + name, p
        for name, m in self._modules.items():
            yield from m.named_parameters(prefix + name + ".")

    def parameters(self) -> list[Parameter]:
        """Every trainable parameter of this module and its children."""
        return [p for _, p in self.named_parameters()]

    def children(self) -> Iterator[Module]:
        yield from self._modules.values()

    def num_parameters(self) -> int:
        """How many scalar weights the module trains."""
        return sum(p.size for p in self.parameters())

    # -------------------------------------------------------------- computing
    def forward(self, x: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not implement forward(x).")

    def backward(self, dout: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not implement backward(dout).")

    def __call__(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        return self.forward(x, *args, **kwargs)

    def zero_grad(self) -> None:
        """Reset every parameter's gradient to zero."""
        for p in self.parameters():
            p.zero_grad()

    def train(self, mode: bool = True) -> Module:
        """Switch to training behaviour (e.g. dropout active); returns self."""
        object.__setattr__(self, "training", mode)
        for m in self.children():
            m.train(mode)
        return self

    def eval(self) -> Module:
        """Switch to evaluation behaviour (e.g. dropout off); returns self."""
        return self.train(False)

    # -------------------------------------------------------------- saving
    def state_dict(self) -> dict[str, Any]:
        """A dict of host (NumPy) copies of every parameter, keyed by flat names like "0.W"."""
        return {name: backend.to_numpy(p.data).copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Copy values from ``state`` (as made by state_dict) into the parameters, in place."""
        own = dict(self.named_parameters())
        missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
        if missing or unexpected:
            raise KeyError(f"{type(self).__name__}.load_state_dict: missing keys {missing}, "
                           f"unexpected keys {unexpected}.")
        for name, p in own.items():
            value = backend.to_numpy(state[name])
            if tuple(value.shape) != p.shape:
                raise ValueError(f"{type(self).__name__}.load_state_dict: {name!r} has shape "
                                 f"{p.shape} in the model but {tuple(value.shape)} in the state.")
            p.data = backend.asarray(value.copy(), dtype=backend.dtype_name(p.dtype))  # never alias the state
            p.zero_grad()

    # -------------------------------------------------------------- printing
    def extra_repr(self) -> str:
        """What goes between the parentheses of this module's repr (override in layers)."""
        return ""

    def __repr__(self) -> str:
        head = f"{type(self).__name__}({self.extra_repr()})"
        if self._parameters:
            shapes = ", ".join(f"{n} {p.shape}" for n, p in self._parameters.items())
            head += f"  [{shapes}; {sum(p.size for p in self._parameters.values()):,} parameters]"
        if not self._modules:
            return head
        lines = [f"{type(self).__name__}("]
        for name, m in self._modules.items():
            child = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child}")
        lines.append(f")  total {self.num_parameters():,} parameters")
        return "\n".join(lines)

    # -------------------------------------------------------------- input checks
    def _layer_name(self) -> str:
        """How error messages name this layer: its repr's first part, e.g. "Linear(in_features=2, ...)"."""
        return f"{type(self).__name__}({self.extra_repr()})"

    def _check_input(self, x: Any, *, ndim: int | tuple[int, ...] | None = None,
                     last_dim: int | None = None, last_name: str = "features",
                     expected: str = "") -> Any:
        """Raise a student-friendly error unless ``x`` suits this layer; returns its namespace.

        ndim:     allowed number of dimensions (an int, a tuple, or a minimum as -n for "at least n").
        last_dim: the required size of the last axis (e.g. in_features).
        expected: a shape description such as "(N, in_features)" used in messages.
        """
        if not backend.is_array(x):
            raise TypeError(f"{self._layer_name()} expects an array"
                            f"{' of shape ' + expected if expected else ''}, got {type(x).__name__}. "
                            "Wrap data with nnkit.asarray(...).")
        first = next(self.named_parameters(), None)
        if first is not None:
            reference = first[1].data
            if type(x) is not type(reference):
                raise backend.BackendError(
                    f"{self._layer_name()} got a {type(x).__module__}.{type(x).__name__} but its "
                    f"parameters are {type(reference).__module__}.{type(reference).__name__} arrays (backend "
                    f"'{backend.get_backend().name}'). Move the input first: x = nnkit.asarray(x).")
            if x.dtype != reference.dtype:
                raise TypeError(f"{self._layer_name()} got input of dtype {x.dtype} but its parameters "
                                f"are {reference.dtype}; nnkit never mixes them silently. Convert the input "
                                f"with nnkit.asarray(x, dtype='{backend.dtype_name(reference.dtype)}').")
        shape = tuple(x.shape)
        if ndim is not None:
            ok = (len(shape) >= -ndim) if isinstance(ndim, int) and ndim < 0 else (
                len(shape) in ndim if isinstance(ndim, tuple) else len(shape) == ndim)
            if not ok:
                raise ValueError(f"{self._layer_name()} expects input of shape {expected or ndim}, got an "
                                 f"array with {len(shape)} dimension(s), shape {shape}.")
        if last_dim is not None and (not shape or shape[-1] != last_dim):
            raise ValueError(f"{self._layer_name()} expects {last_dim} {last_name} in the last axis "
                             f"(shape {expected}), got shape {shape}. Check the previous layer's "
                             f"output size or the data's number of columns.")
        return backend.namespace(x)


class Sequential(Module):
    """Layers applied one after another; backward walks them in reverse.

    Children are registered under "0", "1", ... so state_dict keys read "0.W", "2.b".
    """

    def __init__(self, *layers: Module) -> None:
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential expects Module instances, got {type(layer).__name__} "
                                f"at position {i}.")
            setattr(self, str(i), layer)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, i: int) -> Module:
        return list(self._modules.values())[i]

    def forward(self, x: Any) -> Any:
        for layer in self:
            x = layer(x)
        return x

    def backward(self, dout: Any) -> Any:
        if not backend.is_array(dout) or len(dout.shape) == 0:
            raise TypeError(
                f"Sequential.backward expects d(loss)/d(output), an array shaped like the model's output "
                f"(e.g. (N, K)), got {type(dout).__name__} {dout!r}: that looks like the loss value itself. "
                "Pass the loss's gradient instead: model.backward(loss_fn.backward()).")
        for layer in reversed(list(self)):
            dout = layer.backward(dout)
        return dout

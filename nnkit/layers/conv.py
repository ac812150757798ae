"""Convolution, pooling and flattening layers for images (N, C, H, W)."""

from __future__ import annotations

import math
from typing import Any

from .. import backend
from .. import functional as F
from .. import init as initializers
from ..module import Module, Parameter

Array = Any

__all__ = ["Conv2D", "MaxPool2D", "AvgPool2D", "Flatten"]


def _check_images(layer: Module, x: Array, channels: int | None = None) -> None:
    """Raise a student-friendly error unless x is a batch of images (N, C, H, W) with C = channels."""
    expected = f"(N, {channels if channels is not None else 'C'}, H, W)"
    layer._check_input(x, ndim=4, expected=expected)
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{layer._layer_name()} expects {channels} input channel(s), shape {expected}, "
                         f"got shape {tuple(x.shape)}. Check in_channels against the previous layer's "
                         f"out_channels (or the image's colour channels).")


def _check_fits(layer: Module, x: Array, kernel: tuple[int, int], stride: tuple[int, int],
                padding: int) -> None:
    """Raise unless the kernel fits the (padded) image, naming the axis.

    A stride that does not tile the image is accepted: the last rows or columns no window
    reaches are dropped, as in PyTorch (``F.explain_output_size`` says how many).
    """
    for axis, size, k, s in (("height", x.shape[2], kernel[0], stride[0]),
                             ("width", x.shape[3], kernel[1], stride[1])):
        try:
            F.conv_output_size(size, k, s, padding)
        except ValueError as exc:
            raise ValueError(f"{layer._layer_name()} cannot slide over input of shape {tuple(x.shape)} "
                             f"along its {axis}. {exc}") from None


def _pair(value: int | tuple[int, int]) -> tuple[int, int]:
    """An int n as (n, n); a pair (along the height, along the width) as it is."""
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _short(pair: tuple[int, int]) -> int | tuple[int, int]:
    """(n, n) as n for a repr, like the constructor call that made it."""
    return pair[0] if pair[0] == pair[1] else pair


class Conv2D(Module):
    """2-D convolution: F filters of size C × kh × kw slide over the image.

    x:   (N, in_channels, H, W)
    out: (N, out_channels, OH, OW), OH = ⌊(H + 2·padding − kh) / sh⌋ + 1 (likewise OW); a
         stride that does not tile the image drops the last rows/columns, as in PyTorch
    W:   (out_channels, in_channels, kh, kw), drawn by ``init`` (default He normal with
         fan_in = in_channels·kh·kw, suited to ReLU)
    b:   (out_channels,), zeros; ``bias=False`` leaves it out (``self.b`` is None).
    kernel_size: an int for a square kernel, or (kh, kw); stride: an int, or (sh, sw).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int = 0, bias: bool = True,
                 init: str | initializers.Initializer = "he_normal", dtype: str | None = None) -> None:
        super().__init__()
        kh, kw = _pair(kernel_size)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = (kh, kw), _pair(stride), padding
        self.W = Parameter(initializers.get(init)(in_channels * kh * kw, out_channels * kh * kw,
                                                  shape=(out_channels, in_channels, kh, kw), dtype=dtype))
        self.b = Parameter(initializers.zeros(in_channels, out_channels, shape=(out_channels,),
                                              dtype=dtype)) if bias else None

    def forward(self, x: Array) -> Array:
        _check_images(self, x, self.in_channels)
        _check_fits(self, x, self.kernel_size, self.stride, self.padding)
        out, self._cache = F.conv2d_forward(x, self.W.data, None if self.b is None else self.b.data,
                                            self.stride, self.padding)
        return out

    def backward(self, dout: Array) -> Array:
        dx, dW, db = F.conv2d_backward(dout, self._cache)
        self.W.grad = self.W.grad + dW
        if self.b is not None:
            self.b.grad = self.b.grad + db
        return dx

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={_short(self.kernel_size)}"
                + (f", stride={_short(self.stride)}" if self.stride != (1, 1) else "")
                + (f", padding={self.padding}" if self.padding else "")
                + ("" if self.b is not None else ", bias=False"))


class _Pool2D(Module):
    """Shared body of the pooling layers: a kh × kw window moved by stride (sh, sw).

    kernel_size and stride: an int (the same along both axes) or a pair (along H, along W);
    stride defaults to kernel_size. A stride that does not tile the image drops the last
    rows/columns no window reaches, as in PyTorch.
    """

    forward_fn: Any
    backward_fn: Any

    def __init__(self, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] | None = None) -> None:
        super().__init__()
        self.kernel_size = _pair(kernel_size)
        self.stride = self.kernel_size if stride is None else _pair(stride)

    def forward(self, x: Array) -> Array:
        _check_images(self, x)
        _check_fits(self, x, self.kernel_size, self.stride, 0)
        out, self._cache = self.forward_fn(x, self.kernel_size, self.stride)
        return out

    def backward(self, dout: Array) -> Array:
        return self.backward_fn(dout, self._cache)

    def extra_repr(self) -> str:
        return f"kernel_size={_short(self.kernel_size)}" + (f", stride={_short(self.stride)}"
                                                            if self.stride != self.kernel_size else "")


class MaxPool2D(_Pool2D):
    """Max over each window, channel by channel. x: (N, C, H, W) → (N, C, OH, OW).

    stride defaults to kernel_size (non-overlapping windows): MaxPool2D(2) halves H and W.
    """

    forward_fn, backward_fn = staticmethod(F.maxpool2d_forward), staticmethod(F.maxpool2d_backward)


class AvgPool2D(_Pool2D):
    """Mean over each window, channel by channel. x: (N, C, H, W) → (N, C, OH, OW).

    stride defaults to kernel_size (non-overlapping windows).
    """

    forward_fn, backward_fn = staticmethod(F.avgpool2d_forward), staticmethod(F.avgpool2d_backward)


class Flatten(Module):
    """Flatten everything but the batch axis: (N, C, H, W) (or any (N, ...)) → (N, C·H·W)."""

    def forward(self, x: Array) -> Array:
        xp = self._check_input(x, ndim=-2, expected="(N, ...)")
        self._shape = tuple(x.shape)
        return xp.reshape(x, (x.shape[0], math.prod(x.shape[1:])))

    def backward(self, dout: Array) -> Array:
        return backend.namespace(dout).reshape(dout, self._shape)

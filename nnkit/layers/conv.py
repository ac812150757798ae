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


def _check_fits(layer: Module, x: Array, kernel: tuple[int, int], stride: int, padding: int) -> None:
    """Raise unless the kernel fits the (padded) image and the stride tiles it, naming the axis."""
    for axis, size, k in (("height", x.shape[2], kernel[0]), ("width", x.shape[3], kernel[1])):
        try:
            F.conv_output_size(size, k, stride, padding)
        except ValueError as exc:
            raise ValueError(f"{layer._layer_name()} cannot slide over input of shape {tuple(x.shape)} "
                             f"along its {axis}. {exc}") from None


class Conv2D(Module):
    """2-D convolution: F filters of size C × kh × kw slide over the image.

    x:   (N, in_channels, H, W)
    out: (N, out_channels, OH, OW), OH = (H + 2·padding − kh) / stride + 1 (likewise OW)
    W:   (out_channels, in_channels, kh, kw), drawn by ``init`` (default He normal with
         fan_in = in_channels·kh·kw, suited to ReLU)
    b:   (out_channels,), zeros; ``bias=False`` leaves it out (``self.b`` is None).
    kernel_size: an int for a square kernel, or (kh, kw).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int = 1, padding: int = 0, bias: bool = True,
                 init: str | initializers.Initializer = "he_normal", dtype: str | None = None) -> None:
        super().__init__()
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = (kh, kw), stride, padding
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
        kh, kw = self.kernel_size
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={kh if kh == kw else (kh, kw)}"
                + (f", stride={self.stride}" if self.stride != 1 else "")
                + (f", padding={self.padding}" if self.padding else "")
                + ("" if self.b is not None else ", bias=False"))


class _Pool2D(Module):
    """Shared body of the pooling layers: a kernel_size × kernel_size window moved by stride."""

    forward_fn: Any
    backward_fn: Any

    def __init__(self, kernel_size: int, stride: int | None = None) -> None:
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride or kernel_size

    def forward(self, x: Array) -> Array:
        _check_images(self, x)
        _check_fits(self, x, (self.kernel_size, self.kernel_size), self.stride, 0)
        out, self._cache = self.forward_fn(x, self.kernel_size, self.stride)
        return out

    def backward(self, dout: Array) -> Array:
        return self.backward_fn(dout, self._cache)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}" + (f", stride={self.stride}"
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

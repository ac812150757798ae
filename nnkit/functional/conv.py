"""Convolution and pooling: forward/backward pairs, fast (im2col) and naive (loops) side by side.

Shapes, batch first as everywhere in nnkit:

    x    (N, C, H, W)      N images with C channels of H × W pixels
    W    (F, C, kh, kw)    F filters, each spanning all C channels
    b    (F,)              one bias per filter
    out  (N, F, OH, OW)    OH = (H + 2·padding − kh) / stride + 1, likewise OW

The naive functions are the definitions written as loops, one output number at a
time; they are slow and serve as teaching text and as the oracle the fast ones are
tested against. The fast functions do the same arithmetic with a few large array
operations, written only with array-API functions (no pad, einsum or add.at), so they
run unchanged on NumPy, CuPy and array-api-strict:

* im2col copies, for each of the kh·kw kernel offsets, one strided slice of the
  padded input into a buffer ``cols`` of shape (n, C·kh·kw, OH·OW). Then the
  convolution is one broadcast matrix product ``W_flat @ cols`` with
  W_flat (F, C·kh·kw), which lands directly in (n, F, OH·OW): NCHW with no transpose.
* col2im, its adjoint, adds the same kh·kw slices back into a zero image.
* pooling takes the max (or mean) over the same strided slices.

``cols`` holds every pixel kh·kw times, so it is built for a few images n at a time
(about 1 MB in float32) and rebuilt in the backward pass rather than kept. Small
buffers stay in the CPU's caches and are recycled by the memory allocator; one buffer
for the whole batch was often handed back to the operating system and page-faulted
in afresh on every call (measured up to 1.7× slower), and it is kh·kw times the size
of the input.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import reduce
from itertools import product
from typing import Any

from array_api_compat import device

from .. import backend

__all__ = [
    "conv_output_size", "explain_output_size",
    "conv2d_forward", "conv2d_backward", "conv2d_naive_forward", "conv2d_naive_backward",
    "maxpool2d_forward", "maxpool2d_backward", "maxpool2d_naive_forward", "maxpool2d_naive_backward",
    "avgpool2d_forward", "avgpool2d_backward", "avgpool2d_naive_forward", "avgpool2d_naive_backward",
]


# ----------------------------------------------------------------------------- output size

def explain_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> str:
    """The output-size arithmetic of a convolution or pooling along one axis, in words."""
    padded = size + 2 * padding
    text = (f"An input of {size} pixels with padding {padding} on each side is {padded} pixels wide"
            if padding else f"An input of {size} pixels (no padding)")
    if kernel > padded:
        return (f"{text}: a kernel of {kernel} pixels does not fit in it. Use a smaller kernel, "
                f"more padding, or a larger input.")
    free, rest = divmod(padded - kernel, stride)
    text += (f". A kernel of {kernel} pixels placed at the left edge leaves {padded - kernel} pixels "
             f"to slide over in steps of {stride}")
    if rest:
        fixes = [f"padding {padding + extra}" for extra in range(1, stride + 1)
                 if (padded - kernel + 2 * extra) % stride == 0][:1]
        fixes += ["stride 1", f"cropping {rest} pixel(s) off the input"]
        return (f"{text}: {padded - kernel} / {stride} = {free} steps with {rest} pixel(s) left over, so "
                f"the stride does not tile the input. Choose sizes so that size + 2·padding − kernel "
                f"is a multiple of the stride, e.g. {' or '.join(fixes)}.")
    return (f"{text}: {padded - kernel} / {stride} = {free} steps, plus the starting position, gives "
            f"(size + 2·padding − kernel) / stride + 1 = ({size} + {2 * padding} − {kernel}) / {stride} + 1 "
            f"= {free + 1} outputs.")


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Output length (size + 2·padding − kernel) / stride + 1 along one axis.

    Raises ValueError, with the arithmetic spelled out, when the kernel does not fit in
    the padded input or the stride does not tile it exactly (nnkit never drops pixels silently).
    """
    if stride < 1 or padding < 0 or kernel < 1:
        raise ValueError(f"Need kernel ≥ 1, stride ≥ 1 and padding ≥ 0; got kernel={kernel}, "
                         f"stride={stride}, padding={padding}.")
    padded = size + 2 * padding
    if kernel > padded or (padded - kernel) % stride:
        raise ValueError(explain_output_size(size, kernel, stride, padding))
    return (padded - kernel) // stride + 1


# ----------------------------------------------------------------------------- shared pieces

def _offsets(kh: int, kw: int, stride: int, OH: int, OW: int) -> Iterator[tuple[int, int, slice, slice]]:
    """For each kernel offset (i, j), the rows and columns of the input it meets in every window.

    The window at output position (p, q) covers input pixel (p·stride + i, q·stride + j),
    so offset (i, j) meets rows i, i + stride, ..., one per output row: a strided slice.
    """
    for i in range(kh):
        for j in range(kw):
            yield (i, j, slice(i, i + stride * (OH - 1) + 1, stride),
                   slice(j, j + stride * (OW - 1) + 1, stride))


def _window(p: int, q: int, kh: int, kw: int, stride: int) -> tuple[slice, slice]:
    """The rows and columns of the (padded) input that output position (p, q) looks at."""
    return slice(p * stride, p * stride + kh), slice(q * stride, q * stride + kw)


def _pad(x: Any, padding: int) -> Any:
    """x (N, C, H, W) → (N, C, H + 2·padding, W + 2·padding), zeros around (the array API has no pad)."""
    if padding == 0:
        return x
    xp = backend.namespace(x)
    N, C, H, W = x.shape
    out = xp.zeros((N, C, H + 2 * padding, W + 2 * padding), dtype=x.dtype, device=device(x))
    out[:, :, padding:padding + H, padding:padding + W] = x
    return out


def _unpad(x: Any, padding: int) -> Any:
    """The inverse crop of :func:`_pad`: (N, C, H + 2·padding, W + 2·padding) → (N, C, H, W)."""
    if padding == 0:
        return x
    return x[:, :, padding:-padding, padding:-padding]


def _conv_sizes(x: Any, W: Any, stride: int, padding: int) -> tuple[int, int]:
    """(OH, OW) of a convolution of x (N, C, H, W) with W (F, C, kh, kw)."""
    return (conv_output_size(x.shape[2], W.shape[2], stride, padding),
            conv_output_size(x.shape[3], W.shape[3], stride, padding))


def _pool_geometry(x: Any, kernel_size: int, stride: int | None) -> tuple[int, int, int]:
    """(stride, OH, OW) of a square pooling of x (N, C, H, W); stride defaults to kernel_size."""
    stride = stride or kernel_size
    return (stride, conv_output_size(x.shape[2], kernel_size, stride),
            conv_output_size(x.shape[3], kernel_size, stride))


def _pool_offsets(kernel_size: int, stride: int, OH: int, OW: int) -> Iterator[tuple[slice, slice]]:
    """(rows, columns) of the input met by each offset of a square pooling window; see :func:`_offsets`."""
    for _, _, rows, columns in _offsets(kernel_size, kernel_size, stride, OH, OW):
        yield rows, columns


# ----------------------------------------------------------------------------- convolution, fast

_CHUNK_ELEMENTS = 2**18   # how many numbers an im2col buffer may hold (1 MB in float32)


def _chunks(N: int, per_image: int) -> Iterator[slice]:
    """Slices of the batch axis, each a few images whose im2col buffer holds ≤ _CHUNK_ELEMENTS numbers."""
    step = max(1, _CHUNK_ELEMENTS // per_image)
    for start in range(0, N, step):
        yield slice(start, min(start + step, N))


def _im2col(xpad: Any, kh: int, kw: int, stride: int, OH: int, OW: int) -> Any:
    """Every receptive field as a column: xpad (n, C, Hp, Wp) → cols (n, C·kh·kw, OH·OW).

    cols[m, (c, i, j), (p, q)] = xpad[m, c, p·stride + i, q·stride + j]; built with kh·kw
    strided slice copies, one per kernel offset (i, j).
    """
    xp = backend.namespace(xpad)
    n, C = xpad.shape[:2]
    cols = xp.empty((n, C, kh, kw, OH, OW), dtype=xpad.dtype, device=device(xpad))
    for i, j, rows, columns in _offsets(kh, kw, stride, OH, OW):
        cols[:, :, i, j, :, :] = xpad[:, :, rows, columns]
    return xp.reshape(cols, (n, C * kh * kw, OH * OW))


def _col2im(dcols: Any, dxpad: Any, images: slice, kh: int, kw: int, stride: int, OH: int, OW: int) -> None:
    """The adjoint of :func:`_im2col`: add dcols (n, C·kh·kw, OH·OW) into dxpad[images] (n, C, Hp, Wp).

    A pixel that sits in several receptive fields collects the sum of their gradients:
    kh·kw strided slice additions (no scatter-add needed), made in place in dxpad.
    """
    xp = backend.namespace(dcols)
    n, C = dcols.shape[0], dxpad.shape[1]
    dcols = xp.reshape(dcols, (n, C, kh, kw, OH, OW))
    for i, j, rows, columns in _offsets(kh, kw, stride, OH, OW):
        dxpad[images, :, rows, columns] += dcols[:, :, i, j, :, :]


def conv2d_forward(x: Any, W: Any, b: Any | None, stride: int = 1, padding: int = 0) -> tuple[Any, tuple]:
    """2-D convolution (cross-correlation, as in every deep-learning library) via im2col.

    x: (N, C, H, W)   W: (F, C, kh, kw)   b: (F,), or None for no bias
    Returns out (N, F, OH, OW) and the cache for :func:`conv2d_backward`.
    """
    xp = backend.namespace(x, W)
    N = x.shape[0]
    F, C, kh, kw = W.shape
    OH, OW = _conv_sizes(x, W, stride, padding)
    xpad = _pad(x, padding)
    W_flat = xp.reshape(W, (F, C * kh * kw))
    outs = [W_flat @ _im2col(xpad[images, ...], kh, kw, stride, OH, OW)   # (n, F, OH·OW): a GEMM per image
            for images in _chunks(N, C * kh * kw * OH * OW)]
    out = outs[0] if len(outs) == 1 else xp.concat(outs, axis=0)
    if b is not None:
        out += xp.reshape(b, (F, 1))
    return xp.reshape(out, (N, F, OH, OW)), (xpad, W, b is not None, stride, padding)


def conv2d_backward(dout: Any, cache: tuple) -> tuple[Any, Any, Any]:
    """Gradients of :func:`conv2d_forward`.

    dout: (N, F, OH, OW). Returns dx (N, C, H, W), dW (F, C, kh, kw), db (F,) (None without bias).
    """
    xpad, W, has_bias, stride, padding = cache
    xp = backend.namespace(dout)
    N, F, OH, OW = dout.shape
    _, C, kh, kw = W.shape
    dout = xp.reshape(dout, (N, F, OH * OW))
    db = xp.sum(xp.sum(dout, axis=2), axis=0) if has_bias else None  # inner axis first: contiguous
    W_flat = xp.reshape(W, (F, C * kh * kw))
    dW = xp.zeros(W_flat.shape, dtype=dout.dtype, device=device(dout))
    dxpad = xp.zeros(xpad.shape, dtype=dout.dtype, device=device(dout))
    for images in _chunks(N, C * kh * kw * OH * OW):
        cols = _im2col(xpad[images, ...], kh, kw, stride, OH, OW)   # rebuilt, not kept: see the top
        dW += xp.sum(dout[images, ...] @ xp.permute_dims(cols, (0, 2, 1)), axis=0)   # Σ_n dout_n · cols_nᵀ
        dcols = W_flat.T @ dout[images, ...]                          # (n, C·kh·kw, OH·OW)
        _col2im(dcols, dxpad, images, kh, kw, stride, OH, OW)
    return _unpad(dxpad, padding), xp.reshape(dW, W.shape), db


# ----------------------------------------------------------------------------- convolution, naive

def conv2d_naive_forward(x: Any, W: Any, b: Any | None, stride: int = 1,
                         padding: int = 0) -> tuple[Any, tuple]:
    """2-D convolution by its definition: out[n, f, p, q] = Σ W[f] ⊙ (window at p, q) + b[f].

    x: (N, C, H, W)   W: (F, C, kh, kw)   b: (F,), or None for no bias
    Returns out (N, F, OH, OW) and the cache for :func:`conv2d_naive_backward`.
    """
    xp = backend.namespace(x, W)
    N = x.shape[0]
    F, _, kh, kw = W.shape
    OH, OW = _conv_sizes(x, W, stride, padding)
    xpad = _pad(x, padding)
    out = xp.zeros((N, F, OH, OW), dtype=x.dtype, device=device(x))
    for n, f, p, q in product(range(N), range(F), range(OH), range(OW)):
        rows, columns = _window(p, q, kh, kw, stride)
        out[n, f, p, q] = xp.sum(xpad[n, :, rows, columns] * W[f, ...]) + (0.0 if b is None else b[f])
    return out, (xpad, W, b is not None, stride, padding)


def conv2d_naive_backward(dout: Any, cache: tuple) -> tuple[Any, Any, Any]:
    """Gradients of :func:`conv2d_naive_forward`, by the same loops.

    Each output number out[n, f, p, q] touched one window of x and all of W[f], so it sends
    dout[n, f, p, q]·W[f] back to that window and dout[n, f, p, q]·window back to W[f].
    dout: (N, F, OH, OW). Returns dx (N, C, H, W), dW (F, C, kh, kw), db (F,) (None without bias).
    """
    xpad, W, has_bias, stride, padding = cache
    xp = backend.namespace(dout)
    N, F, OH, OW = dout.shape
    _, _, kh, kw = W.shape
    dxpad = xp.zeros_like(xpad)
    dW = xp.zeros_like(W)
    for n, f, p, q in product(range(N), range(F), range(OH), range(OW)):
        rows, columns = _window(p, q, kh, kw, stride)
        dW[f, ...] += dout[n, f, p, q] * xpad[n, :, rows, columns]
        dxpad[n, :, rows, columns] += dout[n, f, p, q] * W[f, ...]
    db = xp.sum(dout, axis=(0, 2, 3)) if has_bias else None
    return _unpad(dxpad, padding), dW, db


# ----------------------------------------------------------------------------- max pooling

def maxpool2d_forward(x: Any, kernel_size: int, stride: int | None = None) -> tuple[Any, tuple]:
    """Max over each kernel_size × kernel_size window, as an elementwise max of strided slices.

    x: (N, C, H, W); stride defaults to kernel_size (non-overlapping windows).
    Returns out (N, C, OH, OW) and the cache for :func:`maxpool2d_backward`.
    """
    xp = backend.namespace(x)
    stride, OH, OW = _pool_geometry(x, kernel_size, stride)
    windows = [x[:, :, rows, columns] for rows, columns in _pool_offsets(kernel_size, stride, OH, OW)]
    out = reduce(xp.maximum, windows)
    return out, (x, out, kernel_size, stride)


def maxpool2d_backward(dout: Any, cache: tuple) -> Any:
    """Gradient of :func:`maxpool2d_forward`: each window's gradient goes to its maximum.

    When several pixels of a window tie for the maximum, the first in row-major order
    wins (as in the naive version and in PyTorch), so the gradient is never double-counted.
    dout: (N, C, OH, OW). Returns dx (N, C, H, W).
    """
    x, out, kernel_size, stride = cache
    xp = backend.namespace(dout)
    OH, OW = dout.shape[2:]
    dx = xp.zeros_like(x)
    unclaimed = xp.ones(dout.shape, dtype=xp.bool, device=device(dout))
    for rows, columns in _pool_offsets(kernel_size, stride, OH, OW):
        wins = unclaimed & (x[:, :, rows, columns] == out)
        dx[:, :, rows, columns] += dout * xp.astype(wins, dout.dtype)   # (NumPy's where is ~10× slower)
        unclaimed = unclaimed & ~wins
    return dx


def _pool_naive(x: Any, kernel_size: int, stride: int | None, summary: Any) -> tuple[Any, int]:
    """out[n, c, p, q] = summary(window at (p, q)), one window at a time; returns (out, stride)."""
    xp = backend.namespace(x)
    N, C = x.shape[:2]
    stride, OH, OW = _pool_geometry(x, kernel_size, stride)
    out = xp.zeros((N, C, OH, OW), dtype=x.dtype, device=device(x))
    for n, c, p, q in product(range(N), range(C), range(OH), range(OW)):
        out[n, c, p, q] = summary(x[(n, c, *_window(p, q, kernel_size, kernel_size, stride))])
    return out, stride


def maxpool2d_naive_forward(x: Any, kernel_size: int, stride: int | None = None) -> tuple[Any, tuple]:
    """Max pooling by its definition: the max of each window, one window at a time.

    x: (N, C, H, W). Returns out (N, C, OH, OW) and the cache for :func:`maxpool2d_naive_backward`.
    """
    out, stride = _pool_naive(x, kernel_size, stride, backend.namespace(x).max)
    return out, (x, kernel_size, stride)


def maxpool2d_naive_backward(dout: Any, cache: tuple) -> Any:
    """Gradient of max pooling, one window at a time: all of it goes to the (first) arg-max.

    dout: (N, C, OH, OW). Returns dx (N, C, H, W).
    """
    x, kernel_size, stride = cache
    xp = backend.namespace(dout)
    N, C, OH, OW = dout.shape
    dx = xp.zeros_like(x)
    for n, c, p, q in product(range(N), range(C), range(OH), range(OW)):
        window = x[(n, c, *_window(p, q, kernel_size, kernel_size, stride))]
        di, dj = divmod(int(xp.argmax(xp.reshape(window, (-1,)))), kernel_size)
        dx[n, c, p * stride + di, q * stride + dj] += dout[n, c, p, q]
    return dx


# ----------------------------------------------------------------------------- average pooling

def avgpool2d_forward(x: Any, kernel_size: int, stride: int | None = None) -> tuple[Any, tuple]:
    """Mean over each kernel_size × kernel_size window, as a sum of strided slices.

    x: (N, C, H, W); stride defaults to kernel_size.
    Returns out (N, C, OH, OW) and the cache for :func:`avgpool2d_backward`.
    """
    stride, OH, OW = _pool_geometry(x, kernel_size, stride)
    windows = [x[:, :, rows, columns] for rows, columns in _pool_offsets(kernel_size, stride, OH, OW)]
    return sum(windows) / kernel_size**2, (tuple(x.shape), kernel_size, stride)


def avgpool2d_backward(dout: Any, cache: tuple) -> Any:
    """Gradient of :func:`avgpool2d_forward`: each window shares its gradient equally.

    dout: (N, C, OH, OW). Returns dx (N, C, H, W).
    """
    x_shape, kernel_size, stride = cache
    xp = backend.namespace(dout)
    OH, OW = dout.shape[2:]
    share = dout / kernel_size**2
    dx = xp.zeros(x_shape, dtype=dout.dtype, device=device(dout))
    for rows, columns in _pool_offsets(kernel_size, stride, OH, OW):
        dx[:, :, rows, columns] += share
    return dx


def avgpool2d_naive_forward(x: Any, kernel_size: int, stride: int | None = None) -> tuple[Any, tuple]:
    """Average pooling by its definition: the mean of each window, one window at a time.

    x: (N, C, H, W). Returns out (N, C, OH, OW) and the cache for :func:`avgpool2d_naive_backward`.
    """
    out, stride = _pool_naive(x, kernel_size, stride, backend.namespace(x).mean)
    return out, (tuple(x.shape), kernel_size, stride)


def avgpool2d_naive_backward(dout: Any, cache: tuple) -> Any:
    """Gradient of average pooling, one window at a time: every pixel gets dout / kernel_size².

    dout: (N, C, OH, OW). Returns dx (N, C, H, W).
    """
    x_shape, kernel_size, stride = cache
    xp = backend.namespace(dout)
    N, C, OH, OW = dout.shape
    dx = xp.zeros(x_shape, dtype=dout.dtype, device=device(dout))
    for n, c, p, q in product(range(N), range(C), range(OH), range(OW)):
        dx[(n, c, *_window(p, q, kernel_size, kernel_size, stride))] += dout[n, c, p, q] / kernel_size**2
    return dx

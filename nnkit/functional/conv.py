"""Convolution and pooling: forward/backward pairs, fast (im2col) and naive (loops) side by side.

Shapes, batch first as everywhere in nnkit:

    x    (N, C, H, W)      N images with C channels of H × W pixels
    W    (F, C, kh, kw)    F filters, each spanning all C channels
    b    (F,)              one bias per filter
    out  (N, F, OH, OW)    OH = ⌊(H + 2·padding − kh) / stride⌋ + 1, likewise OW

Kernel sizes and strides are an int (the same along both axes) or a pair (along the
height, along the width). When the stride does not tile the padded input, the last rows
or columns that no window reaches are left out, as in PyTorch, TensorFlow and JAX (the
floor above; every ResNet's downsampling layer relies on it). :func:`explain_output_size`
says how many pixels that leaves over, and whether they are real pixels or padding.

The naive functions are the definitions written as loops, one output number at a
time; they are slow and serve as teaching text and as the oracle the fast ones are
tested against. The fast functions do the same arithmetic with a few large array
operations, written only with array-API functions (no pad, einsum or add.at), so they
run unchanged on NumPy, CuPy and array-api-strict:

* im2col copies, for each of the kh·kw kernel offsets, one slice of the padded input
  into a buffer ``cols`` of shape (n, C·kh·kw, OH·Wg). Then the convolution is one
  broadcast matrix product ``W_flat @ cols`` with W_flat (F, C·kh·kw), which lands in
  (n, F, OH·Wg): NCHW with no transpose.
* Wg is OW, or, for stride 1 when cols has more rows than the output, the padded width Wp
  (the "wide" grid of :func:`_grid_width`): each kernel offset then meets one contiguous
  run of the flattened image, so im2col is kh·kw copies of long runs instead of many short
  rows (measured 1.15× faster overall for a 16→32-channel 3×3 layer on 64 images of
  14×14); the Wp − OW extra columns per row are computed and dropped.
* col2im, its adjoint, adds the same kh·kw slices back into a zero image.
* pooling takes the max (or mean) over the same strided slices.

``cols`` holds every pixel kh·kw times, so it is built for a few images n at a time
(about 1 MB in float32 on a CPU; far more on a GPU, see ``_GPU_CHUNK_ELEMENTS``) and
rebuilt in the backward pass rather than kept. Small buffers stay in the CPU's caches
and are recycled by the memory allocator; one buffer for the whole batch was often
handed back to the operating system and page-faulted in afresh on every call (measured
up to 1.7× slower; keeping the forward's buffers for the backward measured 1.35× slower
than rebuilding them), and it is kh·kw times the size of the input.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import reduce
from itertools import product
from typing import Any

from array_api_compat import device, is_cupy_array

from .. import backend

__all__ = [
    "conv_output_size", "explain_output_size",
    "conv2d_forward", "conv2d_backward", "conv2d_naive_forward", "conv2d_naive_backward",
    "maxpool2d_forward", "maxpool2d_backward", "maxpool2d_naive_forward", "maxpool2d_naive_backward",
    "avgpool2d_forward", "avgpool2d_backward", "avgpool2d_naive_forward", "avgpool2d_naive_backward",
]


# ----------------------------------------------------------------------------- output size

def _pair(value: int | tuple[int, int]) -> tuple[int, int]:
    """An int n as (n, n); a pair (along the height, along the width) as it is."""
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def explain_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> str:
    """The output-size arithmetic of a convolution or pooling along one axis, in words.

    When the stride does not tile the padded input, it says how many pixels no window
    reaches (and whether they are padding or image), and which sizes would use them all.
    """
    padded = size + 2 * padding
    text = (f"An input of {size} pixels with padding {padding} on each side is {padded} pixels wide"
            if padding else f"An input of {size} pixels (no padding)")
    if kernel > padded:
        return (f"{text}: a kernel of {kernel} pixels does not fit in it. Use a smaller kernel, "
                f"more padding, or a larger input.")
    free, rest = divmod(padded - kernel, stride)
    text += (f". A kernel of {kernel} pixels placed at the left edge leaves {padded - kernel} pixels "
             f"to slide over in steps of {stride}")
    formula = (f"⌊(size + 2·padding − kernel) / stride⌋ + 1 = ⌊({size} + {2 * padding} − {kernel}) / "
               f"{stride}⌋ + 1 = {free + 1} outputs.")
    if not rest:
        return (f"{text}: {padded - kernel} / {stride} = {free} steps, plus the starting position, gives "
                f"{formula}")
    lost = ("they are padding, so no image pixel is lost" if rest <= padding
            else f"{rest - padding} of them are image pixels that no window sees")
    fixes = [f"padding {padding + extra}" for extra in range(1, stride + 1)
             if (padded - kernel + 2 * extra) % stride == 0][:1]
    fixes += ["stride 1", f"cropping {rest} pixel(s) off the input"]
    return (f"{text}: {padded - kernel} / {stride} = {free} steps with {rest} pixel(s) left over. The stride "
            f"does not tile the input: the last {rest} pixel(s) are dropped, as PyTorch does ({lost}), and "
            f"{formula} To use every pixel, choose sizes so that size + 2·padding − kernel is a multiple of "
            f"the stride, e.g. {' or '.join(fixes)}.")


def conv_output_size(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Output length ⌊(size + 2·padding − kernel) / stride⌋ + 1 along one axis.

    A stride that does not tile the padded input drops the last pixels no window reaches,
    as PyTorch does (:func:`explain_output_size` says how many). Raises ValueError, with the
    arithmetic spelled out, when the kernel does not fit in the padded input at all.
    """
    if stride < 1 or padding < 0 or kernel < 1:
        raise ValueError(f"Need kernel ≥ 1, stride ≥ 1 and padding ≥ 0; got kernel={kernel}, "
                         f"stride={stride}, padding={padding}.")
    padded = size + 2 * padding
    if kernel > padded:
        raise ValueError(explain_output_size(size, kernel, stride, padding))
    return (padded - kernel) // stride + 1


# ----------------------------------------------------------------------------- shared pieces

def _offsets(kh: int, kw: int, stride: tuple[int, int], OH: int, OW: int
             ) -> Iterator[tuple[int, int, slice, slice]]:
    """For each kernel offset (i, j), the rows and columns of the input it meets in every window.

    The window at output position (p, q) covers input pixel (p·sh + i, q·sw + j), with
    stride = (sh, sw), so offset (i, j) meets rows i, i + sh, ..., one per output row: a strided slice.
    """
    sh, sw = stride
    for i in range(kh):
        for j in range(kw):
            yield (i, j, slice(i, i + sh * (OH - 1) + 1, sh), slice(j, j + sw * (OW - 1) + 1, sw))


def _window(p: int, q: int, kernel: tuple[int, int], stride: tuple[int, int]) -> tuple[slice, slice]:
    """The rows and columns of the (padded) input that output position (p, q) looks at."""
    (kh, kw), (sh, sw) = kernel, stride
    return slice(p * sh, p * sh + kh), slice(q * sw, q * sw + kw)


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


def _output_sizes(x: Any, kernel: tuple[int, int], stride: tuple[int, int], padding: int) -> tuple[int, int]:
    """(OH, OW) of a window of size kernel = (kh, kw) moved by stride = (sh, sw) over x (N, C, H, W)."""
    return (conv_output_size(x.shape[2], kernel[0], stride[0], padding),
            conv_output_size(x.shape[3], kernel[1], stride[1], padding))


def _pool_geometry(x: Any, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None
                   ) -> tuple[tuple[int, int], tuple[int, int], int, int]:
    """(kernel, stride, OH, OW) of a pooling of x (N, C, H, W); stride defaults to kernel_size."""
    kernel = _pair(kernel_size)
    stride = kernel if stride is None else _pair(stride)
    return (kernel, stride, *_output_sizes(x, kernel, stride, 0))


def _pool_offsets(kernel: tuple[int, int], stride: tuple[int, int], OH: int, OW: int
                  ) -> Iterator[tuple[slice, slice]]:
    """(rows, columns) of the input met by each offset of a pooling window; see :func:`_offsets`."""
    for _, _, rows, columns in _offsets(*kernel, stride, OH, OW):
        yield rows, columns


# ----------------------------------------------------------------------------- convolution, fast

# How many numbers an im2col buffer may hold: on a CPU, 2**18 (1 MB in float32) stays in the
# caches (see the top); on a GPU, whose memory is far larger and whose many small launches
# cost more than caches save, 2**26 (256 MB in float32) lets a whole batch run as one piece.
_CHUNK_ELEMENTS = 2**18
_GPU_CHUNK_ELEMENTS = 2**26


def _chunks(x: Any, per_image: int) -> Iterator[slice]:
    """Slices of the batch axis of x, each a few images whose im2col buffer holds at most
    _CHUNK_ELEMENTS numbers (_GPU_CHUNK_ELEMENTS for CuPy arrays)."""
    limit = _GPU_CHUNK_ELEMENTS if is_cupy_array(x) else _CHUNK_ELEMENTS
    N = x.shape[0]
    step = max(1, limit // per_image)
    for start in range(0, N, step):
        yield slice(start, min(start + step, N))


def _grid_width(stride: tuple[int, int], Wp: int, OW: int, rows: int, F: int) -> int:
    """Columns per row of the output grid that the matrix products compute: Wp or OW.

    The "wide" grid (Wp, the padded input's width) serves stride 1: output (p, q) and kernel
    offset (i, j) then meet pixel (p + i)·Wp + (q + j) of the flattened image, so each offset
    meets one contiguous run of it and im2col is kh·kw copies of long runs instead of OH·OW
    short rows. The Wp − OW extra columns per row are computed and then dropped, which costs
    a copy of the output (F rows per image): worth it when cols has more rows, C·kh·kw > F.
    Otherwise (and for other strides) the grid is the output itself, OW columns.
    """
    return Wp if stride == (1, 1) and rows > F else OW


def _im2col(xpad: Any, kh: int, kw: int, stride: tuple[int, int], OH: int, OW: int, Wg: int) -> Any:
    """Every receptive field as a column: xpad (n, C, Hp, Wp) → cols (n, C·kh·kw, OH·Wg).

    cols[m, (c, i, j), (p, q)] = xpad[m, c, p·sh + i, q·sw + j] for q < OW, built with kh·kw
    slice copies, one per kernel offset (i, j); Wg is :func:`_grid_width` (on the wide grid,
    columns q ≥ OW are filler whose outputs are dropped).
    """
    xp = backend.namespace(xpad)
    n, C, Hp, Wp = xpad.shape
    cols = xp.empty((n, C, kh, kw, OH * Wg), dtype=xpad.dtype, device=device(xpad))
    if Wg != OW:   # the wide grid: every offset is one run of the flattened image
        flat = xp.reshape(xpad, (n, C, Hp * Wp))
        run = (OH - 1) * Wp + OW          # the last row's filler columns would run past the image
        cols[..., run:] = 0
        for i, j, _, _ in _offsets(kh, kw, stride, OH, OW):
            cols[:, :, i, j, :run] = flat[:, :, i * Wp + j:i * Wp + j + run]
    else:
        grid = xp.reshape(cols, (n, C, kh, kw, OH, OW))
        for i, j, rows, columns in _offsets(kh, kw, stride, OH, OW):
            grid[:, :, i, j, :, :] = xpad[:, :, rows, columns]
    return xp.reshape(cols, (n, C * kh * kw, OH * Wg))


def _col2im(dcols: Any, padded: tuple[int, int], kh: int, kw: int, stride: tuple[int, int],
            OH: int, OW: int, Wg: int) -> Any:
    """The adjoint of :func:`_im2col`: dcols (n, C·kh·kw, OH·Wg) → dxpad (n, C, Hp, Wp), padded = (Hp, Wp).

    A pixel that sits in several receptive fields collects the sum of their gradients:
    kh·kw slice additions (no scatter-add needed), the mirror of im2col's copies. Pixels
    that no window reaches (a stride that does not tile) keep a zero gradient; the filler
    columns of the wide grid carry zeros and add nothing.
    """
    xp = backend.namespace(dcols)
    (Hp, Wp), n = padded, dcols.shape[0]
    C = dcols.shape[1] // (kh * kw)
    dcols = xp.reshape(dcols, (n, C, kh, kw, OH * Wg))
    if Wg != OW:
        flat = xp.zeros((n, C, Hp * Wp), dtype=dcols.dtype, device=device(dcols))
        run = (OH - 1) * Wp + OW
        for i, j, _, _ in _offsets(kh, kw, stride, OH, OW):
            flat[:, :, i * Wp + j:i * Wp + j + run] += dcols[:, :, i, j, :run]
        return xp.reshape(flat, (n, C, Hp, Wp))
    dxpad = xp.zeros((n, C, Hp, Wp), dtype=dcols.dtype, device=device(dcols))
    grid = xp.reshape(dcols, (n, C, kh, kw, OH, OW))
    for i, j, rows, columns in _offsets(kh, kw, stride, OH, OW):
        dxpad[:, :, rows, columns] += grid[:, :, i, j, :, :]
    return dxpad


def conv2d_forward(x: Any, W: Any, b: Any | None, stride: int | tuple[int, int] = 1,
                   padding: int = 0) -> tuple[Any, tuple]:
    """2-D convolution (cross-correlation, as in every deep-learning library) via im2col.

    x: (N, C, H, W)   W: (F, C, kh, kw)   b: (F,), or None for no bias
    stride: an int or (sh, sw); padding: zeros added on each side.
    Returns out (N, F, OH, OW) and the cache for :func:`conv2d_backward`.
    """
    xp = backend.namespace(x, W)
    F, C, kh, kw = W.shape
    stride = _pair(stride)
    OH, OW = _output_sizes(x, (kh, kw), stride, padding)
    xpad = _pad(x, padding)
    Wg = _grid_width(stride, xpad.shape[3], OW, C * kh * kw, F)
    W_flat = xp.reshape(W, (F, C * kh * kw))
    outs = []
    for images in _chunks(x, C * kh * kw * OH * Wg):
        grid = W_flat @ _im2col(xpad[images, ...], kh, kw, stride, OH, OW, Wg)   # (n, F, OH·Wg)
        outs.append(xp.reshape(grid, (grid.shape[0], F, OH, Wg))[..., :OW])
    out = outs[0] if len(outs) == 1 and Wg == OW else xp.concat(outs, axis=0)   # NCHW, contiguous
    if b is not None:
        out += xp.reshape(b, (F, 1, 1))
    return out, (xpad, W, b is not None, stride, padding)


def conv2d_backward(dout: Any, cache: tuple) -> tuple[Any, Any, Any]:
    """Gradients of :func:`conv2d_forward`.

    dout: (N, F, OH, OW). Returns dx (N, C, H, W), dW (F, C, kh, kw), db (F,) (None without bias).
    """
    xpad, W, has_bias, stride, padding = cache
    xp = backend.namespace(dout)
    N, F, OH, OW = dout.shape
    _, C, kh, kw = W.shape
    Wg = _grid_width(stride, xpad.shape[3], OW, C * kh * kw, F)
    # db: summing over the batch first adds whole contiguous blocks (measured 2.6× faster than pixels first)
    db = xp.sum(xp.sum(xp.reshape(dout, (N, F, OH * OW)), axis=0), axis=1) if has_bias else None
    W_flat = xp.reshape(W, (F, C * kh * kw))
    # dWᵀ = Σ_n cols_n · dout_nᵀ: OpenBLAS runs this orientation ~1.5× faster than dout_n · cols_nᵀ
    dW_T = xp.zeros((C * kh * kw, F), dtype=dout.dtype, device=device(dout))
    dxpad = xp.empty(xpad.shape, dtype=dout.dtype, device=device(dout))
    for images in _chunks(dout, C * kh * kw * OH * Wg):
        cols = _im2col(xpad[images, ...], kh, kw, stride, OH, OW, Wg)   # rebuilt, not kept: see the top
        grid = dout[images, ...]
        if Wg != OW:   # the wide grid's filler columns get gradient 0
            grid = xp.zeros((cols.shape[0], F, OH, Wg), dtype=dout.dtype, device=device(dout))
            grid[..., :OW] = dout[images, ...]
        grid = xp.reshape(grid, (cols.shape[0], F, OH * Wg))
        dW_T += xp.sum(cols @ xp.permute_dims(grid, (0, 2, 1)), axis=0)
        dxpad[images, ...] = _col2im(W_flat.T @ grid, xpad.shape[2:], kh, kw, stride, OH, OW, Wg)
    return _unpad(dxpad, padding), xp.reshape(dW_T.T, W.shape), db


# ----------------------------------------------------------------------------- convolution, naive

def conv2d_naive_forward(x: Any, W: Any, b: Any | None, stride: int | tuple[int, int] = 1,
                         padding: int = 0) -> tuple[Any, tuple]:
    """2-D convolution by its definition: out[n, f, p, q] = Σ W[f] ⊙ (window at p, q) + b[f].

    x: (N, C, H, W)   W: (F, C, kh, kw)   b: (F,), or None for no bias
    Returns out (N, F, OH, OW) and the cache for :func:`conv2d_naive_backward`.
    """
    xp = backend.namespace(x, W)
    N = x.shape[0]
    F, _, kh, kw = W.shape
    stride = _pair(stride)
    OH, OW = _output_sizes(x, (kh, kw), stride, padding)
    xpad = _pad(x, padding)
    out = xp.zeros((N, F, OH, OW), dtype=x.dtype, device=device(x))
    for n, f, p, q in product(range(N), range(F), range(OH), range(OW)):
        rows, columns = _window(p, q, (kh, kw), stride)
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
        rows, columns = _window(p, q, (kh, kw), stride)
        dW[f, ...] += dout[n, f, p, q] * xpad[n, :, rows, columns]
        dxpad[n, :, rows, columns] += dout[n, f, p, q] * W[f, ...]
    db = xp.sum(dout, axis=(0, 2, 3)) if has_bias else None
    return _unpad(dxpad, padding), dW, db


# ----------------------------------------------------------------------------- max pooling

def maxpool2d_forward(x: Any, kernel_size: int | tuple[int, int],
                      stride: int | tuple[int, int] | None = None) -> tuple[Any, tuple]:
    """Max over each kh × kw window, as an elementwise max of strided slices.

    x: (N, C, H, W); kernel_size and stride: an int or a pair (along H, along W); stride
    defaults to kernel_size (non-overlapping windows).
    Returns out (N, C, OH, OW) and the cache for :func:`maxpool2d_backward`.
    """
    xp = backend.namespace(x)
    kernel, stride, OH, OW = _pool_geometry(x, kernel_size, stride)
    windows = [x[:, :, rows, columns] for rows, columns in _pool_offsets(kernel, stride, OH, OW)]
    out = reduce(xp.maximum, windows)
    return out, (x, out, kernel, stride)


def maxpool2d_backward(dout: Any, cache: tuple) -> Any:
    """Gradient of :func:`maxpool2d_forward`: each window's gradient goes to its maximum.

    When several pixels of a window tie for the maximum, the first in row-major order
    wins (as in the naive version and in PyTorch), so the gradient is never double-counted.
    dout: (N, C, OH, OW). Returns dx (N, C, H, W).
    """
    x, out, kernel, stride = cache
    xp = backend.namespace(dout)
    OH, OW = dout.shape[2:]
    dx = xp.zeros_like(x)
    unclaimed = xp.ones(dout.shape, dtype=xp.bool, device=device(dout))
    for rows, columns in _pool_offsets(kernel, stride, OH, OW):
        wins = unclaimed & (x[:, :, rows, columns] == out)
        dx[:, :, rows, columns] += dout * xp.astype(wins, dout.dtype)   # (NumPy's where is ~10× slower)
        unclaimed = unclaimed & ~wins
    return dx


def _pool_naive(x: Any, kernel_size: int | tuple[int, int], stride: int | tuple[int, int] | None,
                summary: Any) -> tuple[Any, tuple[int, int], tuple[int, int]]:
    """out[n, c, p, q] = summary(window at (p, q)), one window at a time; returns (out, kernel, stride)."""
    xp = backend.namespace(x)
    N, C = x.shape[:2]
    kernel, stride, OH, OW = _pool_geometry(x, kernel_size, stride)
    out = xp.zeros((N, C, OH, OW), dtype=x.dtype, device=device(x))
    for n, c, p, q in product(range(N), range(C), range(OH), range(OW)):
        out[n, c, p, q] = summary(x[(n, c, *_window(p, q, kernel, stride))])
    return out, kernel, stride


def maxpool2d_naive_forward(x: Any, kernel_size: int | tuple[int, int],
                            stride: int | tuple[int, int] | None = None) -> tuple[Any, tuple]:
    """Max pooling by its definition: the max of each window, one window at a time.

    x: (N, C, H, W). Returns out (N, C, OH, OW) and the cache for :func:`maxpool2d_naive_backward`.
    """
    out, kernel, stride = _pool_naive(x, kernel_size, stride, backend.namespace(x).max)
    return out, (x, kernel, stride)


def maxpool2d_naive_backward(dout: Any, cache: tuple) -> Any:
    """Gradient of max pooling, one window at a time: all of it goes to the (first) arg-max.

    dout: (N, C, OH, OW). Returns dx (N, C, H, W).
    """
    x, kernel, stride = cache
    xp = backend.namespace(dout)
    N, C, OH, OW = dout.shape
    dx = xp.zeros_like(x)
    for n, c, p, q in product(range(N), range(C), range(OH), range(OW)):
        window = x[(n, c, *_window(p, q, kernel, stride))]
        di, dj = divmod(int(xp.argmax(xp.reshape(window, (-1,)))), kernel[1])
        dx[n, c, p * stride[0] + di, q * stride[1] + dj] += dout[n, c, p, q]
    return dx


# ----------------------------------------------------------------------------- average pooling

def avgpool2d_forward(x: Any, kernel_size: int | tuple[int, int],
                      stride: int | tuple[int, int] | None = None) -> tuple[Any, tuple]:
    """Mean over each kh × kw window, as a sum of strided slices.

    x: (N, C, H, W); kernel_size and stride: an int or a pair; stride defaults to kernel_size.
    Returns out (N, C, OH, OW) and the cache for :func:`avgpool2d_backward`.
    """
    kernel, stride, OH, OW = _pool_geometry(x, kernel_size, stride)
    windows = [x[:, :, rows, columns] for rows, columns in _pool_offsets(kernel, stride, OH, OW)]
    return sum(windows) / (kernel[0] * kernel[1]), (tuple(x.shape), kernel, stride)


def avgpool2d_backward(dout: Any, cache: tuple) -> Any:
    """Gradient of :func:`avgpool2d_forward`: each window shares its gradient equally.

    dout: (N, C, OH, OW). Returns dx (N, C, H, W).
    """
    x_shape, kernel, stride = cache
    xp = backend.namespace(dout)
    OH, OW = dout.shape[2:]
    share = dout / (kernel[0] * kernel[1])
    dx = xp.zeros(x_shape, dtype=dout.dtype, device=device(dout))
    for rows, columns in _pool_offsets(kernel, stride, OH, OW):
        dx[:, :, rows, columns] += share
    return dx


def avgpool2d_naive_forward(x: Any, kernel_size: int | tuple[int, int],
                            stride: int | tuple[int, int] | None = None) -> tuple[Any, tuple]:
    """Average pooling by its definition: the mean of each window, one window at a time.

    x: (N, C, H, W). Returns out (N, C, OH, OW) and the cache for :func:`avgpool2d_naive_backward`.
    """
    out, kernel, stride = _pool_naive(x, kernel_size, stride, backend.namespace(x).mean)
    return out, (tuple(x.shape), kernel, stride)


def avgpool2d_naive_backward(dout: Any, cache: tuple) -> Any:
    """Gradient of average pooling, one window at a time: every pixel gets dout / (kh·kw).

    dout: (N, C, OH, OW). Returns dx (N, C, H, W).
    """
    x_shape, kernel, stride = cache
    xp = backend.namespace(dout)
    N, C, OH, OW = dout.shape
    dx = xp.zeros(x_shape, dtype=dout.dtype, device=device(dout))
    for n, c, p, q in product(range(N), range(C), range(OH), range(OW)):
        dx[(n, c, *_window(p, q, kernel, stride))] += dout[n, c, p, q] / (kernel[0] * kernel[1])
    return dx

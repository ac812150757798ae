"""Convolution, pooling and Flatten: output sizes, fast vs naive, gradient checks, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

import nnkit
from nnkit import functional as F
from nnkit import layers as L
from nnkit.backend import randn

POOLS = {
    "max": (F.maxpool2d_forward, F.maxpool2d_backward, F.maxpool2d_naive_forward, F.maxpool2d_naive_backward),
    "avg": (F.avgpool2d_forward, F.avgpool2d_backward, F.avgpool2d_naive_forward, F.avgpool2d_naive_backward),
}


def host(a):
    return nnkit.to_numpy(a)


def conv_pair(x, W, b, stride, padding, dout=None):
    """Outputs and gradients of the fast and the naive convolution on the same data."""
    out, cache = F.conv2d_forward(x, W, b, stride, padding)
    out_naive, cache_naive = F.conv2d_naive_forward(x, W, b, stride, padding)
    dout = randn(*out.shape) if dout is None else dout
    return (out, *F.conv2d_backward(dout, cache)), (out_naive, *F.conv2d_naive_backward(dout, cache_naive))


# ----------------------------------------------------------------------------- output size

@pytest.mark.parametrize("size, kernel, stride, padding, expected",
                         [(32, 5, 1, 0, 28), (28, 3, 1, 1, 28), (7, 3, 2, 0, 3), (8, 2, 2, 0, 4),
                          (5, 5, 1, 2, 5)])
def test_conv_output_size(size, kernel, stride, padding, expected):
    assert F.conv_output_size(size, kernel, stride, padding) == expected
    text = F.explain_output_size(size, kernel, stride, padding)
    assert f"= {expected} outputs" in text


@given(size=st.integers(1, 40), kernel=st.integers(1, 7), stride=st.integers(1, 4), padding=st.integers(0, 3))
def test_output_size_counts_window_positions(size, kernel, stride, padding):
    """The formula equals the number of positions a window can take (floored like PyTorch), or
    it refuses a kernel that does not fit."""
    padded = size + 2 * padding
    if kernel <= padded:
        assert F.conv_output_size(size, kernel, stride, padding) == len(range(0, padded - kernel + 1, stride))
    else:
        with pytest.raises(ValueError, match="does not fit"):
            F.conv_output_size(size, kernel, stride, padding)


def test_explain_counts_the_pixels_left_over_and_suggests_a_fix():
    text = F.explain_output_size(10, 3, 3)
    assert "1 pixel(s) left over" in text and "padding 1" in text and "stride 1" in text
    assert "1 of them are image pixels" in text and "= 3 outputs." in text
    # every ResNet's downsampling: 8 pixels, padding 1, kernel 3, stride 2 drops only padding
    text = F.explain_output_size(8, 3, 2, 1)
    assert "= 4 outputs." in text and "they are padding, so no image pixel is lost" in text


# ----------------------------------------------------------------------------- convolution

def test_conv_known_values(backend_name):
    """A 2×2 box filter sums each 2×2 window; a vertical-edge filter fires only at the edge."""
    image = np.arange(16.0).reshape(1, 1, 4, 4)
    out, _ = F.conv2d_forward(nnkit.asarray(image), nnkit.asarray(np.ones((1, 1, 2, 2))),
                              nnkit.asarray([0.5]))
    expected = [[image[0, 0, p:p + 2, q:q + 2].sum() + 0.5 for q in range(3)] for p in range(3)]
    assert_allclose(host(out)[0, 0], expected)
    step = nnkit.asarray(np.repeat([[0.0, 0, 1, 1, 1]], 3, axis=0)[None, None])   # dark | bright
    edge = nnkit.asarray(np.array([[[[-1.0, 1.0]]]]))
    out, _ = F.conv2d_forward(step, edge, None)
    assert_allclose(host(out)[0, 0], [[0, 1, 0, 0]] * 3)


@pytest.mark.parametrize("stride, padding, kernel, size", [
    (1, 0, 3, 7), (1, 1, 3, 7), (2, 0, 3, 7), (2, 1, 3, 7), (1, 2, 5, 7), (3, 0, 2, 8), (1, 0, 1, 7),
    (2, 1, (3, 1), 7),
    (2, 1, 3, 8), (2, 0, 3, 8), (3, 1, 2, 8), ((2, 3), 1, (3, 2), 8),   # strides that do not tile: floored
])
def test_conv_fast_matches_naive(backend_name, stride, padding, kernel, size):
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    x, W, b = randn(2, 3, size, size), randn(4, 3, kh, kw), randn(4)
    for fast, naive in zip(*conv_pair(x, W, b, stride, padding), strict=True):
        assert_allclose(host(fast), host(naive), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("limit", [1, 300], ids=["one-image-chunks", "uneven-chunks"])
def test_conv_in_chunks_matches_naive(backend_name, monkeypatch, limit):
    """Big batches build their im2col buffers a few images at a time; the result is the same."""
    monkeypatch.setattr("nnkit.functional.conv._CHUNK_ELEMENTS", limit)   # 3·9·25 = 675 per image
    x, W, b = randn(5, 3, 5, 5), randn(2, 3, 3, 3), randn(2)
    for fast, naive in zip(*conv_pair(x, W, b, 1, 1), strict=True):
        assert_allclose(host(fast), host(naive), rtol=1e-10, atol=1e-12)


def test_chunk_size_depends_on_the_backend(monkeypatch):
    """CPU arrays get cache-sized im2col buffers; CuPy arrays get one piece for a whole batch."""
    from nnkit.functional import conv
    x, per_image = randn(64, 16, 1, 1), 16 * 9 * 14 * 14                  # Conv2D 16→32 on 14×14
    assert len(list(conv._chunks(x, per_image))) == -(-64 // (conv._CHUNK_ELEMENTS // per_image))   # 8 of 9
    monkeypatch.setattr(conv, "is_cupy_array", lambda a: True)
    assert [(s.start, s.stop) for s in conv._chunks(x, per_image)] == [(0, 64)]


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 2), c=st.integers(1, 3), f=st.integers(1, 3), size=st.integers(1, 9),
       kernel=st.integers(1, 4), stride=st.integers(1, 3), padding=st.integers(0, 2), bias=st.booleans())
def test_conv_fast_matches_naive_on_random_shapes(n, c, f, size, kernel, stride, padding, bias):
    if kernel > size + 2 * padding:
        return
    x, W = randn(n, c, size, size), randn(f, c, kernel, kernel)
    b = randn(f) if bias else None
    fast, naive = conv_pair(x, W, b, stride, padding)
    out_size = (size + 2 * padding - kernel) // stride + 1   # floored, as in PyTorch
    assert fast[0].shape == (n, f, out_size, out_size)
    if not bias:
        assert fast[3] is None and naive[3] is None
    for a, e in zip(fast, naive, strict=True):
        if e is not None:
            assert_allclose(host(a), host(e), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("c, f, kernel, stride, padding, size", [
    (1, 2, 3, 1, 1, 5), (2, 3, 3, 2, 0, 7), (3, 2, 2, 2, 0, 6), (2, 2, 5, 1, 2, 5), (2, 1, 1, 1, 0, 3),
    (2, 2, 3, 2, 1, 6), (1, 2, 3, 2, 0, 6), (2, 1, (3, 2), (2, 3), 1, 6),   # strides that do not tile
])
def test_conv2d_layer_gradchecks(backend_name, c, f, kernel, stride, padding, size):
    layer = L.Conv2D(c, f, kernel, stride=stride, padding=padding)
    report = nnkit.gradcheck(layer, randn(2, c, size, size))
    assert report.passed, report


def test_conv2d_without_bias(backend_name):
    layer = L.Conv2D(2, 3, 3, bias=False)
    assert layer.b is None and [name for name, _ in layer.named_parameters()] == ["W"]
    assert "bias=False" in repr(layer)
    assert nnkit.gradcheck(layer, randn(2, 2, 4, 4)).passed


def test_conv2d_layer_shapes_and_init():
    nnkit.seed(0)
    layer = L.Conv2D(3, 8, 5)
    assert layer.W.shape == (8, 3, 5, 5) and layer.b.shape == (8,)
    assert layer(randn(2, 3, 32, 32)).shape == (2, 8, 28, 28)
    # He normal with fan_in = C·kh·kw = 75: the [seed] 5×5×3 filter has 75 weights
    assert abs(float(np.std(host(layer.W.data))) - np.sqrt(2 / 75)) < 0.02
    assert L.Conv2D(1, 1, (3, 1)).W.shape == (1, 1, 3, 1)


def test_conv2d_float32(backend_name):
    layer = L.Conv2D(1, 2, 3, padding=1, dtype="float32")
    x = nnkit.asarray(np.ones((1, 1, 4, 4)), dtype="float32")
    out = layer(x)
    assert nnkit.backend.dtype_name(out.dtype) == "float32"
    dx = layer.backward(out)
    assert nnkit.backend.dtype_name(dx.dtype) == "float32"
    assert nnkit.backend.dtype_name(layer.W.grad.dtype) == "float32"


# ----------------------------------------------------------------------------- pooling

@pytest.mark.parametrize("kind", POOLS)
@pytest.mark.parametrize("kernel, stride, size",
                         [(2, 2, 6), (3, 3, 6), (2, 1, 5), (3, 1, 5), (3, 2, 7), (1, 1, 3),
                          (2, 2, 7), (3, 2, 6), ((2, 3), None, 7), ((1, 2), (1, 2), 6), ((3, 2), (2, 1), 7)])
def test_pool_fast_matches_naive_with_ties(backend_name, kind, kernel, stride, size):
    """Small integers make many tied maxima: the fast mask must pick the same (first) winner."""
    forward, backward, naive_forward, naive_backward = POOLS[kind]
    x = nnkit.asarray(nnkit.backend.rng().integers(0, 3, (2, 3, size, size)).astype(float))
    out, cache = forward(x, kernel, stride)
    out_naive, cache_naive = naive_forward(x, kernel, stride)
    assert_allclose(host(out), host(out_naive))
    dout = randn(*out.shape)
    assert_allclose(host(backward(dout, cache)), host(naive_backward(dout, cache_naive)), atol=1e-12)


def test_maxpool_tie_gives_the_whole_gradient_to_the_first_maximum(backend_name):
    x = nnkit.asarray(np.ones((1, 1, 2, 2)))
    out, cache = F.maxpool2d_forward(x, 2)
    dx = host(F.maxpool2d_backward(nnkit.asarray(np.full((1, 1, 1, 1), 5.0)), cache))
    assert_allclose(dx[0, 0], [[5, 0], [0, 0]])


@pytest.mark.parametrize("make, size", [(lambda: L.MaxPool2D(2), 6), (lambda: L.MaxPool2D(3, stride=1), 5),
                                        (lambda: L.AvgPool2D(2), 6), (lambda: L.AvgPool2D(3, stride=2), 7),
                                        (lambda: L.MaxPool2D(2), 5), (lambda: L.AvgPool2D(3, stride=2), 6),
                                        (lambda: L.MaxPool2D((2, 3), stride=(1, 2)), 6),
                                        (lambda: L.AvgPool2D((3, 1)), 7)],
                         ids=["max", "max-overlapping", "avg", "avg-overlapping", "max-not-tiling",
                              "avg-not-tiling", "max-rectangular", "avg-rectangular"])
def test_pool_layers_gradcheck(backend_name, make, size):
    report = nnkit.gradcheck(make(), randn(2, 2, size, size))
    assert report.passed, report


def test_pool_layer_shapes_and_repr():
    assert L.MaxPool2D(2)(randn(2, 3, 8, 8)).shape == (2, 3, 4, 4)
    assert L.AvgPool2D(3, stride=1)(randn(1, 1, 5, 5)).shape == (1, 1, 3, 3)
    assert repr(L.MaxPool2D(2)) == "MaxPool2D(kernel_size=2)"
    assert repr(L.AvgPool2D(3, stride=1)) == "AvgPool2D(kernel_size=3, stride=1)"
    assert L.MaxPool2D((2, 1))(randn(2, 3, 8, 5)).shape == (2, 3, 4, 5)
    assert L.AvgPool2D((2, 3), stride=(1, 2))(randn(1, 1, 5, 7)).shape == (1, 1, 4, 3)
    assert repr(L.MaxPool2D((2, 1))) == "MaxPool2D(kernel_size=(2, 1))"
    assert repr(L.AvgPool2D(2, stride=(2, 1))) == "AvgPool2D(kernel_size=2, stride=(2, 1))"
    assert repr(L.Conv2D(1, 2, 3, stride=(2, 1))).startswith("Conv2D(1, 2, kernel_size=3, stride=(2, 1))")


def test_maxpool_is_invariant_to_shifts_inside_a_window():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 0, 0] = 1.0
    shifted = np.roll(x, 1, axis=3)   # the bright pixel moves within its 2×2 window
    pool = L.MaxPool2D(2)
    assert_allclose(host(pool(nnkit.asarray(x))), host(pool(nnkit.asarray(shifted))))


# ----------------------------------------------------------------------------- networks

def small_cnn():
    return nnkit.Sequential(L.Conv2D(1, 2, 3, padding=1), L.Tanh(), L.MaxPool2D(2),
                            L.Conv2D(2, 3, 3, padding=1), L.Tanh(), L.AvgPool2D(2),
                            L.Flatten(), L.Linear(3, 4))


def test_flatten_round_trip(backend_name):
    x = randn(2, 3, 4, 5)
    flat = L.Flatten()
    out = flat(x)
    assert out.shape == (2, 60)
    assert_allclose(host(out), host(x).reshape(2, 60))
    assert_allclose(host(flat.backward(out)), host(x))


def test_small_cnn_gradchecks(backend_name):
    report = nnkit.gradcheck(small_cnn(), randn(2, 1, 4, 4))
    assert report.passed, report


def test_same_seed_same_cnn_on_every_backend():
    outputs = []
    for name in ("numpy", "strict"):
        with nnkit.use_backend(name):
            nnkit.seed(3)
            model = small_cnn()
            outputs.append(host(model(randn(2, 1, 4, 4))))
    assert_allclose(outputs[0], outputs[1], rtol=1e-12)


# ----------------------------------------------------------------------------- errors

def test_wrong_channel_count_names_layer_and_shapes():
    with pytest.raises(ValueError, match=r"Conv2D\(3, 8, kernel_size=3\) expects 3 input channel.*"
                                         r"\(N, 3, H, W\).*\(2, 1, 8, 8\)"):
        L.Conv2D(3, 8, 3)(randn(2, 1, 8, 8))


def test_kernel_larger_than_padded_input():
    with pytest.raises(ValueError, match=r"Conv2D\(1, 2, kernel_size=5, padding=1\) .*\(1, 1, 2, 2\).*"
                                         r"does not fit"):
        L.Conv2D(1, 2, 5, padding=1)(randn(1, 1, 2, 2))


@pytest.mark.parametrize("make, shape, out_hw, reached", [
    (lambda: L.Conv2D(1, 2, 3, stride=2, padding=1), (1, 1, 8, 8), (4, 4), (8, 8)),   # ResNet's downsampling
    (lambda: L.Conv2D(1, 1, 3, stride=2), (1, 1, 7, 8), (3, 3), (7, 7)),
    (lambda: L.AvgPool2D(2), (1, 1, 7, 8), (3, 4), (6, 8)),
    (lambda: L.AvgPool2D((2, 3)), (1, 1, 5, 7), (2, 2), (4, 6)),
    (lambda: L.MaxPool2D(2), (1, 1, 7, 8), (3, 4), (6, 8)),
])
def test_stride_that_does_not_tile_floors_and_drops_the_rest(backend_name, make, shape, out_hw, reached):
    """As in PyTorch: ⌊(size + 2·padding − kernel) / stride⌋ + 1 outputs; the pixels no window
    reaches get a zero gradient, and the others get theirs (max pooling: one pixel per window)."""
    layer = make()
    out = layer(randn(*shape))
    assert out.shape[2:] == out_hw
    dx = host(layer.backward(randn(*out.shape)))
    rows, columns = reached
    assert np.all(dx[..., rows:, :] == 0) and np.all(dx[..., :, columns:] == 0)
    reached_grads = np.count_nonzero(dx[..., :rows, :columns])
    assert reached_grads == (out.size if isinstance(layer, L.MaxPool2D) else rows * columns)


@pytest.mark.parametrize("make", [lambda: L.Conv2D(1, 2, 3), lambda: L.MaxPool2D(2)])
def test_images_need_four_axes(make):
    with pytest.raises(ValueError, match=r"expects input of shape \(N, .*, H, W\).*shape \(8, 8\)"):
        make()(randn(8, 8))

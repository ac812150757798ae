"""Chapter 8's numbers (COURSE.md, "Convolutional networks") and its figure and widget functions.

- the seed counts: a 5 × 5 × 3 filter has 75 weights; on a 32 × 32 × 3 input a layer with one
  unit per pixel position has 3 146 752 (fully connected), 77 824 (locally connected) or 76
  (convolutional) parameters (the slide's "76200" is 75 · 1024 = 76 800);
- a = f(Σ w_ij x_ij) on 3 × 3 windows: the chapter's worked 5 × 5 example, by hand, by the naive
  loops and by im2col, and cross-correlation vs SciPy's convolution;
- hand-set ∂/∂x edge filters, template matching ("where is Waldo"), output sizes, receptive
  fields, pooling, shift invariance, and the LeNet-style network (``nnkit.worked.lenet``) with its
  layer-2 maps (coarser, choosier about the class than layer 1) and its top-3 predictions;
- nnkit.viz.plot_filters / plot_feature_maps / plot_top_k and nnkit.widgets.draw_conv_window /
  conv_window_explorer / filter_response / draw_filter_response / filter_explorer.
"""

from __future__ import annotations

import sys

import ipywidgets
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from numpy.testing import assert_allclose  # noqa: E402

import nnkit  # noqa: E402
import nnkit.functional as F  # noqa: E402
from nnkit import data, layers, losses, optim, viz, widgets, worked  # noqa: E402

X5 = np.array([[1, 2, 0, 3, 1],
               [0, 1, 4, 2, 2],
               [3, 0, 1, 5, 0],
               [2, 2, 0, 1, 3],
               [1, 0, 2, 4, 1]], dtype=float)
SOBEL = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=float)
Z5 = np.array([[-5, -8, 4], [2, -10, 1], [5, -7, -4]], dtype=float)   # worked out by hand
D_DX = np.array([[-1, 0, 1]] * 3) / 6


def _module_of(function):
    """The module that defines ``function``: patch a helper there, where the widget looks it up."""
    return sys.modules[function.__module__]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ----------------------------------------------------------------------------- parameter counts

def test_seed_parameter_counts_on_a_32x32x3_image(backend_name):
    conv = layers.Conv2D(3, 1, kernel_size=5, padding=2)
    assert conv.W.shape == (1, 3, 5, 5) and 5 * 5 * 3 == 75
    out = conv(nnkit.asarray(np.zeros((1, 3, 32, 32))))
    assert tuple(out.shape) == (1, 1, 32, 32)                        # 1024 units
    assert conv.num_parameters() == 76
    assert layers.Linear(32 * 32 * 3, 32 * 32).num_parameters() == 3_146_752
    assert 75 * 1024 == 76_800 and 76 * 1024 == 77_824               # the slide prints 76200
    assert layers.Conv2D(3, 6, kernel_size=5).num_parameters() == 456


# ----------------------------------------------------------------------------- one window

def test_the_worked_3x3_windows_by_hand_loops_and_im2col(backend_name):
    window = X5[0:3, 0:3]
    assert np.sum(SOBEL * window) == -5                               # the term-by-term sum
    x, w = nnkit.asarray(X5.reshape(1, 1, 5, 5)), nnkit.asarray(SOBEL.reshape(1, 1, 3, 3))
    for forward in (F.conv2d_forward, F.conv2d_naive_forward):
        out, _ = forward(x, w, nnkit.asarray([0.0]))
        assert_allclose(nnkit.to_numpy(out)[0, 0], Z5)
    assert Z5.max() == 5 and Z5.min() == -10 and Z5[1, 2] == 1


def test_nnkit_convolution_is_cross_correlation():
    signal = pytest.importorskip("scipy.signal")
    assert_allclose(signal.correlate2d(X5, SOBEL, mode="valid"), Z5)
    assert not np.allclose(signal.convolve2d(X5, SOBEL, mode="valid"), Z5)
    assert_allclose(signal.convolve2d(X5, SOBEL[::-1, ::-1], mode="valid"), Z5)


# ----------------------------------------------------------------------------- hand-set filters

def test_derivative_filter_fires_on_vertical_edges_with_the_right_sign(backend_name):
    square = np.zeros((40, 40))
    square[8:22, 6:20] = 1.0
    gx = widgets.filter_response(nnkit.asarray(square), D_DX)
    assert gx.shape == (40, 40)
    row = gx[15]
    assert_allclose(row[[5, 6]], 0.5) and assert_allclose(row[[19, 20]], -0.5)
    assert np.count_nonzero(np.abs(row) > 1e-12) == 4                 # flat inside and outside
    gy = widgets.filter_response(square, D_DX.T)
    assert_allclose(gy[:, 12][[7, 8]], 0.5) and assert_allclose(gy[:, 12][[21, 22]], -0.5)


def test_hand_set_filters_are_3x3_and_the_identity_leaves_the_image_alone():
    image = np.arange(36, dtype=float).reshape(6, 6)
    assert all(np.asarray(k).shape == (3, 3) for k in widgets.HAND_SET_FILTERS.values())
    assert_allclose(widgets.filter_response(image, widgets.HAND_SET_FILTERS["identity"]), image)
    assert_allclose(np.sum(widgets.HAND_SET_FILTERS["blur (3×3 mean)"]), 1.0)
    with pytest.raises(ValueError, match="odd size"):
        widgets.filter_response(image, np.ones((2, 2)))


def test_a_zero_mean_template_finds_the_pattern_that_a_raw_template_confuses_with_bright_squares():
    waldo = np.array([[0, 1, 1, 1, 0], [1, 0, 1, 0, 1], [1, 1, 1, 1, 1], [0, 1, 0, 1, 0], [0, 1, 0, 1, 0]],
                     dtype=float)
    gen = np.random.default_rng(0)
    scene = gen.uniform(0, 0.3, (30, 40))
    scene[20:25, 6:11] = waldo
    scene[3:8, 3:8] = 1.0                                               # two solid squares
    scene[12:17, 30:35] = 1.0
    scene[3:8, 20:25] = gen.random((5, 5)) < 0.5                        # a random pattern

    def response(kernel):
        out, _ = F.conv2d_forward(nnkit.asarray(scene[None, None]), nnkit.asarray(kernel[None, None]), None)
        return nnkit.to_numpy(out)[0, 0]

    raw, centred = response(waldo), response(waldo - waldo.mean())
    assert raw[3, 3] >= raw[20, 6] - 1e-9 and raw[12, 30] >= raw[20, 6] - 1e-9   # squares tie or beat Waldo
    assert np.unravel_index(np.argmax(centred), centred.shape) == (20, 6)
    assert abs(centred[3, 3]) < 1e-9                                    # a constant patch scores 0


# ----------------------------------------------------------------------------- sizes and fields

@pytest.mark.parametrize("size, kernel, stride, padding, expected",
                         [(32, 5, 1, 0, 28), (32, 5, 1, 2, 32), (7, 3, 2, 0, 3), (7, 3, 2, 1, 4),
                          (28, 2, 2, 0, 14), (28, 5, 1, 0, 24), (24, 2, 2, 0, 12), (12, 5, 1, 0, 8)])
def test_output_sizes_of_the_chapter(size, kernel, stride, padding, expected):
    assert F.conv_output_size(size, kernel, stride, padding) == expected
    assert f"= {expected} outputs." in F.explain_output_size(size, kernel, stride, padding)


def test_a_stride_that_does_not_tile_is_floored_like_pytorch_and_explained():
    out = layers.Conv2D(1, 4, kernel_size=3, stride=2)(nnkit.asarray(np.zeros((1, 1, 8, 8))))
    assert tuple(out.shape) == (1, 4, 3, 3)
    explanation = F.explain_output_size(8, 3, stride=2)
    assert "1 pixel(s) left over" in explanation and "= 3 outputs." in explanation


def test_the_chapters_conv_backward_formulas():
    """Section 2: db = Σ dZ, dW = X ⋆ dZ (valid cross-correlation), dX = full convolution of dZ with w."""
    from scipy import signal

    X = np.array([[1, 2, 0, 3, 1], [0, 1, 4, 2, 2], [3, 0, 1, 5, 0], [2, 2, 0, 1, 3], [1, 0, 2, 4, 1]], float)
    w = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], float)
    dZ = np.random.default_rng(3).normal(size=(3, 3))
    _, cache = F.conv2d_forward(nnkit.asarray(X.reshape(1, 1, 5, 5)), nnkit.asarray(w.reshape(1, 1, 3, 3)),
                                nnkit.asarray([0.0]))
    dX, dW, db = (nnkit.to_numpy(g) for g in F.conv2d_backward(nnkit.asarray(dZ.reshape(1, 1, 3, 3)), cache))
    assert_allclose(dX[0, 0], signal.convolve2d(dZ, w, mode="full"), atol=1e-12)
    assert_allclose(dW[0, 0], signal.correlate2d(X, dZ, mode="valid"), atol=1e-12)
    assert_allclose(db, [dZ.sum()], atol=1e-12)
    layer = layers.Conv2D(2, 3, kernel_size=3, stride=2, padding=1)
    assert nnkit.gradcheck(layer, nnkit.asarray(np.random.default_rng(4).normal(size=(2, 2, 7, 7)))).passed


def _receptive_field(*stack):
    for layer in stack:
        if isinstance(layer, layers.Conv2D):
            layer.W.data = layer.W.data * 0 + 1.0
    net = nnkit.Sequential(*stack)
    out = net(nnkit.asarray(np.ones((1, 1, 16, 16))))
    grad = np.zeros(out.shape)
    grad[0, 0, out.shape[2] // 2, out.shape[3] // 2] = 1.0
    field = nnkit.to_numpy(net.backward(nnkit.asarray(grad)))[0, 0] != 0
    return int(field.any(axis=1).sum()), int(field.any(axis=0).sum())


def test_receptive_fields_grow_by_two_per_3x3_layer_and_double_after_pooling(backend_name):
    conv = lambda: layers.Conv2D(1, 1, 3)  # noqa: E731
    assert _receptive_field(conv()) == (3, 3)
    assert _receptive_field(conv(), conv()) == (5, 5)
    assert _receptive_field(conv(), conv(), conv()) == (7, 7)
    assert _receptive_field(conv(), layers.AvgPool2D(2), conv()) == (8, 8)


# ----------------------------------------------------------------------------- pooling

def test_pooling_example(backend_name):
    M = nnkit.asarray(np.array([[1, 3, 2, 0], [4, 2, 1, 1], [0, 0, 5, 6], [1, 2, 7, 2]],
                               dtype=float).reshape(1, 1, 4, 4))
    assert_allclose(nnkit.to_numpy(layers.MaxPool2D(2)(M))[0, 0], [[4, 2], [2, 7]])
    assert_allclose(nnkit.to_numpy(layers.AvgPool2D(2)(M))[0, 0], [[2.5, 1.0], [0.75, 5.0]])


def test_pooling_buys_partial_shift_invariance_and_global_pooling_all_of_it():
    digits, _ = data.load_digits(images=True)
    canvas = np.zeros((200, 1, 12, 12))
    canvas[:, :, 2:10, 2:10] = digits[:200]
    shifted = np.roll(canvas, 1, axis=3)
    conv = layers.Conv2D(1, 4, kernel_size=3, padding=1, bias=False)
    conv.W.data = nnkit.asarray(np.stack([D_DX, -D_DX, D_DX.T, -D_DX.T])[:, None])
    features = nnkit.Sequential(conv, layers.ReLU())

    def change(f):
        a, b = (nnkit.to_numpy(f(nnkit.asarray(x))).reshape(200, -1) for x in (canvas, shifted))
        return float(np.mean(np.linalg.norm(b - a, axis=1) / np.linalg.norm(a, axis=1)))

    pixels, conv_change = change(lambda x: x), change(features)
    max2, max6 = (change(lambda x, k=k: layers.MaxPool2D(k)(features(x))) for k in (2, 6))
    assert round(pixels, 3) == 0.809 and round(conv_change, 3) == 0.830
    assert conv_change > max2 > max6 > 0.2
    assert round(max2, 3) == 0.612
    assert change(lambda x: layers.MaxPool2D(12)(features(x))) < 1e-12
    assert change(lambda x: layers.AvgPool2D(12)(features(x))) < 1e-12
    # a shift by a whole window shifts the pooled map by exactly one cell
    two = np.roll(canvas, 2, axis=3)
    pooled, pooled_two = (nnkit.to_numpy(layers.MaxPool2D(2)(features(nnkit.asarray(x))))
                          for x in (canvas, two))
    assert_allclose(pooled_two[..., 1:], pooled[..., :-1], atol=1e-12)


# ----------------------------------------------------------------------------- LeNet

@pytest.mark.slow
def test_lenet_style_network_of_the_chapter():
    with nnkit.use_backend("numpy"):
        digits, labels = data.load_digits(images=True)
        (X_train, y_train), (X_val, y_val), (X_test, y_test) = data.train_val_test_split(
            digits, labels, val=0.15, test=0.15, seed=0)
        nnkit.seed(0)
        lenet = worked.lenet()
        assert [type(layer).__name__ for layer in lenet] == [
            "Conv2D", "ReLU", "MaxPool2D", "Conv2D", "ReLU", "MaxPool2D", "Flatten", "Linear"]
        assert lenet[0].W.shape == (8, 1, 3, 3) and lenet[3].W.shape == (16, 8, 3, 3)
        assert lenet[7].W.shape == (64, 10) and lenet.num_parameters() == 1898
        assert tuple(lenet(nnkit.asarray(X_train[:2])).shape) == (2, 10)
        loss_fn = losses.CrossEntropyLoss()
        nnkit.fit(lenet, loss_fn, optim.Adam(lenet.parameters(), lr=3e-3), (X_train, y_train),
                  epochs=15, batch_size=32, val_data=(X_val, y_val), progress=False)
        _, accuracy = nnkit.evaluate(lenet, loss_fn, X_test, y_test)
        assert accuracy >= 0.95
        probabilities = nnkit.to_numpy(F.softmax(lenet(nnkit.asarray(X_test))))
        top3 = np.argsort(-probabilities, axis=1, kind="stable")[:, :3]
        assert np.mean((top3 == y_test[:, None]).any(axis=1)) >= 0.99
        confidence, right = probabilities.max(axis=1), top3[:, 0] == y_test
        assert np.median(confidence[~right]) < np.median(confidence[right])   # mistakes: less sure (median)
        _check_the_layer_maps(lenet, X_test, y_test)


def _check_the_layer_maps(lenet, X_test, y_test):
    """Section 9's layer-2 figure and its numbers: coarser maps, choosier about the class."""
    sample = [int(np.flatnonzero(y_test == c)[0]) for c in (7, 0)]
    maps1 = lenet[1](lenet[0](nnkit.asarray(X_test[sample])))
    maps2 = nnkit.to_numpy(lenet[4](lenet[3](lenet[2](maps1))))
    maps1 = nnkit.to_numpy(maps1)
    assert maps1.shape == (2, 8, 8, 8) and maps2.shape == (2, 16, 4, 4)
    assert np.all(maps1[:, [2, 5, 6]].max(axis=(2, 3)) > 0.5)              # the three shown maps fire on both
    assert maps2[1, 7].sum() < 0.15 * maps2[0, 7].sum()          # map 7: the 7 lit, the 0 almost dark
    maps = {"layer 1": lenet[1](lenet[0](nnkit.asarray(X_test)))}
    maps["layer 2"] = lenet[4](lenet[3](lenet[2](maps["layer 1"])))
    relative = {}
    for name, m in maps.items():
        activity = nnkit.to_numpy(m).sum(axis=(2, 3))
        per_class = np.stack([activity[y_test == c].mean(axis=0) for c in range(10)], axis=1)
        relative[name] = per_class / per_class.max(axis=1, keepdims=True)
    least = {name: r.min(axis=1) for name, r in relative.items()}
    assert round(least["layer 1"].min(), 2) == 0.70 and round(least["layer 1"].max(), 2) == 0.92
    assert round(least["layer 2"].min(), 2) == 0.11 and round(least["layer 2"].max(), 2) == 0.82
    assert np.sum(least["layer 1"] < 0.5) == 0 and np.sum(least["layer 2"] < 0.5) == 5
    assert np.all(np.abs(least["layer 2"] - 0.5) > 0.01)         # "5 of 16 below 50 %", with a margin
    map7 = relative["layer 2"][7]
    assert int(np.argmin(least["layer 2"])) == 7                            # "map 7 is the extreme"
    assert list(np.argsort(-map7)[:2]) == [7, 1] and list(np.argsort(map7)[:2]) == [0, 6]


# ----------------------------------------------------------------------------- figures

def test_plot_filters_draws_a_column_per_filter_and_a_row_per_channel(backend_name):
    W = nnkit.asarray(np.random.default_rng(0).normal(size=(5, 2, 3, 3)))
    fig = viz.plot_filters(W, title="five filters")
    assert len(fig.axes) == 10 and fig._suptitle.get_text() == "five filters"
    fig = viz.plot_filters(np.ones((3, 3, 3)), annotate=True)            # (F, kh, kw): one row
    assert len(fig.axes) == 3 and len(fig.axes[0].texts) == 9
    assert len(viz.plot_filters(np.zeros((40, 1, 3, 3)), max_filters=16).axes) == 16


def test_plot_feature_maps_shares_one_colour_scale_and_can_show_the_input(backend_name):
    maps = nnkit.asarray(np.arange(2 * 3 * 4 * 4, dtype=float).reshape(1, 6, 4, 4))
    fig = viz.plot_feature_maps(maps, ncols=3, image=np.zeros((1, 1, 8, 8)))
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 7                                             # input + 6 maps
    assert {im.get_clim() for im in images[1:]} == {(0.0, 95.0)}
    assert fig.axes[0].get_title() == "input"


def test_plot_top_k_shows_the_k_most_likely_classes_and_marks_mistakes(backend_name):
    P = np.array([[0.1, 0.7, 0.2, 0.0], [0.5, 0.1, 0.15, 0.25]])
    fig = viz.plot_top_k(nnkit.asarray(np.zeros((2, 1, 8, 8))), nnkit.asarray(P), labels=np.array([1, 3]),
                         k=3)
    bar_axes = [ax for ax in fig.axes if ax.patches]
    assert [t.get_text() for t in bar_axes[0].get_yticklabels()] == ["1", "2", "0"]
    assert [t.get_text() for t in bar_axes[1].get_yticklabels()] == ["0", "3", "2"]
    assert_allclose([p.get_width() for p in bar_axes[1].patches], [0.5, 0.25, 0.15])
    titles = [ax.get_title() for ax in fig.axes if ax.images]
    assert titles == ["label 1", "label 3 ✗"]


# ----------------------------------------------------------------------------- widgets

def test_draw_conv_window_reports_the_output_size_and_the_pixels_never_reached():
    fig, ax = plt.subplots()
    widgets.draw_conv_window(ax, size=7, kernel=3, stride=2, padding=1, position=5)
    assert "(7 + 2·1 − 3) / 2 + 1 = 4" in ax.get_title()
    assert any("= 4 outputs." in " ".join(t.get_text().split()) for t in ax.texts)   # wrapped text
    hatched = [p for p in ax.patches if p.get_hatch()]
    assert not hatched
    widgets.draw_conv_window(ax, size=8, kernel=3, stride=2, padding=0, explain=0)
    assert "3.5" in ax.get_title() and "⌊ ⌋ gives 3" in ax.get_title()
    assert len([p for p in ax.patches if p.get_hatch()]) == 8 + 8 - 1   # last row and column
    widgets.draw_conv_window(ax, size=3, kernel=5, stride=1, padding=0)
    assert "does not fit" in ax.get_title()


def test_conv_window_explorer_redraws_and_keeps_the_window_slider_in_range(monkeypatch):
    calls = []
    monkeypatch.setattr(_module_of(widgets.conv_window_explorer), "draw_conv_window",
                        lambda ax, **kw: calls.append(kw))
    widget = widgets.conv_window_explorer(size=7, kernel=3, stride=1, padding=0)
    row, output = widget.children
    assert isinstance(output, ipywidgets.Output)
    controls = {c.description: c for c in row.children}
    assert controls["window"].max == 24                                 # 5 × 5 outputs
    controls["stride"].value = 2
    assert controls["window"].max == 8 and calls[-1]["stride"] == 2     # 3 × 3 outputs
    controls["window"].value = 4
    assert calls[-1]["position"] == 4
    controls["padding"].value = 1
    assert calls[-1]["padding"] == 1 and controls["window"].max == 15


def test_filter_explorer_redraws_on_every_control(monkeypatch):
    calls = []
    monkeypatch.setattr(_module_of(widgets.filter_explorer), "draw_filter_response",
                        lambda ax, image, kernel, relu=False, **kw: calls.append((kernel, relu)))
    images = {"a": np.zeros((6, 6)), "b": np.eye(6)}
    widget = widgets.filter_explorer(images)
    image, kernel, relu = widget.children[0].children
    assert calls[-1] == ("∂/∂x (vertical edges)", False)
    kernel.value = "sharpen"
    assert calls[-1] == ("sharpen", False)
    relu.value = True
    assert calls[-1] == ("sharpen", True)
    n = len(calls)
    image.value = "b"
    assert len(calls) == n + 1


def test_draw_filter_response_with_relu_keeps_only_the_positive_part(backend_name):
    square = np.zeros((12, 12))
    square[3:9, 3:9] = 1.0
    fig, (ax0, ax1) = plt.subplots(1, 2)
    widgets.draw_filter_response(ax0, nnkit.asarray(square), "∂/∂x (vertical edges)")
    widgets.draw_filter_response(ax1, square, D_DX, relu=True, colorbar=True)
    signed, cut = ax0.images[0].get_array(), ax1.images[0].get_array()
    assert signed.min() < 0 < signed.max() and cut.min() == 0
    assert_allclose(cut, np.maximum(signed, 0))
    assert ax0.get_title() == "∂/∂x (vertical edges)" and ax1.get_title() == "filter + ReLU"

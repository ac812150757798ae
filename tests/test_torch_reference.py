"""nnkit against PyTorch's own answers (tests/reference/torch_reference.npz; PyTorch is not needed).

The file is made by tests/reference/make_torch_reference.py (run it with torch installed to
refresh it): inputs, outputs and autograd gradients in float64 for strides that do not tile
(floored), rectangular pooling, RNN/LSTM/GRU from initial states with their final states,
and cross-entropy / NLL with ignore_index.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

import nnkit
from nnkit import functional as F
from nnkit import layers as L
from nnkit import losses

REFERENCE = np.load(Path(__file__).parent / "reference" / "torch_reference.npz")


def case(name):
    """The arrays of one case, by field name."""
    prefix = f"{name}/"
    return {key[len(prefix):]: REFERENCE[key] for key in REFERENCE.files if key.startswith(prefix)}


def on_backend(a):
    return nnkit.asarray(a) if a.dtype.kind == "f" else nnkit.asarray(a, dtype="int64")


def close(got, want):
    assert_allclose(nnkit.to_numpy(got), want, rtol=1e-9, atol=1e-12)


def shape_arg(a):
    """A stored kernel size or stride: an int, or a pair."""
    return int(a) if a.ndim == 0 else tuple(int(v) for v in a)


@pytest.mark.parametrize("name", ["conv_resnet_downsampling", "conv_stride_drops_pixels", "conv_rectangular"])
def test_convolution_matches_pytorch(backend_name, name):
    c = case(name)
    x, W, b, R = (on_backend(c[k]) for k in ("x", "W", "b", "R"))
    out, cache = F.conv2d_forward(x, W, b, shape_arg(c["stride"]), int(c["padding"]))
    close(out, c["out"])
    for got, want in zip(F.conv2d_backward(R, cache), (c["dx"], c["dW"], c["db"]), strict=True):
        close(got, want)


@pytest.mark.parametrize("name", ["maxpool_not_tiling", "maxpool_rectangular", "avgpool_not_tiling",
                                  "avgpool_rectangular"])
def test_pooling_layers_match_pytorch(backend_name, name):
    c = case(name)
    make = L.MaxPool2D if name.startswith("max") else L.AvgPool2D
    layer = make(shape_arg(c["kernel"]), stride=shape_arg(c["stride"]))
    close(layer(on_backend(c["x"])), c["out"])
    close(layer.backward(on_backend(c["R"])), c["dx"])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_recurrent_layers_with_states_match_pytorch(backend_name, cell):
    c = case(cell)
    D, H = c["Wx"].shape[0], c["Wh"].shape[0]
    layer = {"rnn": L.RNN, "lstm": L.LSTM, "gru": L.GRU}[cell](D, H, return_state=True)
    layer.load_state_dict({"Wx": c["Wx"], "Wh": c["Wh"], "b": c["b"]})
    states = {"h0": on_backend(c["h0"])} | ({"c0": on_backend(c["c0"])} if cell == "lstm" else {})
    out, *final = layer(on_backend(c["x"]), **states)
    close(out, c["out"])
    close(final[0], c["h_n"])
    finals = {"dh_n": on_backend(c["Rh"])} | ({"dc_n": on_backend(c["Rc"])} if cell == "lstm" else {})
    grads = layer.backward(on_backend(c["R"]), **finals)
    close(grads[0], c["dx"])
    close(grads[1], c["dh0"])
    if cell == "lstm":
        close(final[1], c["c_n"])
        close(grads[2], c["dc0"])
    for name in ("Wx", "Wh", "b"):
        close(getattr(layer, name).grad, c[f"d{name}"])


@pytest.mark.parametrize("name, make, pred", [("cross_entropy_ignore", losses.CrossEntropyLoss, "logits"),
                                              ("nll_ignore", losses.NLLLoss, "log_probs")])
def test_losses_with_ignore_index_match_pytorch(backend_name, name, make, pred):
    c = case(name)
    loss_fn = make(ignore_index=int(c["ignore_index"]))
    assert loss_fn(on_backend(c[pred]), on_backend(c["target"])) == pytest.approx(float(c["loss"]), rel=1e-12)
    close(loss_fn.backward(), c[f"d{pred}"])

"""Make tests/reference/torch_reference.npz: PyTorch's answers for the edges nnkit copies from it.

    pip install torch==2.13.0          # for this script only; never a test dependency
    python tests/reference/make_torch_reference.py

Every case stores its inputs, PyTorch's outputs and PyTorch's gradients (autograd, float64)
for a loss sum(out ⊙ R) (+ the final states' terms), already in nnkit's layouts:
weights (D, G·H) rather than PyTorch's (G·H, D), LSTM gates in nnkit's order (i, f, o, g),
one bias b = b_ih + b_hh. tests/test_torch_reference.py loads the file and checks nnkit.
Cases: convolution and pooling with strides that do not tile the input (floored), rectangular
pooling windows and strides, RNN/LSTM/GRU from h0 (and c0) with their final states, and the
cross-entropy and NLL losses with ignore_index.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

OUT = Path(__file__).with_name("torch_reference.npz")
rng = np.random.default_rng(2026)
cases: dict[str, np.ndarray] = {}


def normal(*shape: int) -> np.ndarray:
    return rng.standard_normal(shape)


def leaf(a: np.ndarray) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64, requires_grad=True)


def store(prefix: str, **arrays) -> None:
    for name, a in arrays.items():
        cases[f"{prefix}/{name}"] = np.asarray(a.detach().numpy() if isinstance(a, torch.Tensor) else a)


# ----------------------------------------------------------------------------- convolution

CONVS = {  # name: (x shape, W shape, stride, padding)
    "conv_resnet_downsampling": ((2, 3, 8, 8), (4, 3, 3, 3), 2, 1),   # 8×8 → 4×4, drops a padding column
    "conv_stride_drops_pixels": ((2, 2, 7, 8), (3, 2, 3, 3), 2, 0),   # 7×8 → 3×3, drops image pixels
    "conv_rectangular": ((1, 2, 9, 7), (2, 2, 3, 2), (3, 2), 1),
}
for name, (x_shape, w_shape, stride, padding) in CONVS.items():
    x, W, b = leaf(normal(*x_shape)), leaf(normal(*w_shape)), leaf(normal(w_shape[0]))
    out = torch.nn.functional.conv2d(x, W, b, stride=stride, padding=padding)
    R = normal(*out.shape)
    (out * torch.tensor(R)).sum().backward()
    store(name, x=x, W=W, b=b, stride=np.array(stride), padding=np.array(padding), R=R, out=out,
          dx=x.grad, dW=W.grad, db=b.grad)

# ----------------------------------------------------------------------------- pooling

POOLS = {  # name: (kind, x shape, kernel, stride)
    "maxpool_not_tiling": ("max", (2, 2, 7, 7), 2, 2),
    "maxpool_rectangular": ("max", (2, 2, 6, 7), (2, 3), (1, 2)),
    "avgpool_not_tiling": ("avg", (2, 2, 7, 6), 3, 2),
    "avgpool_rectangular": ("avg", (1, 3, 7, 6), (3, 2), (2, 1)),
}
for name, (kind, x_shape, kernel, stride) in POOLS.items():
    x = leaf(normal(*x_shape))                      # continuous values: no tied maxima
    pool = torch.nn.functional.max_pool2d if kind == "max" else torch.nn.functional.avg_pool2d
    out = pool(x, kernel, stride)
    R = normal(*out.shape)
    (out * torch.tensor(R)).sum().backward()
    store(name, x=x, kernel=np.array(kernel), stride=np.array(stride), R=R, out=out, dx=x.grad)

# ----------------------------------------------------------------------------- recurrent layers

N, T, D, H = 3, 5, 4, 6
LSTM_ORDER = [0, 1, 3, 2]   # PyTorch's blocks (i, f, g, o) → nnkit's (i, f, o, g)


def to_nnkit(a: torch.Tensor, cell: str) -> np.ndarray:
    """A PyTorch (G·H, ...) parameter or gradient with its gate blocks in nnkit's order, transposed."""
    a = a.detach().numpy()
    if cell == "lstm":
        a = np.concatenate([a[k * H:(k + 1) * H] for k in LSTM_ORDER])
    return a.T


for cell, module in (("rnn", torch.nn.RNN), ("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU)):
    layer = module(D, H, batch_first=True).double()
    if cell == "gru":   # nnkit's GRU has one bias, outside r ⊙ (h·Wh): PyTorch's b_hn must be 0
        with torch.no_grad():
            layer.bias_hh_l0[2 * H:] = 0.0
    x, h0 = leaf(normal(N, T, D)), leaf(normal(1, N, H))
    if cell == "lstm":
        c0 = leaf(normal(1, N, H))
        out, (h_n, c_n) = layer(x, (h0, c0))
    else:
        out, h_n = layer(x, h0)
    R, Rh = normal(N, T, H), normal(N, H)
    loss = (out * torch.tensor(R)).sum() + (h_n[0] * torch.tensor(Rh)).sum()
    if cell == "lstm":
        Rc = normal(N, H)
        loss = loss + (c_n[0] * torch.tensor(Rc)).sum()
        store(cell, c0=c0[0], Rc=Rc, c_n=c_n[0])
    loss.backward()
    b = layer.bias_ih_l0 + layer.bias_hh_l0
    store(cell, x=x, h0=h0[0], R=R, Rh=Rh, out=out, h_n=h_n[0], dx=x.grad, dh0=h0.grad[0],
          Wx=to_nnkit(layer.weight_ih_l0, cell), Wh=to_nnkit(layer.weight_hh_l0, cell),
          b=to_nnkit(b[:, None], cell)[0], dWx=to_nnkit(layer.weight_ih_l0.grad, cell),
          dWh=to_nnkit(layer.weight_hh_l0.grad, cell), db=to_nnkit(layer.bias_ih_l0.grad[:, None], cell)[0])
    if cell == "lstm":
        store(cell, dc0=c0.grad[0])

# ----------------------------------------------------------------------------- masked losses

IGNORE = -100   # PyTorch's default ignore_index
logits = leaf(normal(7, 5))
target = np.array([3, IGNORE, 0, 4, IGNORE, 1, 3])
loss = torch.nn.functional.cross_entropy(logits, torch.tensor(target), ignore_index=IGNORE)
loss.backward()
store("cross_entropy_ignore", logits=logits, target=target, ignore_index=np.array(IGNORE), loss=loss,
      dlogits=logits.grad)
log_probs = leaf(np.log(rng.dirichlet(np.ones(5), size=6)))
target = np.array([2, 2, 0, 4, 4, 1])
loss = torch.nn.functional.nll_loss(log_probs, torch.tensor(target), ignore_index=4)
loss.backward()
store("nll_ignore", log_probs=log_probs, target=target, ignore_index=np.array(4), loss=loss,
      dlog_probs=log_probs.grad)

np.savez_compressed(OUT, torch_version=np.array(torch.__version__), **cases)
print(f"wrote {len(cases)} arrays to {OUT} ({OUT.stat().st_size} bytes) with torch {torch.__version__}")

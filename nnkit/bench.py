"""How fast is nnkit? The same workloads timed in nnkit and in PyTorch (CPU), side by side.

    python -m nnkit.bench                  # all workloads, float32, 1 thread
    python -m nnkit.bench --threads 2      # BLAS and PyTorch both on 2 threads
    python -m nnkit.bench --quick          # tiny sizes: a smoke test, seconds

PyTorch is optional (``pip install -r requirements-bench.txt``); without it only nnkit's
times are printed. Both libraries run in the same process on the same data with the same
number of threads; their repeats are interleaved (so a busy machine slows both alike) and
each time is the median over the repeats: CPU time on one thread (robust to other
programs on a shared machine), wall time on several. The ratio column is nnkit's time
over PyTorch's: below 1 nnkit is faster. PyTorch also computes the input gradient
(nnkit's backward always returns it), except in the digits run, which is written as a
PyTorch user would. A large float32 matrix product gives the machine's BLAS rate, and
each convolution's rate is reported as a fraction of it.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from . import backend
from .layers import LSTM, RNN, Conv2D, Linear, MaxPool2D, ReLU, Sequential
from .losses import CrossEntropyLoss
from .optim import SGD
from .train import fit

Step = Callable[[], object]


@dataclass
class Workload:
    """One thing to time: ``nnkit()`` and ``torch()`` each build their data and return a step to time.

    target: the ratio nnkit/PyTorch to stay under (None: reported only).
    flops:  floating-point operations per step (0: no rate reported).
    """

    name: str
    nnkit: Callable[[], Step]
    torch: Callable[[], Step]
    target: float | None = None
    flops: float = 0.0


# ----------------------------------------------------------------------------- building blocks

def _normal(*shape: int):
    return backend.rng().standard_normal(shape).astype("float32")


def _labels(n: int, classes: int):
    return backend.rng().integers(0, classes, n)


def _nnkit_layer(make: Callable[[], object], x_shape: tuple[int, ...]) -> Callable[[], Step]:
    """A forward and backward pass through a layer (one Module) on random data."""
    def build() -> Step:
        layer = make()
        x = backend.asarray(_normal(*x_shape))
        dout = backend.asarray(_normal(*layer(x).shape))

        def step() -> None:
            layer(x)
            layer.backward(dout)
        return step
    return build


def _torch_layer(make: Callable[[], object], x_shape: tuple[int, ...]) -> Callable[[], Step]:
    """The PyTorch twin of :func:`_nnkit_layer` (input gradient computed too, like nnkit)."""
    def build() -> Step:
        import torch
        layer = make()
        x = torch.from_numpy(_normal(*x_shape)).requires_grad_()
        out = layer(x)
        out = out[0] if isinstance(out, tuple) else out
        dout = torch.from_numpy(_normal(*out.shape))

        def step() -> None:
            out = layer(x)
            (out[0] if isinstance(out, tuple) else out).backward(dout)
        return step
    return build


def _nnkit_mlp(sizes: tuple[int, ...]) -> Sequential:
    layers: list = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [Linear(fan_in, fan_out), ReLU()]
    return Sequential(*layers[:-1])


def _torch_mlp(sizes: tuple[int, ...]):
    import torch
    layers: list = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1])


def _nnkit_train_step(sizes: tuple[int, ...], batch: int) -> Step:
    """One SGD step of an MLP with cross-entropy: forward, loss, backward, update."""
    model, loss_fn = _nnkit_mlp(sizes), CrossEntropyLoss()
    optimizer = SGD(model.parameters(), lr=0.01)
    x, y = backend.asarray(_normal(batch, sizes[0])), backend.asarray(_labels(batch, sizes[-1]))

    def step() -> None:
        optimizer.zero_grad()
        loss_fn(model(x), y)
        model.backward(loss_fn.backward())
        optimizer.step()
    return step


def _torch_train_step(sizes: tuple[int, ...], batch: int) -> Step:
    import torch
    model, loss_fn = _torch_mlp(sizes), torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.from_numpy(_normal(batch, sizes[0])), torch.from_numpy(_labels(batch, sizes[-1]))
    x.requires_grad_()  # nnkit's backward returns d(loss)/dx too: do the same maths

    def step() -> None:
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
    return step


def _digits(quick: bool):
    from .data import load_digits
    X, y = load_digits()
    return (X[:96], y[:96]) if quick else (X, y)


def _nnkit_digits(epochs: int, quick: bool) -> Step:
    """``nnkit.train.fit`` of a 64-32-10 MLP on the digits, batch 32, as a student runs it."""
    X, y = _digits(quick)
    X = X.astype("float32")

    def run() -> None:
        model = _nnkit_mlp((64, 32, 10))
        fit(model, CrossEntropyLoss(), SGD(model.parameters(), lr=0.1), (X, y), epochs=epochs,
            batch_size=32, progress=False)
    return run


def _torch_digits(epochs: int, quick: bool) -> Step:
    """The same training in PyTorch, with the bookkeeping fit does (loss and accuracy per batch)."""
    import torch
    X, y = _digits(quick)
    X, y = torch.from_numpy(X.astype("float32")), torch.from_numpy(y)

    def run() -> None:
        model, loss_fn = _torch_mlp((64, 32, 10)), torch.nn.CrossEntropyLoss()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(epochs):
            order = torch.randperm(len(y))
            total_loss = total_correct = 0.0
            for start in range(0, len(y), 32):
                rows = order[start:start + 32]
                xb, yb = X[rows], y[rows]
                optimizer.zero_grad()
                out = model(xb)
                loss = loss_fn(out, yb)
                loss.backward()
                optimizer.step()
                total_loss += loss.item() * len(rows)
                total_correct += (out.argmax(1) == yb).sum().item()
    return run


def _nnkit_matmul(n: int) -> Step:
    a, b = backend.asarray(_normal(n, n)), backend.asarray(_normal(n, n))
    return lambda: a @ b


def _torch_matmul(n: int) -> Step:
    import torch
    a, b = torch.from_numpy(_normal(n, n)), torch.from_numpy(_normal(n, n))
    return lambda: a @ b


def _conv_flops(n: int, c: int, f: int, k: int, out_hw: int) -> float:
    """Forward + backward (dW and dx): three products of 2·N·F·C·k²·OH·OW operations each."""
    return 3 * 2 * n * f * c * k * k * out_hw * out_hw


# ----------------------------------------------------------------------------- the workloads

def workloads(quick: bool = False) -> list[Workload]:
    """The benchmark's workloads at full size, or tiny ones with ``quick``."""
    n_img, n_seq, steps, mm = (2, 3, 4, 64) if quick else (64, 32, 50, 1024)
    mlp = (20, 16, 8, 4) if quick else (784, 256, 128, 10)
    mlp_batch, epochs = (8, 1) if quick else (128, 20)
    convs = [(1, 16, 8 if quick else 28), (16, 32, 4 if quick else 14)]
    seq_in, hidden = (5, 6) if quick else (64, 128)
    pool_hw = 8 if quick else 28
    result = [
        Workload(f"MLP {'-'.join(map(str, mlp))} train step, batch {mlp_batch}",
                 lambda: _nnkit_train_step(mlp, mlp_batch), lambda: _torch_train_step(mlp, mlp_batch), 0.8),
    ]
    for (c, f, hw), target in zip(convs, (1.2, 1.5), strict=True):
        result.append(Workload(
            f"Conv2D {n_img}x{c}x{hw}x{hw} -> {f}, 3x3 pad 1, fwd+bwd",
            _nnkit_layer(lambda c=c, f=f: Conv2D(c, f, 3, padding=1), (n_img, c, hw, hw)),
            _torch_layer(lambda c=c, f=f: _torch_nn().Conv2d(c, f, 3, padding=1), (n_img, c, hw, hw)),
            target, _conv_flops(n_img, c, f, 3, hw)))
    result += [
        Workload(f"MaxPool2D 2x2 on {n_img}x16x{pool_hw}x{pool_hw}, fwd+bwd",
                 _nnkit_layer(lambda: MaxPool2D(2), (n_img, 16, pool_hw, pool_hw)),
                 _torch_layer(lambda: _torch_nn().MaxPool2d(2), (n_img, 16, pool_hw, pool_hw)), 0.8),
        Workload(f"RNN {seq_in}->{hidden}, batch {n_seq}, {steps} steps, fwd+BPTT",
                 _nnkit_layer(lambda: RNN(seq_in, hidden), (n_seq, steps, seq_in)),
                 _torch_layer(lambda: _torch_nn().RNN(seq_in, hidden, batch_first=True),
                              (n_seq, steps, seq_in)), 0.5),
        Workload(f"LSTM {seq_in}->{hidden}, batch {n_seq}, {steps} steps, fwd+BPTT",
                 _nnkit_layer(lambda: LSTM(seq_in, hidden), (n_seq, steps, seq_in)),
                 _torch_layer(lambda: _torch_nn().LSTM(seq_in, hidden, batch_first=True),
                              (n_seq, steps, seq_in)), 1.0),
        Workload(f"digits MLP 64-32-10, batch 32, {epochs} epoch(s) of fit",
                 lambda: _nnkit_digits(epochs, quick), lambda: _torch_digits(epochs, quick), 0.8),
        Workload(f"matmul {mm}x{mm} @ {mm}x{mm} (the BLAS rate)",
                 lambda: _nnkit_matmul(mm), lambda: _torch_matmul(mm), None, 2.0 * mm**3),
    ]
    return result


def _torch_nn():
    import torch
    return torch.nn


# ----------------------------------------------------------------------------- timing

def _sample(step: Step, calls: int, clock: Callable[[], float]) -> float:
    """Seconds per call by ``clock``, averaged over ``calls`` back-to-back calls."""
    start = clock()
    for _ in range(calls):
        step()
    return (clock() - start) / calls


def measure(work: list[Workload], repeats: int, budget: float, use_torch: bool,
            clock: Callable[[], float] = time.perf_counter) -> list[dict]:
    """Median seconds per step of each workload, nnkit and PyTorch interleaved repeat by repeat.

    Each sample times as many back-to-back calls as fill about ``budget`` seconds.
    """
    impls = ("nnkit", "torch") if use_torch else ("nnkit",)
    steps = {(w.name, impl): getattr(w, impl)() for w in work for impl in impls}
    calls = {}
    for w in work:
        for impl in impls:
            steps[w.name, impl]()                                        # warm up
        calls[w.name] = max(1, int(budget / _sample(steps[w.name, "nnkit"], 1, clock)))
    times: dict[tuple[str, str], list[float]] = {key: [] for key in steps}
    for r in range(repeats):
        for w in work:
            for impl in (impls if r % 2 == 0 else impls[::-1]):            # alternate who goes first
                times[w.name, impl].append(_sample(steps[w.name, impl], calls[w.name], clock))
    return [{"workload": w, **{impl: statistics.median(times[w.name, impl]) for impl in impls}} for w in work]


def _blas_kernel() -> str:
    """The BLAS libraries in this process, the package that brought each (NumPy's runs nnkit's
    products; SciPy's comes with the digits data) and the CPU kernel each chose (e.g. OpenBLAS's
    SkylakeX or Haswell: their timings differ)."""
    from pathlib import Path

    from threadpoolctl import threadpool_info

    blas = [f"{Path(info['filepath']).parent.name.removesuffix('.libs')}'s {info['internal_api']} "
            f"{info.get('version') or ''} ({info.get('architecture') or '?'} kernel)"
            for info in threadpool_info() if info["user_api"] == "blas"]
    return ", ".join(blas) or "unknown"


def _torch_blas() -> str:
    """PyTorch's BLAS: linked into PyTorch itself, so threadpoolctl does not list it."""
    import torch
    return "MKL" if torch.backends.mkl.is_available() else "not MKL (see torch.__config__.show())"


def report(rows: list[dict], threads: int, clock_name: str) -> str:
    """The results as a table, then the convolutions' rates against the matrix product's."""
    has_torch = "torch" in rows[0]
    header = f"{'workload':<58} {'nnkit ms':>9}"
    if has_torch:
        header += f" {'torch ms':>9} {'ratio':>6} {'target':>7}"
    lines = [f"nnkit vs PyTorch (CPU), float32, {threads} thread(s); median {clock_name} per step",
             f"BLAS in this process: {_blas_kernel()}"
             + (f"; PyTorch's own: {_torch_blas()}" if has_torch else ""), header]
    for row in rows:
        w = row["workload"]
        line = f"{w.name:<58} {row['nnkit'] * 1e3:>9.3f}"
        if has_torch:
            ratio = row["nnkit"] / row["torch"]
            line += f" {row['torch'] * 1e3:>9.3f} {ratio:>6.2f}"
            if w.target is not None:
                line += f"  ≤ {w.target:.1f} {'met' if ratio <= w.target else 'MISSED'}"
        lines.append(line)
    matmul = next(row for row in rows if row["workload"].name.startswith("matmul"))
    blas = matmul["workload"].flops / matmul["nnkit"]
    lines.append(f"\nBLAS rate (nnkit's matmul): {blas / 1e9:.1f} GFLOP/s")
    for row in rows:
        w = row["workload"]
        if w.flops and w is not matmul["workload"]:
            rate = w.flops / row["nnkit"]
            lines.append(f"{w.name}: {rate / 1e9:.1f} GFLOP/s = {rate / blas:.0%} of the BLAS rate")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m nnkit.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few repeats (a smoke test)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS and PyTorch threads (default 1)")
    parser.add_argument("--repeats", type=int, default=None, help="timed repeats per workload (default 9)")
    parser.add_argument("--no-torch", action="store_true", help="time nnkit only")
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    use_torch = not args.no_torch
    if use_torch:
        try:
            import torch
        except ImportError:
            print("PyTorch is not installed (pip install -r requirements-bench.txt): timing nnkit only.")
            use_torch = False
        else:
            torch.set_num_threads(args.threads)
    repeats = args.repeats or (2 if args.quick else 9)
    # On one thread, the process's CPU time measures the work alone even on a busy shared
    # machine; with several threads, idle waiting counts too, so the wall clock is fairer.
    clock, clock_name = ((time.process_time, "CPU time") if args.threads == 1
                         else (time.perf_counter, "wall time"))
    with threadpool_limits(args.threads), backend.use_backend("numpy"), backend.use_dtype("float32"):
        backend.seed(0)
        work = workloads(args.quick)
        if args.quick:  # the targets are for the full sizes
            for w in work:
                w.target = None
        rows = measure(work, repeats, 0.002 if args.quick else 0.1, use_torch, clock)
    print(report(rows, args.threads, clock_name))


if __name__ == "__main__":
    main()

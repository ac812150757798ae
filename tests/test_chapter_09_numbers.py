"""Chapter 9's numbers (COURSE.md, "Recurrent networks") and its figure and widget functions.

- the five sequence shapes of the slides (one to one, one to many, many to one, many to many
  encoder-decoder and aligned), built from nnkit's RNN and Linear layers;
- the vanilla RNN cell unrolled by hand equals nnkit's RNN; the worked BPTT example by hand equals
  central differences and nnkit's backward; RNN, LSTM and GRU pass a gradient check;
- vanishing and exploding gradients: ‖∂L/∂x_t‖ follows s^(T−t) for W_h = s·Q while tanh is linear;
  clipping by the global norm rescues the training run that explodes without it, on every seed;
- the LSTM with open forget gates remembers the first symbol over 40 steps where the RNN and the
  default LSTM are at chance (``nnkit.worked.memory_task_accuracy``); the GRU waveform classifier
  and the character model on the Zen of Python reach the chapter's numbers (the sequence sets
  ``nnkit.data.remember_the_first`` and ``waveforms`` are tested in test_data.py);
- nnkit.viz.draw_sequence_shapes / draw_unrolled_rnn and the chapter 9 functions of nnkit.widgets.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import math
import sys

import ipywidgets
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from numpy.testing import assert_allclose  # noqa: E402

import nnkit  # noqa: E402
from nnkit import data, layers, losses, optim, viz, widgets, worked  # noqa: E402


def _module_of(function):
    """The module that defines ``function``: patch a helper there, where the widget looks it up."""
    return sys.modules[function.__module__]


def _zen() -> str:
    with contextlib.redirect_stdout(io.StringIO()):
        import this
    return codecs.decode(this.s, "rot13")


@pytest.fixture
def numpy_backend():
    with nnkit.use_backend("numpy"):
        nnkit.seed(0)
        yield


# ----------------------------------------------------------------------------- sequence shapes

def test_the_five_sequence_shapes_of_the_slides():
    titles = [shape[0].replace("\n", " ") for shape in viz.SEQUENCE_SHAPES]
    assert titles == ["one to one", "one to many", "many to one", "many to many (encoder-decoder)",
                      "many to many (aligned)"]
    for _title, steps, inputs, outputs, task in viz.SEQUENCE_SHAPES:
        assert set(inputs) | set(outputs) <= set(range(steps)) and task
    encoder_decoder = viz.SEQUENCE_SHAPES[3]
    assert max(encoder_decoder[2]) < min(encoder_decoder[3]), "the decoder speaks after the encoder has read"


def test_nnkit_layers_build_all_five_shapes(backend_name):
    N, T, D, H, K = 2, 5, 3, 8, 4
    x_host = np.random.default_rng(0).normal(size=(N, T, D))
    first_only = np.zeros_like(x_host)
    first_only[:, 0] = x_host[:, 0]
    x_seq, x_one = nnkit.asarray(x_host), nnkit.asarray(x_host[:, 0])
    rnn_all, rnn_last, head = layers.RNN(D, H), layers.RNN(D, H, return_sequences=False), layers.Linear(H, K)
    context = nnkit.to_numpy(rnn_last(x_seq))
    decoder_in = nnkit.asarray(np.repeat(context[:, None, :], 3, axis=1))
    assert tuple(layers.Linear(D, K)(x_one).shape) == (N, K)
    assert tuple(head(rnn_all(nnkit.asarray(first_only))).shape) == (N, T, K)
    assert tuple(head(rnn_last(x_seq)).shape) == (N, K)
    assert tuple(head(layers.RNN(H, H)(decoder_in)).shape) == (N, 3, K)
    assert tuple(head(rnn_all(x_seq)).shape) == (N, T, K)


# ----------------------------------------------------------------------------- the cell and BPTT

def test_the_unrolled_numpy_loop_is_nnkits_rnn(backend_name):
    rng = np.random.default_rng(1)
    N, T, D, H = 2, 4, 3, 5
    x = rng.normal(size=(N, T, D))
    Wx, Wh, b = 0.5 * rng.normal(size=(D, H)), 0.5 * rng.normal(size=(H, H)), 0.1 * rng.normal(size=H)
    h, states = np.zeros((N, H)), []
    for t in range(T):
        h = np.tanh(x[:, t] @ Wx + h @ Wh + b)
        states.append(h)
    rnn = layers.RNN(D, H)
    rnn.load_state_dict({"Wx": Wx, "Wh": Wh, "b": b})
    assert_allclose(nnkit.to_numpy(rnn(nnkit.asarray(x))), np.stack(states, axis=1), rtol=1e-10, atol=1e-14)
    assert rnn.num_parameters() == D * H + H * H + H == 45


def _worked_bptt():
    """The chapter's scalar example: forward states, loss and the gradients by hand."""
    wx, wh, b, xs, y = 0.5, 0.8, 0.1, [1.0, -0.5, 2.0], 0.2
    hs = [0.0]
    for x_t in xs:
        hs.append(math.tanh(wx * x_t + wh * hs[-1] + b))
    dh, grads = hs[3] - y, {"wx": 0.0, "wh": 0.0, "b": 0.0}
    for t in (3, 2, 1):
        da = dh * (1 - hs[t] ** 2)
        grads["wx"] += da * xs[t - 1]
        grads["wh"] += da * hs[t - 1]
        grads["b"] += da
        dh = da * wh
    return (wx, wh, b, xs, y), hs, 0.5 * (hs[3] - y) ** 2, grads


def test_the_worked_bptt_example_by_hand():
    (wx, wh, b, xs, y), hs, L, grads = _worked_bptt()
    assert [round(h, 4) for h in hs[1:]] == [0.5370, 0.2726, 0.8663]
    assert round(L, 5) == 0.22198
    assert {k: round(v, 5) for k, v in grads.items()} == {"wx": 0.34104, "wh": 0.11144, "b": 0.35947}

    def loss_of(wx_, wh_, b_):
        h = 0.0
        for x_t in xs:
            h = math.tanh(wx_ * x_t + wh_ * h + b_)
        return 0.5 * (h - y) ** 2

    e = 1e-6
    assert (loss_of(wx + e, wh, b) - loss_of(wx - e, wh, b)) / (2 * e) == pytest.approx(grads["wx"], abs=1e-9)
    assert (loss_of(wx, wh + e, b) - loss_of(wx, wh - e, b)) / (2 * e) == pytest.approx(grads["wh"], abs=1e-9)
    assert (loss_of(wx, wh, b + e) - loss_of(wx, wh, b - e)) / (2 * e) == pytest.approx(grads["b"], abs=1e-9)


def test_nnkits_rnn_backward_gives_the_worked_gradients(backend_name):
    (wx, wh, b, xs, y), hs, _, grads = _worked_bptt()
    tiny = layers.RNN(1, 1, return_sequences=False)
    tiny.load_state_dict({"Wx": np.array([[wx]]), "Wh": np.array([[wh]]), "b": np.array([b])})
    h3 = tiny(nnkit.asarray(np.array(xs).reshape(1, 3, 1)))
    assert float(nnkit.to_numpy(h3).item()) == pytest.approx(hs[3], abs=1e-12)
    tiny.backward(h3 - y)
    for name, p in (("wx", tiny.Wx), ("wh", tiny.Wh), ("b", tiny.b)):
        assert float(nnkit.to_numpy(p.grad).item()) == pytest.approx(grads[name], abs=1e-12)


@pytest.mark.parametrize("cell", [layers.RNN, layers.LSTM, layers.GRU], ids=["rnn", "lstm", "gru"])
def test_the_recurrent_cells_pass_the_chapters_gradient_check(backend_name, cell):
    x = nnkit.asarray(np.random.default_rng(2).normal(size=(2, 5, 3)))
    assert nnkit.gradcheck(cell(3, 4), x).passed


# ----------------------------------------------------------------------------- vanishing and exploding

def test_gradient_norms_vanish_or_explode_with_the_recurrent_scale(numpy_backend):
    ratio = {s: (lambda n: n[0] / n[-1])(widgets.rnn_input_gradient_norms(s, steps=50))
             for s in (0.5, 0.9, 1.0, 1.5, 3.0)}
    assert ratio[0.5] < 1e-13 and ratio[0.9] < 1e-2
    assert 1e-2 < ratio[1.0] < 1.0
    assert 10 < ratio[1.5] < 1e3 and ratio[3.0] > 1e6
    assert list(ratio.values()) == sorted(ratio.values())
    # larger inputs saturate tanh: even s = 1 vanishes, s = 1.5 no longer explodes
    saturated = {s: (lambda n: n[0] / n[-1])(widgets.rnn_input_gradient_norms(s, steps=50, input_scale=1.0))
                 for s in (1.0, 1.5)}
    assert saturated[1.0] < 1e-6 and saturated[1.5] < 1.0


def test_in_the_linear_range_the_gradient_follows_s_to_the_t():
    # exactly s^19 for the state; the input gradient adds a projection by Wx^T, worth a few percent
    for s in (0.7, 1.3):
        norms = widgets.rnn_input_gradient_norms(s, steps=20, input_scale=1e-5)
        assert norms[0] / norms[-1] == pytest.approx(s ** 19, rel=0.05)


def test_gradient_norms_are_the_same_on_every_backend(backend_name):
    with nnkit.use_backend("numpy"):
        reference = widgets.rnn_input_gradient_norms(1.5, steps=12)
    assert_allclose(widgets.rnn_input_gradient_norms(1.5, steps=12), reference, rtol=1e-10)


@pytest.mark.slow
def test_clipping_rescues_the_run_that_explodes_on_every_seed(numpy_backend):
    """The chapter's claims over its 5 seeds, with margins: each run's path is chaotic, its fate is not."""
    state = nnkit.backend.rng().bit_generator.state
    for seed in range(5):
        losses, norms, accuracy = worked.clipping_run(math.inf, seed=seed, lr=1.0)
        assert norms[0] > 5 and accuracy < 0.95, seed                  # the first step is deterministic
        losses, norms, accuracy = worked.clipping_run(0.3, seed=seed, lr=1.0)
        assert norms[0] > 5 and np.mean(losses[-20:]) < 0.05 and accuracy > 0.95, seed
        assert max(norms[100:]) <= 0.3, seed                              # clipping only acts early
    assert nnkit.backend.rng().bit_generator.state == state, "it must restore nnkit's random stream"


def test_plot_clipping_runs_draws_a_line_per_seed():
    runs = {"no clipping": [([1.0, 2.0], [5.0, 20.0], 0.2)] * 3,
            "clipped": [([1.0, 0.5], [5.0, 0.2], 1.0)] * 3}
    fig = viz.plot_clipping_runs(runs, threshold=0.3)
    ax_loss, ax_norm = fig.axes
    assert len(ax_loss.lines) == len(ax_norm.lines) == 7          # 6 runs and one reference line each
    assert ax_norm.get_yscale() == "log" and "c = 0.3" in ax_norm.get_legend().get_texts()[-1].get_text()
    plt.close(fig)


# ----------------------------------------------------------------------------- gated cells

def test_forget_gate_numbers_and_parameter_counts():
    sigma = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    assert round(sigma(1.0), 3) == 0.731 and f"{sigma(1.0) ** 40:.1e}" == "3.6e-06"
    assert round(sigma(4.0), 3) == 0.982 and round(sigma(4.0) ** 40, 2) == 0.48
    counts = [cell(4, 16).num_parameters() for cell in (layers.RNN, layers.LSTM, layers.GRU)]
    assert counts == [336, 1344, 1008]


@pytest.mark.slow
def test_only_the_lstm_with_open_forget_gates_remembers_across_40_steps(numpy_backend):
    state = nnkit.backend.rng().bit_generator.state
    accuracy = {(cell, b_f, T): worked.memory_task_accuracy(cell, T, forget_bias=b_f)
                for cell, b_f in (("rnn", None), ("lstm", 1.0), ("lstm", 4.0)) for T in (5, 40)}
    assert nnkit.backend.rng().bit_generator.state == state, "it must restore nnkit's random stream"
    assert all(accuracy[cell, b_f, 5] == 1.0 for cell, b_f in (("rnn", None), ("lstm", 1.0), ("lstm", 4.0)))
    assert accuracy["lstm", 4.0, 40] == 1.0
    assert accuracy["rnn", None, 40] < 0.35 and accuracy["lstm", 1.0, 40] < 0.35


def test_memory_task_accuracy_refuses_a_forget_bias_without_an_lstm():
    with pytest.raises(ValueError, match="LSTM"):
        worked.memory_task_accuracy("rnn", 5, forget_bias=2.0)
    with pytest.raises(ValueError, match="cell"):
        worked.memory_task_accuracy("transformer", 5)


# ----------------------------------------------------------------------------- the waveform classifier

@pytest.mark.slow
def test_the_gru_classifier_reaches_99_percent(numpy_backend):
    X, y = data.waveforms(600, steps=30, seed=0)
    X_test, y_test = data.waveforms(300, steps=30, seed=1)
    nnkit.seed(0)
    model = nnkit.Sequential(layers.GRU(1, 16, return_sequences=False), layers.Linear(16, 3))
    history = nnkit.fit(model, losses.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=2e-2), (X, y),
                        epochs=10, val_data=(X_test, y_test), progress=False)
    assert history.val_accuracy[-1] >= 0.98
    model[0].return_sequences = True
    guess = np.argmax(nnkit.to_numpy(model(nnkit.asarray(X_test))), axis=-1)
    by_step = (guess == y_test[:, None]).mean(axis=0)
    assert by_step[0] < 0.4 and by_step[4] < 0.6 and by_step[-1] == pytest.approx(history.val_accuracy[-1])


# ----------------------------------------------------------------------------- the character model

def test_the_zen_of_python_and_its_baselines():
    text = _zen()
    vocab = "".join(sorted(set(text)))
    assert text.startswith("The Zen of Python, by Tim Peters") and len(text) == 856 and len(vocab) == 45
    codes = np.array([vocab.index(c) for c in text])
    p = np.bincount(codes, minlength=len(vocab)) / len(codes)
    assert round(math.log(len(vocab)), 3) == 3.807
    assert round(float(-np.sum(p * np.log(p))), 3) == 3.109


@pytest.mark.slow
def test_the_character_model_learns_the_zen(numpy_backend):
    text = _zen()
    vocab = "".join(sorted(set(text)))
    V, T = len(vocab), 24
    codes = np.array([vocab.index(c) for c in text])
    nnkit.seed(0)
    model = nnkit.Sequential(layers.Embedding(V, 16), layers.LSTM(16, 64), layers.Linear(64, V))
    assert model.num_parameters() == 24381
    loss_fn, optimizer = losses.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-2)
    window_rng, curve, norms = np.random.default_rng(0), [], []
    for _ in range(200):
        starts = window_rng.integers(0, len(codes) - T - 1, 32)
        x = np.stack([codes[s:s + T] for s in starts])
        y = np.stack([codes[s + 1:s + T + 1] for s in starts])
        optimizer.zero_grad()
        scores = model(nnkit.asarray(x))
        curve.append(float(loss_fn(scores.reshape(-1, V), nnkit.asarray(y.reshape(-1)))))
        model.backward(loss_fn.backward().reshape(scores.shape))
        norms.append(optim.clip_grad_norm(model.parameters(), 5.0))
        optimizer.step()
    assert curve[0] == pytest.approx(math.log(V), abs=0.05)
    assert curve[10] < 3.109 and np.mean(curve[-10:]) < 0.35 and max(norms) < 5.0
    cold = widgets.sample_text(model, vocab, "Beautiful ", length=120, temperature=0.3, context=T)
    assert cold.startswith("Beautiful is better than") and "implementation" in cold
    p = widgets.next_char_probabilities(model, vocab, "Beautiful is better than ", 0.3, context=T)
    top = [vocab[i] for i in np.argsort(-p)[:4]]
    assert set(top) == {"c", "*", "d", "n"}


@pytest.mark.slow
def test_truncated_bptt_with_carried_states_memorises_the_zen_and_samples_with_a_state(numpy_backend):
    """Section 7's truncated BPTT: 8 streams of 4 windows, states carried forward, dh0 and dc0 dropped."""
    text = _zen()
    vocab = "".join(sorted(set(text)))
    V, T, streams = len(vocab), 24, 8
    codes = np.array([vocab.index(c) for c in text])
    nnkit.seed(0)
    embed, lstm, head = layers.Embedding(V, 16), layers.LSTM(16, 64, return_state=True), layers.Linear(64, V)
    model = nnkit.Sequential(embed, lstm, head)
    loss_fn, optimizer = losses.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-2)
    windows, starts = (len(codes) - 1) // streams // T, np.arange(streams) * ((len(codes) - 1) // streams)
    assert windows == 4
    curve = []
    for update in range(400):
        if update % windows == 0:
            h = c = nnkit.asarray(np.zeros((streams, 64)))
        positions = starts[:, None] + update % windows * T + np.arange(T)
        optimizer.zero_grad()
        out, h, c = lstm(embed(nnkit.asarray(codes[positions])), h0=h, c0=c)
        scores = head(out)
        curve.append(float(loss_fn(scores.reshape(-1, V), nnkit.asarray(codes[positions + 1].reshape(-1)))))
        dx, dh0, dc0 = lstm.backward(head.backward(loss_fn.backward().reshape(scores.shape)))
        assert dh0.shape == dc0.shape == (streams, 64)
        embed.backward(dx)
        optim.clip_grad_norm(model.parameters(), 5.0)
        optimizer.step()
    assert curve[0] == pytest.approx(math.log(V), abs=0.05) and np.mean(curve[-8:]) < 0.15   # windowed: ~0.29
    # sampling with a carried state gives the same next-character scores as re-reading the whole text
    tokens = nnkit.asarray([[vocab.index(ch) for ch in "Beautiful is"]])
    whole, _, _ = lstm(embed(tokens))
    first, h, c = lstm(embed(tokens[:, :-1]))
    last, _, _ = lstm(embed(tokens[:, -1:]), h0=h, c0=c)
    assert_allclose(nnkit.to_numpy(head(last[:, -1, :])), nnkit.to_numpy(head(whole[:, -1, :])), atol=1e-12)


def test_draw_lstm_cell_shows_the_gates_and_both_states():
    ax = viz.draw_lstm_cell()
    texts = " ".join(t.get_text() for t in ax.texts)
    labels = ("$f_t$ forget", "$i_t$ input", "$g_t$ candidate", "$o_t$ output", "$c_{t-1}$", "$h_t$", "$x_t$")
    for label in labels:
        assert label in texts
    assert "product and a sum" in ax.get_title()
    plt.close(ax.figure)


# ----------------------------------------------------------------------------- figures and widgets

def _tiny_char_model(vocab: str):
    nnkit.seed(0)
    return nnkit.Sequential(layers.Embedding(len(vocab), 4), layers.LSTM(4, 8), layers.Linear(8, len(vocab)))


def test_next_char_probabilities_and_sampling(backend_name):
    vocab = "ab c\n"
    model = _tiny_char_model(vocab)
    p1 = widgets.next_char_probabilities(model, vocab, "ab ca", temperature=1.0)
    p_cold = widgets.next_char_probabilities(model, vocab, "ab ca", temperature=0.1)
    p_hot = widgets.next_char_probabilities(model, vocab, "ab ca", temperature=10.0)
    assert p1.shape == (5,) and p1.sum() == pytest.approx(1.0)
    assert p_cold.max() > p1.max() > p_hot.max() and np.argmax(p_cold) == np.argmax(p1)
    text = widgets.sample_text(model, vocab, "ab", length=15, temperature=1.0, seed=3)
    assert len(text) == 17 and set(text) <= set(vocab)
    assert widgets.sample_text(model, vocab, "ab", length=15, temperature=1.0, seed=3) == text
    with pytest.raises(ValueError, match="temperature"):
        widgets.next_char_probabilities(model, vocab, "ab", temperature=0.0)


def test_draw_sequence_shapes_and_the_unrolled_rnn():
    axes = viz.draw_sequence_shapes()
    assert [ax.get_title() for ax in axes][:3] == ["one to one", "one to many", "many to one"]
    assert len(axes) == 5
    ax = viz.draw_unrolled_rnn(steps=3)
    labels = {t.get_text() for t in ax.texts}
    assert {"$x_1$", "$h_3$", "$h_0$", "$W_h$", "$W_x$"} <= labels
    plt.close("all")


def test_draw_rnn_gradient_norms_draws_a_line_per_scale():
    fig, ax = plt.subplots()
    widgets.draw_rnn_gradient_norms(ax, (0.5, 1.0), steps=10)
    assert [line.get_label() for line in ax.get_lines()] == ["s = 0.5", "s = 1"]
    fig, ax = plt.subplots()
    widgets.draw_rnn_gradient_norms(ax, 2.0, steps=10, reference=True)
    reference = ax.get_lines()[1].get_ydata()
    assert reference[0] / reference[-1] == pytest.approx(2.0 ** 9)
    plt.close("all")


def _controls(widget: ipywidgets.VBox) -> list:
    row, output = widget.children
    assert isinstance(output, ipywidgets.Output)
    return list(row.children)


def test_rnn_gradient_explorer_redraws_on_each_control(monkeypatch):
    calls = []
    def fake_draw(ax, scale, steps, input_scale, reference):
        calls.append((scale, input_scale, steps))

    monkeypatch.setattr(_module_of(widgets.rnn_gradient_explorer), "draw_rnn_gradient_norms", fake_draw)
    scale, input_scale, steps = _controls(widgets.rnn_gradient_explorer(scale=1.5, input_scale=0.1, steps=50))
    assert calls[-1] == (1.5, pytest.approx(0.1), 50)
    scale.value = 0.5
    assert calls[-1][0] == 0.5
    input_scale.value = 1.0
    assert calls[-1][1] == pytest.approx(1.0)
    steps.value = 20
    assert calls[-1][2] == 20
    plt.close("all")


def test_char_temperature_redraws_bars_and_sample(monkeypatch):
    vocab = "ab c\n"
    model = _tiny_char_model(vocab)
    temperatures = []
    monkeypatch.setattr(_module_of(widgets.char_temperature), "sample_text",
                        lambda *args: f"sample at {args[4]:.2f}")
    widget = widgets.char_temperature(model, vocab, "ab ca", temperature=1.0, length=10)
    (slider,) = _controls(widget)
    def fake_draw(ax, model, vocab, prompt, temperature, context):
        temperatures.append(temperature)

    monkeypatch.setattr(_module_of(widgets.char_temperature), "draw_char_temperature", fake_draw)
    slider.value = 0.5
    assert temperatures == [pytest.approx(0.5)]
    plt.close("all")


def test_draw_char_temperature_shows_the_likeliest_characters():
    vocab = "ab c\n"
    model = _tiny_char_model(vocab)
    fig, ax = plt.subplots()
    widgets.draw_char_temperature(ax, model, vocab, "ab ca", temperature=2.0, top=3)
    heights = [patch.get_height() for patch in ax.patches]
    assert len(heights) == 3 and heights == sorted(heights, reverse=True)
    assert "τ = 2.00" in ax.get_title() and "ab ca" in ax.get_title()
    plt.close("all")

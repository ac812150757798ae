"""Chapters 10 (when not to go deep) and 11 (the GPU backend): their numbers and code paths.

The tests run the chapters' own functions, taken from the notebooks' code cells, so a
change to a notebook's protocol is tested as it stands. Chapter 10: the race between tree
ensembles and networks is reproducible (the stored table comes out again, a fixed split
gives the same accuracies whatever ran before, numpy and strict agree), and the claims the
chapter draws from it hold. Chapter 11: asking for CuPy where it cannot run fails with the
reason, ``auto`` falls back to NumPy and says why, the notebook's detection cell prints
the fallback, the training code gives the same results on the strict stand-in, its timing
function waits for the device after every timed call, and its GPU-numbers cell shows the
committed data file or says there is none.
"""

from __future__ import annotations

import contextlib
import io
import json
import pathlib

import matplotlib
import numpy as np
import pytest

import nnkit
from nnkit import backend, viz, worked

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the non-interactive backend)

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _code_cells(name: str) -> list[str]:
    cells = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def _stored_output(name: str, marker: str) -> str:
    """The stored text output of the first code cell of a notebook whose source contains ``marker``."""
    cells = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())["cells"]
    for cell in cells:
        if cell["cell_type"] == "code" and marker in "".join(cell["source"]):
            texts = [o.get("text", "") for o in cell["outputs"] if o["output_type"] == "stream"]
            return "".join("".join(t) if isinstance(t, list) else t for t in texts)
    raise AssertionError(f"no code cell containing {marker!r} in {name}")


def _run_cells(name: str, wanted: tuple[str, ...], namespace: dict | None = None) -> dict:
    """Execute a notebook's setup cell (without setup_notebook) and, in order, every code cell
    containing one of ``wanted``; return the namespace they share."""
    cells = _code_cells(name)
    namespace = {} if namespace is None else namespace
    with contextlib.redirect_stdout(io.StringIO()):
        exec(cells[0].replace("nnkit.setup_notebook(seed=0)", ""), namespace)
        for source in cells[1:]:
            if any(marker in source for marker in wanted):
                exec(source, namespace)
    return namespace


@pytest.fixture(autouse=True)
def numpy_backend():
    with nnkit.use_backend("numpy"):
        nnkit.seed(0)
        yield
    plt.close("all")


# ----------------------------------------------------------------------------- chapter 10

CH10 = "10_when_not_deep"


@pytest.fixture(scope="module")
def ch10():
    return _run_cells(CH10, ("bundled = ", "def make_loans", "def make_mlp", "def tune_forest",
                             "def tune_boosting", "def tune_network", "def race", "def make_deliveries"))


def _split(ch10, name: str, seed: int = 0):
    return ch10["data"].train_val_test_split(*ch10["tables"][name], val=0.2, test=0.2, seed=seed,
                                             stratify=True)


def test_the_tables_are_the_bundled_ones_and_the_synthetic_one_is_fixed(ch10):
    shapes = {name: (X.shape, int(y.max()) + 1) for name, (X, y) in ch10["tables"].items()}
    assert shapes == {"breast cancer": ((569, 30), 2), "wine": ((178, 13), 3), "iris": ((150, 4), 3),
                      "loans (synthetic)": ((600, 14), 2)}
    X, y = ch10["make_loans"]()
    X2, y2 = ch10["make_loans"]()
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    assert 0.45 < y.mean() < 0.55   # balanced classes: accuracy is a fair score


def test_the_stored_accuracy_table_comes_out_again(ch10):
    """Re-running the race on wine reproduces the row the notebook printed, digit for digit."""
    accuracy, _, _ = ch10["race"](*ch10["tables"]["wine"])
    line = f"{'wine':<18}" + "".join(f"{np.mean(a):>12.1%} ± {np.std(a, ddof=1):4.1%}"
                                     for a in accuracy.values())
    stored = _stored_output(CH10, "accuracy = {name: result[0]")
    assert line in stored.splitlines(), f"recomputed {line!r}, stored:\n{stored}"


def test_a_fixed_split_gives_the_same_accuracies_whatever_ran_before(ch10):
    parts = _split(ch10, "breast cancer")
    first = {name: tune(*parts) for name, tune in ch10["TUNERS"].items()}
    nnkit.seed(123)
    nnkit.backend.randn(1000)                       # disturb the shared generator
    second = {name: tune(*parts) for name, tune in ch10["TUNERS"].items()}
    assert first == second
    for val_accuracy, setting, test_accuracy in first.values():
        assert 0.9 < val_accuracy <= 1 and 0.9 < test_accuracy <= 1 and isinstance(setting, str)


def test_the_network_tuner_gives_the_same_result_on_numpy_and_strict(ch10):
    parts = _split(ch10, "iris", seed=1)
    on_numpy = ch10["tune_network"](*parts, hidden_sizes=(16,), stops=(30, 60))
    with nnkit.use_backend("strict"):
        on_strict = ch10["tune_network"](*parts, hidden_sizes=(16,), stops=(30, 60))
    assert on_numpy[1] == on_strict[1]
    assert on_numpy[0] == pytest.approx(on_strict[0]) and on_numpy[2] == pytest.approx(on_strict[2])


def test_trees_win_clearly_on_the_synthetic_loans(ch10):
    """The chapter's headline: on a table of threshold rules and noise columns, trees beat the MLP."""
    parts = _split(ch10, "loans (synthetic)")
    forest = ch10["tune_forest"](*parts)[2]
    boosting = ch10["tune_boosting"](*parts)[2]
    network = ch10["tune_network"](*parts)[2]
    assert min(forest, boosting) > 0.85
    assert min(forest, boosting) - network > 0.10


def test_forests_barely_notice_feature_scales_and_networks_do(ch10):
    train, _, test = _split(ch10, "breast cancer")
    powers = 10.0 ** np.random.default_rng(1).integers(-3, 4, train[0].shape[1])
    forest = ch10["RandomForestClassifier"]
    raw = forest(n_estimators=50, random_state=0, n_jobs=1).fit(*train).predict(test[0])
    rescaled = forest(n_estimators=50, random_state=0, n_jobs=1).fit(train[0] * powers, train[1])
    assert np.mean(raw == rescaled.predict(test[0] * powers)) >= 0.98   # float32 near-ties aside

    scaler = ch10["data"].Standardizer().fit(train[0])
    standardised = ch10["mlp_accuracy"]((scaler.transform(train[0]), train[1]),
                                        (scaler.transform(test[0]), test[1]))
    assert standardised - ch10["mlp_accuracy"](train, test) > 0.05


def test_the_race_and_its_tuners_work_for_regression(ch10):
    """Real-valued targets: R² scores, the trees' regressors, a network with one output and MSELoss."""
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    assert ch10["is_regression"](y) and not ch10["is_regression"](ch10["tables"]["iris"][1])
    assert ch10["score"](y, y) == 1.0 and abs(ch10["score"](y, np.full_like(y, y.mean()))) < 1e-12
    scores, chosen, _ = ch10["race"](X, y, folds=2, repeats=1)
    assert set(scores) == set(ch10["TUNERS"]) and all(len(v) == 2 for v in scores.values())
    assert all(0.2 < np.mean(v) < 0.7 for v in scores.values()), scores     # R² of the diabetes table
    assert chosen["MLP (nnkit)"][0].startswith("H=")


def test_the_race_uses_repeated_stratified_folds_and_seeds_every_model(ch10):
    calls = []

    def spy(train, val, test, seed=0):
        calls.append((len(train[1]), len(val[1]), len(test[1]), seed, np.bincount(test[1]).tolist()))
        return 1.0, "spy", 1.0

    ch10["race"](*ch10["tables"]["iris"], tuners={"spy": spy})
    assert [c[3] for c in calls] == list(range(10))                         # 5 folds × 2 repeats, seeds 0..9
    assert all(c[:3] == (90, 30, 30) and c[4] == [10, 10, 10] for c in calls)   # 60/20/20, stratified


@pytest.fixture(scope="module")
def ch10_trees():
    """The cells of section 2 (a tree, its stopping rules, boosting's rounds) and 4 (extrapolation)."""
    return _run_cells(CH10, ("bundled = ", "def make_loans", "def make_mlp", "def scores_of", "stopping = {",
                             "staged_predict_proba", "x_wide = np.linspace"))


def test_a_depth_3_tree_on_iris_stops_where_a_node_is_pure(ch10_trees):
    tree = ch10_trees["small_tree"].tree_
    assert ch10_trees["small_tree"].get_n_leaves() == 5 and ch10_trees["small_tree"].get_depth() == 3
    left = tree.children_left[0]
    assert tree.children_left[left] == -1 and np.count_nonzero(tree.value[left][0]) == 1   # pure: setosa


def test_a_tree_without_stopping_rule_memorises_and_a_leaf_size_stop_generalises_better(ch10_trees):
    ns = ch10_trees
    scores = {}
    for rule, settings in ns["stopping"].items():
        tree = ns["DecisionTreeClassifier"](random_state=0, **settings).fit(ns["C"], ns["c_labels"])
        scores[rule] = (tree.score(ns["C"], ns["c_labels"]), tree.score(ns["C_new"], ns["c_labels_new"]))
    assert scores["no stopping rule"][0] == 1.0
    assert scores["min_samples_leaf=10"][1] - scores["no stopping rule"][1] > 0.02
    assert scores["max_depth=1"][1] < scores["max_depth=3"][1] < scores["min_samples_leaf=10"][1] < 0.9


def test_boosting_fits_the_training_rows_ever_closer_while_validation_stops_improving(ch10_trees):
    train_accuracy, train_loss, val_accuracy, val_loss = (ch10_trees[name] for name in (
        "train_accuracy", "train_loss", "val_accuracy", "val_loss"))
    assert train_accuracy[-1] == 1.0 and np.argmin(train_loss) == len(train_loss) - 1
    best = int(np.argmin(val_loss))
    assert best < 50 and val_loss[-1] > 1.5 * val_loss[best]                 # validation loss turns up
    assert max(val_accuracy[24:]) - min(val_accuracy[24:]) <= 3 / 120 + 1e-12   # 3 rows, from 25 trees on


def test_trees_predict_a_constant_beyond_the_training_range_and_networks_do_not(ch10_trees):
    curves, x_wide = ch10_trees["curves"], ch10_trees["x_wide"][:, 0]
    assert ch10_trees["x_train"].max() < 4 and x_wide[120] == 4 and x_wide[200] == 8
    beyond = x_wide >= 4
    for name in ("random forest", "gradient boosting"):
        assert np.ptp(curves[name][beyond]) == 0 and curves[name][200] < 9
    for name in ("MLP (nnkit)", "linear (nnkit)"):
        assert abs(curves[name][200] - 17) < 1           # close to the trend 2x + 1 at x = 8
    assert curves["MLP (nnkit)"][0] > 0 > curves["linear (nnkit)"][0]      # left of the data they part ways


def test_the_deliveries_table_is_fixed_and_has_its_properties(ch10):
    X, y = ch10["make_deliveries"]()
    X2, y2 = ch10["make_deliveries"]()
    assert X.shape == (2000, 3 + 50 + 8) and np.array_equal(X, X2) and np.array_equal(y, y2)
    depots = X[:, 3:53]
    assert set(np.unique(depots)) == {0.0, 1.0} and np.all(depots.sum(axis=1) == 1)   # one-hot
    assert np.all(depots.sum(axis=0) > 0)                                                # all 50 levels used
    assert 0.45 < y.mean() < 0.55


def test_boosting_beats_the_mlp_and_the_linear_model_on_the_deliveries(ch10):
    """Section 8's claim on one split: boosting well ahead of both networks."""
    parts = ch10["data"].train_val_test_split(*ch10["make_deliveries"](), val=0.2, test=0.2, seed=0,
                                              stratify=True)
    boosting = ch10["tune_boosting"](*parts)[2]
    for model in ("MLP (nnkit)", "linear (nnkit)"):
        assert boosting - ch10["TUNERS"][model](*parts)[2] > 0.04


def test_best_cut_agrees_with_a_scikit_learn_stump():
    ns = _run_cells(CH10, ("def best_cut",))
    from sklearn.datasets import load_wine
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_wine(return_X_y=True)
    cuts = [ns["best_cut"](X[:, j], y, K=3) for j in range(X.shape[1])]
    j = int(np.argmin([cost for _, cost in cuts]))
    stump = DecisionTreeClassifier(max_depth=1).fit(X, y)
    assert j == stump.tree_.feature[0]
    assert cuts[j][0] == pytest.approx(stump.tree_.threshold[0])
    assert ns["gini"](np.array([40, 10])) == pytest.approx(0.32)
    t, cost = cuts[j]
    for transform in (lambda v: 1000 * v, np.log1p, lambda v: (v - v.mean()) / v.std()):
        t_new, cost_new = ns["best_cut"](transform(X[:, j]), y, K=3)
        assert cost_new == pytest.approx(cost)                  # only the order of the values matters
        assert np.array_equal(transform(X[:, j]) <= t_new, X[:, j] <= t)


# ----------------------------------------------------------------------------- chapter 11

CH11 = "11_gpu"
NO_CUPY = "CuPy is not installed (to use a GPU: pip install -r requirements-gpu.txt)"


@pytest.fixture
def no_gpu(monkeypatch):
    """Pretend CuPy cannot run here, whatever this machine has."""
    monkeypatch.setattr(backend, "_cupy_problem", lambda: NO_CUPY)


def test_asking_for_cupy_without_a_gpu_raises_the_reason(no_gpu):
    with pytest.raises(nnkit.BackendError) as error:
        nnkit.set_backend("cupy")
    assert NO_CUPY in str(error.value) and "set_backend('numpy')" in str(error.value)
    assert nnkit.get_backend().name == "numpy"          # nothing switched


def test_use_backend_restores_the_previous_backend_when_cupy_fails(no_gpu):
    with nnkit.use_backend("strict"):
        with pytest.raises(nnkit.BackendError):
            with nnkit.use_backend("cupy"):
                pass
        assert nnkit.get_backend().name == "strict"


def test_auto_falls_back_to_numpy_and_says_why(no_gpu):
    with nnkit.use_backend("auto") as active:
        assert active.name == "numpy"
        info = nnkit.backend_info()
    assert "NumPy" in info and f"no GPU backend, because {NO_CUPY}" in info


def test_the_notebook_detection_cell_prints_the_fallback(no_gpu):
    namespace = {}
    _run_cells(CH11, (), namespace)
    detection = next(c for c in _code_cells(CH11) if 'nnkit.use_backend("cupy")' in c and "GPU = " in c)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(detection, namespace)
    assert namespace["GPU"] is False
    assert "No GPU backend here" in printed.getvalue() and NO_CUPY in printed.getvalue()
    assert "no GPU backend, because" in printed.getvalue()


@pytest.fixture(scope="module")
def ch11():
    return _run_cells(CH11, ("def flops_per_image", "X, y = data.load_digits", "def time_training"))


def test_the_flop_counts_match_the_layers(ch11):
    """2 operations per multiply-add, counted from the layer shapes the network really has."""
    for width in (1, 4):
        model = worked.lenet(width)
        c1, c2 = 8 * width, 16 * width
        assert model[0].W.shape == (c1, 1, 3, 3) and model[3].W.shape == (c2, c1, 3, 3)
        assert model[7].W.shape == (4 * c2, 10)
        assert ch11["flops_per_image"](width) == 2 * (c1 * 9 * 64 + c2 * c1 * 9 * 16 + 4 * c2 * 10)
    assert "worked.lenet(width)" in "".join(_code_cells(CH11)), "chapter 11 trains the course's LeNet"


def test_training_gives_the_same_results_on_numpy_and_strict(ch11):
    seconds, on_numpy = ch11["time_training"]("numpy", "float32", epochs=1)
    _, on_strict = ch11["time_training"]("strict", "float32", epochs=1)
    assert len(seconds) == 1 and seconds[0] > 0
    assert on_numpy > 0.5
    assert abs(on_numpy - on_strict) <= 1 / len(ch11["y_test"]) + 1e-12   # at most one test image


def _gpu_usable() -> bool:
    try:
        import cupy

        return bool(cupy.is_available())
    except Exception:  # not installed, or installed without a usable GPU
        return False


@pytest.mark.skipif(not _gpu_usable(), reason="needs a usable GPU")
def test_training_on_the_gpu_matches_the_cpu(ch11):
    _, on_cpu = ch11["time_training"]("numpy", "float32", epochs=2)
    _, on_gpu = ch11["time_training"]("cupy", "float32", epochs=2)
    assert abs(on_cpu - on_gpu) <= 0.01


def test_strict_arrays_refuse_numpy_and_to_numpy_brings_them_home():
    with nnkit.use_backend("strict"):
        a = nnkit.asarray([0.5, 1.5, 2.5])
        with pytest.raises(RuntimeError):
            np.asarray(a)
        with pytest.raises(RuntimeError):
            np.exp(a)
        host = nnkit.to_numpy(a)
    assert isinstance(host, np.ndarray) and host.tolist() == [0.5, 1.5, 2.5]


def test_float32_layers_refuse_float64_input():
    with nnkit.use_dtype("float32"):
        layer = nnkit.layers.Linear(3, 2)
    with pytest.raises(TypeError, match="never mixes"):
        layer(nnkit.asarray([[1.0, 2.0, 3.0]]))
    assert backend.dtype_name(layer(nnkit.asarray([[1.0, 2.0, 3.0]], dtype="float32")).dtype) == "float32"


# ----------------------------------------------------------------------------- viz

def test_grouped_errorbars_draw_one_cluster_per_group_and_one_entry_per_series():
    values = {"a": {"tree": [0.9, 0.92], "net": [0.8, 0.84]}, "b": {"tree": [0.7], "net": [0.75, 0.77, 0.79]},
              "c": {"net": [0.5, 0.6]}}
    ax = viz.plot_grouped_errorbars(values, ylabel="accuracy", percent=True, title="t")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["tree", "net"]
    means = [line.get_ydata() for line in ax.lines if len(line.get_ydata()) and line.get_marker() == "s"]
    assert np.allclose(means[0], [0.82, 0.77, 0.55])       # the "net" series: means per group
    assert len(ax.collections) >= 5                        # the single measurements, as faint dots
    log_ax = viz.plot_grouped_errorbars({"x": {"s": [0.1, 0.2]}}, log=True)
    assert log_ax.get_yscale() == "log"



def test_measure_waits_for_the_device_after_every_timed_call_and_takes_the_median(monkeypatch):
    ns = _run_cells(CH11, ("def measure",))
    events = []
    monkeypatch.setattr(nnkit, "synchronize", lambda: events.append("sync"))
    durations = iter([0.0, 0.0, 5.0, 1.0, 2.0])              # two warm-up calls, then three timed ones
    fake_clock = iter(range(100))

    def f():
        events.append("call")
        next(durations)

    monkeypatch.setattr(ns["time"], "perf_counter", lambda: next(fake_clock))
    assert ns["measure"](f, repeats=3, warmup=2) == 1.0       # each timed call reads the clock twice
    assert events == ["call", "call", "sync"] + ["call", "sync"] * 3


GPU_RECORD = {"measured_on": "nnkit is using CuPy 13.6.0 on the GPU (Example GPU), default dtype float64.",
              "date": "2026-01-02",
              "median_seconds_per_epoch": {"chapter 8 LeNet, batch 32": {"CPU float32": 0.04,
                                                                         "GPU float32": 0.02}}}


@pytest.mark.parametrize("present", [False, True])
def test_the_gpu_numbers_cell_shows_the_committed_file_or_says_none(tmp_path, monkeypatch, present):
    if present:
        (tmp_path / "data").mkdir()
        (tmp_path / "data" / "gpu_timings.json").write_text(json.dumps(GPU_RECORD))
    monkeypatch.chdir(tmp_path)
    ns = _run_cells(CH11, ())
    ns["GPU"] = False
    cell = next(c for c in _code_cells(CH11) if "GPU_FILE =" in c)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(cell, ns)
    text = printed.getvalue()
    if present:
        assert "Example GPU" in text and "2026-01-02" in text and "GPU float32 0.0200 s" in text
    else:
        assert text.startswith("No measured GPU numbers yet")
    assert not (tmp_path / "data" / "gpu_timings.json").exists() or present   # nothing written without a GPU


def test_the_committed_gpu_file_if_any_has_the_documented_fields():
    path = ROOT / "notebooks" / "data" / "gpu_timings.json"
    if not path.exists():
        pytest.skip("no GPU numbers have been committed yet")
    record = json.loads(path.read_text())
    assert set(record) == {"measured_on", "date", "median_seconds_per_epoch"}
    assert "CuPy" in record["measured_on"]
    assert all(s > 0 for runs in record["median_seconds_per_epoch"].values() for s in runs.values())

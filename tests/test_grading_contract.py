"""The grading contract: plain data across the sandbox wall, and proxies that behave like the functions.

Fast unit tests of :mod:`nnkit.course.plain` and :mod:`nnkit.course.referee`, with the
student's process started unsandboxed (the code in it is the test's own). The sandbox and
hostile submissions are tested in test_grading.py.
"""

from __future__ import annotations

import io
from collections import OrderedDict

import numpy as np
import pytest

import nnkit
from nnkit import layers, losses
from nnkit.course import call
from nnkit.course.checks import ChangedInPlace
from nnkit.course.plain import PlainDataError, pack, unpack
from nnkit.course.referee import Referee, StudentError
from nnkit.course.sandbox import Limits


def _round_trip(value):
    return unpack(pack(value))


def test_plain_values_cross_unchanged():
    value = {"a": [1, 2.5, None, True, "x"], ("k", 2): (np.arange(6).reshape(2, 3), np.float32(1.5)),
             "ordered": OrderedDict(b=np.ones(2, bool)), "big": 2**100, "nan": float("nan")}
    back = _round_trip(value)
    assert back["a"] == [1, 2.5, None, True, "x"] and back["big"] == 2**100 and back["nan"] != back["nan"]
    array, scalar = back[("k", 2)]
    assert array.dtype == np.int64 and array.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert type(scalar) is np.float32 and scalar == 1.5
    assert type(back["ordered"]) is OrderedDict and back["ordered"]["b"].tolist() == [True, True]


def test_a_generator_crosses_as_its_state():
    rng = np.random.default_rng(7)
    rng.random(3)
    copy = _round_trip(rng)
    assert copy is not rng and copy.random(4).tolist() == rng.random(4).tolist()


def test_nnkit_objects_cross_as_copies_that_keep_shared_parts_shared():
    nnkit.seed(0)
    model = nnkit.Sequential(layers.Linear(3, 2), layers.Tanh(), layers.Linear(2, 2))
    copy = _round_trip([model, losses.CrossEntropyLoss()])[0]
    assert type(copy) is nnkit.Sequential and copy is not model
    assert copy[0].W is copy[0]._parameters["W"]
    x = np.arange(6.0).reshape(2, 3)
    assert np.array_equal(nnkit.to_numpy(copy(nnkit.asarray(x))), nnkit.to_numpy(model(nnkit.asarray(x))))


@pytest.mark.parametrize("value", [object(), np.array([object()]), type, print, io.BytesIO()],
                         ids=["object", "object array", "class", "function", "file"])
def test_what_is_not_plain_data_is_refused_with_its_type(value):
    with pytest.raises(PlainDataError, match="cannot|dtype"):
        pack(value)


def _message(header: bytes, arrays: list[bytes] = ()) -> bytes:
    out = len(header).to_bytes(8, "little") + header + len(arrays).to_bytes(8, "little")
    for blob in arrays:
        out += len(blob).to_bytes(8, "little") + blob
    return out


@pytest.mark.parametrize("data", [
    b"", b"\x05" + b"\x00" * 7 + b"{{{{{",
    _message(b'{"$object": ["os", "system"], "id": 0, "attrs": {"$dict": []}}'),
    _message(b'{"$object": ["nnkit.course.grade", "Grade"], "id": 0, "attrs": {"$dict": []}}'),
    _message(b'{"$array": 0}', [b"\x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, "
                                b"'shape': (1,), }" + b" " * 44 + b"\n" + b"\x80\x04N."]),
    _message(b"[" * 100_000 + b"]" * 100_000), _message(b'{"$generator": ["SeedSequence", 1]}'),
    _message(b'{"$ref": 3}'), _message(b'{"$callback": 0}'),
], ids=["empty", "not json", "os.system", "grader class", "pickled array", "deep", "not a bit generator",
        "dangling reference", "callback the wrong way"])
def test_a_malformed_or_hostile_message_is_refused(data):
    with pytest.raises(PlainDataError):
        unpack(data)


@pytest.fixture(scope="module")
def referee():
    referee = Referee(Limits(cell_timeout=30), sandboxed=False)
    referee.run([{"kind": "other", "name": None, "source": "import numpy as np"}])
    yield referee
    referee.close()


def _student(referee, source, *names):
    """Proxies for the functions ``names`` defined by ``source`` in the student's process."""
    namespace = {}
    referee.run([{"kind": "solution", "name": "s", "source": source, "defines": list(names)}])
    for name in names:
        namespace[name] = referee.proxy(name)
    referee.mutated = []
    return [namespace[name] for name in names]


def test_a_proxy_passes_plain_data_and_reports_what_the_function_changed(referee):
    scale, grow, step = _student(referee, """
import numpy as np
def scale(x, k=2.0):
    x *= k
    return x.sum(), x.shape
def grow(state, items):
    state["t"] = state.get("t", 0) + 1
    items.append(np.zeros(2))
    return None
def step(w, rng):
    return w + rng.random(w.shape)
""", "scale", "grow", "step")
    x = np.arange(3.0)
    assert scale(x, k=3.0) == (9.0, (3,)) and x.tolist() == [0.0, 3.0, 6.0]
    state, items = {}, []
    assert grow(state, items) is None and grow(state, items) is None
    assert state == {"t": 2} and len(items) == 2
    rng = np.random.default_rng(1)
    expected = np.ones(2) + np.random.default_rng(1).random(2)
    assert step(np.ones(2), rng).tolist() == expected.tolist()
    assert rng.random() == np.random.default_rng(1).random(3)[2]       # the generator advanced here too
    assert referee.mutated == ["scale changed argument 1 in place", "grow changed argument 1 in place",
                               "grow changed argument 2 in place", "grow changed argument 1 in place",
                               "grow changed argument 2 in place", "step changed argument 2 in place"]


def test_student_exceptions_callbacks_and_switched_off_numpy_functions(referee):
    fail, gradient, tanh = _student(referee, """
import numpy as np
def fail(kind):
    raise {"value": ValueError("bad"), "custom": type("Oops", (Exception,), {})("mine"),
           "exit": SystemExit(3)}[kind]
def gradient(f, theta):
    return np.array([(f(theta + h) - f(theta - h)) / 2e-3 for h in np.eye(len(theta)) * 1e-3])
def tanh(x):
    return np.tanh(x)
""", "fail", "gradient", "tanh")
    with pytest.raises(ValueError, match="bad"):
        fail("value")
    with pytest.raises(StudentError, match="fail raised Oops: mine"):
        fail("custom")
    with pytest.raises(StudentError, match="SystemExit"):
        fail("exit")
    assert np.allclose(gradient(lambda t: float(np.sum(t ** 2)), np.array([1.0, -2.0])), [2.0, -4.0])

    def switched_off(*args, **kwargs):
        raise AssertionError("build it from np.exp")
    real, np.tanh = np.tanh, switched_off
    try:
        with pytest.raises(AssertionError, match="build it from np.exp"):
            tanh(np.zeros(2))
    finally:
        np.tanh = real
    assert tanh(np.zeros(2)).tolist() == [0.0, 0.0]


def test_a_function_cannot_hand_back_what_is_not_plain_data(referee):
    opener, shape_changer = _student(referee, """
def opener():
    return open
def shape_changer(x):
    x.shape = (x.size,)
""", "opener", "shape_changer")
    with pytest.raises(TypeError, match="cannot cross the sandbox"):
        opener()
    with pytest.raises(ChangedInPlace, match="argument 1: .* into an array of shape \\(4,\\)") as caught:
        shape_changer(np.zeros((2, 2)))
    assert caught.value.argument == 0
    with pytest.raises(AssertionError, match=r"modified its input `argument 1` in place.*reshape"):
        call(shape_changer, np.zeros((2, 2)))   # what a check cell reports: the sentence a student sees


def test_an_nnkit_model_is_trained_in_the_student_process_and_its_state_comes_back(referee):
    [train] = _student(referee, """
def train(model, loss_fn, x, y, lr):
    loss = loss_fn(model(x), y)
    model.backward(loss_fn.backward())
    for p in model.parameters():
        p.data = p.data - lr * p.grad
    return loss
""", "train")
    nnkit.seed(0)
    model, reference = layers.Linear(3, 2), layers.Linear(3, 2)
    reference.load_state_dict(model.state_dict())
    loss_fn = losses.CrossEntropyLoss()
    x, y = nnkit.asarray(np.arange(6.0).reshape(2, 3)), nnkit.asarray(np.array([0, 1]))
    W = model.W
    loss = train(model, loss_fn, x, y, 0.1)
    assert model.W is W                                                  # the same object, updated
    expected = loss_fn(reference(x), y)
    reference.backward(loss_fn.backward())
    assert loss == pytest.approx(expected)
    expected_W = nnkit.to_numpy(reference.W.data - 0.1 * reference.W.grad)
    assert np.allclose(nnkit.to_numpy(model.W.data), expected_W)


def test_until_caught_stops_after_the_first_check_that_fails(referee):
    cells = [{"kind": "solution", "name": "f", "source": "def f(x):\n    return 3 * x", "defines": ["f"]},
             {"kind": "check", "name": "f", "source": "assert f(1) == 2"},
             {"kind": "check", "name": "g", "source": "assert True"}]
    assert [r["outcome"] for r in referee.run(cells)] == ["passed", "failed", "passed"]
    assert [r["outcome"] for r in referee.run(cells, until_caught=True)] == ["passed", "failed"]

"""The interactive demos in nnkit.widgets: they build, they redraw on change, their drawings are right."""

from __future__ import annotations

import inspect

import ipywidgets
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import nnkit  # noqa: E402
from nnkit import widgets  # noqa: E402

X = np.array([[-1.0, -1.0], [-2.0, 0.5], [1.0, 1.5], [2.0, -0.5]])
y = np.array([0, 0, 1, 1])


def _controls(widget: ipywidgets.VBox) -> list[ipywidgets.ValueWidget]:
    row, output = widget.children
    assert isinstance(output, ipywidgets.Output)
    return list(row.children)


def test_slider_figure_redraws_with_the_new_value_on_every_change():
    calls = []
    slider = widgets.float_slider("a", 1.0, -2.0, 2.0)
    widget = widgets.slider_figure(lambda ax, a: calls.append(a), {"a": slider})
    assert calls == [1.0], "the first drawing must happen when the widget is built"
    slider.value = -0.5
    slider.value = 1.5
    assert calls == [1.0, -0.5, 1.5]
    assert _controls(widget) == [slider]
    plt.close("all")


def test_neuron_boundary_has_three_sliders_that_each_redraw(monkeypatch):
    calls = []
    monkeypatch.setattr(widgets.chapter01, "draw_neuron_boundary",
                        lambda ax, X, y, w1, w2, b, **kw: calls.append((w1, w2, b)))
    widget = widgets.neuron_boundary(X, y, w1=1.0, w2=0.0, b=0.0)
    w1, w2, b = _controls(widget)
    assert [s.description for s in (w1, w2, b)] == ["$w_1$", "$w_2$", "$b$"]
    assert calls[-1] == (1.0, 0.0, 0.0)
    w2.value = 2.0
    assert calls[-1] == (1.0, 2.0, 0.0)
    b.value = -3.0
    assert calls[-1] == (1.0, 2.0, -3.0)


def test_draw_neuron_boundary_reports_accuracy_and_cross_entropy(backend_name):
    fig, ax = plt.subplots()
    widgets.draw_neuron_boundary(ax, nnkit.asarray(X), nnkit.asarray(y), 1.0, 0.0, 0.0)
    # z = x1: all four points on their correct side; loss = mean softplus(z) - y z.
    z = X[:, 0]
    loss = np.mean(np.logaddexp(0, z) - y * z)
    assert "accuracy 100%" in ax.get_title()
    assert f"mean cross-entropy {loss:.3f}" in ax.get_title()
    assert len(ax.lines) == 1, "one boundary line"
    plt.close(fig)


def test_draw_neuron_boundary_line_is_where_z_is_zero():
    fig, ax = plt.subplots()
    widgets.draw_neuron_boundary(ax, X, y, 2.0, -1.0, 0.5, shade=False, legend=False, title="t")
    (x_line, y_line) = ax.lines[0].get_data()
    assert np.allclose(2.0 * np.asarray(x_line) - 1.0 * np.asarray(y_line) + 0.5, 0.0)
    assert ax.get_title() == "t" and ax.get_legend() is None
    plt.close(fig)


def test_zero_weights_draw_no_line_and_do_not_fail():
    fig, ax = plt.subplots()
    widgets.draw_neuron_boundary(ax, X, y, 0.0, 0.0, 1.0)
    assert not ax.lines and "accuracy 50%" in ax.get_title()
    plt.close(fig)


def test_wrong_shapes_are_explained_when_the_widget_is_built():
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        widgets.neuron_boundary(np.zeros((4, 3)), y)
    with pytest.raises(ValueError, match="4 points but y has 3 labels"):
        widgets.neuron_boundary(X, y[:3])


def test_every_public_widget_function_says_what_it_shows():
    for name in widgets.__all__:
        doc = inspect.getdoc(getattr(widgets, name))
        assert doc and len(doc.splitlines()[0]) > 20, f"nnkit.widgets.{name} needs a docstring"


def test_each_chapter_has_its_module_and_every_demo_is_reexported():
    """nnkit.widgets.<name> is the function of chapter NN's module; no name is defined twice."""
    modules = [widgets.base, widgets.chapter01, widgets.chapter03, widgets.chapter04, widgets.chapter05,
               widgets.chapter06, widgets.chapter07, widgets.chapter08, widgets.chapter09]
    names = [name for module in modules for name in module.__all__]
    assert sorted(names) == sorted(widgets.__all__) and len(set(names)) == len(names)
    for module in modules:
        for name in module.__all__:
            assert getattr(widgets, name) is getattr(module, name)
    assert widgets.conv_window_explorer.__module__ == "nnkit.widgets.chapter08"
    assert widgets.char_temperature.__module__ == "nnkit.widgets.chapter09"

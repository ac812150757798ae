"""Interactive demos for the chapter notebooks: one module per chapter, all re-exported here.

Chapter N's demos live in ``nnkit/widgets/chapterNN.py`` and are used as ``nnkit.widgets.<name>``;
``base.py`` holds the pattern below and what several chapters share (colours, host copies of data).

The pattern (follow it when you add a widget for your chapter)
---------------------------------------------------------------
Each demo is two public functions:

``draw_<thing>(ax, ..., **settings)``
    Draws ONE setting of the demo on a matplotlib ``ax`` and returns ``ax``. The notebook
    calls it two or three times for the static figure that sits before the widget, so the
    chapter reads fully where widgets do not run (nbconvert HTML, GitHub, a PDF).

``<thing>(data..., **initial_settings) -> ipywidgets.Widget``
    Builds the controls and hands them, with a small drawing callback, to
    :func:`slider_figure`, which returns the widget the notebook cell displays. Its
    docstring says what the student sees and what to try.

:func:`slider_figure` is the one place that wires controls to a redrawn figure: controls on
top, the figure below, redrawn (not stacked) on every change, so a browser test can move a
control and see the output change. Data may be an array of any backend: convert it once
with :func:`nnkit.to_numpy` before plotting. Do maths on those host arrays through
``backend.namespace(...)`` (these modules must not import numpy). A widget cell in a notebook
is tagged ``nbval-ignore-output``.

Widgets by chapter (module ``chapterNN``)
-----------------------------------------
1. :func:`neuron_boundary` (static twin :func:`draw_neuron_boundary`): one neuron's
   decision line under sliders for w1, w2 and b.
3. :func:`softmax_temperature` (static twin :func:`draw_softmax_temperature`): a
   temperature slider over a softmax bar chart.
4. :func:`learning_rate_explorer` (static twin :func:`draw_learning_rate`): a learning-rate
   slider and a batch-size menu; each change retrains a small MLP and redraws its loss
   curve and decision regions.
5. :func:`vanishing_gradients` (static twin :func:`draw_gradient_norms`): gradient norm
   per layer of deep sigmoid, tanh and ReLU nets under sliders for depth and weight gain.
6. :func:`activation_explorer` (static twin :func:`draw_activation_net`): an activation menu
   and a learning-rate slider; each change trains a small MLP with that activation and redraws
   f, f' and its decision regions.
7. :func:`optimizer_explorer` (static twin :func:`draw_optimizer_path`): an optimiser, its
   learning rate and a 2-D loss surface (ravine, curved valley, double well) to choose; each
   change reruns the real nnkit optimiser and redraws its path and its loss per step.
8. :func:`conv_window_explorer` (static twin :func:`draw_conv_window`): input size, kernel,
   stride, padding and the window's position; shows the sliding window, the output grid and
   the output-size arithmetic. :func:`filter_explorer` (static twin
   :func:`draw_filter_response`): a hand-set filter applied to a chosen image.
9. :func:`rnn_gradient_explorer` (static twin :func:`draw_rnn_gradient_norms`): the gradient
   reaching each input of a vanilla RNN under sliders for the recurrent weight scale, the input
   size and the length. :func:`char_temperature` (static twin :func:`draw_char_temperature`): a
   temperature slider over a trained character model's next-character distribution and a sample.
"""

from __future__ import annotations

from . import base, chapter01, chapter03, chapter04, chapter05, chapter06, chapter07, chapter08, chapter09
from .base import *  # noqa: F403
from .chapter01 import *  # noqa: F403
from .chapter03 import *  # noqa: F403
from .chapter04 import *  # noqa: F403
from .chapter05 import *  # noqa: F403
from .chapter06 import *  # noqa: F403
from .chapter07 import *  # noqa: F403
from .chapter08 import *  # noqa: F403
from .chapter09 import *  # noqa: F403

__all__ = [name for module in (base, chapter01, chapter03, chapter04, chapter05, chapter06, chapter07,
                               chapter08, chapter09) for name in module.__all__]

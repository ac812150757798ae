"""Exercises and grading for the course: check helpers, the exercise builder and the grader.

Students call the check helpers from exercise cells::

    from nnkit.course import check_close
    check_close(sigmoid(z), [0.1192, 0.5, 0.9526], name="sigmoid([-2, 0, 3])", atol=1e-4)

Instructors use the command line (see README.md, "For instructors")::

    python -m nnkit.course build            # solutions/ -> exercises/
    python -m nnkit.course build --check    # fail when exercises/ is stale (CI)
    python -m nnkit.course verify 01        # checks pass on the solution, fail on the blank,
                                            # and catch every listed wrong answer
    python -m nnkit.course grade 01 submissions/ --out grades/
    python -m nnkit.course bench --n 20     # grading throughput on this machine

Format guide for chapter authors
================================

``solutions/NN_name.ipynb`` is the one source of a chapter's exercises: it holds the
questions, the answers and the checks. ``exercises/NN_name.ipynb`` is generated from it
by ``python -m nnkit.course build`` and never edited by hand. Look at
``solutions/01_single_neuron.ipynb`` as the model to copy.

Solution cells
    A code cell tagged ``solution:<name>`` (one tag per cell; ``<name>`` is a short
    identifier such as ``sigmoid``, unique in the notebook). The answer sits between
    two marker lines::

        def sigmoid(z):
            \"\"\"σ(z) = 1 / (1 + e^(−z)), elementwise.\"\"\"
            ### BEGIN SOLUTION
            return 1 / (1 + np.exp(-z))
            ### END SOLUTION

    In the exercise the region becomes ``raise NotImplementedError(...)`` at the
    marker's indentation, with a message that tells the student what to do. Keep the
    signature, docstring and any scaffolding outside the markers. A cell may hold
    several regions; one function per cell reads best.

Check cells
    A code cell tagged ``check:<name>`` (unique), worth
    ``cell.metadata["course"]["points"]`` points (an int, default 1). It calls the
    student's functions and the helpers of this package (``check_close``,
    ``check_equal``, ``check_scalar``, ``check_shape``, ``check_dtype``, ``check_type``,
    ``check_true``), which print ``✓ … passed`` or raise an ``AssertionError`` that tells
    the student what is wrong. Call the student's function through ``call(fn, *args)``:
    it passes copies, fails with a sentence when the function changed an argument in
    place (unless named in ``may_change=``), and turns an exception into one sentence with
    the call's shapes and its likely cause. Compute references before the call.
    A check passes when the cell runs without an exception; it scores all or nothing.
    Its visible part must call the student's code, so that it fails on the exercise as
    handed out (a check made only of hidden tests would pass on a blank).
    Checks the students must not see go between ``### BEGIN HIDDEN TESTS`` and
    ``### END HIDDEN TESTS`` at the end of a check cell: the builder removes them from
    the exercise, the grader runs them. Reference values are small hand-checked
    numbers or computed with nnkit's own functions, never with the solution code.
    Print only rounded numbers (the solution notebook's stored outputs are compared).

Wrong answers
    Next to each solution, in the solution cell's metadata, a few common mistakes::

        "metadata": {"tags": ["solution:sigmoid"],
                     "course": {"wrong_answers": {
                         "exp_without_minus": "return 1 / (1 + np.exp(z))",
                         "derivative_instead": "s = 1 / (1 + np.exp(-z))\\nreturn s * (1 - s)"}}}

    Each value is the code that replaces the solution region (write it unindented; it
    is indented like the region), or a list of such strings, one per region, when the
    cell has several. ``python -m nnkit.course verify NN`` (and the test suite, for every
    ``solutions/*.ipynb``) runs every wrong answer and asserts that at least one check
    fails on it; it also asserts that every check passes on the solution and fails on
    the blank exercise, with and without the hidden tests. The builder drops wrong answers
    from the exercise.

The grading contract (how checks call the student's code when grading)
    In the student's own notebook everything runs in one kernel. The grader splits it:
    the instructor's cells (setup, demonstrations, checks with their hidden tests) run in
    a trusted *referee* (:mod:`nnkit.course.referee`), the student's ``solution:*`` cells
    in a sandboxed process (:mod:`nnkit.course.student`, :mod:`nnkit.course.sandbox`);
    setup and demonstration cells run in both. In the referee, each top-level function
    that the instructor's version of a solution cell defines is a *proxy*: a call sends
    the arguments across as plain data, runs the student's function there, and brings
    back its result and each argument as the function left it. Nothing the student's code
    does in its process can change a verdict: the verdict is the check cell's own, in the
    referee, on plain data. Write checks for that model:

    - A solution cell defines functions; the checks see only those the instructor's
      version defines, never the student's other globals. Lines starting with ``%`` or
      ``!`` (IPython magics, shell commands) are ignored when grading.
    - Arguments and results are plain data (:mod:`nnkit.course.plain`): ``None``, bools,
      ints, floats, strings; lists, tuples and dicts of them; NumPy arrays of numbers,
      booleans or strings and NumPy scalars (arrays of any nnkit backend arrive as NumPy
      arrays); NumPy random ``Generator``s (as their state); nnkit's own objects (layers,
      ``Sequential``, ``Parameter``, losses, optimisers: copies of their attributes, with
      shared parts kept shared). Anything else fails the check ("cannot cross the
      sandbox"). Results are copies: ``result is x`` does not hold, except that a function
      returning one of its arguments gives back the referee's own object.
    - Arguments changed in place come back changed: arrays are written in place; lists,
      dicts, generators and nnkit objects are updated (an nnkit object's arrays are
      replaced, never written into). So a check that an input is left unchanged, that a
      ``state`` dict is filled, or that a model was trained (``sgd_step``,
      ``train_and_test`` in chapter 4) works as in the notebook. An argument changed in
      place into something else (a new shape, another type) fails the check.
    - Callables may be passed (``f`` of ``numerical_gradient``): the student's code gets a
      stand-in that calls back into the referee with plain data. Pass only pure functions:
      the student's code may call them with any plain-data arguments, any number of times.
    - nnkit's random generator (``nnkit.seed``, ``nnkit.backend.rng()``) travels with every
      call, both ways: a check that seeds nnkit, then calls a student's function that
      shuffles with ``nnkit.data.batches``, sees the same stream as in the notebook.
      NumPy's legacy global state (``np.random.seed``) does not travel: pass a Generator.
    - A NumPy function switched off in a check cell (``np.tanh = refuse`` around the call,
      chapter 6) is switched off in the student's process for the duration of each call
      (the student's code gets a callback). It is a self-check, not a defence: a student's
      function can keep a reference to the real one.
    - Time: each cell has ``--cell-timeout`` seconds. A student's function still running
      then is stopped with its whole process, and every later cell that needs the
      student's code is "not run".
    ``verify`` runs every variant through this same machinery (unsandboxed), so a check
    that breaks the contract fails ``verify`` on the solution.

Everything else
    Markdown, setup and demonstration cells are copied to the exercise unchanged (their
    outputs are removed). The grader takes only the student's ``solution:*`` cells (of
    two with one tag, the last that is not the blank stub; outputs are never read), so
    students may add scratch cells but must keep the tagged cells (their tags show under
    View → Cell Toolbar → Tags in classic Jupyter, or the property inspector in
    JupyterLab). Solution notebooks are executed and stored with outputs, so
    ``pytest --nbval solutions/`` passes.
"""

from .checks import (
    call,
    check_close,
    check_dtype,
    check_equal,
    check_scalar,
    check_shape,
    check_true,
    check_type,
)

__all__ = ["call", "check_close", "check_dtype", "check_equal", "check_scalar", "check_shape", "check_true",
           "check_type"]

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
    ``check_equal``, ``check_scalar``, ``check_shape``, ``check_dtype``), which print
    ``✓ … passed`` or raise an ``AssertionError`` that tells the student what is wrong.
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

Everything else
    Markdown, setup and demonstration cells are copied to the exercise unchanged (their
    outputs are removed). The grader runs the instructor's solution notebook with only
    the student's ``solution:*`` cells swapped in, so students may add scratch cells but
    must keep the tagged cells (their tags show under View → Cell Toolbar → Tags in
    classic Jupyter, or the property inspector in JupyterLab). Solution notebooks are
    executed and stored with outputs, so ``pytest --nbval solutions/`` passes.
"""

from .checks import check_close, check_dtype, check_equal, check_scalar, check_shape

__all__ = ["check_close", "check_dtype", "check_equal", "check_scalar", "check_shape"]

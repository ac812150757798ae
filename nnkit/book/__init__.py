"""Build the course as an online textbook that reads offline.

    python -m nnkit.book [--out _build/book]

The book is built by Sphinx with myst-nb and sphinx-book-theme (configuration in
``nnkit/book/conf.py``) from the stored outputs of the notebooks: nothing is re-executed.
It has a sidebar with the chapters (``notebooks/NN_*.ipynb``), the exercise sheets
(``exercises/``) and an appendix (``notebooks/appendix_*.ipynb`` and the README's guides for
students and instructors), an "on this page" outline, full-text search, a link anchor on every
section, a dark mode and a print stylesheet. Every file a page loads is in the book's folder
(MathJax 3 from the ``sphinx-mathjax-offline`` package), so it reads without a network.

Interactive widgets need a running kernel. A widget's stored state is shown instead: the figure
it had drawn, with a note naming its controls and their values; a progress bar shows its last text.
"""

from __future__ import annotations

import pathlib
import re
import shutil
import sys
import tempfile

import nbformat

CONF_DIR = pathlib.Path(__file__).parent
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
# The README's sections that the appendix shows, by the opening of their headings.
GUIDES = {"start": "## Start in two commands", "students": "## For students",
          "instructors": "## For instructors"}
BOOK_NOTE = ("This is the course as a book: every chapter with the outputs it stores, readable without "
             "Python. To run the code and move the widgets, open the notebooks in JupyterLab "
             "(see [Start in two commands](guides/start.md)).")


def _section(readme: str, opening: str) -> str:
    """The README section whose heading starts with ``opening``, its headings raised one level."""
    match = re.search(rf"^{re.escape(opening)}.*?(?=^## |\Z)", readme, flags=re.M | re.S)
    if not match:
        raise ValueError(f"README.md has no section starting {opening!r}: the book's appendix takes "
                         "its guides from there (see GUIDES in nnkit/book/__init__.py).")
    return re.sub(r"^#(#+ )", r"\1", match.group(0), flags=re.M)


def _widget_parts(model_id: str, state: dict, controls: list, outputs: list, line: list) -> None:
    """Walk a widget tree depth-first, collecting its controls, Output-widget outputs and text."""
    model = state.get(model_id)
    if model is None:
        return
    name, values = model["model_name"], model["state"]
    if name == "OutputModel":
        outputs.extend(values.get("outputs", []))
    elif name == "HTMLModel":
        line.append(values.get("value", ""))
    elif name in ("FloatProgressModel", "IntProgressModel"):
        line.append(f'<progress value="{values.get("value", 0)}" max="{values.get("max", 100)}"></progress>')
    elif values.get("description") and ("value" in values or "index" in values):
        if "_options_labels" in values:  # a dropdown stores the index of its choice
            value = values["_options_labels"][values["index"]]
        else:
            value = values["value"]
        controls.append(f"{values['description']} = {value:g}" if isinstance(value, float)
                        else f"{values['description']} = {value}")
    for child in values.get("children", []):
        _widget_parts(child.removeprefix("IPY_MODEL_"), state, controls, outputs, line)


def _widget_note(controls: list[str]) -> nbformat.NotebookNode:
    """The note that stands for a widget's controls in the book (MyST, so maths in names renders)."""
    shown = f"Shown here as stored, with {', '.join(controls)}. " if controls else ""
    note = (f"```{{admonition}} Interactive widget\n:class: note book-widget-note\n\n{shown}To use it, "
            "open this chapter in JupyterLab: a widget needs a running Python kernel.\n```")
    return nbformat.v4.new_output("display_data", data={"text/markdown": note})


def static_widgets(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose widget views show their stored state instead of needing a kernel.

    An interactive widget becomes the outputs its Output widget held (the figure drawn at the
    stored settings) and a note naming the settings; a display-only widget such as a progress
    bar becomes its last text. The widget state is then dropped, so no widget JavaScript loads.
    """
    nb = nbformat.from_dict(nb)
    state = nb.metadata.pop("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        new = []
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_VIEW)
            if view is None:
                new.append(out)
                continue
            controls, outputs, line = [], [], []
            _widget_parts(view["model_id"], state, controls, outputs, line)
            new.extend(nbformat.from_dict(o) for o in outputs)
            if line and not controls:
                new.append(nbformat.v4.new_output("display_data", data={
                    "text/html": f'<div class="book-widget-line">{"".join(line)}</div>'}))
            else:
                new.append(_widget_note(controls))
        cell.outputs = new
    return nb


def _toctree(caption: str, docs: list[str]) -> str:
    """A MyST toctree: one captioned group of pages in the sidebar and on the index page."""
    return "\n".join([f"```{{toctree}}\n:caption: {caption}\n:maxdepth: 1\n", *docs, "```\n"])


def stage(src: pathlib.Path, root: pathlib.Path) -> None:
    """Write the book's sources into ``src``: notebook copies, the README's guides, the index."""
    chapters = sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not chapters:
        raise FileNotFoundError(f"No chapters found in {root / 'notebooks'}: run from the course folder.")
    appendix = sorted((root / "notebooks").glob("appendix_*.ipynb"))
    sheets = sorted((root / "exercises").glob("*.ipynb"))
    for path in chapters + appendix + sheets:
        (src / path.parent.name).mkdir(parents=True, exist_ok=True)
        nbformat.write(static_widgets(nbformat.read(path, as_version=4)), src / path.parent.name / path.name)

    readme = (root / "README.md").read_text(encoding="utf-8")
    (src / "guides").mkdir()
    for name, opening in GUIDES.items():
        (src / "guides" / f"{name}.md").write_text(_section(readme, opening), encoding="utf-8")
    intro = readme.split("\n## ", 1)[0]

    def docs(paths):
        return [f"{p.parent.name}/{p.stem}" for p in paths]

    index = "\n".join([
        intro.rstrip() + "\n", BOOK_NOTE + "\n",
        _toctree("Chapters", docs(chapters)),
        _toctree("Exercise sheets", docs(sheets)),
        _toctree("Appendix", docs(appendix) + [f"guides/{name}" for name in GUIDES])])
    (src / "index.md").write_text(index, encoding="utf-8")


def build(out: pathlib.Path, root: pathlib.Path = pathlib.Path("."),
          quiet: bool = True) -> list[pathlib.Path]:
    """Build the book from ``root``'s notebooks/, exercises/ and README.md into ``out`` (replaced).

    Returns the HTML page of every document, the index first.
    """
    from sphinx.application import Sphinx

    out, root = pathlib.Path(out).resolve(), pathlib.Path(root).resolve()
    if out.exists():
        shutil.rmtree(out)
    with tempfile.TemporaryDirectory(prefix="nnkit-book-") as tmp:
        src = pathlib.Path(tmp) / "src"
        stage(src, root)
        app = Sphinx(str(src), str(CONF_DIR), str(out), str(pathlib.Path(tmp) / "doctrees"), "html",
                     status=None if quiet else sys.stdout, warning=sys.stderr, freshenv=True)
        app.build(force_all=True)
        if app.statuscode:
            raise RuntimeError(f"Sphinx could not build the book (exit status {app.statuscode}).")
        docs = sorted(app.env.found_docs, key=lambda d: (d != "index", d))
    return [out / f"{doc}.html" for doc in docs]

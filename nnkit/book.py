"""Build the course as a static HTML book that reads offline.

    python -m nnkit.book [--out _build/book]

Every executed chapter in ``notebooks/`` and every exercise sheet in ``exercises/``
becomes a page, with a contents page, previous/next navigation and maths rendered by a
local copy of MathJax (from the ``jupyter-server-mathjax`` package), so nothing is fetched
from the network when the book is read. Interactive widgets cannot run without a kernel:
each is replaced by a note pointing to the static figure the chapter shows beside it.
"""

from __future__ import annotations

import argparse
import html
import pathlib
import re
import shutil

import nbformat

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = ("<p class='book-widget-note'><em>An interactive widget stands here. It needs a running "
               "kernel: open this chapter in JupyterLab to use it. The figure above shows typical "
               "settings.</em></p>")
STYLE = """<style>
.book-nav { font-family: sans-serif; display: flex; gap: 1.5em; padding: .6em 1.2em;
            border-bottom: 1px solid #ccc; background: #f7f7f7; }
.book-nav a { text-decoration: none; }
.book-widget-note { border-left: 4px solid #0072b2; padding: .3em .8em; background: #eef5fb; }
</style>
<script type="text/x-mathjax-config">
  // The bundled MathJax has only the STIX-Web fonts: use them instead of looking for TeX fonts.
  MathJax.Hub.Config({"HTML-CSS": {availableFonts: ["STIX-Web"], preferredFont: "STIX-Web",
                                   webFont: "STIX-Web", imageFont: null}});
</script>"""


def _title(nb: nbformat.NotebookNode, fallback: str) -> str:
    """The first Markdown heading of a notebook."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#+\s+(.+)$", cell.source, flags=re.M)
            if match:
                return match.group(1).strip()
    return fallback


def _without_widgets(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` whose widget views are replaced by a note (no widget JavaScript needed)."""
    nb = nbformat.from_dict(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for out in cell.get("outputs", []):
            if WIDGET_VIEW in out.get("data", {}):
                out = nbformat.v4.new_output("display_data", data={"text/html": WIDGET_NOTE})
            outputs.append(out)
        cell.outputs = outputs
    return nb


def _offline(page: str) -> str:
    """Drop the template's CDN scripts (require.js serves only widgets, which the book replaces)."""
    return re.sub(r'<script[^>]*src="https?://[^"]*"[^>]*>\s*</script>', "", page)


def _relink(page: str) -> str:
    """Point links between notebooks at the matching pages (the book mirrors the folders)."""
    return re.sub(r'href="([^":#]+)\.ipynb(#[^"]*)?"',
                  lambda m: f'href="{m.group(1)}.html{m.group(2) or ""}"', page)


def _nav(prev: tuple[str, str] | None, nxt: tuple[str, str] | None) -> str:
    """The bar on top and bottom of every page (pages sit one folder below the contents page)."""
    links = ['<a href="../index.html">Contents</a>']
    if prev:
        links.append(f'<a href="../{prev[0]}" rel="prev">&larr; {html.escape(prev[1])}</a>')
    if nxt:
        links.append(f'<a href="../{nxt[0]}" rel="next">{html.escape(nxt[1])} &rarr;</a>')
    return f'<nav class="book-nav">{"".join(links)}</nav>'


def build(out: pathlib.Path, root: pathlib.Path = pathlib.Path(".")) -> list[pathlib.Path]:
    """Write the book into ``out`` from ``root``'s notebooks/ and exercises/; returns the pages."""
    import jupyter_server_mathjax
    from nbconvert import HTMLExporter

    if out.exists():
        shutil.rmtree(out)
    for folder in ("notebooks", "exercises"):
        (out / folder).mkdir(parents=True)
    shutil.copytree(pathlib.Path(jupyter_server_mathjax.__file__).parent / "static", out / "mathjax")

    entries = []  # (page path relative to out, title, notebook): each chapter, then its exercises
    sources = [p for folder in ("notebooks", "exercises") for p in (root / folder).glob("*.ipynb")]
    for path in sorted(sources, key=lambda p: (p.stem, p.parent.name != "notebooks")):
        nb = nbformat.read(path, as_version=4)
        entries.append((f"{path.parent.name}/{path.stem}.html", _title(nb, path.stem), nb))
    if not entries:
        raise FileNotFoundError(f"No notebooks found in {root / 'notebooks'}: run from the course folder.")

    pages = []
    exporter = HTMLExporter(template_name="lab",
                            mathjax_url="../mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe")
    for i, (page, title, nb) in enumerate(entries):
        body, _ = exporter.from_notebook_node(_without_widgets(nb), resources={"metadata": {"name": title}})
        prev = entries[i - 1][:2] if i > 0 else None
        nxt = entries[i + 1][:2] if i + 1 < len(entries) else None
        nav = _nav(prev, nxt)
        opening = re.search(r"<body[^>]*>", body).end()
        body = body[:opening] + nav + body[opening:]
        body = body.replace("</head>", STYLE + "</head>", 1).replace("</body>", nav + "</body>", 1)
        body = _offline(_relink(body))
        target = out / page
        target.write_text(body, encoding="utf-8")
        pages.append(target)

    def contents(folder: str) -> str:
        return "".join(f'<li><a href="{p}">{html.escape(t)}</a></li>' for p, t, _ in entries
                       if p.startswith(folder))

    index = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Neural networks: the course"
             f"</title>{STYLE}</head>"
             "<body style='font-family: sans-serif; max-width: 46em; margin: 2em auto'>"
             "<h1>Neural networks, from one neuron to CNNs and RNNs</h1>"
             "<p>The executed chapters of the course, readable without Python. To run the code and use "
             "the interactive widgets, open the notebooks in JupyterLab (see README.md).</p>"
             f"<h2>Chapters</h2><ul>{contents('notebooks/')}</ul>"
             f"<h2>Exercises</h2><ul>{contents('exercises/')}</ul></body></html>")
    (out / "index.html").write_text(index, encoding="utf-8")
    return [out / "index.html", *pages]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m nnkit.book", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("_build/book"),
                        help="folder to write the book into (replaced)")
    parser.add_argument("--root", type=pathlib.Path, default=pathlib.Path("."),
                        help="the course folder holding notebooks/ and exercises/")
    args = parser.parse_args(argv)
    pages = build(args.out, args.root)
    print(f"Wrote {len(pages)} pages to {args.out}/ — open {args.out / 'index.html'} in a browser.")


if __name__ == "__main__":
    main()

"""Sphinx configuration of the course book (used by ``python -m nnkit.book``; see ``nnkit/book/__init__.py``).

Everything the pages load is served from the book's own folder: the theme's CSS, JavaScript and
icon font come with sphinx-book-theme, the search index is Sphinx's, and MathJax 3 (with its
fonts) is copied in by the ``sphinx-mathjax-offline`` extension, which also points Sphinx at it.
"""

import pathlib

project = "Neural networks, from one neuron to CNNs and RNNs"
author = "the nnkit course"
html_title = project

extensions = ["myst_nb", "sphinx-mathjax-offline"]
# The stored outputs are the book: never run a notebook while building it.
nb_execution_mode = "off"
# Widget views are replaced by their stored state and a note before the build
# (nnkit.book.static_widgets), so no widget JavaScript is loaded, from anywhere.
nb_ipywidgets_js = {}
# Markdown outputs (the widget notes) are read as MyST, with maths and directives, as JupyterLab would.
nb_render_markdown_format = "myst"
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3  # [text](#a-section-title) links, as in JupyterLab

html_theme = "sphinx_book_theme"
html_theme_options = {
    "home_page_in_toc": True,
    "show_toc_level": 2,           # the "on this page" outline: sections and subsections
    "use_download_button": True,   # the page's notebook (.ipynb), from the book's own folder
    "use_fullscreen_button": False,
    "navigation_with_keys": True,
}
html_static_path = [str(pathlib.Path(__file__).with_name("static"))]
html_css_files = ["book.css"]
html_show_sphinx = False
html_show_copyright = False

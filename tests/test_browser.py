"""The course through a student's eyes: JupyterLab and the static book in headless Chromium.

nbval proves that the code runs; it cannot see a widget that shows only as text, or maths
left as raw LaTeX. These tests start one JupyterLab server on 127.0.0.1 (over copies of the
chapters, so the notebooks in the repository are never touched), run every chapter with
"Run All Cells", and check what a student would see. They also build the book
(``python -m nnkit.book``) and read it offline as a reader would: search, sidebar, links,
maths, dark mode and print. Screenshots go to ``artifacts/browser/``.

Chromium comes from the system (Debian's ``chromium``), driven by the ``playwright``
package; a browser is never downloaded. Without them the tests skip, unless
``NNKIT_REQUIRE_BROWSER=1`` (set by CI) turns that into a failure.
"""

from __future__ import annotations

import functools
import html
import html.parser
import http.server
import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import warnings

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("*.ipynb"))
ARTIFACTS = ROOT / "artifacts" / "browser"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"]
# JupyterLab settings for a quiet, reproducible session: no news pop-up over screenshots,
# no autosave rewriting the notebook, every cell rendered (no virtual scrolling).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\w*(Error|Exception)\b", re.M)

pytestmark = pytest.mark.browser


def _need(what: str, why: str):
    if os.environ.get("NNKIT_REQUIRE_BROWSER"):
        pytest.fail(f"{what} is required (NNKIT_REQUIRE_BROWSER is set): {why}")
    pytest.skip(f"{what} is not available: {why}")


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need("playwright", "pip install -r requirements-test.txt")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        _need("Chromium", "sudo apt-get install chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """One JupyterLab server for every chapter, over copies of them; yields its base URL."""
    home = tmp_path_factory.mktemp("lab")
    work, settings = home / "course", home / "settings"
    shutil.copytree(ROOT / "notebooks", work / "notebooks")
    for name, values in LAB_SETTINGS.items():
        path = settings / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port = _free_port()
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(home / "ws"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), NNKIT_BACKEND="numpy")
    env.pop("NPY_DISABLE_CPU_FEATURES", None)  # nbval compares with SIMD off; here the chapters run as is
    log = open(home / "server.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         "--IdentityProvider.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
         "--allow-root",
         f"--ServerApp.root_dir={work / 'notebooks'}", f"--FileCheckpoints.checkpoint_dir={home / 'ckpt'}"],
        cwd=work / "notebooks", env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/api/status", timeout=2)
                break
            except OSError:
                if server.poll() is not None:
                    log_tail = (home / "server.log").read_text()[-2000:]
                    raise RuntimeError(f"JupyterLab exited: {log_tail}") from None
                time.sleep(0.5)
        else:
            raise RuntimeError(f"JupyterLab did not answer on {url} within 60 s")
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and the kernels it started
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


def _widget_count(path: pathlib.Path) -> int:
    """How many widget views the executed chapter stores (what JupyterLab must render)."""
    cells = json.loads(path.read_text())["cells"]
    return sum(WIDGET_VIEW in out.get("data", {}) for c in cells for out in c.get("outputs", []))


def _menu(page, menu: str, item: str) -> None:
    page.get_by_role("menuitem", name=menu, exact=True).click()
    page.get_by_role("menuitem", name=item, exact=True).click()


def _wait_until_run(page, timeout: float = 300) -> list[str]:
    """Wait until the kernel is idle with no cell queued; returns the code cells' prompts.

    "Run All" stops at a failing cell, so "every prompt numbered" alone could wait forever.
    """
    idle = page.locator("#jp-main-statusbar").get_by_text("Idle")
    quiet, deadline = 0, time.monotonic() + timeout
    while time.monotonic() < deadline:
        prompts = page.locator(".jp-CodeCell .jp-InputArea-prompt").all_inner_texts()
        quiet = quiet + 1 if idle.count() and not any("*" in p for p in prompts) else 0
        if quiet >= 3:  # idle and nothing queued for 1.5 s in a row
            return prompts
        page.wait_for_timeout(500)
    raise TimeoutError(f"the notebook was still running after {timeout} s")


def _nudge(page, view) -> bool:
    """Move the first control of a widget view; True when the view's output changed."""
    before = view.inner_html()
    handle, select = view.locator(".noUi-handle"), view.locator("select")
    for key in ("ArrowRight", "ArrowLeft"):  # a slider already at its maximum moves left
        if handle.count():
            handle.first.focus()
            for _ in range(3):
                page.keyboard.press(key)
        elif select.count():
            options = select.first.locator("option").all_text_contents()
            select.first.select_option(label=options[-1] if key == "ArrowRight" else options[0])
        else:
            return False
        for _ in range(40):
            page.wait_for_timeout(250)
            if view.inner_html() != before:
                return True
    return False


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_runs_and_its_widgets_respond_in_jupyterlab(path, lab, browser):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(f"{lab}/lab/tree/{path.name}?reset")
        page.locator("#jp-main-statusbar").get_by_text("Idle").first.wait_for(timeout=90_000)
        _menu(page, "Edit", "Clear Outputs of All Cells")  # so a cell that never runs shows it
        _menu(page, "Run", "Run All Cells")
        prompts = _wait_until_run(page)
        unrun = [i for i, p in enumerate(prompts) if not re.fullmatch(r"\[\d+\]:", p.strip())]
        page.screenshot(path=str(ARTIFACTS / f"{path.stem}.png"))

        stderr = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        errors = [t for t in stderr.all_inner_texts() if TRACEBACK.search(t)]
        assert not errors, f"{path.name} shows an error in JupyterLab:\n{errors[0][:2000]}"
        assert not unrun, f"{path.name}: code cells {unrun} did not run (prompts {prompts})"

        views = page.locator(".jp-OutputArea-output > .jupyter-widgets")
        assert views.count() == _widget_count(path), (
            f"{path.name}: the stored notebook has {_widget_count(path)} widget(s), "
            f"JupyterLab rendered {views.count()}")
        as_text = page.locator(".jp-OutputArea-output").filter(has_text=re.compile(r"^\w+\(children="))
        assert as_text.count() == 0, f"{path.name}: a widget is shown as text, not rendered"

        for i in range(views.count()):
            view = views.nth(i)
            if not view.locator(".noUi-handle, select").count():
                continue  # a display-only widget such as a progress bar
            view.scroll_into_view_if_needed()
            assert _nudge(page, view), f"{path.name}: widget {i} did not redraw when its control moved"
            view.screenshot(path=str(ARTIFACTS / f"{path.stem}-widget{i}.png"))
    finally:
        page.close()
        _shut_down_kernels(lab)


def _shut_down_kernels(url: str) -> None:
    """End the chapter's kernel, so that kernels do not pile up over the whole run."""
    sessions = json.load(urllib.request.urlopen(f"{url}/api/sessions", timeout=10))
    for session in sessions:
        request = urllib.request.Request(f"{url}/api/sessions/{session['id']}", method="DELETE")
        urllib.request.urlopen(request, timeout=30)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # one line per file on stderr would bury a failure's message
        pass


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    """The book, built by ``python -m nnkit.book``'s code from the stored chapters, served on 127.0.0.1."""
    from nnkit.book import build

    out = tmp_path_factory.mktemp("book")
    with warnings.catch_warnings():  # the theme and myst still use Sphinx APIs deprecated for Sphinx 11
        warnings.filterwarnings("ignore", message=r".*Check CHANGES for Sphinx API modifications")
        pages = build(out, ROOT)
    handler = functools.partial(_QuietHandler, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield out, pages, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class _PageLinks(html.parser.HTMLParser):
    """The anchors (ids) of an HTML page and every URL it links to or loads, with the tag."""

    def __init__(self, path: pathlib.Path):
        super().__init__()
        self.ids, self.urls = set(), []
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.ids.update(attrs[key] for key in ("id", "name") if attrs.get(key))
        self.urls.extend((tag, attrs[key]) for key in ("href", "src") if attrs.get(key))


def test_every_link_in_the_book_resolves_and_nothing_loads_from_outside(book):
    out, pages, _ = book
    parsed = {p: _PageLinks(p) for p in out.rglob("*.html") if "_static" not in p.parts}
    broken, outside = [], []
    for page, links in parsed.items():
        for tag, url in links.urls:
            parts = urllib.parse.urlsplit(url)
            where = f"{page.relative_to(out)}: <{tag}> {url}"
            if parts.scheme in ("http", "https") or url.startswith("//"):
                if tag != "a":  # a link to a paper is fine; a script, style or image from the web is not
                    outside.append(where)
                continue
            if parts.scheme:  # mailto:, data:, javascript:
                continue
            target = (page.parent / urllib.parse.unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                broken.append(where)
            elif parts.fragment and target.suffix == ".html" and parts.fragment not in parsed[target].ids:
                broken.append(f"{where} (no such anchor)")
    assert not broken, "links to missing pages or anchors:\n" + "\n".join(broken[:20])
    assert not outside, "pages load files from the network:\n" + "\n".join(outside[:20])
    chapters = [p for p in CHAPTERS if p.stem[:2].isdigit()]
    assert len(pages) >= len(chapters) + 1, f"only {len(pages)} pages for {len(chapters)} chapters"


def test_the_book_shows_each_widget_as_stored(book):
    out, _, _ = book
    for path in CHAPTERS:
        text = (out / "notebooks" / f"{path.stem}.html").read_text(encoding="utf-8")
        shown = len(re.findall(r'class="[^"]*\bbook-widget-(?:note|line)\b', text))
        assert shown == _widget_count(path), (
            f"{path.name}: {_widget_count(path)} widget(s) stored, {shown} shown in the book")
        assert not re.search(r"\b[HV]Box\(children=|widget-state\+json", text), (
            f"{path.name}: the book shows a widget as text or loads widget state")


def _page_title(path: pathlib.Path) -> str:
    """The document title of a built page (what the sidebar shows for it)."""
    title = re.search(r"<title>(.*?)</title>", path.read_text(encoding="utf-8"), flags=re.S).group(1)
    return html.unescape(title).split(" — ")[0].strip()


def test_a_reader_searches_navigates_and_reads_the_maths_offline(book, browser):
    out, pages, url = book
    chapters = [p for p in pages if p.parent.name == "notebooks" and p.stem[:2].isdigit()]
    heaviest = max(chapters, key=lambda p: len(re.findall(r'class="math', p.read_text(encoding="utf-8"))))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    outside = []
    local = (url, "data:", "about:")
    page.on("request", lambda r: None if r.url.startswith(local) else outside.append(r.url))
    try:
        page.goto(f"{url}/index.html")
        sidebar = page.locator("nav.bd-docs-nav")
        assert sidebar.get_by_text("Chapters", exact=True).is_visible()
        page.screenshot(path=str(ARTIFACTS / "book-index.png"))

        # Search from the search field and follow a result to the softmax chapter.
        page.locator("button.search-button-field").first.click()
        field = page.locator("form.bd-search input[name=q]:visible").first
        field.fill("softmax")
        field.press("Enter")
        hit = page.locator("#search-results a[href*='notebooks/03_softmax']").first
        hit.wait_for(timeout=30_000)
        page.screenshot(path=str(ARTIFACTS / "book-search.png"))
        hit.click()
        page.wait_for_url(re.compile(r"/notebooks/03_softmax\.html"))
        assert page.locator("h1").first.inner_text().startswith("Chapter 3")
        outline = page.locator(".bd-sidebar-secondary nav a")
        assert outline.count() >= 3, "the 'on this page' outline lists fewer than 3 sections"
        widget = page.locator(".cell_output:has(.book-widget-note)").first
        widget.scroll_into_view_if_needed()
        widget.screenshot(path=str(ARTIFACTS / "book-03_softmax-widget.png"))

        # Navigate by the sidebar to the most maths-heavy chapter: every formula rendered, no raw TeX.
        page.locator("nav.bd-docs-nav").get_by_role("link", name=_page_title(heaviest), exact=True).click()
        page.wait_for_url(f"**/notebooks/{heaviest.name}")
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                               timeout=60_000)
        page.evaluate("() => MathJax.startup.promise")  # resolves once the page is typeset
        rendered = page.locator("mjx-container").count()
        formulas = page.locator(".math").count()
        text = page.locator("main").inner_text()
        page.screenshot(path=str(ARTIFACTS / f"book-{heaviest.stem}.png"))

        page.emulate_media(color_scheme="dark")  # the theme follows the reader's system setting
        page.wait_for_function("() => document.documentElement.dataset.theme === 'dark'", timeout=10_000)
        page.screenshot(path=str(ARTIFACTS / f"book-{heaviest.stem}-dark.png"))
        page.emulate_media(media="print", color_scheme="light")
        assert not page.locator(".bd-sidebar-primary").is_visible(), "the sidebar is printed"
        page.screenshot(path=str(ARTIFACTS / f"book-{heaviest.stem}-print.png"))
    finally:
        page.close()
    assert rendered >= formulas >= 10, f"{heaviest.name}: {rendered} of {formulas} formulas rendered"
    raw = re.findall(r"\$\$|\\frac|\\mathbf|\\sum|\\\(|\\\[", text)
    assert not raw, f"{heaviest.name}: raw LaTeX left on the page: {raw[:5]}"
    assert not outside, f"the book fetched from outside 127.0.0.1: {outside[:5]}"

"""The course through a student's eyes: JupyterLab and the static book in headless Chromium.

nbval proves that the code runs; it cannot see a widget that shows only as text, or maths
left as raw LaTeX. These tests start one JupyterLab server on 127.0.0.1 (over copies of the
chapters, so the notebooks in the repository are never touched), run every chapter with
"Run All Cells", and check what a student would see. They also build the static book and
read it offline. Screenshots go to ``artifacts/browser/``.

Chromium comes from the system (Debian's ``chromium``), driven by the ``playwright``
package; a browser is never downloaded. Without them the tests skip, unless
``NNKIT_REQUIRE_BROWSER=1`` (set by CI) turns that into a failure.
"""

from __future__ import annotations

import functools
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
import urllib.request

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


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    """The static book, built from the executed chapters and served on 127.0.0.1."""
    from nnkit.book import build

    out = tmp_path_factory.mktemp("book")
    pages = build(out, ROOT)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(out))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield out, pages, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_every_link_in_the_book_resolves(book):
    out, pages, _ = book
    broken = []
    for page in pages:
        for href in re.findall(r'<a[^>]+href="([^"]+)"', page.read_text(encoding="utf-8")):
            if re.match(r"(https?:|mailto:|#)", href):
                continue
            target = (page.parent / href.split("#")[0]).resolve()
            if not target.is_file():
                broken.append(f"{page.relative_to(out)} -> {href}")
    assert not broken, "links to missing pages:\n" + "\n".join(broken)
    assert len(pages) >= len(CHAPTERS) + 1


def test_the_book_renders_maths_offline(book, browser):
    out, pages, url = book
    chapter_pages = [p for p in pages if p.parent.name == "notebooks"]
    heaviest = max(chapter_pages, key=lambda p: p.read_text(encoding="utf-8").count("$"))
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    outside = []
    local = (url, "data:", "about:")
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(local) else None)
    try:
        page.goto(f"{url}/{heaviest.relative_to(out).as_posix()}")
        page.wait_for_function("() => window.MathJax && MathJax.Hub && MathJax.Hub.queue.pending === 0"
                               " && document.querySelectorAll('.MathJax, .MathJax_Display').length > 0",
                               timeout=60_000)
        rendered = page.locator(".MathJax, .MathJax_Display").count()
        text = page.locator("body").inner_text()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"book-{heaviest.stem}.png"))
    finally:
        page.close()
    assert rendered >= 10, f"{heaviest.name}: only {rendered} formulas rendered"
    raw = re.findall(r"\$\$|\\frac|\\mathbf|\\sum", text)
    assert not raw, f"{heaviest.name}: raw LaTeX left on the page: {raw[:5]}"
    assert not outside, f"the book fetched from outside 127.0.0.1: {outside[:5]}"

"""Browser end-to-end harness: notebooks served by Voilà on 127.0.0.1, driven by Python
Playwright with Debian's /usr/bin/chromium (no browser download; never `playwright
install`).

Import the fixtures into a test module (pytest picks imported fixtures up; the
Playwright driver, the browser and the servers are shared by every module that does)::

    from browser import browser, chromium, page, voila        # noqa: F401

    def test_my_dashboard(page, voila, artifacts_dir):
        open_notebook(page, voila("dashboard.ipynb"), "[data-name=ttft_ms]")
        select(page, "model", "llama-3-70b")
        ...
        screenshot(page, artifacts_dir, "my_dashboard")

* ``chromium`` — the browser's path; skips on a dev box without it, fails in CI
  (``XLCALC_CI=1``), through ``require_tool``.
* ``voila`` — a factory: ``voila("dashboard.ipynb")`` is the URL of a notebook under
  ``examples/`` (or ``voila(path, root=folder)`` for another folder), rendered by one
  Voilà server per folder, started on a free port on first use and stopped at the end of
  the session.  The kernel imports the checkout (``PYTHONPATH`` = repository root).
* ``browser`` — one headless chromium for the session; ``page`` — a fresh page per test
  (1440 × 1000), with the page's console errors in ``page.console_errors``.

Helpers find ipywidgets controls by their label (the glossary name) among the visible
ones, so a control on a hidden tab is never touched by mistake.
"""

from __future__ import annotations

import atexit
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import require_tool

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
CHROMIUM = "/usr/bin/chromium"
#: DESIGN.md: the flags Debian's chromium needs here (no sandbox, no GPU, no updates)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--no-first-run"]
#: seconds for Voilà to start a kernel and render a notebook's widgets
RENDER_TIMEOUT_S = 120


# ------------------------------------------------------------------ servers

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class VoilaServer:
    """``voila <root>`` on 127.0.0.1:<free port>; notebooks under ``root`` at
    ``/voila/render/<relative path>``."""

    def __init__(self, root: Path, log_path: Path):
        self.root = Path(root)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
            JUPYTER_PLATFORM_DIRS="1", MPLBACKEND="Agg")
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "voila", "--no-browser", f"--port={self.port}",
             "--Voila.ip=127.0.0.1", "--Voila.open_browser=False", str(self.root)],
            cwd=str(self.root), env=env, stdout=self._log, stderr=subprocess.STDOUT)
        self._wait_up()

    def _wait_up(self, timeout=60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"voila exited with {self.proc.returncode}; log:\n"
                                   + self.log())
            try:
                with urllib.request.urlopen(self.base + "/", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("voila did not answer within %.0f s; log:\n%s" % (timeout, self.log()))

    def url(self, notebook: str) -> str:
        return f"{self.base}/voila/render/{notebook}"

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return Path(self.log_path).read_text(errors="replace")[-4000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()


#: one Playwright, one browser and one Voilà server per folder for the whole process,
#: however many test modules import these fixtures (each import defines its own copy of a
#: session fixture; a second sync Playwright would fail inside the first one's loop)
_SHARED: dict = {"servers": {}}


def _close_all() -> None:
    for server in _SHARED["servers"].values():
        server.stop()
    _SHARED["servers"] = {}
    browser = _SHARED.pop("browser", None)
    if browser is not None:
        browser.close()
    playwright = _SHARED.pop("playwright", None)
    if playwright is not None:
        playwright.stop()


atexit.register(lambda: [s.stop() for s in _SHARED["servers"].values()])


@pytest.fixture(scope="session")
def voila(tmp_path_factory, request):
    """``voila(notebook, root=EXAMPLES)`` -> the URL that renders ``notebook``."""
    pytest.importorskip("voila", reason="pip install -e '.[test]' installs voila")
    servers = _SHARED["servers"]

    def url(notebook: str, root: Path = EXAMPLES) -> str:
        root = Path(root).resolve()
        if root not in servers:
            log = tmp_path_factory.mktemp("voila") / "voila.log"
            servers[root] = VoilaServer(root, log)
        return servers[root].url(notebook)

    url.servers = servers
    request.addfinalizer(_close_all)
    return url


# ------------------------------------------------------------------ browser

@pytest.fixture(scope="session")
def chromium():
    return require_tool("chromium", CHROMIUM, "the browser end-to-end tests drive it")


@pytest.fixture(scope="session")
def browser(chromium, request):
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="pip install -e '.[test]' installs playwright")
    if "browser" not in _SHARED:
        _SHARED["playwright"] = sync_api.sync_playwright().start()
        _SHARED["browser"] = _SHARED["playwright"].chromium.launch(
            executable_path=chromium, args=CHROMIUM_FLAGS)
    request.addfinalizer(_close_all)
    return _SHARED["browser"]


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 1000},
                                  device_scale_factor=1)
    pg = context.new_page()
    pg.console_errors = []
    pg.on("console", lambda m: pg.console_errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.console_errors.append(str(e)))
    yield pg
    context.close()


# ------------------------------------------------------------------ helpers

def open_notebook(page, url: str, ready: str, timeout_s: float = RENDER_TIMEOUT_S):
    """Load a Voilà page and wait until ``ready`` (a CSS selector) is visible."""
    page.goto(url, timeout=timeout_s * 1000)
    page.wait_for_selector(ready, state="visible", timeout=timeout_s * 1000)


def _exact(label: str):
    return re.compile(rf"^\s*{re.escape(label)}\s*$")


def control(page, kind: str, label: str, scope=None):
    """The visible ipywidgets control of class ``widget-<kind>`` (``dropdown``,
    ``hslider``, ``toggle-buttons``, ``text``, ``textarea`` …) labelled ``label``."""
    scope = scope or page
    loc = scope.locator(f".widget-{kind}").filter(
        has=page.locator("label.widget-label", has_text=_exact(label))).filter(visible=True)
    loc.first.wait_for(state="visible")
    return loc.first


def select(page, label: str, value: str, scope=None):
    """Choose ``value`` in the visible dropdown labelled ``label``."""
    control(page, "dropdown", label, scope).locator("select").select_option(value)


def slider_keys(page, label: str, key: str = "ArrowRight", times: int = 1, scope=None) -> str:
    """Move the visible slider labelled ``label`` with the keyboard (one option per key
    press); returns the slider's readout afterwards."""
    box = control(page, "hslider", label, scope)
    handle = box.locator(".noUi-handle").first
    handle.focus()
    for _ in range(times):
        handle.press(key)
    return box.locator(".widget-readout").inner_text().strip()


def toggle(page, label: str, button: str, scope=None):
    """Press the button ``button`` of the visible toggle buttons labelled ``label``."""
    control(page, "toggle-buttons", label, scope).locator(
        "button", has_text=_exact(button)).click()


def tab(page, title: str):
    """Open the visible tab titled ``title``."""
    page.locator(".lm-TabBar-tab:visible, .p-TabBar-tab:visible",
                 has_text=_exact(title)).first.click()


def value(page, name: str) -> str:
    """The exact value (``data-value``) of the visible element ``data-name=name``."""
    return page.locator(f"[data-name={name}]").filter(visible=True).first.get_attribute(
        "data-value")


def text(page, name: str) -> str:
    return page.locator(f"[data-name={name}]").filter(visible=True).first.inner_text()


def wait_change(page, name: str, old: str, timeout_s: float = 30) -> str:
    """Wait until the visible ``data-name=name`` shows a value other than ``old``."""
    page.wait_for_function(
        """([name, old]) => [...document.querySelectorAll(`[data-name=${name}]`)]
               .some(e => e.offsetParent !== null && e.dataset.value !== old)""",
        arg=[name, old], timeout=timeout_s * 1000)
    return value(page, name)


def screenshot(page, artifacts_dir: Path, name: str, full_page: bool = True) -> Path:
    """Save ``<artifacts_dir>/<name>.png`` and return its path.  Images are waited for;
    ``full_page`` grows the viewport to the tallest scrolling element first (Voilà
    scrolls a container, not the page, so Playwright's own full-page shot would stop
    at the viewport)."""
    path = Path(artifacts_dir) / f"{name}.png"
    page.wait_for_function("() => [...document.images].every(i => i.complete)")
    size = page.viewport_size
    if full_page:
        height = page.evaluate(
            "() => Math.max(...[...document.querySelectorAll('*')].map(e => e.scrollHeight))")
        page.set_viewport_size({"width": size["width"], "height": min(int(height) + 24, 5000)})
        page.wait_for_timeout(200)
    try:
        page.screenshot(path=str(path), full_page=full_page)
    finally:
        page.set_viewport_size(size)
    return path

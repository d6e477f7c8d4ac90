"""The HTML report in a real headless browser (Debian's chromium + chromedriver via selenium).

`make test` installs chromium first (Makefile target `chromium`); if it is missing the test
fails with a message saying so rather than skipping.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from reluscope import Box
from reluscope.report import analyze

from test_report import degenerate_network

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _driver(profile: Path):
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if missing:
        pytest.fail(f"headless-browser test needs {' and '.join(missing)}: run `make chromium` "
                    "(apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1200,1600", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def _check_page(url: str, tmp: Path, min_images: int) -> None:
    profile = Path(tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp))
    driver = _driver(profile)
    try:
        driver.set_page_load_timeout(60)
        driver.get(url)
        state = driver.execute_script("return document.readyState")
        assert state == "complete"
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth]);")
        assert len(images) >= min_images, images
        broken = [src for src, complete, width in images if not complete or width == 0]
        assert not broken, f"images that did not load: {broken}"
        errors = [entry for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]
        assert not errors, f"console errors: {errors}"
        title = driver.execute_script("return document.querySelector('h1').textContent")
        assert title.startswith("reluscope")
        shot = tmp / "screenshot.png"
        assert driver.save_screenshot(str(shot))
        data = shot.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 5000
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("browser-report")
    analyze(degenerate_network(), out, domain=Box(-1, 1), time_limit=5, quiet=True,
            sections=("network", "degeneracies", "activations"))
    return out


def test_report_html_in_headless_chromium_file_url(report_dir, tmp_path):
    html = report_dir / "report.html"
    figures = sorted(p.name for p in report_dir.glob("*.png"))
    assert len(figures) >= 2
    _check_page(html.resolve().as_uri(), tmp_path, min_images=len(figures))


def test_report_html_served_over_http(report_dir, tmp_path):
    """Over a local http.server too: no missing resource (favicon included) on a real server."""
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(report_dir))

    class Quiet(handler.func):  # type: ignore[misc, name-defined]
        def log_message(self, *args):  # noqa: D401 - silence the server log
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(report_dir)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        _check_page(f"http://127.0.0.1:{port}/report.html", tmp_path, min_images=2)
    finally:
        server.shutdown()
        server.server_close()


def test_reproduce_report_in_headless_chromium(tmp_path):
    """The combined reproduce report: figures in sub-folders load, no console errors."""
    from reluscope import experiments
    from reluscope.report import reproduce

    from test_report_reproduce import _fake_ok

    experiments._load()
    saved = dict(experiments._REGISTRY)
    try:
        experiments.register("test-fake-ok", "A synthetic experiment for the browser test.")(_fake_ok)
        out = tmp_path / "reproduce"
        rep = reproduce(["test-fake-ok"], out, quick=True, quiet=True)
    finally:
        experiments._REGISTRY.clear()
        experiments._REGISTRY.update(saved)
    _check_page(rep.html.resolve().as_uri(), tmp_path, min_images=1)

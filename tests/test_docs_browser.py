"""The built site in a real browser: headless Chromium, driven from Python with selenium.

The site is served over HTTP on 127.0.0.1 (Sphinx's search needs http, not file://). On the
index, a case page and the strategy page: every image has loaded (no broken picture), no error
block is shown, and the search finds pages. Skips when Chromium, chromedriver or the built site
(``make docs``) is absent.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

BUILT = Path(__file__).resolve().parents[1] / "docs" / "_build" / "html"
CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)
CHROMEDRIVER = shutil.which("chromedriver")

PAGES = ("index.html", "cases/graph.html", "strategies.html")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # keep pytest's output clean
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    if not (BUILT / "index.html").exists():
        pytest.skip(f"the built site is absent ({BUILT}); run `make docs` first")
    handler = functools.partial(_QuietHandler, directory=str(BUILT))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip(
            "Chromium or chromedriver is not installed (apt-get install chromium chromium-driver)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _open(browser, url: str) -> None:
    browser.get(url)
    # Lazy images and the theme's scripts: wait until the document says it has loaded.
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )


@pytest.mark.parametrize("page", PAGES)
def test_every_image_on_the_page_has_loaded(site, browser, page):
    _open(browser, f"{site}/{page}")
    broken = browser.execute_script(
        """
        const imgs = Array.from(document.images);
        imgs.forEach(img => img.loading = 'eager');
        return imgs.filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.src);
        """
    )
    assert broken == []


def test_the_case_page_shows_its_graph_pictures(site, browser):
    _open(browser, f"{site}/cases/graph.html")
    pictures = browser.execute_script(
        "return document.querySelectorAll('figure.case-graph img, .case-graph pre').length"
    )
    assert pictures > 0


@pytest.mark.parametrize("page", PAGES)
def test_the_page_shows_no_error_block(site, browser, page):
    _open(browser, f"{site}/{page}")
    text = browser.find_element("tag name", "body").text
    assert browser.execute_script("return document.querySelectorAll('.system-message').length") == 0
    assert "Traceback" not in text
    assert "MISMATCH" not in text


def test_the_search_finds_the_pages_about_detach(site, browser):
    from selenium.webdriver.support.ui import WebDriverWait

    _open(browser, f"{site}/search.html?q=detach")
    results = WebDriverWait(browser, 30).until(
        lambda d: d.find_elements("css selector", "#search-results ul.search li")
    )
    hrefs = [r.find_element("tag name", "a").get_attribute("href") for r in results]
    assert any("cases/detach.html" in h for h in hrefs), hrefs


@pytest.mark.parametrize(
    "entry", ["backward-through-freed-graph", "saved-tensor-modified-in-place"]
)
def test_pasting_an_error_message_finds_its_error_index_page_first(site, browser, entry):
    """The real search script, with the site's scorer: the message as the page shows it."""
    import json
    import urllib.parse

    from selenium.webdriver.support.ui import WebDriverWait

    text = (BUILT / "searchindex.js").read_text(encoding="utf-8")
    index = json.loads(text[text.index("(") + 1 : text.rindex(")")])
    query = index["titles"][index["docnames"].index(f"errors/messages/{entry}")]
    _open(browser, f"{site}/search.html?q={urllib.parse.quote(query)}")
    results = WebDriverWait(browser, 30).until(
        lambda d: d.find_elements("css selector", "#search-results ul.search li")
    )
    first = results[0].find_element("tag name", "a").get_attribute("href")
    assert f"errors/messages/{entry}.html" in first, first

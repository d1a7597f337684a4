"""The built site in a real browser: headless Chromium, driven from Python with selenium.

The site is served over HTTP on 127.0.0.1 (Sphinx's search needs http, not file://). On the
index, a case page and the strategy page: every image has loaded (no broken picture), no error
block is shown, and the search finds pages. On every page at a laptop's 1280 px: no code block
or table runs past its column, no option is rendered with an en dash; on the strategy page no
table cell that holds a figure wraps onto a second line. Every graph picture is
shown at 3/5 of its natural width or more and links to its full size; the RNN pictures before a
failing backward show the freed or STALE saved tensors and the batch boundary; every fix has its
diff; every family page offers its notebook (valid nbformat, outputs included) and script; the
Chinese edition has its pages in Chinese and a language switch that leads to the same page in
the other language. At a phone's 390 px no page scrolls sideways; at 1280 px no page is taller
than 20,000 px. Skips when Chromium, chromedriver or the built
site (``make docs``) is absent.
"""

from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

BUILT = Path(__file__).resolve().parents[1] / "docs" / "_build" / "html"
CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None)
CHROMEDRIVER = shutil.which("chromedriver")

PAGES = ("index.html", "cases/graph/what-backward-frees.html", "strategies.html")
ALL_PAGES = sorted(
    str(p.relative_to(BUILT))
    for p in BUILT.glob("**/*.html")
    if p.name not in ("genindex.html", "search.html", "py-modindex.html")
    and "_static" not in p.parts
    and "zh_CN" not in p.parts
    and "_sources" not in p.parts
)
FAMILY_PAGES = [p for p in ALL_PAGES if p.startswith("cases/")]
ZH_PAGES = ("zh_CN/index.html", "zh_CN/notebook.html", "zh_CN/cases/rnn-state.html")
_OPEN_DETAILS = "document.querySelectorAll('details').forEach(d => d.open = true);"


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
    _open(browser, f"{site}/cases/graph/what-backward-frees.html")
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


def _sized(browser, width: int) -> None:
    if browser.get_window_size()["width"] != width:
        browser.set_window_size(width, 900)


# A page taller than this at 1280 px is split into topic sub-pages (docs/cases/<family>/).
TALLEST_PAGE_PX = 20_000
# Pages exempt from the height limit (none: the compatibility matrix folds a table per family).
NOT_SPLIT: set[str] = set()


@pytest.mark.parametrize("page", ALL_PAGES)
def test_at_1280_px_nothing_runs_past_its_column_no_option_has_an_en_dash_nor_is_it_too_tall(
    site, browser, page
):
    _sized(browser, 1280)
    _open(browser, f"{site}/{page}")
    # The height as the page opens (its details folded), measured here to load each page once.
    height = browser.execute_script("return document.documentElement.scrollHeight")
    overflowing, text = browser.execute_script(
        _OPEN_DETAILS
        + """
        const column = document.querySelector('article').getBoundingClientRect();
        const out = [];
        for (const el of document.querySelectorAll('article pre, article table')) {
          const r = el.getBoundingClientRect();
          if (r.width === 0) continue;
          const hidden = el.tagName === 'PRE' && el.scrollWidth > el.clientWidth + 1;
          if (r.right > column.right + 1 || hidden)
            out.push(el.tagName + ': ' + el.textContent.trim().slice(0, 60));
        }
        return [out, document.querySelector('article').textContent];
        """
    )
    assert overflowing == []
    # "--data" typeset as "\u2013data" by smart quotes: an en dash glued to a word.
    assert re.findall(r"(?<![\w\d])\u2013[a-z][a-z-]+", text) == []
    if page not in NOT_SPLIT:
        assert height <= TALLEST_PAGE_PX, f"{page} is {height} px tall at 1280 px"


@pytest.mark.parametrize("page", FAMILY_PAGES)
def test_every_graph_picture_is_readable_and_links_to_its_full_size(site, browser, page):
    _sized(browser, 1280)
    _open(browser, f"{site}/{page}")
    pictures = browser.execute_script(
        _OPEN_DETAILS
        + """
        return Array.from(document.querySelectorAll('figure.case-graph')).map(f => {
          const img = f.querySelector('img');
          const link = f.querySelector('a.graph-full');
          return {src: img.src, shown: img.getBoundingClientRect().width,
                  natural: img.naturalWidth, full: link ? link.href : null};
        });
        """
    )
    for picture in pictures:
        assert picture["natural"] > 0, picture
        assert picture["shown"] >= 0.6 * picture["natural"] - 1, picture
        assert picture["full"] and picture["full"].endswith(".svg"), picture
        full = BUILT / picture["full"].split("/", 3)[3]
        assert full.exists(), picture


def _svg_of(src: str) -> str:
    return (BUILT / src.split("/", 3)[3]).read_text(encoding="utf-8")


def test_the_rnn_pictures_before_a_failing_backward_show_freed_or_stale_saved_tensors(
    site, browser
):
    pictures = []
    for page in ("carrying-the-state", "retain-graph"):  # the sub-pages of cases/rnn-state
        _open(browser, f"{site}/cases/rnn-state/{page}.html")
        pictures += browser.execute_script(
            _OPEN_DETAILS
            + """
            return Array.from(document.querySelectorAll('section.case')).flatMap(s =>
              Array.from(s.querySelectorAll(':scope > .case-happens figure.case-graph')).map(
                f => ({case: s.id, caption: f.querySelector('figcaption').textContent,
                       src: f.querySelector('img').src})));
            """
        )
    failing = {
        p["case"]: _svg_of(p["src"]) for p in pictures if "batch 2, before backward" in p["caption"]
    }
    assert set(failing) >= {"rnn-state-no-detach", "rnn-state-retain-graph-then-step"}
    assert "freed by an earlier backward" in failing["rnn-state-no-detach"]
    assert "into freed" in failing["rnn-state-no-detach"]
    assert "STALE" in failing["rnn-state-retain-graph-then-step"]
    for case in ("rnn-state-no-detach", "rnn-state-retain-graph-then-step"):
        svg = failing[case]  # the batch boundary: batch 1's frame, the edge carried into it
        assert "from batch 1, carried in" in svg and re.search(r">carried in(, into \w+)?<", svg)
    assert "more nodes" not in "".join(failing.values())  # nothing cut away


@pytest.mark.parametrize("page", FAMILY_PAGES)
def test_every_fix_is_shown_as_a_diff_against_the_failing_code(site, browser, page):
    _open(browser, f"{site}/{page}")
    fixes = browser.execute_script(
        """
        return Array.from(document.querySelectorAll('.case-fix')).map(f => {
          const diff = f.querySelector('.highlight-diff pre');
          return diff ? diff.textContent : null;
        });
        """
    )
    for diff in fixes:
        assert diff is not None and diff.startswith("--- "), diff
        assert re.search(r"^\+", diff, re.M) and re.search(r"^-(?!--)", diff, re.M), diff


@pytest.mark.parametrize("page", FAMILY_PAGES)
def test_every_family_page_offers_its_notebook_and_script(site, browser, page):
    _open(browser, f"{site}/{page}")
    links = browser.execute_script(
        "return Array.from(document.querySelectorAll('p.case-downloads a')).map(a => a.href)"
    )
    notebook = next(h for h in links if h.endswith(".ipynb"))
    assert any(h.endswith(".py") for h in links)
    nb = json.loads(
        browser.execute_script(
            "const r = new XMLHttpRequest(); r.open('GET', arguments[0], false); r.send();"
            "return r.status === 200 ? r.responseText : null;",
            notebook,
        )
    )
    assert nb["nbformat"] == 4
    cases = [c for c in nb["cells"] if c["cell_type"] == "code"][1:]
    # A split family's overview offers the whole family: its table's question rows.
    questions = browser.execute_script(
        "return document.querySelectorAll('table.case-questions tbody tr,"
        " table.family-questions tbody tr.family-question').length"
    )
    assert len(cases) == questions > 0
    assert all(c["outputs"] and c["execution_count"] for c in cases)


@pytest.mark.parametrize("page", ZH_PAGES)
def test_the_chinese_pages_are_in_chinese(site, browser, page):
    _open(browser, f"{site}/{page}")
    assert browser.execute_script("return document.documentElement.lang") == "zh-CN"
    text = browser.execute_script("return document.querySelector('article').textContent")
    assert len(re.findall(r"[\u4e00-\u9fff]", text)) > 300
    assert browser.execute_script("return document.querySelectorAll('.untranslated').length") == 0


def test_the_language_switch_leads_to_the_same_page_in_the_other_language(site, browser):
    _sized(browser, 1280)
    _open(browser, f"{site}/cases/rnn-state.html")
    browser.find_element("css selector", ".sidebar-drawer a.language-link").click()
    assert browser.current_url.endswith("/zh_CN/cases/rnn-state.html")
    assert "跨批量" in browser.find_element("tag name", "h1").text
    browser.find_element("css selector", ".sidebar-drawer a.language-link").click()
    assert browser.current_url.endswith("/cases/rnn-state.html")
    assert "zh_CN" not in browser.current_url


def test_a_page_not_yet_translated_says_so_in_chinese(site, browser):
    _open(browser, f"{site}/zh_CN/tools.html")
    note = browser.find_element("css selector", ".untranslated").text
    assert "尚未翻译" in note


@pytest.mark.parametrize("page", ["index.html", "notebook.html", "cases/rnn-state.html"])
def test_no_page_scrolls_sideways_on_a_phone(site, browser, page):
    # A real 390 px viewport: a headless window is not made narrower than 500 px.
    phone = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", phone)
    try:
        _open(browser, f"{site}/{page}")
        width = browser.execute_script(
            _OPEN_DETAILS + "return [document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert width[1] == 390
        assert width[0] <= width[1] + 1, width
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


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


def test_no_table_cell_with_a_number_wraps_on_the_strategy_page_at_1280_px(site, browser):
    _sized(browser, 1280)
    _open(browser, f"{site}/strategies.html")
    wrapped = browser.execute_script(
        """
        const out = [];
        for (const cell of document.querySelectorAll('article td, article th')) {
          // a figure: the cell starts with one ("2.00 [1.25, 2.82]", "1.618 (carried)");
          // prose that mentions a number may wrap like any prose
          if (!/^[-+\u00b1\u00d7]?\\s?\\d/.test(cell.textContent.trim())) continue;
          // one line: every text fragment's box starts within half a line of the first one's
          const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
          const boxes = [];
          for (let t = walker.nextNode(); t; t = walker.nextNode()) {
            const range = document.createRange();
            range.selectNodeContents(t);
            boxes.push(...[...range.getClientRects()].filter(r => r.height > 0));
          }
          if (boxes.length === 0) continue;
          const line = Math.min(...boxes.map(r => r.height));
          const tops = new Set(boxes.map(r => Math.round((r.top - boxes[0].top) / line)));
          if (tops.size > 1) out.push(cell.textContent.trim().slice(0, 40));
        }
        return out;
        """
    )
    assert wrapped == []

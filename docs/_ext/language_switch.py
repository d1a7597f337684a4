"""The site in two languages: a switch on every page, and a note on pages not yet translated.

The English site is built into ``_build/html`` and the Chinese edition, from the same sources
with ``-D language=zh_CN``, into ``_build/html/zh_CN`` (``make docs``). Every page gets links to
the same page in the other edition: in the sidebar under the search box (``_templates/sidebar/
language.html``) and at the top of the page's text, so that a phone, whose sidebar is folded
away, shows it too. A page of the Chinese edition with no catalogue in
``locale/zh_CN/LC_MESSAGES`` is the English text: a note at its top says so, in Chinese.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx

EDITIONS = {"en": ("English", ""), "zh_CN": ("中文", "zh_CN/")}
_UNTRANSLATED = {
    "zh_CN": "本页尚未翻译成中文，下面是英文原文。已翻译的页面：首页、笔记本逐格讲解、跨批量的 RNN 隐状态。"
}


def _links(app: Sphinx, pagename: str) -> list[tuple[str, str, str, bool]]:
    here = app.config.language or "en"
    # From this page up to the English site's root, then down into an edition.
    up = "../" * pagename.count("/") + ("../" if EDITIONS.get(here, ("", ""))[1] else "")
    return [
        (code, label, f"{up}{prefix}{pagename}.html", code == here)
        for code, (label, prefix) in EDITIONS.items()
    ]


_MSGSTR = re.compile(r'^msgstr "(?!")', re.M)


def _translated(app: Sphinx, pagename: str) -> bool:
    """Whether the page's catalogue translates anything (``make translations`` makes empty ones)."""
    catalogue = Path(app.srcdir) / "locale" / app.config.language / "LC_MESSAGES"
    po = catalogue / f"{pagename}.po"
    return po.exists() and _MSGSTR.search(po.read_text(encoding="utf-8")) is not None


def add_language_links(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    links = _links(app, pagename)
    context["language_links"] = links
    if doctree is None or "body" not in context:
        return
    switch = " · ".join(
        f'<span class="language-current">{label}</span>'
        if current
        else f'<a class="language-link" href="{href}" hreflang="{code.replace("_", "-")}">{label}</a>'
        for code, label, href, current in links
    )
    top = f'<p class="language-switch language-switch-top">{switch}</p>'
    language = app.config.language or "en"
    if language in _UNTRANSLATED and not _translated(app, pagename):
        top += f'<div class="admonition note untranslated"><p>{_UNTRANSLATED[language]}</p></div>'
    context["body"] = top + context["body"]


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("html-page-context", add_language_links)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

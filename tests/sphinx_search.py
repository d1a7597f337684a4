"""Sphinx's site search (searchtools.js of Sphinx 7-9), ported to Python for tests.

It ranks a query against a built ``searchindex.js`` the way the page's script does: the
title phase (a query contained in a section or page title), the index-entry phase, and the
full-text terms search (every non-numeric, non-stopword term must be found; a page scores the
best of its words: 15 in a title, 5 in the text, 7 and 2 for partial matches). Object search is
left out: it only matches when every term is in one object's name, which no error message is.
``tests/test_docs_browser.py`` checks in a real browser that the script agrees.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import snowballstemmer

TITLE, PARTIAL_TITLE, TERM, PARTIAL_TERM = 15, 7, 5, 2


class SiteSearch:
    def __init__(self, built: Path):
        text = (built / "searchindex.js").read_text(encoding="utf-8")
        self.index = json.loads(text[text.index("(") + 1 : text.rindex(")")])
        lang = (built / "_static" / "language_data.js").read_text(encoding="utf-8")
        self.stopwords = set(
            json.loads(re.search(r"stopwords = new Set\((\[.*?\])\)", lang).group(1))
        )
        self.stemmer = snowballstemmer.stemmer("english")

    def _files(self, table: dict, word: str) -> list[int]:
        hit = table.get(word)
        if hit is None:
            return []
        return hit if isinstance(hit, list) else [hit]

    def search(self, query: str) -> list[str]:
        """Docnames of the results, best first (duplicates removed as the page does)."""
        idx = self.index
        docnames, titles = idx["docnames"], idx["titles"]
        results: list[tuple[str, str, str, int]] = []  # docname, title, anchor, score
        q = query.lower().strip()
        for title, found in idx["alltitles"].items():
            if q in title.lower().strip() and len(q) >= len(title) / 2:
                for file, anchor in found:
                    boost = 1 if titles[file] == title else 0
                    results.append(
                        (
                            docnames[file],
                            title,
                            anchor or "",
                            round(TITLE * len(q) / len(title)) + boost,
                        )
                    )
        for entry, found in idx.get("indexentries", {}).items():
            if q in entry and len(q) >= len(entry) / 2:
                for file, anchor, is_main in found:
                    if is_main:
                        results.append(
                            (
                                docnames[file],
                                titles[file],
                                anchor or "",
                                round(100 * len(q) / len(entry)),
                            )
                        )
        terms = set()
        for word in re.split(r"[^\w]+", query.strip()):
            if not word or word.lower() in self.stopwords or word.isdigit():
                continue
            terms.add(self.stemmer.stemWord(word.lower()))
        file_words: dict[int, dict[str, int]] = {}
        for word in terms:
            records = [
                (self._files(idx["terms"], word), TERM),
                (self._files(idx["titleterms"], word), TITLE),
            ]
            if len(word) > 2:
                if word not in idx["terms"]:
                    records += [
                        (self._files(idx["terms"], t), PARTIAL_TERM)
                        for t in idx["terms"]
                        if word in t
                    ]
                if word not in idx["titleterms"]:
                    records += [
                        (self._files(idx["titleterms"], t), PARTIAL_TITLE)
                        for t in idx["titleterms"]
                        if word in t
                    ]
            for files, score in records:
                for f in files:
                    file_words.setdefault(f, {})[word] = (
                        score  # the last record wins, as in the script
                    )
        needed = {len(terms), len([t for t in terms if len(t) > 2])}
        for f, words in file_words.items():
            if len(words) in needed:
                results.append((docnames[f], titles[f], "", max(words.values())))
        # docs/_static/error_search_scorer.js: a pasted message (5+ words) prefers the error index.
        if len([w for w in re.split(r"[^\w]+", query) if w]) >= 5:
            results = [
                (d, t, a, s + 20 if d.startswith("errors/messages/") else s)
                for d, t, a, s in results
            ]
        # Highest score first; equal scores in alphabetical order of title; then deduplicated.
        results.sort(key=lambda r: (-r[3], r[1].lower()))
        seen, ordered = set(), []
        for doc, title, anchor, _ in results:
            if (doc, title, anchor) not in seen:
                seen.add((doc, title, anchor))
                ordered.append(doc)
        return ordered

"""Sphinx configuration for the rnn-autograd docs.

Built strictly and freshly (``make docs``: ``sphinx-build -E -W --keep-going``): every case on
every page is run at build time by the ``{case}`` directive in ``_ext/``, and a declaration that
no longer matches what torch does fails the build.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))

import rnn_autograd  # noqa: E402 - after the path set-up, so a plain checkout builds too

# One intra-op thread: the cases, the short training run and the benchmark's tiny preset use
# tensors so small that a second thread only adds synchronisation, and on a busy 2-core machine
# its spin-waiting made running every case over ten times slower (measured: 6.6 s with one
# thread, 110 s with two, same cases, same machine). The benchmark sets its own thread count.
torch.set_num_threads(1)

project = "rnn-autograd"
author = "rnn-autograd contributors"
copyright = "rnn-autograd contributors"
release = rnn_autograd.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx_copybutton",
    "case_directive",
    "family_pages",
    "compat_matrix",
    "error_index",
    "reference_pages",
    "pipeline_figures",
    "bench_page",
    "live_output",
    "run_output",
    "language_switch",
    "repository_page",
]

source_suffix = {".md": "markdown"}

# The Chinese edition (`make docs` builds it into _build/html/zh_CN with -D language=zh_CN):
# Sphinx's gettext workflow, one catalogue per page under locale/zh_CN/LC_MESSAGES
# (`make translations` refreshes them with sphinx-intl). A page without a catalogue is shown
# in English with a note saying so (language_switch.py).
language = "en"
locale_dirs = ["locale/"]
gettext_compact = False
gettext_uuid = False
root_doc = "index"
exclude_patterns = ["_build", "_generated", "Thumbs.db", ".DS_Store"]

myst_enable_extensions = ["colon_fence", "deflist", "substitution"]
myst_substitutions = {"torch_version": torch.__version__}
myst_heading_anchors = 3
# Code and options read as typed: no "--data" turned into an en dash, no curly quotes in ids.
smartquotes = False

# Every registered case must have its place on exactly one page.
rnn_cases_require_all = True

html_theme = "furo"
html_title = f"rnn-autograd {release}"
html_static_path = ["_static"]
# Files the pages link to as they are (full-size graph pictures, notebooks, scripts), written
# while the pages are read and copied into the site's root at the end of the build.
html_extra_path = ["_generated/site"]
(HERE / "_generated" / "site").mkdir(parents=True, exist_ok=True)  # Sphinx checks it exists
html_css_files = ["cases.css"]
templates_path = ["_templates"]
# furo's sidebar, with the language switch under the search box.
html_sidebars = {
    "**": [
        "sidebar/brand.html",
        "sidebar/search.html",
        "sidebar/language.html",
        "sidebar/repository.html",
        "sidebar/scroll-start.html",
        "sidebar/navigation.html",
        "sidebar/scroll-end.html",
    ]
}

# A hosted repository, from pyproject.toml's [project.urls] (Repository = "https://..."): the
# footer links to it and each page to its source there. Without that entry no address is guessed;
# the site still links to the repository it was built from, which it ships as a git bundle
# (repository.md, _ext/repository_page.py).
# (A line match, not tomllib: that needs Python 3.11 and the project supports 3.10.)
_repo = re.search(
    r'^Repository\s*=\s*"([^"]+)"', (HERE.parent / "pyproject.toml").read_text(), re.M
)
repository_url = _repo.group(1) if _repo else ""
html_theme_options: dict = {}
if repository_url:
    html_theme_options = {
        "source_repository": repository_url.rstrip("/") + "/",
        "source_branch": "main",
        "source_directory": "docs/",
        "footer_icons": [
            {
                "name": "Repository",
                "url": repository_url,
                "html": "Source code repository",
                "class": "repository-link",
            }
        ],
    }
# A pasted error message finds its page of the error index first (see the file).
html_search_scorer = str(HERE / "_static" / "error_search_scorer.js")

autodoc_member_order = "bysource"
autodoc_typehints = "description"

copybutton_prompt_text = r"\$ |>>> "
copybutton_prompt_is_regexp = True

# Shown in the footer of the generated reports and the case outcomes.
rst_epilog = ""
html_context = {"torch_version": torch.__version__}

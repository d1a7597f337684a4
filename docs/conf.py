"""Sphinx configuration for the rnn-autograd docs.

Built strictly and freshly (``make docs``: ``sphinx-build -E -W --keep-going``): every case on
every page is run at build time by the ``{case}`` directive in ``_ext/``, and a declaration that
no longer matches what torch does fails the build.
"""

from __future__ import annotations

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
    "sphinx_copybutton",
    "case_directive",
    "error_index",
    "reference_pages",
    "pipeline_figures",
    "bench_page",
    "live_output",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_generated", "Thumbs.db", ".DS_Store"]

myst_enable_extensions = ["colon_fence", "deflist", "substitution"]
myst_substitutions = {"torch_version": torch.__version__}
myst_heading_anchors = 3

# Every registered case must have its place on exactly one page.
rnn_cases_require_all = True

html_theme = "furo"
html_title = f"rnn-autograd {release}"
html_static_path = ["_static"]
html_css_files = ["cases.css"]
# A pasted error message finds its page of the error index first (see the file).
html_search_scorer = str(HERE / "_static" / "error_search_scorer.js")

autodoc_member_order = "bysource"
autodoc_typehints = "description"

copybutton_prompt_text = r"\$ |>>> "
copybutton_prompt_is_regexp = True

# Shown in the footer of the generated reports and the case outcomes.
rst_epilog = ""
html_context = {"torch_version": torch.__version__}

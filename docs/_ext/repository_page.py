"""The site links to the repository it was built from, and ships it.

The project has no hosted address yet; rather than invent one, every build puts the repository
itself on the site: ``downloads/rnn-autograd.bundle``, a git bundle of the commit the site was
built from (``git clone rnn-autograd.bundle`` makes a working copy with its history), and the
``{repository}`` directive on ``repository.md`` says which commit that is, when it was made,
whether the tree had uncommitted changes, and how to clone it. Every page links to that page from
the sidebar (``_templates/sidebar/repository.html``). Where pyproject.toml names a hosted
repository (``[project.urls] Repository``), the page and the theme link to it as well.

A build from a tree that is not a git checkout (an unpacked sdist) still succeeds: the page says
that no repository could be bundled, and why.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from docutils import nodes
from site_words import say
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

logger = logging.getLogger(__name__)

BUNDLE = "rnn-autograd.bundle"  # under the site's downloads/ (html_extra_path)
_ROOT = Path(__file__).resolve().parents[2]


def _git(*args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(_ROOT), *args], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip()


def repository_facts() -> dict[str, Any]:
    """The commit the tree is at, its date and subject, the branch, and uncommitted changes.

    ``{"error": "..."}`` where there is no git or no checkout: the page says so.
    """
    if shutil.which("git") is None:
        return {"error": "git is not installed where the site was built"}
    try:
        commit = _git("rev-parse", "HEAD")
        # Only a checkout whose top is this project: not a parent repository the tree sits in.
        if Path(_git("rev-parse", "--show-toplevel")).resolve() != _ROOT:
            return {"error": "the site was built from a tree that is not a git checkout"}
    except (subprocess.CalledProcessError, OSError, subprocess.TimeoutExpired):
        return {"error": "the site was built from a tree that is not a git checkout"}
    branch = _git("rev-parse", "--abbrev-ref", "HEAD")
    return {
        "commit": commit,
        "date": _git("log", "-1", "--format=%cI"),
        "subject": _git("log", "-1", "--format=%s"),
        "branch": "" if branch == "HEAD" else branch,
        "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "commits": int(_git("rev-list", "--count", "HEAD")),
    }


def write_bundle(app: Sphinx) -> None:
    """Bundle HEAD (and its branch, so that a clone checks the branch out) into the downloads."""
    facts = repository_facts()
    app.env.rnn_repository = facts  # type: ignore[attr-defined]
    if "error" in facts or (app.config.language or "en") != "en":
        return  # the English build writes the bundle; the other editions link to it
    out = Path(app.srcdir) / "_generated" / "site" / "downloads"
    out.mkdir(parents=True, exist_ok=True)
    refs = ["HEAD"] + ([f"refs/heads/{facts['branch']}"] if facts["branch"] else [])
    try:
        _git("bundle", "create", str(out / BUNDLE), *refs)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        app.env.rnn_repository = {"error": f"git bundle failed: {exc}"}  # type: ignore[attr-defined]


def _short(subject: str, most: int = 90) -> str:
    return subject if len(subject) <= most else subject[: most - 1].rstrip() + "…"


class RepositoryDirective(SphinxDirective):
    """What the site was built from, the bundle to clone, and the hosted repository if any."""

    def run(self) -> list[nodes.Node]:
        facts = getattr(self.env, "rnn_repository", None) or repository_facts()
        hosted = self.config.repository_url
        result: list[nodes.Node] = []
        if hosted:
            para = nodes.paragraph(text="The repository is hosted at ")
            para += nodes.reference("", hosted, refuri=hosted)
            para += nodes.Text(".")
            result.append(para)
        if "error" in facts:
            result.append(nodes.paragraph(text=f"No repository is bundled: {facts['error']}."))
            return result
        up = "../" * self.env.docname.count("/")
        edition = "../" if (self.config.language or "en") != "en" else ""
        href = f"{up}{edition}downloads/{BUNDLE}"
        para = nodes.paragraph(text="This site was built from commit ")
        para += nodes.literal(text=facts["commit"][:12])
        para += nodes.Text(
            f" ({facts['date']}, “{_short(facts['subject'])}”), the last of {facts['commits']} commits"
            + (f" on {facts['branch']}" if facts["branch"] else "")
            + (
                ", with uncommitted changes to tracked files that the bundle does not hold"
                if facts["dirty"]
                else ""
            )
            + ". The repository, with its whole history up to that commit, is on this site as a "
            "git bundle: "
        )
        para += nodes.reference("", BUNDLE, refuri=href, classes=["repository-bundle"])
        para += nodes.Text(". Download it, then make a working copy from it:")
        result.append(para)
        clone = f"git clone {BUNDLE} rnn-autograd\ncd rnn-autograd\ngit log --oneline -3"
        result.append(nodes.literal_block(clone, clone, language="bash"))
        return result


def add_link_label(
    app: Sphinx, pagename: str, templatename: str, context: dict, doctree: Any
) -> None:
    context["repository_label"] = say("Source code repository")  # in the edition's language


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("repository_url", "", "env")
    app.add_directive("repository", RepositoryDirective)
    app.connect("builder-inited", write_bundle)
    app.connect("html-page-context", add_link_label)
    return {"parallel_read_safe": True, "version": "1"}

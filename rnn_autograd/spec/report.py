"""Verdicts as data: the JSON document of ``rnn-autograd check --json`` and its JUnit XML.

One document per run: where it ran (torch, Python, platform, which private torch APIs were
there) and per case its id, declared outcome, observed outcome, verdict and mismatches. The
records of ``docs/compat/`` are these documents plus how they were made; the pytest suite
(``pytest --pyargs rnn_autograd``) and ``--junit-xml`` report the same fields.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Iterable
from typing import Any
from xml.etree import ElementTree as ET

import torch

from .case import Case
from .outcome import ByTorch, installed_torch_version
from .run import Verdict
from .torch_private import private_api_report

__all__ = [
    "FORMAT",
    "declared_range",
    "describe_declared",
    "side_by_side",
    "environment",
    "junit_xml",
    "report",
    "verdict_record",
]

FORMAT = "rnn-autograd-check/1"


def environment() -> dict[str, Any]:
    """Where the cases run: torch (as installed and as a release), Python, the platform."""
    return {
        "torch": torch.__version__,
        "torch_release": str(installed_torch_version()),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "private_torch_api": private_api_report(),
    }


def declared_range(case: Case, release: str | None = None) -> str | None:
    """The ``ByTorch`` range that applies to ``release`` (installed torch: None), if any."""
    if not isinstance(case.outcome, ByTorch):
        return None
    from packaging.specifiers import SpecifierSet
    from packaging.version import Version

    version = Version(release) if release else installed_torch_version()
    hits = [spec for spec in case.outcome.ranges if version in SpecifierSet(spec)]
    return hits[0] if len(hits) == 1 else None


def verdict_record(verdict: Verdict) -> dict[str, Any]:
    """One case's line of the document."""
    return {
        "id": verdict.case.id,
        "declared": describe_declared(verdict),
        "declared_for_torch": declared_range(verdict.case),
        "observed": verdict.observation.describe(),
        "verdict": verdict.label.lower(),
        "mismatches": list(verdict.mismatches),
    }


def describe_declared(verdict: Verdict) -> str:
    """The declaration that applied; a ``ByTorch`` with no range for this torch says so."""
    if isinstance(verdict.declared, ByTorch):  # check() could not resolve it
        return f"no declared range covers torch {installed_torch_version()}: " + ", ".join(
            verdict.declared.ranges
        )
    return verdict.declared.describe()


def report(verdicts: Iterable[Verdict], **fields: Any) -> dict[str, Any]:
    """The whole document: ``fields`` (the caller's), the environment, a summary, every case."""
    cases = [verdict_record(v) for v in verdicts]
    bad = sum(1 for c in cases if c["verdict"] != "match")
    return {
        "format": FORMAT,
        **fields,
        **environment(),
        "summary": {"cases": len(cases), "match": len(cases) - bad, "mismatch": bad},
        "cases": cases,
    }


def junit_xml(verdicts: Iterable[Verdict]) -> str:
    """JUnit XML: one ``testcase`` per case (name = case id), a ``failure`` per mismatch."""
    verdicts = list(verdicts)
    suite = ET.Element(
        "testsuite",
        name=f"rnn-autograd on torch {torch.__version__}",
        tests=str(len(verdicts)),
        failures=str(sum(1 for v in verdicts if not v.ok)),
        errors="0",
        skipped="0",
        time=f"{sum(v.observation.seconds for v in verdicts):.3f}",
    )
    props = ET.SubElement(suite, "properties")
    for key, value in environment().items():
        if not isinstance(value, dict):
            ET.SubElement(props, "property", name=key, value=str(value))
    for v in verdicts:
        tc = ET.SubElement(
            suite,
            "testcase",
            classname=f"rnn_autograd.cases.{v.case.family}",
            name=v.case.id,
            time=f"{v.observation.seconds:.3f}",
        )
        if not v.ok:
            failure = ET.SubElement(tc, "failure", message="; ".join(v.mismatches)[:500])
            failure.text = side_by_side(v)
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode")


def side_by_side(v: Verdict) -> str:
    """Declared and observed, one under the other, then each mismatch."""
    lines = [
        f"case:     {v.case.id} (torch {torch.__version__}, Python {sys.version.split()[0]})",
        f"declared: {describe_declared(v)}",
        f"observed: {v.observation.describe()}",
    ]
    return "\n".join(lines + [f"  - {m}" for m in v.mismatches])

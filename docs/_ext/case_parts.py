"""The parts of a case entry that show code and outcomes, for the ``{case}`` directive.

- ``code_nodes``: the case as a reader can copy and run it (``rnn_autograd.spec.script``): the
  imports and helpers it needs in a block of their own (folded when long), then the function and
  the line that calls it;
- ``outcome_nodes``: what happened, in plain words ("It raises RuntimeError:" and the message, or
  "It returns:" and one line per value), then the declaration and the check folded away;
- ``diff_nodes``: a fix as a unified diff against the failing case's code, then the whole fix
  folded.
"""

from __future__ import annotations

import difflib
import html

import torch
from docutils import nodes
from site_words import say

from rnn_autograd.spec import Case, Verdict, describe_value
from rnn_autograd.spec.script import case_script

# A setup block longer than this is folded: a dozen lines read at a glance, eighty do not.
SHOWN_SETUP_LINES = 12


def _details(summary: str, children: list[nodes.Node], cls: str, open_: bool = False) -> list:
    head = f'<details class="{cls}"{" open" if open_ else ""}><summary>{html.escape(summary)}'
    return [
        nodes.raw("", head + "</summary>", format="html"),
        *children,
        nodes.raw("", "</details>", format="html"),
    ]


def _code(text: str, language: str = "python", cls: str = "case-code") -> nodes.literal_block:
    block = nodes.literal_block("", text, language=language)
    block["classes"].append(cls)
    return block


def code_nodes(case: Case) -> list[nodes.Node]:
    """Setup (imports, seeding, helpers) then the case's function and its call."""
    script = case_script(case)
    setup = _code(script.setup, cls="case-setup")
    out: list[nodes.Node] = []
    if script.helper_names or script.setup.count("\n") > SHOWN_SETUP_LINES:
        names = ", ".join(n for n in script.uses if n != "snapshot")
        what = (
            say("imports and the helpers it calls ({names})", names=names)
            if names
            else say("imports")
        )
        lines = script.setup.count("\n")
        summary = say("Setup, run it first: {what}, {lines} lines", what=what, lines=lines)
        out += _details(summary, [setup], "case-setup")
    else:
        out.append(setup)
    out.append(_code(script.code))
    return out


def plain_outcome(verdict: Verdict) -> tuple[str, str]:
    """(lead sentence, literal text) saying what the case did, without the test harness."""
    obs = verdict.observation
    when = say("on torch {version}, run while this page was built", version=torch.__version__)
    if obs.raised is not None:
        lead = say("It raises {error} ({when}):", error=obs.raised.__name__, when=when)
        return (lead, obs.message.strip())
    lines = [f"{name}: {describe_value(value)}" for name, value in obs.values.items()]
    lines += [f"warns {c.__name__}: {m.splitlines()[0]}" for c, m in obs.warnings]
    lead = say("It returns ({when}):" if lines else "It returns nothing ({when}).", when=when)
    return (lead, "\n".join(lines))


def outcome_nodes(verdict: Verdict) -> list[nodes.Node]:
    """What happened in plain words; the declaration and its check folded (open on a mismatch)."""
    lead, text = plain_outcome(verdict)
    out: list[nodes.Node] = [
        nodes.paragraph("", f"{lead}", classes=["case-plain-outcome"]),
    ]
    if text:
        block = nodes.literal_block("", text, language="none")
        block["classes"] += ["case-outcome", "case-ok" if verdict.ok else "case-mismatch"]
        out.append(block)
    check = [f"Declared: {verdict.declared.describe()}", f"Verdict: {verdict.label}"]
    check += [f"  - {m}" for m in verdict.mismatches]
    declared = nodes.literal_block("", "\n".join(check), language="none")
    declared["classes"].append("case-declared")
    summary = say("Declared outcome, checked: {label}", label=verdict.label)
    out += _details(summary, [declared], "case-check", open_=not verdict.ok)
    return out


def code_diff(case: Case, fix: Case) -> str:
    """The unified diff from the failing case's function to its fix's (lint markers dropped)."""
    before = case_script(case)
    after = case_script(fix)
    a = before.code.splitlines(keepends=True)
    b = after.code.splitlines(keepends=True)
    diff = difflib.unified_diff(a, b, fromfile=case.id, tofile=fix.id, n=2)
    return "".join(diff)


def diff_nodes(case: Case, fix: Case, fix_verdict: Verdict) -> list[nodes.Node]:
    """The fix as a diff against ``case``, its plain outcome, then the whole fix folded."""
    out: list[nodes.Node] = []
    diff = code_diff(case, fix)
    if diff:
        out.append(_code(diff, language="diff", cls="case-diff"))
    else:
        out.append(nodes.paragraph("", say("(The fix's code is the same as the case's.)")))
    out += outcome_nodes(fix_verdict)
    out += _details(say("The whole fix, {id}", id=fix.id), code_nodes(fix), "case-fix-code")
    return out

"""Links in the text of the pages: to cases, and to PyTorch's documentation.

- the role ``{case-ref}`graph/backward-through-freed-graph``` (or ``{case-ref}`text <id>```)
  links to a case's entry, and every inline ``code`` that is exactly a case id becomes one;
- every inline ``code`` that names a PyTorch API (``detach_``, ``state.detach_()``,
  ``retain_grad``, ``torch.autograd.grad``, ``nn.RNN``, ``torch.no_grad()``) links to its page
  in PyTorch's documentation. The URL is made by a rule, without the network: the name is
  resolved in the installed torch (a ``Tensor`` method or documented attribute, or a public
  function or class under ``torch``) and PyTorch's pages are named ``generated/<full name>.html``.
"""

from __future__ import annotations

import re
from typing import Any

import torch
from docutils import nodes
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx

from rnn_autograd.spec import CaseLookupError, all_cases, get_case

TORCH_DOCS = "https://pytorch.org/docs/stable/generated/"
# Tensor attributes that are not methods but have a page of their own.
_TENSOR_ATTRIBUTES = {"grad", "requires_grad", "is_leaf"}
_ALIASES = {"nn": "torch.nn", "F": "torch.nn.functional", "optim": "torch.optim"}
# `x.detach_()`, `detach_`, `torch.autograd.grad(...)`, `nn.RNN`: a dotted name, maybe a call.
_API = re.compile(r"^(?P<name>[A-Za-z_][\w.]*?)(?:\((?P<args>[^()]*)\))?$")


_EXPLICIT = re.compile(r"^(.+?)\s*<([^<>]+)>$", re.S)


def case_ref_role(
    name: str,
    rawtext: str,
    text: str,
    lineno: int,
    inliner: Any,
    options: dict | None = None,
    content: list | None = None,
) -> tuple[list[nodes.Node], list[nodes.system_message]]:
    """``{case-ref}`id``` or ``{case-ref}`text <id>```: a link to a case's entry."""
    match = _EXPLICIT.match(text)
    title, case_id = (match.group(1), match.group(2)) if match else (None, text.strip())
    try:
        get_case(case_id)
    except CaseLookupError as exc:
        msg = inliner.reporter.error(f"{{case-ref}}: {exc}", line=lineno)
        return [inliner.problematic(rawtext, rawtext, msg)], [msg]
    label = nodes.inline(title, title) if title else nodes.literal(case_id, case_id)
    env = inliner.document.settings.env
    ref = pending_xref(
        rawtext,
        label,
        refdomain="std",
        reftype="ref",
        reftarget=case_id,
        refexplicit=True,
        refwarn=True,
        refdoc=env.docname,
    )
    return [ref], []


def torch_doc_url(text: str) -> str | None:
    """The PyTorch documentation page of the API ``text`` names, or None.

    ``detach_``/``x.detach_()`` -> ``torch.Tensor.detach_``; ``nn.RNN`` -> ``torch.nn.RNN``;
    ``torch.no_grad()`` -> ``torch.no_grad``. Private names and modules are not linked.
    """
    match = _API.match(text.strip())
    if not match:
        return None
    parts = match.group("name").split(".")
    if any(p.startswith("_") for p in parts) or not parts[-1]:
        return None
    if parts[0] in _ALIASES:
        parts = _ALIASES[parts[0]].split(".") + parts[1:]
    if parts[0] == "torch" and len(parts) > 1:
        obj: Any = torch
        for part in parts[1:]:
            obj = getattr(obj, part, None)
            if obj is None:
                return None
        if not callable(obj) or isinstance(obj, type(torch)):
            return None
        if parts[1] == "Tensor" and len(parts) == 3:
            return f"{TORCH_DOCS}torch.Tensor.{parts[2]}.html"
        return f"{TORCH_DOCS}{'.'.join(parts)}.html"
    # `detach_` or `state.detach_()`: a Tensor method (the variable's name is the user's own).
    name = parts[-1]
    if len(parts) > 2 or len(name) < 3:
        return None
    attr = getattr(torch.Tensor, name, None)
    # A bare word is linked when it is a Tensor method of four letters or more (`detach`,
    # `backward`, `retain_grad`): short ones (`T`, `to`, `add`) are as often the user's names.
    method = callable(attr) and (
        len(parts) == 2 or match.group("args") is not None or len(name) > 3
    )
    if method or (name in _TENSOR_ATTRIBUTES and len(parts) <= 2):
        return f"{TORCH_DOCS}torch.Tensor.{name}.html"
    return None


def _link_torch_names(app: Sphinx, doctree: nodes.document) -> None:
    """Wrap every inline ``code`` naming a PyTorch API in a link to its page."""
    for literal in list(doctree.findall(nodes.literal)):
        if _inside_link_or_label(literal) or isinstance(literal.parent, nodes.literal_block):
            continue
        url = torch_doc_url(literal.astext())
        if url is None:
            continue
        ref = nodes.reference("", "", literal.deepcopy(), refuri=url, classes=["torch-doc"])
        literal.replace_self(ref)


def _link_case_ids(app: Sphinx, doctree: nodes.document) -> None:
    """Turn every inline ``code`` that is exactly a case id into a link to that case's entry.

    Explanations name related cases in backticks; linking them here keeps the case's text plain
    MyST (readable by ``rnn-autograd show`` too) while the site gets working cross-references.
    """
    known = {c.id for c in all_cases()}
    for literal in list(doctree.findall(nodes.literal)):
        case_id = literal.astext()
        if case_id not in known or _inside_link_or_label(literal):
            continue
        ref = pending_xref(
            "",
            literal.deepcopy(),
            refdomain="std",
            reftype="ref",
            reftarget=case_id,
            refexplicit=True,
            refwarn=False,
            refdoc=app.env.docname,
        )
        literal.replace_self(ref)


def _inside_link_or_label(node: nodes.Node) -> bool:
    parent = node.parent
    while parent is not None:
        if isinstance(parent, (nodes.reference, pending_xref, nodes.title)):
            return True
        if "case-id" in parent.get("classes", ()):
            return True
        parent = parent.parent
    return False


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_role("case-ref", case_ref_role)
    app.connect("doctree-read", _link_case_ids)
    # After the case ids: a literal that is a case id is a case link, never a torch one.
    app.connect("doctree-read", _link_torch_names, priority=600)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

"""The error inventory (rnn_autograd/cases/inventory.json) agrees with the case library."""

from __future__ import annotations

import pytest

from rnn_autograd.spec import all_cases, run_case
from rnn_autograd.spec.inventory import Entry, inventory_problems, load_inventory, parse_inventory
from rnn_autograd.spec.run import Observation

INVENTORY = load_inventory("rnn_autograd.cases")
WHERE = "rnn_autograd/cases/inventory.json"


def test_every_entry_names_cases_that_raise_or_warn_it_and_every_raising_case_has_its_entry():
    problems = inventory_problems(INVENTORY, all_cases(), run_case, where=WHERE)
    assert not problems, "\n".join(problems)


def test_every_entry_says_where_pytorch_raises_it_and_what_it_means():
    incomplete = [e.id for e in INVENTORY.values() if not (e.where.strip() and e.meaning.strip())]
    assert not incomplete


def test_an_entry_without_a_case_says_why_and_only_cpu_entries_have_cases():
    for entry in INVENTORY.values():
        assert entry.cases or entry.none_because, entry.id
        if not entry.cpu:
            assert not entry.cases and entry.none_because, entry.id


def test_the_inventory_file_is_packaged():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    assert '"rnn_autograd.cases" = ["inventory.json"]' in text


# The checker itself: each kind of disagreement is reported, with what to add.


def _entry(**kw) -> Entry:
    base = dict(id="e", fragment=r"boom \d", kind="RuntimeError", where="x.cpp", meaning="m")
    return Entry(**{**base, **kw})


def _fake_cases():
    from rnn_autograd.spec import Case, Raises, Returns, Warned

    def body():
        return None

    raising = Case("t/raises", body, "q?", Raises(RuntimeError, r"boom"), "why", fix="t/ok")
    warning = Case(
        "t/warns", body, "q?", Returns({}, warns=(Warned(UserWarning, "careful"),)), "why"
    )
    ok = Case("t/ok", body, "q?", Returns({}), "why")
    observed = {
        "t/raises": Observation("t/raises", raised=RuntimeError, message="boom 1"),
        "t/warns": Observation("t/warns", warnings=[(UserWarning, "careful now")]),
        "t/ok": Observation("t/ok"),
    }
    return [raising, warning, ok], observed.__getitem__


def _problems(entries):
    cases, observed = _fake_cases()
    return inventory_problems({e.id: e for e in entries}, cases, lambda c: observed(c.id))


def test_the_checker_accepts_an_inventory_that_agrees():
    entries = [
        _entry(cases={"t/raises": "p"}),
        _entry(id="w", kind="UserWarning", fragment="careful", cases={"t/warns": "p"}),
    ]
    assert _problems(entries) == []


def test_the_checker_names_a_raising_case_no_entry_lists_and_the_entry_to_add_it_to():
    problems = _problems(
        [_entry(), _entry(id="w", kind="UserWarning", fragment="careful", cases={"t/warns": "p"})]
    )
    assert any(
        "case t/raises raises RuntimeError" in p and 'add "t/raises"' in p and "'e'" in p
        for p in problems
    ), problems
    # An entry with no case and no reason is a problem of its own.
    assert any("entry 'e' names no case and says no why" in p for p in problems)


def test_the_checker_asks_for_a_new_entry_when_no_fragment_matches():
    problems = _problems(
        [_entry(id="w", kind="UserWarning", fragment="careful", cases={"t/warns": "p"})]
    )
    assert any(
        "no entry matches RuntimeError" in p and '"kind": "RuntimeError"' in p for p in problems
    )


def test_the_checker_refuses_a_case_that_raises_something_else_or_does_not_exist():
    problems = _problems(
        [
            _entry(fragment="other text", cases={"t/raises": "p"}),
            _entry(id="k", kind="ValueError", cases={"t/raises": "p"}),
            _entry(id="g", cases={"t/ghost": "p"}),
            _entry(id="w", kind="UserWarning", fragment="careful", cases={"t/warns": "p"}),
        ]
    )
    assert any("did not raise or warn RuntimeError matching 'other text'" in p for p in problems)
    assert any("entry 'k' is a ValueError, but t/raises declares" in p for p in problems)
    assert any("'t/ghost', which is no case" in p for p in problems)


def test_an_unknown_field_in_the_file_is_an_error():
    with pytest.raises(ValueError, match="unknown fields"):
        parse_inventory(
            {
                "entries": {
                    "e": {"fragment": "x", "kind": "K", "where": "w", "meaning": "m", "case": {}}
                }
            }
        )

"""The executable spec: every registered case matches its declaration on the installed torch."""

from __future__ import annotations

import pytest

from rnn_autograd.spec import all_cases, check, get_case

CASES = all_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_matches_its_declaration(case):
    verdict = check(case)
    assert verdict.ok, f"{case.id}: " + "; ".join(verdict.mismatches)


FAILING = [c for c in CASES if c.fails_on_purpose]


@pytest.mark.parametrize("case", FAILING, ids=[c.id for c in FAILING])
def test_every_deliberate_failure_names_a_fix_that_exists_and_passes(case):
    assert case.fix, f"{case.id} fails on purpose but names no fix case"
    fix = get_case(case.fix)
    assert not fix.fails_on_purpose, f"{case.id}'s fix {fix.id} fails too"
    assert check(fix).ok


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_every_case_carries_a_question_and_an_explanation_from_the_mechanism(case):
    assert case.question.strip().endswith("?"), "the question is one line a user would ask"
    assert len(case.explanation) >= 200, "the explanation says why, from the mechanism"
    for related in case.see_also:
        if "/" in related and not related.startswith("http"):
            get_case(related)  # a related case id that does not exist is a broken link

"""The ``ddp`` family's place in the spec: run on request by ``check``, declared like any case."""

from __future__ import annotations

import re

import pytest

from rnn_autograd.cli import main
from rnn_autograd.commands import check as spec_command
from rnn_autograd.spec import all_cases, case, get_case


def test_every_ddp_case_that_starts_processes_says_so_and_the_sampler_case_does_not():
    on_processes = {c.id for c in all_cases("ddp") if c.ranks}
    assert len(on_processes) >= 12
    assert get_case("ddp/sampler-shuffle-breaks-state").ranks == 0


def test_the_default_check_leaves_process_cases_out_and_says_how_to_run_them(monkeypatch, capsys):
    quick, on_ranks = get_case("ddp/sampler-shuffle-breaks-state"), get_case("ddp/unused-parameter")
    ran = []
    real_check = spec_command.check
    monkeypatch.setattr(spec_command, "all_cases", lambda family=None: [quick, on_ranks])
    monkeypatch.setattr(spec_command, "check", lambda c: ran.append(c.id) or real_check(c))
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert ran == [quick.id]
    assert "1 cases that start 2 processes each were not run (family ddp)" in out
    assert "'rnn-autograd check --family ddp'" in out and "--all" in out


def test_a_case_on_another_number_of_processes_is_refused():
    with pytest.raises(ValueError, match="ranks must be 0"):
        case("ddp/three", question="?", outcome=None, ranks=3)


def test_ddp_construction_counts_as_one_of_the_parameters_bumps_in_the_inplace_case():
    """DDP's broadcast of the parameters at construction writes them in place (version 1), the
    clip before backward writes them again: saved at 2, now 3."""
    from rnn_autograd.spec import get_case, run_case

    observation = run_case(get_case("ddp/inplace-parameter-before-backward"))
    assert re.search(r"is at version 3; expected version 2", observation.message)

"""The ``ddp`` family's place in the spec: run on request by ``check``, declared like any case."""

from __future__ import annotations

import pytest

from rnn_autograd.cli import main
from rnn_autograd.commands import spec as spec_command
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

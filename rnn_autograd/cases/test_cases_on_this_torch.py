"""The spec as a pytest suite: every case is one test, its id the case id.

After ``pip install rnn-autograd`` (no clone needed)::

    python -m pytest --pyargs rnn_autograd              # every case against the installed torch
    python -m pytest --pyargs rnn_autograd -k rnn-state # one family
    python -m pytest --pyargs rnn_autograd --junit-xml=spec.xml

A mismatch fails with the declared and the observed outcome one under the other, then each
difference. ``load_cases`` skips this module (it imports pytest and declares no case), and the
project's own test run (``testpaths = ["tests"]``) does not collect it.
"""

from __future__ import annotations

import pytest
import torch

import rnn_autograd.cases  # noqa: F401 - registers every case of the library

from ..spec import all_cases, check, get_case
from ..spec.report import side_by_side

_IDS = [c.id for c in all_cases()]


@pytest.mark.parametrize("case_id", _IDS, ids=_IDS)
def test_case(case_id: str) -> None:
    """One case of the library against the installed torch: the case runs isolated (seeded, grad
    and anomaly modes restored), its observation (the values it returns, or the exception and
    warnings it raises) is compared with what it declares for this torch release, and a mismatch
    fails with declared and observed side by side. The same ``check`` as ``rnn-autograd check``.
    """
    verdict = check(get_case(case_id))
    if not verdict.ok:
        pytest.fail(
            f"declared outcome does not match on torch {torch.__version__}:\n"
            + side_by_side(verdict),
            pytrace=False,
        )

"""The notebook's questions are in the spec, and the variations the explanations predict hold.

``tests/test_cases.py`` checks every case against its declaration. This file pins what those
declarations must *say* for the notebook (its loop's 38 flags, its cells' versions) and runs the
cheap variations that the explanations of the ``graph``, ``versions`` and ``rnn-state`` families
predict without showing them, so an explanation that stops being true fails here.
"""

from __future__ import annotations

import re

import pytest
import torch

from rnn_autograd.cases import _notebook
from rnn_autograd.diagnose import graph_at
from rnn_autograd.spec import Raises, Returns, all_cases, get_case, run_case

NOTEBOOK_IDS = [
    "rnn-state/requires-grad-flips",
    "rnn-state/no-detach",
    "rnn-state/detach-in-place",
    "rnn-state/fresh-state",
    "rnn-state/retain-graph-then-step",
    "graph/backward-through-freed-graph",
    "graph/retain-graph-shared-subgraph",
    "versions/detach-then-inplace",
]
FREED = "backward through the graph a second time"
STALE = "modified by an inplace operation"


@pytest.mark.parametrize("case_id", NOTEBOOK_IDS)
def test_each_notebook_question_has_its_case(case_id):
    assert get_case(case_id).question.endswith("?")


def test_the_three_families_hold_at_least_24_cases_between_them():
    counts = {f: len(all_cases(f)) for f in ("rnn-state", "graph", "versions")}
    assert sum(counts.values()) >= 24 and counts["graph"] >= 7 and counts["versions"] >= 8


def test_requires_grad_flips_declares_the_notebooks_38_printed_flags():
    declared = get_case("rnn-state/requires-grad-flips").outcome.values
    flags = declared["state.requires_grad before detach_, per batch"]
    assert flags == [False] + [True] * 37


def test_the_notebook_setup_gives_19_batches_of_50_windows_of_20_steps():
    torch.manual_seed(0)
    batches = list(_notebook.notebook()[1])
    assert len(batches) == 19
    assert {tuple(X.shape) for X, _ in batches} == {(50, 20)}
    X, Y = batches[0]
    torch.testing.assert_close(X[:, 1:], Y[:, :-1])  # Y is X shifted by one token


def test_the_loop_without_detach_raises_the_freed_graph_error_and_is_fixed_by_detach_in_place():
    case = get_case("rnn-state/no-detach")
    assert isinstance(case.outcome, Raises) and case.outcome.exc_type is RuntimeError
    assert re.search(case.outcome.pattern, f"Trying to {FREED} (or directly access ...)")
    assert case.fix == "rnn-state/detach-in-place"
    assert (
        get_case("rnn-state/no-detach-fails-at-second-batch").outcome.values["failed at batch"] == 2
    )


def test_the_retain_graph_error_names_weight_hh_transposed_at_version_2_expected_1():
    observation = run_case(get_case("rnn-state/retain-graph-then-step"))
    assert observation.raised is RuntimeError
    assert re.search(
        r"\[torch\.FloatTensor \[256, 256\]\], which is output 0 of AsStrided, "
        r"is at version 2; expected version 1",
        observation.message,
    ), observation.message


def test_notebook_cells_417_to_425_are_declared_as_observed_there():
    declared = get_case("versions/detach-then-inplace").outcome
    assert isinstance(declared, Returns)
    versions = next(v for k, v in declared.values.items() if k.startswith("_version"))
    assert versions[0] == 0 and versions[2:] == [1, 2]  # the notebook printed (1, 1) then (2, 2)


# Variations the explanations predict.


def _second_backward_raises(make) -> bool:
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = make(x).sum()
    y.backward()
    try:
        y.backward()
    except RuntimeError as exc:
        assert FREED in str(exc)
        return True
    return False


@pytest.mark.parametrize(
    ("expr", "make", "raises"),
    [
        ("x - 2", lambda x: x - 2, False),
        ("x + x", lambda x: x + x, False),
        ("-x", lambda x: -x, False),
        ("x.clone()", lambda x: x.clone(), False),
        ("x[0:1]", lambda x: x[0:1], False),
        ("x / 2", lambda x: x / 2, True),
        ("x * t", lambda x: x * torch.tensor([3.0, 4.0]), True),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_a_second_backward_fails_exactly_when_some_node_saved_a_tensor(expr, make, raises):
    assert _second_backward_raises(make) is raises, expr


def test_every_backward_but_the_last_needs_retain_graph():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)  # the graph must survive two more backwards
    y.backward(retain_graph=True)  # and one more
    y.backward()  # the last: frees
    torch.testing.assert_close(x.grad, torch.tensor([6.0, 12.0]))  # 3 × 2x, accumulated
    with pytest.raises(RuntimeError, match=FREED):
        y.backward()


@pytest.mark.parametrize("op", ["sqrt", "exp", "sigmoid", "tanh"])
def test_ops_that_save_their_output_break_on_an_in_place_change_of_the_output_only(op):
    w = torch.tensor([0.5, 1.0], requires_grad=True)
    a = w.clone()
    y = getattr(a, op)()
    a.add_(1)  # in place on the input: nobody saved it
    y.sum().backward()
    y = getattr(w.clone(), op)()
    y.add_(1)  # in place on the saved output
    with pytest.raises(RuntimeError, match=f"output 0 of {op.capitalize()},"):
        y.sum().backward()


def test_a_saved_input_is_named_after_its_grad_fn_now_and_a_leaf_after_nothing():
    message = run_case(get_case("versions/inplace-on-mul-input")).message
    assert "which is output 0 of Add, is at version 1; expected version 0" in message
    message = run_case(get_case("versions/no-grad-inplace-still-bumps")).message
    assert "[torch.FloatTensor [2]] is at version 1" in message and "which is output" not in message


def test_an_in_place_op_that_changes_no_value_still_counts_as_a_write():
    a = torch.tensor([1.0, 2.0], requires_grad=True).clone()
    y = a.pow(2)  # saves a at version 0
    a.mul_(1)  # same values, one more version
    with pytest.raises(RuntimeError, match=r"is at version 1; expected version 0"):
        y.sum().backward()


def test_in_place_ops_on_a_leaf_that_requires_grad_are_refused_which_is_why_the_notebook_detaches():
    x = torch.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        x += 1
    x.detach_()  # off the graph: now the in-place add is allowed
    x += 1
    assert x._version == 1


@pytest.mark.parametrize(("batch_size", "skipped"), [(50, 30), (30, 10), (20, 0)])
def test_rows_of_consecutive_window_batches_skip_batch_size_minus_num_steps_tokens(
    batch_size, skipped
):
    X, _ = _notebook.windows(torch.arange(1000))
    batches = X[: X.shape[0] // batch_size * batch_size].split(batch_size)
    gaps = {
        int(g) for a, b in zip(batches, batches[1:], strict=False) for g in b[:, 0] - (a[:, -1] + 1)
    }
    assert gaps == {skipped}


def test_the_rnn_saves_weight_hh_transposed_but_not_weight_ih_whose_partner_needs_no_grad():
    torch.manual_seed(0)
    net, data_iter, _, _ = _notebook.notebook()
    X, _ = next(iter(data_iter))
    state = net.begin_state(batch_size=_notebook.BATCH).requires_grad_()  # so step 1 saves too
    _, state = net(X, state)
    saved_mat2, seen, todo = [], set(), [state.grad_fn]
    while todo:
        node = todo.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        if node.name() == "AddmmBackward0":
            saved_mat2.append(node._saved_mat2)
        todo += [fn for fn, _ in node.next_functions]
    weight_hh_t = [m for m in saved_mat2 if m is not None]
    assert len(saved_mat2) == _notebook.NUM_STEPS + 1  # one addmm per step, one for the inputs
    assert len(weight_hh_t) == _notebook.NUM_STEPS  # the input projection saved no mat2
    assert all(m._base is net.rnn.weight_hh_l0 and m.stride() == (1, 256) for m in weight_hh_t)


def test_a_view_whose_base_changed_in_place_reports_as_strided_as_its_grad_fn():
    w = torch.nn.Parameter(torch.randn(3, 3))
    view = w.t()
    assert view.grad_fn.name() == "TBackward0"
    with torch.no_grad():  # an optimizer-like update of the base
        w.add_(1)
    assert view.grad_fn.name() == "AsStridedBackward0"


def test_before_the_failing_retain_graph_backward_one_saved_weight_per_step_but_the_first_is_stale():
    observation = run_case(get_case("rnn-state/retain-graph-then-step"), inspect=graph_at)
    (_, first), (_, second) = observation.graphs
    assert not first.will_fail
    stale = second.stale
    assert len(stale) == _notebook.NUM_STEPS - 1
    assert {(s.saved_version, s.current_version) for s in stale} == {(1, 2)}


def test_save_on_cpu_keeps_a_reference_to_a_cpu_tensor_so_an_in_place_change_goes_unchecked():
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    with torch.autograd.graph.save_on_cpu():  # pack hook: tensor.cpu(), the tensor itself here
        a = w.clone()
        y = a.pow(2)
    a.add_(1)  # in place on the saved tensor: no error will follow
    y.sum().backward()
    torch.testing.assert_close(w.grad, torch.tensor([4.0, 6.0]))  # 2·(w + 1), not 2·w

"""The graph inspector: saved tensors, their versions, stale and freed ones, before backward."""

from __future__ import annotations

import re
import weakref

import pytest
import torch

from rnn_autograd.diagnose import graph_picture
from rnn_autograd.diagnose.graph_fold import fold_graph
from rnn_autograd.diagnose.inspector import graph_at, inspect_graph, names_in_frame
from rnn_autograd.spec import all_cases, run_case
from rnn_autograd.spec.torch_private import saved_tensor_record_is_readable

# torch 2.2.2 and 2.7.1 show no SavedTensor.data: the inspector reads versions by unpacking there,
# which cannot name a stale tensor nor keep an unpack hook from running (tests/test_inspector_fallback.py).
needs_saved_tensor_data = pytest.mark.skipif(
    not saved_tensor_record_is_readable(),
    reason=f"torch {torch.__version__} shows no SavedTensor.data (the fallback is tested apart)",
)


def _stale_graph():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    h = torch.zeros(2)
    out = (x * h).sin().sum()  # MulBackward0 saves h for d(x*h)/dx
    with torch.no_grad():  # a change backward does not see, on purpose: it makes `h` stale
        h.add_(1)
    return x, h, out


def _freed_graph():
    x1 = torch.tensor([1.0], requires_grad=True)
    x2 = torch.tensor([1.0], requires_grad=True)
    state = torch.tensor([4.0])
    y1 = 2 * x1 + state * x2
    y1.backward()  # no retain_graph: frees y1's saved tensors, on purpose
    y2 = 2 * x1 + y1 * x2
    return x1, x2, state, y1, y2


@needs_saved_tensor_data
def test_a_tensor_changed_in_place_after_it_was_saved_is_reported_stale_with_both_versions():
    x, h, out = _stale_graph()
    report = inspect_graph(out, names={"x": x, "h": h})
    assert report.will_fail
    [stale] = report.stale
    assert (stale.node_name, stale.attr, stale.name) == ("MulBackward0", "other", "h")
    assert (stale.saved_version, stale.current_version) == (0, 1)
    assert stale.shape == (2,) and stale.dtype == "torch.float32"
    assert not report.freed


def test_the_stale_versions_are_the_ones_backward_then_complains_about():
    x, h, out = _stale_graph()
    [stale] = inspect_graph(out).stale
    with pytest.raises(RuntimeError, match="modified by an inplace operation") as info:
        out.backward()
    now, saved = map(
        int, re.search(r"version (\d+); expected version (\d+)", str(info.value)).groups()
    )
    assert (stale.current_version, stale.saved_version) == (now, saved)


def test_saved_tensors_released_by_an_earlier_backward_are_reported_freed():
    x1, x2, state, y1, y2 = _freed_graph()
    report = inspect_graph(y2, names={"x1": x1, "x2": x2, "y1": y1})
    assert report.will_fail
    assert sorted((s.node_name, s.attr) for s in report.freed) == [
        ("MulBackward0", "other"),
        ("MulBackward0", "self"),
    ]
    assert all(s.shape is None and s.saved_version is None for s in report.freed)
    assert not report.stale
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y2.backward()


def test_a_healthy_graph_is_predicted_to_run_and_does():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    loss = (x * w).exp().sum()
    report = inspect_graph(loss)
    assert not report.will_fail
    assert {(s.node_name, s.attr) for s in report.saved} == {
        ("MulBackward0", "self"),
        ("MulBackward0", "other"),
        ("ExpBackward0", "result"),
    }
    assert all(s.saved_version == s.current_version for s in report.saved)
    loss.backward()
    torch.testing.assert_close(x.grad, w.detach() * (x * w).exp().detach())


def test_inspecting_changes_no_version_and_frees_nothing():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    z = x.exp()
    versions = (x._version, z._version)
    for _ in range(3):
        inspect_graph(z.sum())
    assert (x._version, z._version) == versions
    z.sum().backward()  # still runs: the inspection freed no saved tensor
    torch.testing.assert_close(x.grad, x.detach().exp())


@needs_saved_tensor_data
def test_a_saved_output_changed_in_place_is_stale_and_named_by_its_storage():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    z = x.exp()  # ExpBackward0 saves its output
    z.add_(1)  # in place on the saved output, on purpose: backward needs the old exp(x)
    report = inspect_graph(z, names={"z": z})
    [stale] = report.stale
    assert (stale.node_name, stale.attr, stale.name) == ("ExpBackward0", "result", "z")
    assert (stale.saved_version, stale.current_version) == (0, 1)


@needs_saved_tensor_data
def test_a_custom_function_reports_which_of_its_saved_tensors_is_stale():
    class Mul(torch.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, grad):
            a, b = ctx.saved_tensors
            return grad * b, grad * a

    a = torch.ones(3, requires_grad=True)
    b = torch.ones(3)
    out = Mul.apply(a, b)
    b.mul_(2)  # in place on a saved input, on purpose
    report = inspect_graph(out, names={"a": a, "b": b})
    assert [(s.attr, s.name, s.stale) for s in report.saved] == [
        ("tensors[0]", "a", False),
        ("tensors[1]", "b", True),
    ]


@needs_saved_tensor_data
def test_tensors_packed_by_saved_tensors_hooks_are_listed_without_running_the_hooks():
    unpacked = []

    def unpack(packed):
        unpacked.append(packed)
        return packed

    x = torch.ones(2, requires_grad=True)
    with torch.autograd.graph.saved_tensors_hooks(lambda t: t.clone(), unpack):
        y = (x * x).sum()
    report = inspect_graph(y)
    assert [s.hooked for s in report.saved] == [True, True]
    assert not report.stale and not unpacked


def test_leaves_are_accumulate_grad_nodes_named_by_identity():
    rnn = torch.nn.RNN(3, 4)
    out, _ = rnn(torch.randn(5, 2, 3))
    report = inspect_graph(out.sum(), names=dict(rnn.named_parameters()))
    leaves = {n.leaf_name: n.leaf_shape for n in report.nodes if n.is_leaf}
    assert leaves == {name: tuple(p.shape) for name, p in rnn.named_parameters()}
    assert not report.will_fail


def test_a_long_graph_is_walked_to_the_limit_and_drawn_with_a_more_marker():
    rnn = torch.nn.RNN(3, 4)
    h = torch.zeros(1, 2, 4)
    for _ in range(30):  # carry the state without detaching: the graph grows every step
        out, h = rnn(torch.randn(5, 2, 3), h)
    full = inspect_graph(h)
    capped = inspect_graph(h, limit=50)
    assert len(capped.nodes) == 50 < len(full.nodes) and capped.truncated
    assert "more nodes not shown" in full.to_text(max_nodes=10)
    assert "... " in full.to_dot(max_nodes=10, fold=False)


def _carried_rnn_graphs(steps: int = 30):
    """An RNN state carried over ``steps`` windows, the first window's graph freed by backward."""
    rnn = torch.nn.RNN(3, 4)
    h = torch.zeros(1, 2, 4)
    out, h = rnn(torch.randn(5, 2, 3), h)
    out.sum().backward()  # frees the first window's saved tensors: h still leads into them
    for _ in range(steps):
        out, h = rnn(torch.randn(5, 2, 3), h)
    return inspect_graph(out.sum(), names=dict(rnn.named_parameters()))


def test_a_folded_graph_accounts_for_every_node_and_keeps_freed_apart_from_live():
    report = _carried_rnn_graphs()
    folded = fold_graph(report)
    assert sum(g.count for g in folded.groups) == len(report.nodes) > 10 * len(folded.groups)
    for group in folded.groups:
        assert len(group.conditions) <= 1  # freed and live saved tensors never share a box
    freed = [g for g in folded.groups if "freed" in g.conditions]
    assert sum(g.count for g in freed) == len({s.node_id for s in report.freed})


def test_a_large_graph_is_drawn_folded_with_counts_and_its_freed_part_marked():
    report = _carried_rnn_graphs()
    dot = report.to_dot()
    assert "× " in dot and "freed by an earlier backward" in dot and "into freed" in dot
    assert "more nodes" not in dot  # folding cuts nothing away
    assert dot.count("->") < report.to_dot(max_nodes=10_000, fold=False).count("->") / 5


def test_a_folded_chain_points_back_at_its_own_group_as_the_previous_step():
    folded = fold_graph(_carried_rnn_graphs(steps=3))
    name = {g.id: g.first.name for g in folded.groups}
    back = {(name[a], name[b]) for a, b in folded.back_edges}
    # h_t = tanh(... + addmm(h_{t-1}, W_hh^T)): the addmm of a step reads the previous step's tanh.
    assert ("AddmmBackward0", "TanhBackward0") in back


def test_roots_that_are_leaves_or_outside_autograd_are_reported_as_such():
    leaf = torch.ones(2, requires_grad=True)
    plain = torch.ones(2)
    report = inspect_graph(leaf, plain, names={"leaf": leaf, "plain": plain})
    assert report.roots[0][0] == "leaf" and report.node(report.roots[0][1]).is_leaf
    assert report.roots[1] == ("plain", None)
    assert "plain: no graph" in report.to_text()


def test_the_report_keeps_no_tensor_alive():
    x = torch.ones(2, requires_grad=True)
    h = torch.ones(2)
    ref = weakref.ref(h)
    report = inspect_graph((x * h).sum(), names={"h": h})
    del h
    assert ref() is None and report.saved


@needs_saved_tensor_data
def test_the_text_tree_marks_where_backward_will_fail():
    x, h, out = _stale_graph()
    text = inspect_graph(out, names={"h": h}).to_text()
    assert "saved other (h): float32[2], saved v0, now v1 STALE  <- backward fails here" in text
    assert "1 stale, 0 freed -> backward will fail" in text


def test_the_dot_picture_draws_stale_saved_tensors_red_and_freed_ones_dashed():
    x, h, out = _stale_graph()
    dot = inspect_graph(out, names={"h": h}).to_dot()
    stale_line = next(line for line in dot.splitlines() if "saved v0, now v1" in line)
    assert "#cc0000" in stale_line
    freed_dot = inspect_graph(_freed_graph()[-1]).to_dot()
    assert any("dashed" in line and "freed" in line for line in freed_dot.splitlines())


@pytest.mark.skipif(not graph_picture.has_graphviz(), reason="Graphviz `dot` not installed")
def test_render_writes_an_svg_with_graphviz(tmp_path):
    path = graph_picture.render(inspect_graph(_stale_graph()[-1]), tmp_path / "g.svg")
    assert path.suffix == ".svg" and "<svg" in path.read_text()


def test_render_falls_back_to_the_text_tree_without_graphviz(tmp_path, monkeypatch):
    monkeypatch.setattr(graph_picture.shutil, "which", lambda name: None)
    path = graph_picture.render(inspect_graph(_stale_graph()[-1]), tmp_path / "g.svg")
    assert path.name == "g.txt" and "STALE" in path.read_text()


def test_render_rejects_a_format_it_cannot_write(tmp_path):
    with pytest.raises(ValueError, match="use a .svg, .png or .dot"):
        graph_picture.render(inspect_graph(_stale_graph()[-1]), tmp_path / "g.pdf")


SNAPSHOTTED_FAILURES = [c for c in all_cases() if c.fails_on_purpose and "snapshot(" in c.source]


@pytest.mark.parametrize("case", SNAPSHOTTED_FAILURES, ids=[c.id for c in SNAPSHOTTED_FAILURES])
def test_a_failing_cases_snapshot_predicts_the_error_its_backward_then_raised(case):
    observation = run_case(case, inspect=graph_at)
    reports = [report for _, report in observation.graphs]
    assert any(r.will_fail for r in reports), "no snapshot of the case foresaw its failure"
    versions = re.search(r"is at version (\d+); expected version (\d+)", observation.message)
    if versions:
        now, saved = map(int, versions.groups())
        assert any(
            (s.current_version, s.saved_version) == (now, saved) for r in reports for s in r.stale
        )
    elif "second time" in observation.message:
        assert any(r.freed for r in reports)


def test_a_frames_variables_and_module_parameters_name_the_tensors():
    import sys

    rnn = torch.nn.RNN(2, 3)
    state = torch.zeros(1, 1, 3)
    out, _ = rnn(torch.ones(4, 1, 2), state)
    names = names_in_frame(sys._getframe())
    assert names["state"] is state and names["rnn.weight_hh_l0"] is rnn.weight_hh_l0
    report = inspect_graph(out, names=names)
    assert report.roots[0][0] == "out"
    assert {n.leaf_name for n in report.nodes if n.is_leaf} == {
        f"rnn.{name}" for name, _ in rnn.named_parameters()
    }
    # mat2 of addmm is weight_hh_l0.t(): another view of the same memory, named as such.
    assert {s.name for s in report.saved} >= {"view of rnn.weight_hh_l0", "view of state"}


def test_the_graph_command_prints_a_cases_snapshots_and_draws_them(tmp_path, capsys):
    from rnn_autograd.cli import main

    assert main(["graph", "graph/backward-through-freed-graph"]) == 0
    out = capsys.readouterr().out
    assert "== before the second backward" in out and "freed by an earlier backward" in out
    assert main(["graph", "graph/backward-through-freed-graph", "-o", str(tmp_path / "g.dot")]) == 0
    assert (tmp_path / "g.dot").read_text().startswith("digraph autograd {")


def test_the_graph_command_refuses_a_case_without_snapshots_in_one_line(capsys):
    from rnn_autograd.cli import main

    no_snapshot = next(c for c in all_cases() if "snapshot(" not in c.source)
    assert main(["graph", no_snapshot.id]) == 2
    assert "records no graph snapshot" in capsys.readouterr().err


def test_a_saved_tensor_that_cannot_be_read_is_listed_with_unknown_versions(monkeypatch):
    from rnn_autograd.diagnose import saved_tensors

    def unreadable(*args, **kwargs):
        raise TypeError("a node kind this inspector does not know")

    monkeypatch.setattr(saved_tensors, "_saved_infos", unreadable)
    x = torch.ones(2, requires_grad=True)
    report = inspect_graph((x * x).sum())
    assert [(s.attr, s.status) for s in report.saved] == [
        ("other", "version unknown"),
        ("self", "version unknown"),
    ]
    assert not report.will_fail

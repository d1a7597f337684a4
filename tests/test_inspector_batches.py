"""The batch boundary in the inspector's report and pictures (``diagnose.graph_batches``).

A small RNN loop carries its state across batches four ways: (a) no detach, so batch 1's
backward freed what batch 2's graph leads into; (b) ``retain_graph=True``, nothing freed, still
attached; (c) three batches chained; (d) ``detach_()``, nothing carried. Each batch takes a
snapshot through the spec's own ``snapshot``/``graph_at`` path. The part the report marks as
batch 1's is checked against an independent walk: exactly the nodes reached through the state
carried in. Then the same without ``_sequence_nr`` (the fallback's tags).
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import torch

import rnn_autograd.spec.torch_private as torch_private
from rnn_autograd.diagnose import graph_at, inspect_graph
from rnn_autograd.spec.probe import collecting_snapshots, snapshot


def _reached(t: torch.Tensor) -> set:
    """The non-leaf nodes behind ``t``, walked here without the inspector."""
    seen, stack = set(), [t.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen or hasattr(fn, "variable"):
            continue
        seen.add(fn)
        stack.extend(c for c, _ in fn.next_functions)
    return seen


def _loop(batches: int, *, carry: str):
    """Run ``batches`` batches of a 4-step RNN; snapshot each loss; keep every state carried
    in (so the test can walk them) and every loss. ``carry``: none, retain or detach."""
    torch.manual_seed(0)
    rnn, head = torch.nn.RNN(3, 5), torch.nn.Linear(5, 2)
    opt = torch.optim.SGD([*rnn.parameters(), *head.parameters()], lr=0.1)
    state, states, losses = torch.zeros(1, 2, 5), [], []
    with collecting_snapshots(graph_at) as graphs:
        for batch in range(1, batches + 1):
            if carry == "detach":
                state.detach_()  # the boundary cut: the values go on, the graph does not
            states.append(state)
            out, state = rnn(torch.randn(4, 2, 3), state)
            loss = head(out).pow(2).mean()
            snapshot(f"batch {batch}, before backward", loss)
            losses.append(loss)
            try:
                loss.backward(retain_graph=carry == "retain")  # retain: keep what the next needs
            except RuntimeError as exc:  # no detach: batch 2's backward meets batch 1's freed nodes
                assert carry == "none" and "second time" in str(exc), exc
                break
            if carry != "retain":
                opt.step()  # in place on the weights; with retain it would make them STALE
            opt.zero_grad()  # each batch's own gradient
    return graphs, states, losses


def _made_by(report, batch: int) -> int:
    return sum(1 for n in report.nodes if n.batch == batch)


def test_no_detach_the_freed_part_is_exactly_what_the_carried_state_reaches():
    graphs, states, _ = _loop(2, carry="none")
    (label1, first), (_, second) = graphs
    assert first.earlier == [] and first.boundary_note() is None  # nothing to compare with
    assert second.earlier == [label1]
    assert _made_by(second, 0) == len(_reached(states[1])) > 0
    # Every freed saved tensor is batch 1's, none of batch 2's own nodes is freed.
    for node in second.nodes:
        assert any(s.freed for s in node.saved) <= (node.batch == 0), node
    assert any(s.freed for n in second.nodes if n.batch == 0 for s in n.saved)
    assert second.will_fail


def test_retain_graph_nothing_freed_yet_batch_1_is_carried_in_and_backward_runs():
    graphs, states, losses = _loop(2, carry="retain")
    second = graphs[1][1]
    assert not second.freed and not second.stale
    assert _made_by(second, 0) == len(_reached(states[1])) > 0
    assert "carried in: " in second.summary()


def test_three_batches_chained_each_earlier_batch_gets_its_own_part():
    graphs, states, _ = _loop(3, carry="retain")
    third = graphs[2][1]
    assert third.earlier == ["batch 1, before backward", "batch 2, before backward"]
    by_batch_1 = _reached(states[1])
    by_batch_2 = _reached(states[2]) - by_batch_1
    assert third.carried == {0: len(by_batch_1), 1: len(by_batch_2)}
    dot = third.to_dot(fold=True)
    assert "from batch 1, carried in" in dot and "from batch 2, carried in" in dot
    # Batch 1's frame is entered from batch 2's, and batch 2's from this forward's.
    assert dot.count('label="carried in') == 2


def test_detach_nothing_is_carried_and_the_picture_says_so():
    graphs, _, _ = _loop(2, carry="detach")
    second = graphs[1][1]
    assert second.carried == {}
    note = "nothing carried in: every node was made after the snapshot “batch 1, before backward”"
    assert second.boundary_note() == note
    for dot in (second.to_dot(fold=True), second.to_dot(fold=False)):
        assert note in dot and "cluster_batch" not in dot and "carried in\\n" not in dot


def test_the_pictures_frame_each_batch_and_label_the_crossing_edge():
    second = _loop(2, carry="none")[0][1][1]
    for dot in (second.to_dot(fold=True), second.to_dot(fold=False, max_nodes=400)):
        assert "subgraph cluster_batch_0" in dot and "subgraph cluster_batch_now" in dot
        assert re.search(r'label="carried in[^"]*", color="#1f5fa8"', dot)
        assert "freed by an earlier backward" in dot  # the freed markers stay
        # Leaves (AccumulateGrad: shared by both batches) sit in no frame.
        frames = re.findall(r"cluster_batch_\w+ \{\n.*\n    (.*);", dot)
        leaves = {n.id for n in second.nodes if n.is_leaf}
        assert frames and not any(set(f.split("; ")) & leaves for f in frames)
    # Folding never merges nodes of two batches.
    from rnn_autograd.diagnose.graph_fold import fold_graph

    for group in fold_graph(second).groups:
        assert len({n.batch for n in group.members}) == 1
    text = second.to_text(max_nodes=400)
    assert "┄┄ batch boundary ┄┄ below: batch 1's graph, carried in" in text
    assert "(from batch 1)" in text


def test_a_report_without_earlier_snapshots_says_nothing_about_batches():
    x = torch.ones(2, requires_grad=True)
    report = inspect_graph((x * 2).sum())
    assert report.earlier == [] and report.carried == {}
    assert "carried" not in report.summary() and "cluster" not in report.to_dot()


@pytest.fixture
def no_sequence_nr(monkeypatch):
    monkeypatch.setattr(torch_private, "sequence_nr", lambda node: None)


def test_without_sequence_numbers_the_tags_mark_what_an_earlier_snapshot_walked(no_sequence_nr):
    graphs, states, losses = _loop(2, carry="none")
    second = graphs[1][1]
    assert second.moment.counter is None
    # What the fallback can see: batch 1's nodes that batch 1's snapshot (of its loss) walked;
    # the state's own last node is behind no loss, so it counts with batch 2.
    expected = _reached(states[1]) & _reached(losses[0])
    assert 0 < _made_by(second, 0) == len(expected) < len(_reached(states[1]))
    assert not torch_private.has_sequence_nr()
    assert torch_private.private_api_report()["grad_fn._sequence_nr"] is False


def test_sequence_nr_guard():
    x = torch.ones(2, requires_grad=True)
    y = x * 2
    z = y.exp()
    assert torch_private.sequence_nr(y.grad_fn) < torch_private.sequence_nr(z.grad_fn)
    leaf = torch.autograd.graph.get_gradient_edge(x).node
    assert torch_private.sequence_nr(leaf) is None  # AccumulateGrad: UINT64_MAX, not a moment
    assert torch_private.sequence_nr(object()) is None  # a torch without the method
    assert torch_private.private_api_report()["grad_fn._sequence_nr"] is True


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` not installed")
def test_dot_draws_the_framed_pictures_folded_and_full_size():
    third = _loop(3, carry="retain")[0][2][1]
    for source in (third.to_dot(fold=True), third.to_dot(fold=False, max_nodes=400)):
        done = subprocess.run(["dot", "-Tsvg"], input=source.encode(), capture_output=True)
        assert done.returncode == 0, done.stderr.decode()
        assert b"from batch 2, carried in" in done.stdout

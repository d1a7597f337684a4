"""The saved-tensor byte meter and the process peak (rnn_autograd.diagnose.memory)."""

from __future__ import annotations

import sys

import pytest
import torch
from torch import nn

from rnn_autograd.diagnose.memory import (
    SavedTensorMeter,
    process_peak_rss_bytes,
    process_rss_bytes,
    reset_process_peak,
)

N = 1000


def test_a_product_of_two_float32_tensors_saves_both_operands():
    x = torch.ones(N, requires_grad=True)
    y = torch.ones(N, requires_grad=True)
    with SavedTensorMeter() as meter:
        z = (x * y).sum()
    assert meter.live_bytes == 2 * N * 4
    assert meter.peak_bytes == 2 * N * 4
    z.backward()


def test_backward_releases_the_saved_tensors_and_the_peak_remains():
    x = torch.ones(N, requires_grad=True)
    y = torch.ones(N, requires_grad=True)
    with SavedTensorMeter() as meter:
        z = (x * y).sum()
    z.backward()  # no retain_graph: the graph frees what it saved
    assert meter.live_bytes == 0
    assert meter.peak_bytes == 2 * N * 4


def test_retain_graph_keeps_saved_tensors_until_the_graph_is_dropped():
    x = torch.ones(N, requires_grad=True)
    y = torch.ones(N, requires_grad=True)
    with SavedTensorMeter() as meter:
        z = (x * y).sum()
    z.backward(retain_graph=True)  # kept on purpose: the point of this test
    assert meter.live_bytes == 2 * N * 4
    del z  # the last reference to the graph goes, and with it the saved tensors
    assert meter.live_bytes == 0


@pytest.mark.parametrize("op", [torch.tanh, torch.sigmoid, torch.exp], ids=lambda f: f.__name__)
def test_a_graph_dropped_without_backward_releases_its_saved_output(op):
    # these ops save their own output: the meter must not keep it alive through a cycle
    x = torch.ones(N, requires_grad=True)
    with SavedTensorMeter() as meter:
        z = op(x).sum()
    assert meter.live_bytes == N * 4
    del z
    assert meter.live_bytes == 0


def test_a_tensor_saved_twice_is_counted_once():
    x = torch.ones(N, requires_grad=True)
    with SavedTensorMeter() as meter:
        z = (x * x).sum()  # MulBackward0 saves x as self and as other
    assert meter.saved_count == 2
    assert meter.live_bytes == N * 4
    z.backward()


def test_a_saved_view_holds_its_whole_base_storage():
    base = torch.ones(N, requires_grad=True)
    w = torch.ones(10, requires_grad=True)
    with SavedTensorMeter() as meter:
        z = (base[:10] * w).sum()
    assert meter.live_bytes == N * 4 + 10 * 4
    z.backward()


def test_excluded_tensors_such_as_parameters_are_not_counted():
    x = torch.ones(N, requires_grad=True)
    y = torch.ones(N, requires_grad=True)
    with SavedTensorMeter(exclude=[y]) as meter:
        z = (x * y).sum()
    assert meter.live_bytes == N * 4
    z.backward()
    assert meter.live_bytes == 0


def test_unpacked_tensors_give_the_same_gradients_as_without_the_meter():
    torch.manual_seed(0)
    rnn = nn.RNN(4, 8)
    x = torch.randn(6, 3, 4)
    rnn(x)[0].sum().backward()
    expected = [p.grad.clone() for p in rnn.parameters()]
    rnn.zero_grad(set_to_none=True)  # drop the first grads so the second run starts from none
    with SavedTensorMeter():
        out = rnn(x)[0].sum()
    out.backward()
    for p, g in zip(rnn.parameters(), expected, strict=True):
        torch.testing.assert_close(p.grad, g)


def test_an_rnn_saves_bytes_in_proportion_to_its_sequence_length():
    torch.manual_seed(0)
    rnn = nn.RNN(4, 8)
    sizes = []
    for steps in (5, 10, 20):
        with SavedTensorMeter(exclude=rnn.parameters()) as meter:
            out = rnn(torch.randn(steps, 3, 4))[0].sum()
        sizes.append(meter.peak_bytes)
        out.backward()
        assert meter.live_bytes == 0
    # equal increments for equal increments of length: linear in the number of steps
    assert sizes[2] - sizes[1] == 2 * (sizes[1] - sizes[0])
    assert sizes[1] > sizes[0] > 0


def test_the_process_peak_is_a_positive_number_of_bytes_where_the_os_reports_one():
    peak = process_peak_rss_bytes()
    if peak is None:
        pytest.skip("this platform reports no peak RSS")
    assert peak > 1_000_000  # a Python process with torch loaded is well above a megabyte


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="peak reset is Linux-only")
def test_resetting_the_peak_brings_it_back_near_the_current_size():
    big = torch.ones(50_000_000, dtype=torch.uint8)
    big.fill_(1)  # in place: touches every page so it counts as resident
    before = process_peak_rss_bytes()
    del big
    if not reset_process_peak():
        pytest.skip("/proc/self/clear_refs not writable here")
    assert process_peak_rss_bytes() < before - 40_000_000


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmRSS is Linux-only")
def test_the_current_size_never_exceeds_the_peak():
    assert 0 < process_rss_bytes() <= process_peak_rss_bytes()

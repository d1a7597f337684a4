"""The fused tanh RNN layer: the same values and gradients as the step-by-step autograd loop.

Each test covers one way the layer's backward is entered: through the outputs only, through
the last state only, or with a start state that needs no gradient (a detached, carried state);
the variant with the lookup inside (``fused_embedding_tanh_rnn``) equals lookup-then-layer.
"""

from __future__ import annotations

import torch

from rnn_autograd.pipeline.fused_rnn import fused_embedding_tanh_rnn, fused_tanh_rnn


def _reference(proj, h0, w_hh):
    """``h_t = tanh(proj[t] + h_{t-1} @ w_hh.T)`` recorded step by step by autograd."""
    h, outs = h0[0], []
    for p_t in proj:
        h = torch.tanh(p_t + h @ w_hh.t())
        outs.append(h)
    return torch.stack(outs), h.unsqueeze(0)


def _inputs(requires_h0=True, dtype=torch.float32):
    g = torch.Generator().manual_seed(0)
    proj = torch.randn(6, 3, 4, generator=g, dtype=dtype).requires_grad_()
    h0 = torch.randn(1, 3, 4, generator=g, dtype=dtype).requires_grad_(requires_h0)
    w = (0.5 * torch.randn(4, 4, generator=g, dtype=dtype)).requires_grad_()
    return proj, h0, w


def _grads(fn, loss_of, requires_h0=True):
    proj, h0, w = _inputs(requires_h0)
    loss_of(*fn(proj, h0, w)).backward()
    return proj.grad, h0.grad, w.grad


def test_outputs_and_last_state_equal_the_step_by_step_loop():
    proj, h0, w = _inputs()
    out, last = fused_tanh_rnn(proj, h0, w)
    ref_out, ref_last = _reference(proj, h0, w)
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(last, ref_last)


def test_gradients_through_the_outputs_alone_equal_the_loops():
    def loss(out, last):
        return out.square().sum()  # the last state unused: its gradient arrives as None

    torch.testing.assert_close(_grads(fused_tanh_rnn, loss), _grads(_reference, loss))


def test_gradients_through_the_last_state_alone_equal_the_loops():
    def loss(out, last):
        return (last * torch.arange(4.0)).sum()  # the outputs unused: their gradient is None

    torch.testing.assert_close(_grads(fused_tanh_rnn, loss), _grads(_reference, loss))


def test_a_start_state_without_grad_gets_none_and_the_other_gradients_are_unchanged():
    def loss(out, last):
        return out.sum() + last.square().sum()

    ours = _grads(fused_tanh_rnn, loss, requires_h0=False)
    assert ours[1] is None
    torch.testing.assert_close(ours, _grads(_reference, loss, requires_h0=False))


def test_each_output_alone_passes_gradcheck_in_double_precision():
    proj, h0, w = (t.detach().double().requires_grad_() for t in _inputs())
    assert torch.autograd.gradcheck(lambda *a: fused_tanh_rnn(*a)[0], (proj, h0, w))
    assert torch.autograd.gradcheck(lambda *a: fused_tanh_rnn(*a)[1], (proj, h0, w))


def test_its_tanh_equals_torch_tanh_up_to_float_rounding_across_the_whole_range():
    # with W_hh = 0 every output is tanh(proj): computed as 2 * sigmoid(2 * a) - 1
    a = torch.cat([torch.linspace(-30, 30, 60001), torch.tensor([-torch.inf, torch.inf, 0.0])])
    proj = a.reshape(1, -1, 4)  # one step, 15001 sequences of 4 units
    out, _ = fused_tanh_rnn(proj, torch.zeros(1, proj.shape[1], 4), torch.zeros(4, 4))
    torch.testing.assert_close(out.flatten(), torch.tanh(a), rtol=0, atol=2.5e-7)
    assert out.abs().max() == 1.0  # saturates at exactly +-1, never beyond, never nan


def _lookup_inputs(dtype=torch.float32):
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 5, (3, 6), generator=g).T  # (steps, batch), transposed as in RNNModel
    table = torch.randn(5, 4, generator=g, dtype=dtype).requires_grad_()
    h0 = torch.randn(1, 3, 4, generator=g, dtype=dtype).requires_grad_()
    w = (0.5 * torch.randn(4, 4, generator=g, dtype=dtype)).requires_grad_()
    return ids, table, h0, w


def test_the_lookup_inside_gives_the_values_and_gradients_of_lookup_then_layer():
    results = []
    for inside in (True, False):
        ids, table, h0, w = _lookup_inputs()
        if inside:
            out, last = fused_embedding_tanh_rnn(ids, table, h0, w)
        else:
            out, last = fused_tanh_rnn(torch.nn.functional.embedding(ids, table), h0, w)
        (out.square().sum() + (last * torch.arange(4.0)).sum()).backward()
        results.append([out, last, table.grad, h0.grad, w.grad])
    torch.testing.assert_close(results[0], results[1])


def test_the_lookup_inside_passes_gradcheck_in_double_precision():
    ids, *rest = _lookup_inputs(torch.double)
    for i in (0, 1):  # through the outputs alone, then the last state alone
        assert torch.autograd.gradcheck(lambda *a, i=i: fused_embedding_tanh_rnn(ids, *a)[i], rest)

"""A single tanh RNN layer as one autograd function: the same arithmetic as ``nn.RNN``, faster.

``nn.RNN`` on the CPU records every step in the autograd graph: per step an ``addmm`` and a
``tanh`` forward, and in backward two matrix products (the gradient for ``h`` and a partial
``dW_hh``) plus an accumulation of ``dW_hh``. Here the forward runs the loop without recording
(inside ``Function.forward``) into one preallocated ``(steps, batch, hidden)`` buffer, and the
backward keeps only the product that must be sequential (``dh_{t-1} = dA_t @ W_hh``); the
weight gradient is one product over all steps::

    h_t  = tanh(p_t + h_{t-1} @ W_hh.T)        p_t: the input projection, biases included
    dA_t = (dY_t + dA_{t+1} @ W_hh) * (1 - h_t ** 2)
    dW_hh = sum_t dA_t.T @ h_{t-1}  =  dA.reshape(-1, H).T @ H_prev.reshape(-1, H)

Each step of either loop works in place on a buffer the function owns, with no allocation and
no copy per step, and ``dh_0`` is computed only when the start state needs it (a detached,
carried state does not). The forward computes ``tanh(a)`` as ``2 * sigmoid(2 * a) - 1``, the same
function: torch's CPU ``tanh`` kernel is not vectorized and took a quarter of the forward; the
result differs from ``torch.tanh`` by float rounding (at most about 2e-7, tested). The backward
uses autograd's own ``tanh_backward`` kernel, ``dh * (1 - h ** 2)``.

It is a reformulation, not an approximation: the results equal ``nn.RNN``'s up to float
rounding (tested in tests/test_model.py and tests/test_fused_rnn.py).
"""

from __future__ import annotations

import torch

__all__ = ["fused_tanh_rnn"]


class _FusedTanhRNN(torch.autograd.Function):
    @staticmethod
    def forward(ctx, proj: torch.Tensor, h0: torch.Tensor, w_hh: torch.Tensor):
        # an output nobody used arrives as None instead of a tensor of zeros made for it
        ctx.set_materialize_grads(False)
        # tanh(a) = 2 * sigmoid(2 * a) - 1: torch's sigmoid kernel is vectorized where its tanh
        # is not (about 5x faster on the CPU), and doubling is exact in floating point, so 2 * a
        # is obtained for free: proj and W_hh doubled once, before the loop.
        # out, (steps, batch, hidden), starts as 2 * proj in one new buffer for all steps, so
        # that each step adds its product in place (addmm_) instead of copying p_t first
        out = proj.mul(2)
        w2_t = w_hh.t().mul(2)
        minus_one = out.new_full((), -1.0)
        h = h0[0]  # (1, batch, hidden) -> (batch, hidden)
        # views of every step, made once: fewer Python-level indexing calls per step
        for o_t in out.unbind(0):
            # in place on a slot of out, a fresh buffer that nothing else has seen yet:
            # 2 * a_t, then sigmoid(2 * a_t), then 2 * sigmoid - 1 = h_t
            o_t.addmm_(h, w2_t).sigmoid_()
            h = torch.add(minus_one, o_t, alpha=2, out=o_t)
        ctx.save_for_backward(out, h0, w_hh)
        # the last state as its own (1, batch, hidden) tensor, not a view of out: callers may
        # detach_() it in place (the notebook does), which autograd refuses on views
        return out, out[-1:].clone()

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor | None, grad_h: torch.Tensor | None):
        out, h0, w_hh = ctx.saved_tensors
        hidden = out.shape[-1]
        h0 = h0[0]
        # dA_t for every step, the gradient of the projection, in a fresh buffer this function
        # owns; it starts as dY (the gradient of the outputs), copied once for all steps
        if grad_out is None:
            d_pre = torch.zeros_like(out)
        else:
            d_pre = grad_out.clone(memory_format=torch.contiguous_format)
        d_steps, h_steps = d_pre.unbind(0), out.unbind(0)
        if grad_h is not None:
            # in place on d_pre: the gradient through the returned state joins the last step's
            d_steps[-1].add_(grad_h[0])
        # dA = dh * (1 - h^2) in one kernel (autograd's own tanh backward), in place in d_pre
        _tanh_backward(d_steps[-1], h_steps[-1], d_steps[-1])
        for t in range(len(h_steps) - 1, 0, -1):
            d = d_steps[t - 1]
            # dh_{t-1} = dY_{t-1} + dA_t @ W_hh, added in place to d_pre's slot t - 1 (which
            # holds dY_{t-1}), then multiplied there by tanh' = 1 - h_{t-1}^2: no allocation
            _tanh_backward(d.addmm_(d_steps[t], w_hh), h_steps[t - 1], d)
        grad_h0 = None
        if ctx.needs_input_grad[1]:  # a detached carried state needs none: one product saved
            grad_h0 = (d_steps[0] @ w_hh).unsqueeze(0)
        grad_w = None
        if ctx.needs_input_grad[2]:
            # sum_t dA_t.T @ h_{t-1}: h_{t-1} is out[t - 1] for t >= 1 and h0 for t = 0, so one
            # product over steps 1.. plus the first step's term (no copy of out into a shifted buffer)
            grad_w = torch.addmm(
                d_steps[0].t() @ h0,
                d_pre[1:].reshape(-1, hidden).t(),
                out[:-1].reshape(-1, hidden),
            )
        return d_pre, grad_h0, grad_w


def _tanh_backward(grad: torch.Tensor, y: torch.Tensor, out: torch.Tensor) -> None:
    # grad * (1 - y^2) into out: the kernel autograd runs for tanh's backward (out may be grad)
    torch.ops.aten.tanh_backward.grad_input(grad, y, grad_input=out)


def fused_tanh_rnn(
    proj: torch.Tensor, h0: torch.Tensor, w_hh: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``h_t = tanh(proj[t] + h_{t-1} @ w_hh.T)`` over all steps.

    ``proj``: ``(steps, batch, hidden)``, the input projection with both biases; ``h0``:
    ``(1, batch, hidden)``. Returns every ``h_t`` as ``(steps, batch, hidden)`` and the last one
    as ``(1, batch, hidden)``, as ``nn.RNN`` does.
    """
    return _FusedTanhRNN.apply(proj, h0, w_hh)

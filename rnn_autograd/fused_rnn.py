"""A single tanh RNN layer as one autograd function: the same arithmetic as ``nn.RNN``, faster.

``nn.RNN`` on the CPU records every step in the autograd graph: per step an ``addmm`` and a
``tanh`` forward, and in backward two matrix products (the gradient for ``h`` and a partial
``dW_hh``) plus an accumulation of ``dW_hh``. Here the forward runs the loop without recording
(inside ``Function.forward``) into one preallocated ``(steps, batch, hidden)`` buffer, and the
backward keeps only the product that must be sequential (``dh_{t-1} = dA_t @ W_hh``); the
weight gradient is one product over all steps::

    h_t  = tanh(p_t + h_{t-1} @ W_hh.T)        p_t: the input projection, biases included
    dA_t = (dh_t + dY_t) * (1 - h_t ** 2)
    dW_hh = sum_t dA_t.T @ h_{t-1}  =  dA.reshape(-1, H).T @ H_prev.reshape(-1, H)

It is a reformulation, not an approximation: the results equal ``nn.RNN``'s up to float
rounding (tested in tests/test_model.py).
"""

from __future__ import annotations

import torch

__all__ = ["fused_tanh_rnn"]


class _FusedTanhRNN(torch.autograd.Function):
    @staticmethod
    def forward(ctx, proj: torch.Tensor, h0: torch.Tensor, w_hh: torch.Tensor):
        out = torch.empty_like(proj)  # (steps, batch, hidden)
        w_t = w_hh.t()
        h = h0[0]  # (1, batch, hidden) -> (batch, hidden)
        # views of every step, made once: fewer Python-level indexing calls per step
        for p_t, o_t in zip(proj.unbind(0), out.unbind(0), strict=True):
            # o_t is written in place: a slot of a fresh buffer that nothing else has seen yet
            torch.addmm(p_t, h, w_t, out=o_t)
            h = o_t.tanh_()  # in place on the same fresh slot: no saved tensor is changed
        ctx.save_for_backward(out, h0, w_hh)
        # the last state as its own (1, batch, hidden) tensor, not a view of out: callers may
        # detach_() it in place (the notebook does), which autograd refuses on views
        return out, out[-1:].clone()

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor | None, grad_h: torch.Tensor | None):
        out, h0, w_hh = ctx.saved_tensors
        steps, batch, hidden = out.shape
        if grad_out is None:
            grad_out = torch.zeros_like(out)
        h0 = h0[0]
        dh = torch.zeros_like(h0) if grad_h is None else grad_h[0]
        d_pre = torch.empty_like(out)  # dA_t for every step: the gradient of the projection
        deriv = 1 - out * out  # tanh'(a_t) = 1 - h_t^2, for all steps in one operation
        # dA_t = (dY_t + dh_t) * deriv_t with dh_t = dA_{t+1} @ W_hh (grad_h for the last step):
        # the dY_t * deriv_t part for all steps at once, the recurrent part step by step
        torch.mul(grad_out, deriv, out=d_pre)
        d_steps, deriv_steps = d_pre.unbind(0), deriv.unbind(0)
        d_steps[-1].addcmul_(dh, deriv_steps[-1])  # in place on the fresh buffer d_pre
        for t in range(steps - 1, 0, -1):
            # in place on d_pre's fresh slot for step t - 1: adds the recurrent part
            d_steps[t - 1].addcmul_(d_steps[t] @ w_hh, deriv_steps[t - 1])
        dh = d_steps[0] @ w_hh
        grad_w = None
        if ctx.needs_input_grad[2]:
            # sum_t dA_t.T @ h_{t-1}: h_{t-1} is out[t - 1] for t >= 1 and h0 for t = 0, so one
            # product over steps 1.. plus the first step's term (no copy of out into a shifted buffer)
            grad_w = torch.addmm(
                d_pre[0].t() @ h0,
                d_pre[1:].reshape(-1, hidden).t(),
                out[:-1].reshape(-1, hidden),
            )
        return d_pre, dh.unsqueeze(0), grad_w


def fused_tanh_rnn(
    proj: torch.Tensor, h0: torch.Tensor, w_hh: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``h_t = tanh(proj[t] + h_{t-1} @ w_hh.T)`` over all steps.

    ``proj``: ``(steps, batch, hidden)``, the input projection with both biases; ``h0``:
    ``(1, batch, hidden)``. Returns every ``h_t`` as ``(steps, batch, hidden)`` and the last one
    as ``(1, batch, hidden)``, as ``nn.RNN`` does.
    """
    return _FusedTanhRNN.apply(proj, h0, w_hh)

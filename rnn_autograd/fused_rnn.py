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
        steps = proj.shape[0]
        out = torch.empty_like(proj)  # (steps, batch, hidden)
        w_t = w_hh.t()
        h = h0[0]  # (1, batch, hidden) -> (batch, hidden)
        for t in range(steps):
            # out[t] is written in place: it is a fresh buffer that nothing else has seen yet
            torch.addmm(proj[t], h, w_t, out=out[t])
            out[t].tanh_()  # in place on the same fresh buffer: no saved tensor is changed
            h = out[t]
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
        for t in range(steps - 1, -1, -1):
            h_t = out[t]
            # dA_t = (dh_t + dY_t) * (1 - h_t^2), written into its slot of the fresh buffer
            torch.mul(dh + grad_out[t], 1 - h_t * h_t, out=d_pre[t])
            dh = d_pre[t] @ w_hh
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

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
function: torch's CPU ``tanh`` kernel measured about 5x slower than its ``sigmoid`` (torch 2.13,
one thread) and took a quarter of the forward; the result differs from ``torch.tanh`` by float
rounding (at most about 2e-7, tested). The backward uses autograd's own ``tanh_backward``
kernel, ``dh * (1 - h ** 2)``. ``fused_embedding_tanh_rnn`` also does the input's lookup (one-hot
times ``W_ih`` is a row of ``W_ih.T``) inside, writing it straight into the layer's buffer.

It is a reformulation, not an approximation: the results equal ``nn.RNN``'s up to float
rounding (tested in tests/test_model.py and tests/test_fused_rnn.py).
"""

from __future__ import annotations

import torch

__all__ = ["fused_embedding_tanh_rnn", "fused_tanh_rnn"]


def _recur(out: torch.Tensor, h0: torch.Tensor, w_hh: torch.Tensor) -> torch.Tensor:
    """Overwrite ``out``, which holds ``2 * p_t`` for every step, with every ``h_t``.

    tanh(a) = 2 * sigmoid(2 * a) - 1: torch's CPU sigmoid kernel is about 5x faster than its
    tanh, and doubling is exact in floating point, so ``2 * a_t`` costs nothing: the caller
    doubled the projection, and W_hh is doubled once here.
    """
    # 2 * W_hh.T written contiguous (out=): mul would keep the transposed strides of W_hh.t(),
    # and the per-step product is a little faster with a contiguous right-hand matrix
    w2_t = torch.mul(w_hh.t(), 2, out=w_hh.new_empty(w_hh.shape))
    minus_one = out.new_full((), -1.0)
    h = h0[0]  # (1, batch, hidden) -> (batch, hidden)
    # views of every step, made once: fewer Python-level indexing calls per step
    for o_t in out.unbind(0):
        # in place on a slot of out, a buffer the caller made for this and nobody else has
        # seen: 2 * a_t, then sigmoid(2 * a_t), then 2 * sigmoid - 1 = h_t, with no allocation
        o_t.addmm_(h, w2_t).sigmoid_()
        h = torch.add(minus_one, o_t, alpha=2, out=o_t)
    return out


def _backprop(ctx, out, h0, w_hh, grad_out, grad_h):
    """The gradients of the projection (``dA``), of ``h0`` and of ``W_hh``, from those of the
    outputs (``grad_out``) and of the last state (``grad_h``); either may be None (unused)."""
    hidden = out.shape[-1]
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
    h0_index, w_index = len(ctx.needs_input_grad) - 2, len(ctx.needs_input_grad) - 1
    grad_h0 = None
    if ctx.needs_input_grad[h0_index]:  # a detached carried state needs none: one product less
        grad_h0 = (d_steps[0] @ w_hh).unsqueeze(0)
    grad_w = None
    if ctx.needs_input_grad[w_index]:
        # sum_t dA_t.T @ h_{t-1}: h_{t-1} is out[t - 1] for t >= 1 and h0 for t = 0, so one
        # product over steps 1.. plus the first step's term (no copy of out into a shifted buffer)
        grad_w = torch.addmm(
            d_steps[0].t() @ h0[0],
            d_pre[1:].reshape(-1, hidden).t(),
            out[:-1].reshape(-1, hidden),
        )
    return d_pre, grad_h0, grad_w


def _tanh_backward(grad: torch.Tensor, y: torch.Tensor, out: torch.Tensor) -> None:
    # grad * (1 - y^2) into out: the kernel autograd runs for tanh's backward (out may be grad)
    torch.ops.aten.tanh_backward.grad_input(grad, y, grad_input=out)


class _FusedTanhRNN(torch.autograd.Function):
    @staticmethod
    def forward(ctx, proj: torch.Tensor, h0: torch.Tensor, w_hh: torch.Tensor):
        # an output nobody used arrives as None instead of a tensor of zeros made for it
        ctx.set_materialize_grads(False)
        # (steps, batch, hidden): 2 * proj in a new buffer, which the loop overwrites in place
        out = _recur(proj.mul(2), h0, w_hh)
        ctx.save_for_backward(out, h0, w_hh)
        # the last state as its own (1, batch, hidden) tensor, not a view of out: callers may
        # detach_() it in place (the notebook does), which autograd refuses on views
        return out, out[-1:].clone()

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor | None, grad_h: torch.Tensor | None):
        out, h0, w_hh = ctx.saved_tensors
        return _backprop(ctx, out, h0, w_hh, grad_out, grad_h)


class _FusedEmbeddingTanhRNN(torch.autograd.Function):
    @staticmethod
    def forward(ctx, ids: torch.Tensor, table: torch.Tensor, h0: torch.Tensor, w_hh: torch.Tensor):
        ctx.set_materialize_grads(False)  # as in _FusedTanhRNN
        steps, batch = ids.shape
        flat = ids.reshape(-1)
        # 2 * table[ids] = (2 * table)[ids], exactly: the lookup writes the doubled projection
        # straight into the new buffer the loop then overwrites, with no pass over it between.
        # The doubled table is contiguous (out=), so that the lookup gathers whole rows
        table2 = torch.mul(table, 2, out=table.new_empty(table.shape))
        out = torch.index_select(table2, 0, flat).view(steps, batch, -1)
        _recur(out, h0, w_hh)
        ctx.save_for_backward(out, h0, w_hh, flat)
        ctx.vocab = table.shape[0]
        return out, out[-1:].clone()  # a tensor of its own: see _FusedTanhRNN

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor | None, grad_h: torch.Tensor | None):
        out, h0, w_hh, flat = ctx.saved_tensors
        d_pre, grad_h0, grad_w = _backprop(ctx, out, h0, w_hh, grad_out, grad_h)
        grad_table = None
        if ctx.needs_input_grad[1]:
            # the lookup's backward: each row of dA added into the row of its token (in place
            # on a zero tensor made here)
            grad_table = out.new_zeros(ctx.vocab, out.shape[-1])
            grad_table.index_add_(0, flat, d_pre.view(-1, out.shape[-1]))
        return None, grad_table, grad_h0, grad_w


def fused_tanh_rnn(
    proj: torch.Tensor, h0: torch.Tensor, w_hh: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run ``h_t = tanh(proj[t] + h_{t-1} @ w_hh.T)`` over all steps.

    ``proj``: ``(steps, batch, hidden)``, the input projection with both biases; ``h0``:
    ``(1, batch, hidden)``. Returns every ``h_t`` as ``(steps, batch, hidden)`` and the last one
    as ``(1, batch, hidden)``, as ``nn.RNN`` does.
    """
    return _FusedTanhRNN.apply(proj, h0, w_hh)


def fused_embedding_tanh_rnn(
    ids: torch.Tensor, table: torch.Tensor, h0: torch.Tensor, w_hh: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``fused_tanh_rnn(table[ids], h0, w_hh)``, with the lookup done inside the function.

    ``ids``: ``(steps, batch)`` token ids; ``table``: ``(vocab, hidden)``, a row per token (for
    one-hot input, ``W_ih.T`` plus both biases). The lookup writes straight into the layer's own
    buffer, and its backward (``index_add_``) runs without an autograd node of its own.
    """
    return _FusedEmbeddingTanhRNN.apply(ids, table, h0, w_hh)

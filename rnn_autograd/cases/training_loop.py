"""Training loops with two optimizers or a carried recurrent state: one message, several causes.

"modified by an inplace operation" and "backward through the graph a second time" come out of
training loops for different reasons, and each reason has its own fix: a GAN whose
discriminator is stepped before the generator's backward reuses D's saved weights (reorder, or
recompute ``D(fake)``); a discriminator loss built on ``D(fake)`` without ``fake.detach()`` frees
the generator's graph (detach); an LSTM or GRU state carried with ``retain_graph=True`` while
Adam or AdamW steps finds the weights it saved changed (detach the state, never retain).
"""

from __future__ import annotations

import torch
from torch import nn

from ..spec import Raises, Returns, Satisfies, case

_STALE = r"modified by an inplace operation"
_FREED = r"backward through the graph a second time"
_DCGAN = "https://github.com/pytorch/examples/blob/main/dcgan/main.py"
_WLM = "https://github.com/pytorch/examples/blob/main/word_language_model/main.py"


def _gan():
    """A tiny generator and discriminator with Adam each, as in the DCGAN example."""
    G = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    D = nn.Sequential(nn.Linear(2, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
    opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    return G, D, opt_G, opt_D, nn.BCEWithLogitsLoss()


@case(
    "training-loop/gan-step-before-generator-backward",
    question="Why does g_loss.backward() fail with 'modified by an inplace operation' after opt_D.step() in my GAN?",
    expect="g_loss only needs the generator's gradients, and opt_D.step() changes only D.",
    outcome=Raises(RuntimeError, _STALE),
    fix="training-loop/gan-generator-backward-before-step",
    see_also=(
        _DCGAN,
        "versions/optimizer-step-bumps-version",
        "training-loop/gan-fake-not-detached",
    ),
)
def gan_step_before_generator_backward():
    """`g_loss` was computed from the same `D(fake)` as `d_loss`, so its backward runs through
    D's nodes, which saved D's weights before `opt_D.step()` changed them in place.

    To reach G, the generator's gradient has to go *through* D: dg_loss/dfake needs D's
    weights. The last `nn.Linear` of D ran `addmm(bias, h, weight.t())`, and `AddmmBackward0`
    saved `mat2 = weight.t()` (a view of the weight, sharing its version counter) to compute the
    gradient of `h`. `opt_D.step()` writes every D parameter in place (Adam's `addcdiv_`: one
    bump), so when `g_loss.backward()` unpacks the saved view it reads "[torch.FloatTensor
    [8, 1]], which is output 0 of AsStrided, is at version 2; expected version 1" (1 is the
    weight's initialisation; a changed view's `grad_fn` is regenerated as `AsStridedBackward0`).
    `retain_graph=True` on `d_loss.backward()` is what made the second pass possible at all and
    is not the bug; the order is. Either backpropagate `g_loss` before `opt_D.step()`, or, as
    the DCGAN example does, compute `D(fake)` again after the step, so that G's backward goes
    through a D graph saved with the new weights.
    """
    G, D, opt_G, opt_D, bce = _gan()
    real, ones, zeros = torch.randn(16, 2) + 3, torch.ones(16, 1), torch.zeros(16, 1)
    fake = G(torch.randn(16, 4))
    pred_fake = D(fake)  # one D graph, shared by both losses
    d_loss = bce(D(real), ones) + bce(pred_fake, zeros)
    g_loss = bce(pred_fake, ones)
    opt_D.zero_grad()  # D's grads must hold this batch only
    d_loss.backward(retain_graph=True)  # keep the shared graph for g_loss
    opt_D.step()  # in place on D's weights: the saved weight.t() goes stale
    opt_G.zero_grad()  # G's grads must hold this batch only
    g_loss.backward()


@case(
    "training-loop/gan-generator-backward-before-step",
    question="In what order do a GAN's two backward passes and two optimizer steps work?",
    expect="Any order works as long as each optimizer steps after its own backward.",
    outcome=Returns(
        {"G got gradients": True, "D's weights saved by the G pass were current": True}
    ),
    see_also=(_DCGAN, "training-loop/gan-step-before-generator-backward"),
)
def gan_generator_backward_before_step():
    """Recompute `D(fake)` after `opt_D.step()`: the generator's loss then goes through a new D
    graph that saved D's weights at their new version, and nothing stale is unpacked.

    This is the DCGAN example's order: D's loss on `fake.detach()` (no path into G), backward,
    `opt_D.step()`; then `netD(fake)` again for G's loss, backward, `opt_G.step()`. The second
    forward through D costs one more D forward per step and is what makes the order safe: every
    saved tensor G's backward unpacks was saved after the last in-place write to it. Computing
    both losses from one `D(fake)` and calling `g_loss.backward()` *before* `opt_D.step()` also
    raises nothing, but G's backward then adds its gradients into D's `.grad` before D steps.
    """
    G, D, opt_G, opt_D, bce = _gan()
    real, ones, zeros = torch.randn(16, 2) + 3, torch.ones(16, 1), torch.zeros(16, 1)
    fake = G(torch.randn(16, 4))
    opt_D.zero_grad()  # D's grads must hold this batch only
    # fake.detach(): the discriminator's loss must not backpropagate into (and free) G's graph.
    d_loss = bce(D(real), ones) + bce(D(fake.detach()), zeros)
    d_loss.backward()
    opt_D.step()  # in place on D's weights, before the next D forward saves them
    opt_G.zero_grad()  # G's grads must hold this batch only
    pred = D(fake)  # a new D graph: saves D's weights at their current version
    # The last Linear's AddmmBackward0 saved weight.t(), a view sharing the weight's counter.
    current = pred.grad_fn._saved_mat2._version == D[2].weight._version
    bce(pred, ones).backward()
    opt_G.step()
    return {
        "G got gradients": all(p.grad is not None for p in G.parameters()),
        "D's weights saved by the G pass were current": current,
    }


@case(
    "training-loop/gan-fake-not-detached",
    question="Why does errG.backward() fail with 'Trying to backward through the graph a second time' in my GAN?",
    expect="errG is computed from a new netD(fake) forward, so its graph is new.",
    outcome=Raises(RuntimeError, _FREED),
    fix="training-loop/gan-generator-backward-before-step",
    see_also=(
        _DCGAN,
        "graph/backward-through-freed-graph",
        "training-loop/gan-step-before-generator-backward",
    ),
)
def gan_fake_not_detached():
    """The discriminator's loss used `D(fake)` without `fake.detach()`, so `errD.backward()` ran
    through the generator's graph too and freed it; `errG`'s new D graph leads into it.

    `fake = G(noise)` records G's graph (`AddmmBackward0` nodes that saved the activations and
    the transposed weights). `D(fake)` inside the discriminator's loss has an edge into that
    graph, so `errD.backward()` goes on into G: it computes gradients of G's parameters that
    nobody wants (D's step ignores them; G's `zero_grad` discards them) and, without
    `retain_graph`, releases G's saved tensors. `errG = bce(D(fake), ones)` records a *new* D
    graph, but `fake` is the same tensor with the same, now freed, `grad_fn`: the backward runs
    the new D nodes, reaches G's first `AddmmBackward0` and raises. `retain_graph=True` would
    silence it at the cost of keeping G's graph and computing G's gradients twice; the fix is
    `D(fake.detach())` in the discriminator's loss, which cuts the edge into G.
    """
    G, D, opt_G, opt_D, bce = _gan()
    real, ones, zeros = torch.randn(16, 2) + 3, torch.ones(16, 1), torch.zeros(16, 1)
    fake = G(torch.randn(16, 4))
    D.zero_grad()  # D's grads must hold this batch only
    errD = bce(D(real), ones) + bce(D(fake), zeros)  # no detach: an edge into G's graph
    errD.backward()  # runs through G too, and frees its saved tensors
    opt_D.step()
    G.zero_grad()  # G's grads must hold this batch only
    errG = bce(D(fake), ones)  # a new D graph, the same (freed) G graph behind fake
    errG.backward()


class _LM(nn.Module):
    """An embedding, a recurrent layer (LSTM or GRU) and a linear head: a word model in small."""

    def __init__(self, cell: type[nn.Module], vocab: int = 12, hidden: int = 8):
        super().__init__()
        self.embed = nn.Embedding(vocab, hidden)
        self.rnn = cell(hidden, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, hidden):
        out, hidden = self.rnn(self.embed(x), hidden)
        return self.head(out), hidden


def _batches(n: int = 4):
    data = torch.randint(0, 12, (n, 2, 7))  # (batches, B, T + 1)
    return [(b[:, :-1], b[:, 1:]) for b in data]


@case(
    "training-loop/lstm-retain-graph-adam",
    question="Why does my LSTM language model with loss.backward(retain_graph=True) fail at the second batch with 'is at version 2; expected version 1'?",
    expect="retain_graph=True is what PyTorch's first error message suggested, so now it should run.",
    outcome=Raises(RuntimeError, _STALE),
    fix="training-loop/repackage-hidden",
    see_also=(_WLM, "rnn-state/retain-graph-then-step", "training-loop/gru-retain-graph-adamw"),
)
def lstm_retain_graph_adam():
    """The carried `(h, c)` leads batch 2's backward into batch 1's graph, whose LSTM node saved
    the weight itself; `optimizer.step()` wrote that weight in place in between.

    On a CPU build with oneDNN, `nn.LSTM` records one `MkldnnRnnLayerBackward0` per layer, which
    saves the parameters themselves (`_saved_weight1` *is* `weight_hh_l0`, not a view). They are
    leaves, so the message names no node: "[torch.FloatTensor [32, 8]] is at version 2; expected
    version 1", no "which is output 0 of" clause, the shape being `weight_hh_l0`'s (4·hidden,
    hidden). Version 1 is the initialisation, 2 the one `addcdiv_` of Adam's step. The previous
    error, "backward through the graph a second time", had the same cause: the state was never
    detached. `retain_graph=True` only moved the failure to the next unpack; a build without
    oneDNN saves `weight_hh_l0.t()` instead and says "output 0 of AsStrided". Detach `(h, c)`
    at the start of each batch (`training-loop/repackage-hidden`) and drop `retain_graph`.
    """
    model = _LM(nn.LSTM)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    hidden = (torch.zeros(1, 2, 8), torch.zeros(1, 2, 8))  # (h_0, c_0): (layers, B, hidden)
    for x, y in _batches():
        logits, hidden = model(x, hidden)  # no detach: hidden leads into the last batch's graph
        loss = nn.functional.cross_entropy(logits.reshape(-1, 12), y.reshape(-1))
        optimizer.zero_grad()  # each step sees only this batch's gradient
        loss.backward(retain_graph=True)  # keep the old graph instead of cutting it
        optimizer.step()  # in place on every parameter: bumps its version


@case(
    "training-loop/gru-retain-graph-adamw",
    question="Why does my GRU with retain_graph=True and AdamW say 'is at version 3; expected version 1', two apart?",
    expect="Each optimizer step writes a weight once, so the two numbers differ by one per step.",
    outcome=Raises(RuntimeError, _STALE),
    fix="training-loop/repackage-hidden",
    see_also=(
        "versions/optimizer-step-bumps-version",
        "training-loop/lstm-retain-graph-adam",
        "rnn-state/retain-graph-versions",
    ),
)
def gru_retain_graph_adamw():
    """AdamW writes each parameter twice per step, first the decoupled weight decay
    (`param.mul_(1 - lr * weight_decay)`), then the Adam update (`addcdiv_`): one step, a gap of 2.

    The GRU's state, carried without a detach, leads batch 2's backward into batch 1's graph.
    On the CPU, `nn.GRU` runs `addmm(b, h, weight_hh.t())` at each time step, and
    `AddmmBackward0` saved `mat2 = weight_hh_l0.t()` (a view, named "output 0 of AsStrided" once
    its base was written) at version 1. AdamW's step bumped it to 3: "[torch.FloatTensor [8,
    24]], which is output 0 of AsStrided, is at version 3; expected version 1" (the transposed
    (3·hidden, hidden) weight). With `weight_decay=0` AdamW skips the `mul_` and the gap is 1,
    as with Adam or SGD. The numbers point at the optimizer, the clause at a view of a weight;
    the fix is the same as for the LSTM: detach the state, do not retain the graph.
    """
    model = _LM(nn.GRU)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    h = torch.zeros(1, 2, 8)  # (layers, B, hidden)
    for x, y in _batches():
        logits, h = model(x, h)  # no detach: h leads into the last batch's graph
        loss = nn.functional.cross_entropy(logits.reshape(-1, 12), y.reshape(-1))
        optimizer.zero_grad()  # each step sees only this batch's gradient
        loss.backward(retain_graph=True)  # keep the old graph instead of cutting it
        optimizer.step()  # two in-place writes per parameter: weight decay, then the update


def repackage_hidden(h):
    """Cut the graph behind a recurrent state, tensor or (h, c) tuple (word_language_model's name)."""
    if isinstance(h, torch.Tensor):
        return h.detach()  # same values, no history: the next backward stops here
    return tuple(repackage_hidden(v) for v in h)


@case(
    "training-loop/repackage-hidden",
    question="How do I carry an LSTM's or GRU's state across batches and still step Adam or AdamW?",
    expect="The state has to keep its graph, or the model cannot learn across batch boundaries.",
    outcome=Returns(
        {
            "LSTM + Adam: batches trained": 4,
            "GRU + AdamW: batches trained": 4,
            "state requires grad after the loop": Satisfies(
                lambda flags: flags == [True, True], "True: only the last batch's graph"
            ),
        }
    ),
    see_also=(_WLM, "rnn-state/detach-in-place", "detach/lstm-tuple-state-both"),
)
def repackage_hidden_case():
    """Detach the state at the start of every batch, every tensor of it (`h` and `c` for an LSTM),
    and call a plain `loss.backward()`: each backward stops at the detached state.

    `repackage_hidden` (PyTorch's word_language_model example) returns `h.detach()`, the same
    values with no `grad_fn`, for each tensor of the state. Batch k's graph then starts at
    leaves that need no gradient, its backward never reaches batch k − 1's nodes, and no saved
    tensor of an earlier batch is unpacked after the step wrote the weights. The state still
    requires grad at the end of each forward (it is computed from the weights) and is cut again
    before the next one. Gradients flow within a batch only, which is truncated BPTT; the model
    still carries *information* across batches through the values.
    """
    trained, flags = {}, []
    for cell, make in [
        (nn.LSTM, lambda p: torch.optim.Adam(p, lr=1e-3)),
        (nn.GRU, lambda p: torch.optim.AdamW(p, lr=1e-3, weight_decay=0.01)),
    ]:
        model = _LM(cell)
        optimizer = make(model.parameters())
        hidden = (torch.zeros(1, 2, 8),) * 2 if cell is nn.LSTM else torch.zeros(1, 2, 8)
        label = (
            "LSTM + Adam: batches trained" if cell is nn.LSTM else "GRU + AdamW: batches trained"
        )
        trained[label] = 0
        for x, y in _batches():
            hidden = repackage_hidden(hidden)  # cut the graph behind the carried state
            logits, hidden = model(x, hidden)
            loss = nn.functional.cross_entropy(logits.reshape(-1, 12), y.reshape(-1))
            optimizer.zero_grad()  # each step sees only this batch's gradient
            loss.backward()  # no retain_graph: nothing earlier is reached
            optimizer.step()
            trained[label] += 1
        flags.append((hidden[0] if cell is nn.LSTM else hidden).requires_grad)
    return {**trained, "state requires grad after the loop": flags}

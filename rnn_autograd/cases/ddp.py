"""Autograd under DistributedDataParallel: unused parameters, a second backward, in-place changes.

DDP's reducer puts every parameter in a *bucket* and adds a post-hook to each parameter's
``AccumulateGrad`` node. When the hook fires, the gradient (divided by the world size) is copied
into its bucket; when every gradient of a bucket has arrived, that bucket is all-reduced, buckets
in order; once the last one is launched, a callback at the end of the backward waits for them and
copies the averages back into ``.grad``. Each case here runs on two real processes (gloo on
127.0.0.1): what breaks is what that bookkeeping expects and a loop does not give it.
"""

from __future__ import annotations

import re

import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from ..spec import Raises, Returns, case
from ._ddp import (
    TinyRNN,
    batch_of,
    grads_same_on_every_rank,
    loss_of,
    rank_rows,
    stream,
    three_iterations_with_a_spare,
)

_DDP_NOTES = "https://pytorch.org/docs/stable/notes/ddp.html"
_DDP_API = (
    "https://pytorch.org/docs/stable/generated/torch.nn.parallel.DistributedDataParallel.html"
)
_PRIOR_REDUCTION = r"Expected to have finished reduction in the prior iteration"


@case(
    "ddp/unused-parameter",
    question="Why does the second iteration under DDP fail with 'Expected to have finished reduction in the prior iteration'?",
    expect="A parameter that the loss does not use just gets no gradient, as it does in one process.",
    outcome=Raises(RuntimeError, _PRIOR_REDUCTION + r".*parameters that were not used"),
    fix="ddp/find-unused-parameters",
    see_also=(_DDP_NOTES, "ddp/unused-parameter-grads-not-averaged", "ddp/static-graph"),
    ranks=2,
)
def unused_parameter(rank, world_size):
    """The reducer waits for a gradient from *every* parameter before it all-reduces the last
    bucket; `spare` never gets one, so the first iteration never finishes its reduction, and the
    next forward refuses to start.

    Without `find_unused_parameters`, DDP assumes every parameter's `AccumulateGrad` hook fires
    in each backward. `spare` is not in the graph of `loss`, so its hook never fires, its bucket
    (here the only one: the model is far below the 25 MiB bucket cap) never has all its
    gradients, and the all-reduce of that bucket is never launched. The reducer marks itself as
    needing to finalize as soon as the first gradient arrives; the finalize callback is queued
    only when the last bucket is launched. The next forward checks (before the model runs) that
    the previous reduction was finalized, and raises on every rank: the message lists the
    indices of the parameters that got no gradient on that rank (here `spare.weight` and
    `spare.bias`, read back in `ddp/unused-parameter-grads-not-averaged`). The first backward itself returned without error, with gradients that were never
    averaged (`ddp/unused-parameter-grads-not-averaged`).
    """
    model = DDP(TinyRNN(spare="unused"))  # a spare head: in the model, not in the loss
    X, Y = batch_of(rank_rows(stream(4, 2), rank, world_size), 0)
    for _ in range(2):
        logits, _ = model(X, model.module.begin_state(X.shape[0]))
        loss_of(logits, Y).backward()  # spare's AccumulateGrad hook never fires


@case(
    "ddp/unused-parameter-grads-not-averaged",
    question="Before the reduction error, what gradients does the first backward leave under DDP?",
    outcome=Returns(
        {
            "out.weight.grad the same on both ranks": False,
            "out.weight.grad equals this rank's own gradient": True,
            "spare.weight.grad": None,
            "parameters the next forward's error names": ["spare.weight", "spare.bias"],
        }
    ),
    see_also=("ddp/unused-parameter", _DDP_NOTES),
    ranks=2,
)
def unused_parameter_grads_not_averaged(rank, world_size):
    """The first backward returns without error, but with each rank's *own* gradient in `.grad`:
    the bucket waiting for `spare` was never all-reduced, so nothing was averaged.

    The reducer copies each arriving gradient, divided by the world size, into a separate bucket
    tensor and leaves `.grad` as `AccumulateGrad` wrote it; only the finalize step, after the
    bucket's all-reduce, writes the average back into `.grad`. With the bucket stuck, `.grad`
    keeps the local gradient: the two ranks hold different gradients, and an optimizer step
    taken now would make their models differ. The error of `ddp/unused-parameter` comes one
    forward later; this is the iteration before it. That error's message ends with "Parameter
    indices which did not receive grad for rank 0: 6 7", indices into `model.parameters()`:
    read back, they are the spare head's.
    """
    model = DDP(TinyRNN(spare="unused"))
    X, Y = batch_of(rank_rows(stream(4, 2), rank, world_size), 0)
    reference = TinyRNN(
        spare="unused"
    )  # the same weights (same seed), outside DDP: this rank's own gradient
    reference.load_state_dict(model.module.state_dict())
    logits, _ = model(X, model.module.begin_state(X.shape[0]))
    loss_of(logits, Y).backward()
    ref_logits, _ = reference(X, reference.begin_state(X.shape[0]))
    loss_of(ref_logits, Y).backward()
    try:
        model(X, model.module.begin_state(X.shape[0]))  # the next forward: the reduction error
        named = []
    except RuntimeError as exc:
        indices = re.search(r"did not receive grad for rank \d+: ([\d ]+)", str(exc)).group(1)
        names = [name for name, _ in model.module.named_parameters()]
        named = [names[int(i)] for i in indices.split()]
    return {
        "out.weight.grad the same on both ranks": grads_same_on_every_rank(model.module.out),
        "out.weight.grad equals this rank's own gradient": torch.equal(
            model.module.out.weight.grad, reference.out.weight.grad
        ),
        "spare.weight.grad": model.module.spare.weight.grad,
        "parameters the next forward's error names": named,
    }


@case(
    "ddp/find-unused-parameters",
    question="How does find_unused_parameters=True let DDP train a model with a parameter the loss never uses?",
    outcome=Returns(
        {
            "iterations": 3,
            "gradients the same on both ranks after each": [True, True, True],
            "spare.weight.grad": None,
        }
    ),
    see_also=(_DDP_API, "ddp/static-graph"),
    ranks=2,
)
def find_unused_parameters(rank, world_size):
    """With `find_unused_parameters=True`, after every forward the reducer walks the graph behind
    the outputs, and at the backward's first hook it marks every parameter the walk did not
    reach as ready, so every bucket completes and is all-reduced.

    The walk starts at the `grad_fn` of every tensor the forward returned and collects the
    `AccumulateGrad` nodes it meets; `spare`'s is not among them. When the first hook of the
    backward fires, the reducer marks `spare` ready without a gradient (its slot in the bucket is
    zeroed), the bucket completes and is averaged. The ranks also all-reduce a map of which
    parameters were used anywhere; one that no rank used keeps `.grad` untouched (None), as in
    one process. The price is that graph walk on every iteration; torch warns when the flag finds
    nothing unused. If the set of unused parameters never changes, `static_graph=True` finds it
    once (`ddp/static-graph`).
    """
    model = DDP(TinyRNN(spare="unused"), find_unused_parameters=True)
    return three_iterations_with_a_spare(model, rank, world_size)


@case(
    "ddp/static-graph",
    question="Does static_graph=True also let DDP train with a parameter that is never used?",
    outcome=Returns(
        {
            "iterations": 3,
            "gradients the same on both ranks after each": [True, True, True],
            "spare.weight.grad": None,
        }
    ),
    see_also=(_DDP_API, "ddp/find-unused-parameters", "ddp/static-graph-changed"),
    ranks=2,
)
def static_graph(rank, world_size):
    """Yes: with `static_graph=True` the reducer learns in the first iteration which parameters
    are used and how often each hook fires, and trusts that for every later iteration.

    In the first iteration it only counts the hook calls of every parameter and all-reduces all
    buckets at the end of the backward; from the second on, a parameter is ready when its hook
    has fired as often as in the first, and the parameters unused then (`spare`) are marked ready
    without a graph walk. A graph that does change (a parameter used in the first iteration and
    not in a later one) raises a variant of the reduction error that says so
    (`ddp/static-graph-changed`).
    """
    model = DDP(TinyRNN(spare="unused"), static_graph=True)
    return three_iterations_with_a_spare(model, rank, world_size)


@case(
    "ddp/static-graph-changed",
    question="What does static_graph=True say when a parameter used in the first iteration goes unused later?",
    expect="static_graph only speeds things up; a graph that changes just trains more slowly.",
    outcome=Raises(RuntimeError, _PRIOR_REDUCTION + r".*your training graph has changed"),
    fix="ddp/find-unused-parameters",
    see_also=(_DDP_API, "ddp/static-graph"),
    ranks=2,
)
def static_graph_changed(rank, world_size):
    """The reduction error again, in its static-graph words: the first iteration taught the
    reducer that `spare` gets a gradient, the second gives it none, so the second never
    finishes its reduction and the third forward refuses to start.

    After the first iteration a parameter is ready when its hook has fired as often as it did
    then; `spare`'s hook does not fire in the second backward, its bucket is never launched, and
    the next forward's check finds the round unfinished, the same check as in
    `ddp/unused-parameter`, with a message that blames the changed graph. A graph whose set of
    used parameters changes needs `find_unused_parameters=True`, which walks the graph anew
    every iteration.
    """
    model = DDP(TinyRNN(spare="output"), static_graph=True)
    table = rank_rows(stream(4, 3), rank, world_size)
    for b in range(3):
        X, Y = batch_of(table, b)
        model.zero_grad(set_to_none=True)  # each iteration's gradient on its own
        (main, aux), _ = model(X, model.module.begin_state(X.shape[0]))
        loss = loss_of(main, Y) + (loss_of(aux, Y) if b == 0 else 0)  # spare: first time only
        loss.backward()


@case(
    "ddp/second-backward-not-averaged",
    question="Under DDP, does a second backward through the same graph (retain_graph=True) average its gradient too?",
    outcome=Returns(
        {
            "gradients the same on both ranks after backward 1": True,
            "gradients the same on both ranks after backward 2": False,
        }
    ),
    see_also=("ddp/one-backward-per-forward", "graph/backward-through-freed-graph"),
    ranks=2,
)
def second_backward_not_averaged(rank, world_size):
    """No: DDP all-reduces once per forward. The second backward adds each rank's own gradient
    to `.grad`, unaveraged, and the ranks' gradients part silently.

    Every parameter is in this loss (both heads), so the first backward fires every hook, every
    bucket is all-reduced and the round is finalized. A forward (with grad enabled and outside `no_sync`) tells the reducer to expect one round of
    hooks; the round's finalize, at the end of the first backward, tells it to expect none. The
    second backward's `AccumulateGrad` hooks still fire, but the reducer ignores them (the same
    switch `no_sync` relies on), so `AccumulateGrad` adds the local gradient to the averaged one
    and nothing averages the sum. No error: the ranks' models diverge from the next step on.
    """
    model = DDP(TinyRNN(spare="output"))  # both heads in the loss: every parameter is used
    X, Y = batch_of(rank_rows(stream(4, 1), rank, world_size), 0)
    (main, aux), _ = model(X, model.module.begin_state(X.shape[0]))
    loss = loss_of(main, Y) + loss_of(aux, (Y + 1) % 6)
    loss.backward(retain_graph=True)  # keep the graph for a second backward
    after_first = grads_same_on_every_rank(model.module)
    loss.backward()  # through the same graph again: hooks fire, the reducer ignores them
    return {
        "gradients the same on both ranks after backward 1": after_first,
        "gradients the same on both ranks after backward 2": grads_same_on_every_rank(model.module),
    }


@case(
    "ddp/two-backwards-marks-twice",
    question="Why do two backwards after one forward, one loss each, fail under DDP with 'Expected to mark a variable ready only once'?",
    expect="Two losses backpropagated one after the other add up in .grad, as in one process.",
    outcome=Raises(RuntimeError, r"Expected to mark a variable ready only once"),
    fix="ddp/one-backward-per-forward",
    see_also=(_DDP_NOTES, "ddp/second-backward-not-averaged"),
    ranks=2,
)
def two_backwards_marks_twice(rank, world_size):
    """The first loss reaches the RNN and `out` but not `spare`, so its backward leaves the
    reduction unfinished; the second loss reaches the RNN again, and a parameter already marked
    ready in this iteration is marked a second time.

    Here the spare head gives a second output, for a second loss. The first backward fires the hooks of the
    RNN's and `out`'s parameters; `spare`'s bucket slot stays empty, the bucket is not launched,
    and the reducer keeps expecting hooks. The second backward, through `spare` and the shared
    RNN, fires the RNN's hooks again: the reducer records every parameter it marks ready in an
    iteration, and refuses a second mark (a hook that fires twice in one backward, as with
    reentrant `checkpoint`, meets the same check). Compare `ddp/second-backward-not-averaged`:
    when the first backward reaches *every* parameter, the round finishes and the second
    backward is ignored instead.
    """
    model = DDP(TinyRNN(spare="output"))  # two outputs, one loss each
    X, Y = batch_of(rank_rows(stream(4, 1), rank, world_size), 0)
    (main, aux), _ = model(X, model.module.begin_state(X.shape[0]))  # one round of hooks
    loss_of(main, Y).backward(retain_graph=True)  # rnn and out marked; spare's bucket waits
    loss_of(aux, (Y + 1) % 6).backward()  # the shared rnn's hooks fire a second time


@case(
    "ddp/one-backward-per-forward",
    question="How do I backpropagate two losses (or the same graph twice) under DDP?",
    outcome=Returns(
        {
            "backwards per forward": 1,
            "gradients the same on both ranks": True,
            "equals the sum of the two losses' gradients, averaged": True,
        }
    ),
    see_also=(_DDP_NOTES, "ddp/two-backwards-marks-twice"),
    ranks=2,
)
def one_backward_per_forward(rank, world_size):
    """Add the losses and call `backward()` once: one forward, one round of hooks, every
    parameter marked once, one averaged gradient.

    The gradient of a sum is the sum of the gradients, so `(loss_a + loss_b).backward()` leaves
    in `.grad` what the two backwards would have added up in one process, and the reducer sees
    each parameter's hook fire exactly once (`AccumulateGrad` runs once per backward, after the
    engine has summed every path into the parameter). Averaging is linear, so the result equals
    the average over ranks of each rank's two gradients added up; the check below computes that
    by hand, outside DDP, and compares.
    """
    model = DDP(TinyRNN(spare="output"))  # every parameter is used by one loss or both
    X, Y = batch_of(rank_rows(stream(4, 1), rank, world_size), 0)
    (main, aux), _ = model(X, model.module.begin_state(X.shape[0]))
    (loss_of(main, Y) + loss_of(aux, (Y + 1) % 6)).backward()  # one backward: each hook once
    by_hand = TinyRNN(spare="output")  # the same weights, outside DDP: one loss at a time
    by_hand.load_state_dict(model.module.state_dict())
    for head, target in ((0, Y), (1, (Y + 1) % 6)):
        outputs, _ = by_hand(X, by_hand.begin_state(X.shape[0]))
        loss_of(outputs[head], target).backward()  # adds into .grad, as one process does
    average = [p.grad / world_size for p in by_hand.parameters()]
    for a in average:
        torch.distributed.all_reduce(a)  # in place: the sum over ranks of grad / world_size
    return {
        "backwards per forward": 1,
        "gradients the same on both ranks": grads_same_on_every_rank(model.module),
        "equals the sum of the two losses' gradients, averaged": all(
            torch.allclose(p.grad, a, rtol=1e-5, atol=1e-7)
            for p, a in zip(model.module.parameters(), average, strict=True)
        ),
    }

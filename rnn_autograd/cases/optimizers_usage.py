"""Using an optimizer: schedulers, sparse gradients, closures, saved state, clipping."""

from __future__ import annotations

import torch

from ..spec import Close, Raises, Returns, Warned, case

_SCHED = "https://pytorch.org/docs/stable/optim.html#how-to-adjust-learning-rate"


@case(
    "optimizers/scheduler-before-step",
    question="Why does PyTorch warn 'Detected call of `lr_scheduler.step()` before `optimizer.step()`'?",
    outcome=Returns(
        {"lr used by the first step": 0.05},
        warns=(
            Warned(
                UserWarning,
                r"Detected call of `lr_scheduler\.step\(\)` before `optimizer\.step\(\)`",
            ),
        ),
    ),
    see_also=("optimizers/scheduler-after-step", _SCHED),
)
def scheduler_before_step():
    """The scheduler's first `step()` moves to the second learning rate; called before the
    optimizer's first step, it makes the first update use a rate meant for the second epoch.

    A scheduler wraps `optimizer.step` with a counter when it is created; its own `step()` warns
    when that counter is still zero. Here `StepLR(step_size=1, gamma=0.5)` halves 0.1 to 0.05
    before any update, so the first epoch trains at 0.05. The order since PyTorch 1.1 is
    `optimizer.step()` then `scheduler.step()`.
    """
    w = torch.ones(1, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    sched.step()  # before any optimizer.step()
    w.sum().backward()
    opt.step()
    return {"lr used by the first step": opt.param_groups[0]["lr"]}


@case(
    "optimizers/scheduler-after-step",
    question="In which order do I call optimizer.step() and scheduler.step()?",
    outcome=Returns({"lr used by the first step": 0.1, "lr after the first epoch": 0.05}),
    see_also=("optimizers/scheduler-before-step",),
)
def scheduler_after_step():
    """Step the optimizer for every batch of the epoch, then the scheduler once per epoch (for
    epoch-based schedulers): the first epoch uses the initial rate.

    No warning: the wrapped `optimizer.step` counted one call before `scheduler.step()` ran.
    """
    w = torch.ones(1, requires_grad=True)
    opt = torch.optim.SGD([w], lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    w.sum().backward()
    first = opt.param_groups[0]["lr"]
    opt.step()
    sched.step()
    return {
        "lr used by the first step": first,
        "lr after the first epoch": opt.param_groups[0]["lr"],
    }


@case(
    "optimizers/adam-on-sparse-gradients",
    question="Why does Adam fail with 'Adam does not support sparse gradients, please consider SparseAdam instead'?",
    expect="Adam handles any gradient an embedding produces.",
    outcome=Raises(RuntimeError, r"Adam does not support sparse gradients"),
    fix="optimizers/sparse-embedding-with-sparse-adam",
    see_also=("https://pytorch.org/docs/stable/generated/torch.nn.Embedding.html",),
)
def adam_on_sparse_gradients():
    """`nn.Embedding(sparse=True)` makes backward produce a *sparse* `.grad` (only the looked-up
    rows); Adam's moment updates are written for dense tensors, and it checks `grad.is_sparse`
    at the first step.

    The backward of `embedding` with `sparse=True` returns a sparse COO tensor holding one row
    per index used. Adam keeps dense running averages of every entry; updating them from a
    sparse gradient would need different maths (rows not looked up decay differently), which is
    what `SparseAdam` implements. Or keep `sparse=False` (the default) and stay with Adam.
    """
    emb = torch.nn.Embedding(10, 3, sparse=True)
    opt = torch.optim.Adam(emb.parameters())
    emb(torch.tensor([1, 4])).sum().backward()
    opt.step()


@case(
    "optimizers/sparse-embedding-with-sparse-adam",
    question="How do I train a sparse embedding?",
    outcome=Returns({"grad is sparse": True, "rows changed": [1, 4]}),
    see_also=("optimizers/adam-on-sparse-gradients",),
)
def sparse_embedding_with_sparse_adam():
    """`SparseAdam` updates only the rows present in the sparse gradient, lazily: rows never
    looked up keep their value and their moments.

    The changed rows are exactly the indices of the batch.

    Each step reads the indices of the sparse gradient and updates those rows of the weight and
    of Adam's two moments only; a dense gradient is refused
    (`optimizers/sparse-adam-on-dense-gradients`).
    """
    emb = torch.nn.Embedding(10, 3, sparse=True)
    before = emb.weight.detach().clone()
    opt = torch.optim.SparseAdam(emb.parameters())
    emb(torch.tensor([1, 4])).sum().backward()
    sparse = emb.weight.grad.is_sparse
    opt.step()
    changed = (emb.weight.detach() != before).any(dim=1).nonzero().flatten().tolist()
    return {"grad is sparse": sparse, "rows changed": changed}


@case(
    "optimizers/lbfgs-without-closure",
    question="Why does LBFGS fail with \"step() missing 1 required positional argument: 'closure'\"?",
    expect="LBFGS steps like SGD once backward has filled .grad.",
    outcome=Raises(TypeError, r"missing 1 required positional argument: 'closure'"),
    fix="optimizers/lbfgs-with-closure",
    see_also=("https://pytorch.org/docs/stable/optim.html#optimizer-step-closure",),
)
def lbfgs_without_closure():
    """L-BFGS evaluates the loss several times per step (a line search, several inner
    iterations), so it needs a function that recomputes loss and gradients; `step()` without
    one cannot run.

    `LBFGS.step(closure)` has no default for `closure`: the error is Python's own for a missing
    argument. Pass a closure that zeroes the gradients, recomputes the loss, calls backward and
    returns the loss.
    """
    w = torch.ones(2, requires_grad=True)
    opt = torch.optim.LBFGS([w])
    (w - 3).pow(2).sum().backward()
    opt.step()


@case(
    "optimizers/lbfgs-with-closure",
    question="How do I step LBFGS?",
    outcome=Returns({"w close to the minimum": True}),
    see_also=("optimizers/lbfgs-without-closure",),
)
def lbfgs_with_closure():
    """Give `step` a closure: L-BFGS calls it as often as its inner iterations and line search
    need, each time with fresh gradients.

    The closure zeroes the gradients first (leaves accumulate into `.grad` across its calls).
    On this quadratic one step of up to 20 inner iterations reaches the minimum `w = 3`.
    """
    w = torch.ones(2, requires_grad=True)
    opt = torch.optim.LBFGS([w])

    def closure():
        opt.zero_grad()  # each evaluation starts from no gradient
        loss = (w - 3).pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return {"w close to the minimum": torch.allclose(w.detach(), torch.full((2,), 3.0))}


@case(
    "optimizers/load-state-dict-other-groups",
    question="Why does optimizer.load_state_dict fail with 'loaded state dict has a different number of parameter groups'?",
    expect="Loading an optimizer's state restores whatever it can.",
    outcome=Raises(ValueError, r"loaded state dict has a different number of parameter groups"),
    fix="optimizers/load-state-dict-same-layout",
    see_also=("optimizers/disjoint-param-groups",),
)
def load_state_dict_other_groups():
    """An optimizer's `state_dict` names parameters by position (group by group), not by name;
    it can only be loaded into an optimizer whose groups have the same count and sizes, and
    `load_state_dict` checks both before pairing anything.

    A checkpoint written with one group (all parameters) cannot be loaded into an optimizer
    built with two (body and head): the message names the group count; equal counts with other
    sizes raise "doesn't match the size of optimizer's group". Rebuild the optimizer with the
    layout it was saved with.
    """
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    saved = torch.optim.SGD(model.parameters(), lr=0.1).state_dict()
    opt = torch.optim.SGD(
        [{"params": model[0].parameters()}, {"params": model[1].parameters()}], lr=0.1
    )
    opt.load_state_dict(saved)


@case(
    "optimizers/load-state-dict-same-layout",
    question="How do I resume an optimizer's state (Adam's moments) from a checkpoint?",
    outcome=Returns({"state restored for": 4, "step": 1.0}),
    see_also=("optimizers/load-state-dict-other-groups",),
)
def load_state_dict_same_layout():
    """Build the optimizer over the same parameters in the same groups, then load: the state of
    the i-th saved parameter goes to the i-th parameter.

    After one Adam step every parameter has a state (`step`, `exp_avg`, `exp_avg_sq`); loaded
    into a new Adam over the same `model.parameters()`, all four tensors get theirs back.
    """
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    opt = torch.optim.Adam(model.parameters())
    model(torch.ones(1, 2)).sum().backward()
    opt.step()
    resumed = torch.optim.Adam(model.parameters())
    resumed.load_state_dict(opt.state_dict())
    state = resumed.state[model[0].weight]
    return {"state restored for": len(resumed.state), "step": float(state["step"])}


@case(
    "optimizers/clip-non-finite-norm",
    question="Why does clip_grad_norm_ fail with 'The total norm of order 2.0 for gradients from `parameters` is non-finite'?",
    expect="Clipping rescales even an infinite gradient to the maximum norm.",
    outcome=Raises(
        RuntimeError, r"The total norm of order .* for gradients from `parameters` is non-finite"
    ),
    fix="optimizers/clip-finite-norm",
    see_also=("https://pytorch.org/docs/stable/generated/torch.nn.utils.clip_grad_norm_.html",),
)
def clip_non_finite_norm():
    """Clipping divides every gradient by the total norm; with an `inf` or `nan` in one gradient
    the norm is not finite, the scaled gradients would be zeros or `nan`, and with
    `error_if_nonfinite=True` `clip_grad_norm_` raises instead.

    The total norm is the norm of the per-parameter norms; one `inf` makes it `inf`. With the
    default `error_if_nonfinite=False` it would scale by `max_norm / inf = 0` silently: finite
    entries become 0 and the `inf` itself `0 · inf = nan`. Find where the non-finite value comes from (here `log(0)`
    in the forward; `torch.autograd.detect_anomaly` names the backward op that produced it).
    """
    w = torch.tensor([0.0, 1.0], requires_grad=True)
    torch.log(w).sum().backward()  # d/dw log(w) = 1/w: inf at 0
    torch.nn.utils.clip_grad_norm_([w], max_norm=1.0, error_if_nonfinite=True)


@case(
    "optimizers/clip-finite-norm",
    question="What does clip_grad_norm_ do to finite gradients?",
    outcome=Returns({"norm before": 5.0, "grad after": Close(torch.tensor([0.6, 0.8]))}),
    see_also=("optimizers/clip-non-finite-norm",),
)
def clip_finite_norm():
    """It returns the total norm before clipping and scales every gradient in place by
    `max_norm / norm` when the norm exceeds `max_norm`.

    A gradient `(3, 4)` has norm 5; with `max_norm=1` it becomes `(0.6, 0.8)`.
    """
    w = torch.tensor([1.0, 1.0], requires_grad=True)
    (w * torch.tensor([3.0, 4.0])).sum().backward()
    norm = torch.nn.utils.clip_grad_norm_([w], max_norm=1.0)
    return {"norm before": round(float(norm), 6), "grad after": w.grad.clone()}


@case(
    "optimizers/negative-learning-rate",
    question="Why does the optimizer fail with 'Invalid learning rate: -0.1'?",
    expect="A negative learning rate makes gradient ascent.",
    outcome=Raises(ValueError, r"Invalid learning rate: "),
    fix="optimizers/scaled-init-as-leaf",
    see_also=("https://pytorch.org/docs/stable/optim.html",),
)
def negative_learning_rate():
    """The built-in optimizers check their hyperparameters when constructed and refuse a
    negative learning rate; ascent is written as `maximize=True` (or by negating the loss).

    `SGD.__init__` raises `ValueError` for `lr < 0`, before any group is added; Adam checks its
    `betas` and `eps` the same way.
    """
    w = torch.ones(1, requires_grad=True)
    torch.optim.SGD([w], lr=-0.1)

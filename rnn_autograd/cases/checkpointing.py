"""``torch.utils.checkpoint``: recomputing a forward in backward, and what must not change."""

from __future__ import annotations

import torch
from torch.utils.checkpoint import CheckpointError, checkpoint

from ..spec import ByTorch, Raises, Returns, Warned, case

_DOCS = "https://pytorch.org/docs/stable/checkpoint.html"
_NO_INPUT = r"None of the inputs have requires_grad=True\. Gradients will be None"
# torch 2.2.2's wording of the use_reentrant warning (checkpoint and checkpoint_sequential).
_PLEASE_PASS = r"{where}: please pass in use_reentrant=True or use_reentrant=False explicitly"


@case(
    "checkpoint/use-reentrant-not-passed",
    question="Why does checkpoint() warn 'the use_reentrant parameter should be passed explicitly'?",
    outcome=ByTorch(
        {
            "<2.7": Returns(
                {"x.grad": torch.tensor([2.0, 2.0])},
                warns=(
                    Warned(UserWarning, _PLEASE_PASS.format(where=r"torch\.utils\.checkpoint")),
                ),
            ),
            ">=2.7": Returns(
                {"x.grad": torch.tensor([2.0, 2.0])},
                warns=(
                    Warned(
                        UserWarning,
                        r"torch\.utils\.checkpoint: the use_reentrant parameter should be passed explicitly",
                    ),
                ),
            ),
        }
    ),
    see_also=("checkpoint/non-reentrant", _DOCS),
)
def use_reentrant_not_passed():
    """`checkpoint` has two implementations with different behaviour, and the default is
    changing from the old (reentrant) to the new one; until then, not choosing is warned about.

    Without `use_reentrant`, torch 2.13 still runs the reentrant variant and warns that a
    future release will require the argument. The result is the same here; the differences
    (`checkpoint/reentrant-needs-an-input-requiring-grad`, `checkpoint/reentrant-with-autograd-grad`)
    appear with parameters inside the function and with `autograd.grad`. Pass
    `use_reentrant=False`, the recommended one.

    torch 2.2.2 warns the same, in other words ("please pass in use_reentrant=True or
    use_reentrant=False explicitly"); the wording changed between 2.2.2 and 2.7.1, the recorded releases on either side.
    """
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    checkpoint(lambda t: t * 2, x).sum().backward()
    return {"x.grad": x.grad}


@case(
    "checkpoint/reentrant-needs-an-input-requiring-grad",
    question="Why does a checkpointed first layer warn 'None of the inputs have requires_grad=True' and then fail at backward?",
    expect="Checkpointing the first layer saves memory and trains it as before.",
    outcome=Raises(
        RuntimeError,
        r"element 0 of tensors does not require grad and does not have a grad_fn",
        warns=(Warned(UserWarning, _NO_INPUT),),
    ),
    fix="checkpoint/non-reentrant",
    see_also=(_DOCS,),
)
def reentrant_needs_an_input_requiring_grad():
    """Reentrant checkpoint is an `autograd.Function` whose forward runs the layer under
    `no_grad`: its output requires grad only if one of its *explicit inputs* does. The layer's
    parameters are not inputs, so with a plain data batch the output is a constant.

    `CheckpointFunction.apply(fn, x)` records a node only if `x` requires grad; it warns when no
    input does, and returns an output without `grad_fn`. The parameters inside the layer never
    enter the graph, and `loss.backward()` finds no root. `use_reentrant=False` does not have
    this limitation: it records the forward normally and only drops what it saved.
    """
    layer = torch.nn.Linear(3, 2)
    x = torch.randn(4, 3)  # a data batch: does not require grad
    checkpoint(layer, x, use_reentrant=True).sum().backward()


@case(
    "checkpoint/non-reentrant",
    question="How do I checkpoint a layer so that its parameters get gradients, whatever its inputs?",
    outcome=Returns({"layer.weight.grad is set": True, "same as without checkpoint": True}),
    see_also=("checkpoint/reentrant-needs-an-input-requiring-grad", _DOCS),
)
def non_reentrant():
    """`use_reentrant=False` runs the forward with grad mode on and intercepts what each op
    saves (saved-tensor hooks): the graph is recorded as usual, parameters included, and the
    saved tensors are recomputed in backward.

    The gradients equal those of the same layer without checkpoint; only the memory held
    between forward and backward differs.
    """
    layer = torch.nn.Linear(3, 2)
    x = torch.randn(4, 3)
    checkpoint(layer, x, use_reentrant=False).pow(2).sum().backward()
    ckpt = layer.weight.grad.clone()
    layer.weight.grad = None  # leaves accumulate: compare from no gradient
    layer(x).pow(2).sum().backward()
    return {
        "layer.weight.grad is set": ckpt is not None,
        "same as without checkpoint": torch.allclose(ckpt, layer.weight.grad),
    }


@case(
    "checkpoint/reentrant-with-autograd-grad",
    question="Why does autograd.grad through a checkpoint fail with 'When use_reentrant=True, torch.utils.checkpoint is incompatible with .grad()'?",
    expect="autograd.grad works through a checkpointed layer as through any other.",
    outcome=ByTorch(
        {
            "<2.7": Raises(
                RuntimeError,
                r"Checkpointing is not compatible with \.grad\(\) or when an `inputs` parameter is passed",
            ),
            ">=2.7": Raises(
                RuntimeError,
                r"When use_reentrant=True, torch\.utils\.checkpoint is incompatible with \.grad\(\)",
            ),
        }
    ),
    fix="checkpoint/non-reentrant",
    see_also=(_DOCS,),
)
def reentrant_with_autograd_grad():
    """The reentrant variant's backward recomputes the forward and calls `backward` on it from
    inside the engine; an inner `backward` accumulates into leaves, it cannot hand gradients
    back to an outer `autograd.grad` (or a `backward(inputs=...)`), so the combination is
    refused.

    `CheckpointFunction.backward` checks that the engine is running a plain backward before
    recomputing. The non-reentrant variant has no inner backward and works with both.

    torch 2.2.2 refuses the same combination with another message ("Checkpointing is not
    compatible with .grad() or when an `inputs` parameter is passed to .backward()"); it was
    reworded between 2.2.2 and 2.7.1, the recorded releases on either side.
    """
    layer = torch.nn.Linear(3, 2)
    x = torch.randn(4, 3, requires_grad=True)
    torch.autograd.grad(checkpoint(layer, x, use_reentrant=True).sum(), x)


def _flaky(counter: list[int]):
    def layer(t: torch.Tensor) -> torch.Tensor:
        counter[0] += 1
        # The first call (forward) and the second (recomputation) take different paths.
        return t.sin().cos() if counter[0] == 1 else t.sin()

    return layer


@case(
    "checkpoint/recompute-saves-fewer-tensors",
    question="Why does backward fail with 'torch.utils.checkpoint: A different number of tensors was saved during the original forward and recomputation'?",
    expect="A checkpointed function is recomputed exactly, whatever Python state it reads.",
    outcome=Raises(
        CheckpointError,
        r"A different number of tensors was saved during the original forward and recomputation",
    ),
    fix="checkpoint/non-reentrant",
    see_also=(_DOCS,),
)
def recompute_saves_fewer_tensors():
    """Backward recomputes the function and pairs what the recomputation saves with what the
    forward saved, one by one; a function whose path depends on Python state (a counter, a
    flag flipped between forward and backward, a cache) saves something else the second time.

    Here the forward ran `sin` then `cos` (two saved tensors), the recomputation only `sin`
    (one). The non-reentrant checkpoint counts the tensors saved in each run and raises
    `CheckpointError`. A recomputation that saves *more* is tolerated: it stops as soon as every
    tensor of the forward has been recomputed. Make the function depend only on its inputs
    (and on the RNG, which checkpoint restores by default).
    """
    calls = [0]
    x = torch.randn(3, requires_grad=True)
    checkpoint(_flaky(calls), x, use_reentrant=False).sum().backward()


@case(
    "checkpoint/recompute-other-metadata",
    question="Why does backward fail with 'torch.utils.checkpoint: Recomputed values for the following tensors have different metadata'?",
    expect="Recomputing in another dtype gives values close enough.",
    outcome=Raises(
        CheckpointError, r"Recomputed values for the following tensors have different metadata"
    ),
    fix="checkpoint/non-reentrant",
    see_also=("checkpoint/recompute-saves-fewer-tensors", _DOCS),
)
def recompute_other_metadata():
    """Each recomputed tensor replaces a saved one in the forward's graph, so it must have the
    same shape, dtype and device; the non-reentrant checkpoint compares them and lists every
    tensor that differs.

    The function computes in float32 the first time and in float64 the second (a global
    setting read inside, like a precision flag or an autocast state that differs at backward);
    `t * t` saves `t` in each, and the saved metadata no longer match.
    """
    calls = [0]

    def layer(t):
        calls[0] += 1
        t = t if calls[0] == 1 else t.double()  # the recomputation runs in float64
        return (t * t).float()

    x = torch.randn(3, requires_grad=True)
    checkpoint(layer, x, use_reentrant=False).sum().backward()


@case(
    "checkpoint/dropout-is-replayed",
    question="Does a checkpointed layer with dropout use the same mask in the recomputation?",
    outcome=Returns(
        {"same gradient as without checkpoint": True, "mask differs when not preserved": True}
    ),
    see_also=(_DOCS,),
)
def dropout_is_replayed():
    """Yes: with `preserve_rng_state=True` (the default) checkpoint saves the RNG state before
    the forward and restores it for the recomputation, so dropout draws the same mask; with
    `False` it draws a new one, and the gradient is silently that of another mask.

    No error in either case: a different mask has the same metadata and the same number of
    saved tensors, which is all checkpoint can check.
    """
    drop = torch.nn.Dropout(0.5)
    x = torch.ones(64, requires_grad=True)

    def grad_of(fn):
        x.grad = None  # leaves accumulate: each run from no gradient
        torch.manual_seed(1)
        fn(x).exp().sum().backward()
        return x.grad.clone()

    plain = grad_of(drop)
    kept = grad_of(lambda t: checkpoint(drop, t, use_reentrant=False))
    lost = grad_of(lambda t: checkpoint(drop, t, use_reentrant=False, preserve_rng_state=False))
    return {
        "same gradient as without checkpoint": torch.equal(plain, kept),
        "mask differs when not preserved": not torch.equal(plain, lost),
    }

"""Checkpoint options and their limits: keyword arguments, context_fn, early stop, sequential."""

from __future__ import annotations

import torch
from torch.utils.checkpoint import CheckpointError, checkpoint, checkpoint_sequential

from ..spec import ByTorch, Raises, Returns, Warned, case

_DOCS = "https://pytorch.org/docs/stable/checkpoint.html"


@case(
    "checkpoint/keyword-arguments-non-reentrant",
    question="How do I pass keyword arguments to a checkpointed function?",
    outcome=Returns({"x.grad": torch.tensor([3.0, 3.0])}),
    see_also=("checkpoint/keyword-arguments-reentrant", _DOCS),
)
def keyword_arguments_non_reentrant():
    """`checkpoint(fn, *args, use_reentrant=False, **kwargs)` forwards the keyword arguments to
    `fn`, in the forward and in the recomputation alike.

    The non-reentrant variant stores the function with its arguments, positional and keyword,
    and calls it again with both in backward, so the recomputation sees `scale=3.0` too:
    `x.grad` is 3.
    """
    x = torch.ones(2, requires_grad=True)
    checkpoint(lambda t, scale=1.0: t * scale, x, use_reentrant=False, scale=3.0).sum().backward()
    return {"x.grad": x.grad}


@case(
    "checkpoint/keyword-arguments-reentrant",
    question="Why does checkpoint(fn, x, use_reentrant=True, scale=2) fail with 'Unexpected keyword arguments: scale'?",
    expect="Keyword arguments are passed on to the function.",
    outcome=Raises(ValueError, r"Unexpected keyword arguments: "),
    fix="checkpoint/keyword-arguments-non-reentrant",
    see_also=(_DOCS,),
)
def keyword_arguments_reentrant():
    """The reentrant variant is an `autograd.Function`, whose `apply` takes positional
    arguments only; `checkpoint` refuses keywords for it rather than drop them.

    The check is made when `checkpoint` is called, before anything runs. Bind the keyword first
    (`functools.partial(fn, scale=2)`) to keep the reentrant variant, or pass
    `use_reentrant=False`, which forwards keywords
    (`checkpoint/keyword-arguments-non-reentrant`).
    """
    x = torch.ones(2, requires_grad=True)
    checkpoint(lambda t, scale=1.0: t * scale, x, use_reentrant=True, scale=2.0)


@case(
    "checkpoint/debug-with-reentrant",
    question="Why does checkpoint fail with 'Passing `context_fn` or `debug` is only supported when use_reentrant=False'?",
    expect="debug=True works with either implementation.",
    outcome=Raises(
        ValueError, r"Passing `context_fn`.*`debug`.* is only supported when use_reentrant=False"
    ),
    fix="checkpoint/keyword-arguments-non-reentrant",
    see_also=(_DOCS,),
)
def debug_with_reentrant():
    """`context_fn` (selective checkpointing) and `debug` are built on the saved-tensor hooks of
    the non-reentrant implementation; the reentrant one has no such hooks to configure.

    The check runs when `checkpoint` is called, before the function: with `use_reentrant=False`
    the same arguments are accepted, and `debug=True` then records the ops of both runs to
    explain a mismatch. (torch 2.14.1 adds `respect_saved_tensors_hooks` to the list the message
    names; the fragment matches both wordings.)
    """
    checkpoint(lambda t: t.sin(), torch.ones(2, requires_grad=True), use_reentrant=True, debug=True)


@case(
    "checkpoint/reentrant-output-not-requiring-grad",
    question="Why does backward fail with 'none of output has requires_grad=True, this checkpoint() is not necessary'?",
    expect="A checkpointed branch that returns a detached value is simply skipped in backward.",
    outcome=Raises(
        RuntimeError, r"none of output has requires_grad=True, this checkpoint\(\) is not necessary"
    ),
    fix="checkpoint/non-reentrant",
    see_also=("checkpoint/reentrant-needs-an-input-requiring-grad",),
)
def reentrant_output_not_requiring_grad():
    """When the reentrant checkpoint's node runs in backward, it recomputes the function and
    backpropagates through its outputs; if none of them requires grad (the function detached
    them), there is nothing to backpropagate, and it raises. Here the node is reached because
    the checkpoint's input requires grad and the loss also uses `x` directly.
    """
    x = torch.ones(3, requires_grad=True)
    y = checkpoint(lambda t: t.detach() * 2, x, use_reentrant=True)
    (y.sum() + x.sum()).backward()


@case(
    "checkpoint/recompute-saves-more-tensors",
    question="Why does backward fail with 'torch.utils.checkpoint: trying to save more tensors during recomputation than during the original forward pass'?",
    expect="Extra tensors saved by the recomputation are ignored.",
    outcome=Raises(
        CheckpointError,
        r"trying to save more tensors during recomputation than during the original forward pass",
    ),
    fix="checkpoint/non-reentrant",
    see_also=("checkpoint/recompute-saves-fewer-tensors",),
)
def recompute_saves_more_tensors():
    """With early stop (the default), a recomputation that does *more* than the forward stops
    once every saved tensor is recovered, and extra work is never seen. With early stop off
    (`set_checkpoint_early_stop(False)`) the recomputation runs to the end, and saving more than
    the forward did is an error.

    The function takes another path the second time (a Python counter), as in
    `checkpoint/recompute-saves-fewer-tensors`; `determinism_check="none"` skips the metadata
    comparison so that the count is what fails.
    """
    calls = [0]

    def layer(t):
        calls[0] += 1
        return t.sin() if calls[0] == 1 else t.sin().cos().exp()

    x = torch.randn(3, requires_grad=True)
    with torch.utils.checkpoint.set_checkpoint_early_stop(False):
        checkpoint(layer, x, use_reentrant=False, determinism_check="none").sum().backward()


@case(
    "checkpoint/saved-tensors-read-twice",
    question="Why does a custom Function under checkpoint fail with 'Unpack is being triggered for a tensor that was already unpacked once'?",
    expect="ctx.saved_tensors can be read as often as I like.",
    outcome=Raises(
        CheckpointError, r"Unpack is being triggered for a tensor that was already unpacked once"
    ),
    fix="checkpoint/non-reentrant",
    see_also=("custom-function/one-gradient-per-input",),
)
def saved_tensors_read_twice():
    """Non-reentrant checkpoint frees each recomputed tensor as soon as it has been unpacked
    once, to keep memory low; a backward that reads `ctx.saved_tensors` twice asks for a tensor
    already given away. Read it once and keep the local variable.
    """

    class Square(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            (x,) = ctx.saved_tensors  # a second unpack of the same saved tensor
            return 2 * x * grad

    x = torch.ones(3, requires_grad=True)
    checkpoint(lambda t: Square.apply(t.sin()), x, use_reentrant=False).sum().backward()


@case(
    "checkpoint/sequential-use-reentrant-not-passed",
    question="Why does checkpoint_sequential warn 'the use_reentrant parameter should be passed explicitly'?",
    outcome=ByTorch(
        {
            "<2.7": Returns(
                {"first layer's weight.grad is set": True},
                warns=(
                    Warned(
                        UserWarning,
                        r"torch\.utils\.checkpoint\.checkpoint_sequential: please pass in use_reentrant=True or use_reentrant=False explicitly",
                    ),
                ),
            ),
            ">=2.7": Returns(
                {"first layer's weight.grad is set": True},
                warns=(
                    Warned(
                        UserWarning,
                        r"torch\.utils\.checkpoint\.checkpoint_sequential: the use_reentrant parameter should be passed explicitly",
                    ),
                ),
            ),
        }
    ),
    see_also=("checkpoint/use-reentrant-not-passed",),
)
def sequential_use_reentrant_not_passed():
    """`checkpoint_sequential(model, segments, x)` checkpoints each segment of a `Sequential`
    and warns, like `checkpoint`, when the implementation is not chosen. Pass
    `use_reentrant=False`.

    Without the argument it uses the reentrant variant, with its limits
    (`checkpoint/reentrant-needs-an-input-requiring-grad`); here the input requires grad, so the
    parameters still get gradients.

    torch 2.2.2 words the warning "please pass in use_reentrant=True or use_reentrant=False
    explicitly"; it was reworded between 2.2.2 and 2.7.1, the recorded releases on either side.
    """
    model = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Linear(3, 3))
    checkpoint_sequential(model, 2, torch.randn(2, 3, requires_grad=True)).sum().backward()
    return {"first layer's weight.grad is set": model[0].weight.grad is not None}


@case(
    "checkpoint/memory-budget-outside-compile",
    question="Why does region_activation_memory_budget fail with 'can only be used inside a torch.compile region'?",
    expect="The budget limits what eager autograd saves.",
    outcome=ByTorch(
        {
            "<2.13": Raises(
                AttributeError,
                r"module 'torch\.autograd\.graph' has no attribute 'region_activation_memory_budget'",
            ),
            ">=2.13": Raises(
                RuntimeError,
                r"region_activation_memory_budget can only be used inside a torch\.compile region",
            ),
        }
    ),
    fix="checkpoint/non-reentrant",
    see_also=(_DOCS,),
)
def memory_budget_outside_compile():
    """The activation-memory budget is an annotation for the compiler's partitioner, which
    decides what to recompute; eager autograd saves what each op's formula needs and has no
    partitioner, so the annotation is refused outside `torch.compile`. In eager mode, trade
    memory for compute with `checkpoint`.

    `torch.autograd.graph.region_activation_memory_budget` does not exist in torch 2.2.2 or
    2.7.1 (an `AttributeError`); it appeared between 2.7.1 and 2.13.0, the recorded releases on either side.
    """
    with torch.autograd.graph.region_activation_memory_budget(0.5):
        pass

"""Views across grad modes, views of leaves, anomaly mode's hints, and tensors leaving a process."""

from __future__ import annotations

from multiprocessing.reduction import ForkingPickler

import torch
import torch.multiprocessing  # noqa: F401 - registers the tensor reductions ForkingPickler uses

from ..spec import Raises, Returns, Warned, case

_INPLACE = "https://pytorch.org/docs/stable/notes/autograd.html#in-place-operations-with-autograd"
_ANOMALY = Warned(UserWarning, r"Anomaly Detection has been enabled")


@case(
    "in-place/index-assign-into-parameter",
    question="Why does w[0] = 0 fail with 'a view of a leaf Variable that requires grad is being used in an in-place operation'?",
    expect="Indexed assignment sets one entry of the weights.",
    outcome=Raises(
        RuntimeError,
        r"a view of a leaf Variable that requires grad is being used in an in-place operation",
    ),
    fix="in-place/index-assign-under-no-grad",
    see_also=("grad-mode/leaf-inplace-outside-no-grad", _INPLACE),
)
def index_assign_into_parameter():
    """`w[0] = 0` is `w.select(0, 0).copy_(0)`: an in-place op on a *view* of the leaf, which
    would change the leaf's values as part of the graph; the same rule as for the leaf itself
    applies, with a message that says "a view of".
    """
    w = torch.ones(3, requires_grad=True)
    w[0] = 0.0


@case(
    "in-place/index-assign-under-no-grad",
    question="How do I set some entries of a parameter?",
    outcome=Returns({"w": torch.tensor([0.0, 1.0, 1.0]), "still a leaf": True}),
    see_also=("in-place/index-assign-into-parameter",),
)
def index_assign_under_no_grad():
    """Under `torch.no_grad()` the assignment is not recorded: the leaf's values change (its
    version goes up) and it stays a leaf the optimizer can train.

    Outside `no_grad` the same assignment raises (`in-place/index-assign-into-parameter`); under
    it, `w` keeps no record of the change, so a graph that saved `w` before the edit would fail
    its version check at backward.
    """
    w = torch.ones(3, requires_grad=True)
    with torch.no_grad():  # an edit of the parameter's values, not part of any graph
        w[0] = 0.0  # in place on a view of the leaf: allowed without grad mode
    return {"w": w.detach().clone(), "still a leaf": w.is_leaf}


@case(
    "in-place/view-of-no-grad-view-modified",
    question="Why does an in-place op fail with 'is a view of a view which was created in no_grad mode and is being modified inplace with grad mode enabled'?",
    expect="A view taken with grad on is safe to modify, whatever its base.",
    outcome=Raises(
        RuntimeError,
        r"is a view of a view which was created in no_grad mode and is being modified inplace with grad mode enabled",
    ),
    fix="in-place/rebuild-out-of-place",
    see_also=("grad-mode/no-grad-view-modified-with-grad",),
)
def view_of_no_grad_view_modified():
    """A view inherits how its base view was created: slicing a view made under `no_grad`
    yields a view whose history autograd also cannot rewrite, so an in-place op on it is refused
    like one on the no-grad view itself (`grad-mode/no-grad-view-modified-with-grad`).
    """
    x = torch.ones(4, requires_grad=True)
    y = x * 2
    with torch.no_grad():
        cached = y[:3]  # a view made without grad
    part = cached[:2]  # made with grad on, but of the no-grad view
    part.mul_(2)


@case(
    "inference-mode/view-taken-in-inference-mode",
    question="Why does an in-place op fail with 'A view was created in inference mode and is being modified inplace in normal mode'?",
    expect="A view is just a window on a normal tensor; where it was taken does not matter.",
    outcome=Raises(
        RuntimeError,
        r"A view was created in inference mode and is being modified inplace in normal mode",
    ),
    fix="inference-mode/clone-inference-tensor",
    see_also=("grad-mode/no-grad-view-modified-with-grad",),
)
def view_taken_in_inference_mode():
    """A view of a normal tensor taken inside `inference_mode` records no view information for
    autograd; modifying it in place in normal mode would change a tensor in the graph without
    a way to rebase the view, so it is refused (the inference-mode twin of the no-grad rule).
    """
    x = torch.ones(3, requires_grad=True)
    y = x * 2
    with torch.inference_mode():
        v = y[:2]
    v.mul_(2)


@case(
    "inference-mode/version-of-inference-tensor",
    question="Why does t._version fail with 'Inference tensors do not track version counter'?",
    expect="Every tensor has a version counter.",
    outcome=Raises(RuntimeError, r"Inference tensors do not track version counter"),
    fix="inference-mode/clone-inference-tensor",
    see_also=("inference-mode/inference-tensor-updated-outside",),
)
def version_of_inference_tensor():
    """Skipping the version counter is what makes inference tensors cheap; code that reads it
    (a debugging helper, a graph inspector) fails on them. Clone outside the mode for a normal,
    versioned tensor.

    `t._version` raises outside and inside `inference_mode` alike: the tensor has no counter at
    all, not one that is hidden.
    """
    with torch.inference_mode():
        t = torch.ones(3)
    _ = t._version  # reading the counter of an inference tensor


@case(
    "anomaly/version-error-under-anomaly-mode",
    question="Why does the in-place error under detect_anomaly end with 'Hint: the backtrace further above shows the operation that failed to compute its gradient'?",
    expect="Anomaly mode prints the same message.",
    outcome=Raises(
        RuntimeError,
        r"modified by an inplace operation",  # the stable fragment every version error declares
        warns=(
            _ANOMALY,
            Warned(
                UserWarning,
                r"Error detected in ExpBackward0\. Traceback of forward call that caused the error",
            ),
        ),
    ),
    fix="versions/out-of-place-instead",
    see_also=("versions/inplace-on-saved-output", "anomaly/nan-gradient-of-sqrt"),
)
def version_error_under_anomaly_mode():
    """With anomaly mode on during the forward, each node records the traceback of the op that
    created it; when its backward fails, that traceback is printed as a warning, and the error's
    hint changes from "enable anomaly detection" to "the backtrace further above".

    The failure itself is the usual version check (`exp` saved its output, `add_` changed it).
    """
    with torch.autograd.detect_anomaly():  # debugging: records forward tracebacks
        a = torch.ones(3, requires_grad=True)
        y = a.exp()
        y.add_(1)
        y.sum().backward()


@case(
    "anomaly/anomaly-mode-only-around-backward",
    question="Why does detect_anomaly warn 'No forward pass information available. Enable detect anomaly during forward pass'?",
    expect="Anomaly mode around backward() is enough to see where the error comes from.",
    outcome=Raises(
        RuntimeError,
        r"modified by an inplace operation",
        warns=(
            _ANOMALY,
            Warned(
                UserWarning,
                r"No forward pass information available\. Enable detect anomaly during forward pass",
            ),
        ),
    ),
    fix="versions/out-of-place-instead",
    see_also=("anomaly/version-error-under-anomaly-mode",),
)
def anomaly_mode_only_around_backward():
    """The forward traceback is recorded when a node is *created*; turned on only around
    `backward()`, anomaly mode finds no traceback to print for the failing node and says so.
    Wrap the forward too.

    The same bug with the context around the forward as well gives the forward traceback instead
    (`anomaly/version-error-under-anomaly-mode`).
    """
    a = torch.ones(3, requires_grad=True)
    y = a.exp()
    y.add_(1)  # the bug: exp saved y
    with torch.autograd.detect_anomaly():  # too late: the forward above recorded nothing
        y.sum().backward()


@case(
    "conversions/non-leaf-across-processes",
    question="Why does sending a tensor to another process fail with 'Cowardly refusing to serialize non-leaf tensor which requires_grad'?",
    expect="A model output can be put on a torch.multiprocessing queue like any tensor.",
    outcome=Raises(
        RuntimeError, r"Cowardly refusing to serialize non-leaf tensor which requires_grad"
    ),
    fix="conversions/detach-then-numpy",
    see_also=("conversions/deepcopy-non-leaf",),
)
def non_leaf_across_processes():
    """A graph lives in one process; `torch.multiprocessing`'s reduction for tensors refuses a
    non-leaf that requires grad, since its `grad_fn` could not follow it. Send `t.detach()`
    (and compute the loss where the graph is).

    `ForkingPickler.dumps` is what a `torch.multiprocessing` queue calls to send an object.
    """
    w = torch.ones(3, requires_grad=True)
    ForkingPickler.dumps(w * 2)

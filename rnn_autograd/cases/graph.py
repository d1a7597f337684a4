"""Graph lifetime: what ``backward`` frees, what ``retain_graph`` keeps, and for how long."""

from __future__ import annotations

import gc
import weakref

import torch

from ..spec import Raises, Returns, case, snapshot

_NOTES = "https://pytorch.org/docs/stable/notes/autograd.html"
_SAVED = f"{_NOTES}#saved-tensors"
_BACKWARD = "https://pytorch.org/docs/stable/generated/torch.Tensor.backward.html"
_GRAD = "https://pytorch.org/docs/stable/generated/torch.autograd.grad.html"
_FREED = r"backward through the graph a second time"


def _saved_tensor_names(root: torch.Tensor) -> list[str]:
    """``Node._saved_*`` attributes holding a tensor, over the graph behind ``root``."""
    names, seen, todo = [], set(), [root.grad_fn]
    while todo:
        node = todo.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        for attr in dir(node):
            if attr.startswith("_saved_") and isinstance(getattr(node, attr), torch.Tensor):
                names.append(f"{node.name()}.{attr}")
        todo += [fn for fn, _ in node.next_functions]
    return sorted(names)


@case(
    "graph/backward-through-freed-graph",
    question="Why does the second backward fail with 'Trying to backward through the graph a second time'?",
    expect="y2 is a new tensor, so y2.backward() should just work.",
    outcome=Raises(RuntimeError, _FREED),
    fix="graph/retain-graph-shared-subgraph",
    see_also=(_SAVED, "graph/python-scalar-is-saved-too", "rnn-state/no-detach"),
)
def backward_through_freed_graph():
    """`y2` is new, but its graph runs through `y1`'s graph, whose saved tensors the first
    backward already freed.

    `y1 = 2 * x1 + state * x2` records a graph of `grad_fn` nodes: `AddBackward0` with two
    inputs, `MulBackward0` for `2 * x1` and `MulBackward0` for `state * x2`. To compute
    `d(state * x2)/d x2 = state`, that last node *saves* `state` (a multiplication saves the
    operand it needs for the other's gradient); `2 * x1` likewise saves the constant `2`, wrapped
    in a 0-dim tensor (see `graph/python-scalar-is-saved-too`). `y1.backward()` walks the graph
    and, because `retain_graph` defaults to `create_graph` (False), releases every saved tensor as
    soon as its node has run, so the memory of a graph lives only as long as one backward needs it.

    `y2 = 2 * x1 + y1 * x2` builds new nodes whose inputs include `y1.grad_fn`: the new graph is
    *attached* to the old one, not a copy of it. `y2.backward()` reaches `y1`'s `MulBackward0`
    nodes, finds their saved tensors released, and raises. Any variation that makes the second
    backward reach a node with a freed saved tensor fails the same way; one that only reaches
    nodes that save nothing (an addition, say) does not. An RNN state carried into the next batch
    without `detach` is exactly this `y1` (`rnn-state/no-detach`).
    """
    x1 = torch.tensor([1.0], requires_grad=True)
    x2 = torch.tensor([1.0], requires_grad=True)
    state = torch.tensor([4.0])
    y1 = 2 * x1 + state * x2
    y1.backward()
    y2 = 2 * x1 + y1 * x2
    snapshot("before the second backward", y2)
    y2.backward()  # reaches y1's MulBackward0 nodes, whose saved tensors are gone


@case(
    "graph/retain-graph-shared-subgraph",
    question="What gradients does the notebook get with retain_graph=True and the grads zeroed in between?",
    expect="x1.grad == 2 and x2.grad == 1 + 4, as for y2 alone with y1 a constant.",
    outcome=Returns({"x1.grad": torch.tensor([4.0]), "x2.grad": torch.tensor([10.0])}),
    see_also=("graph/backward-through-freed-graph", "graph/retain-graph-is-per-call"),
)
def retain_graph_shared_subgraph():
    """Keeping `y1`'s graph lets the second backward through it, and that backward
    differentiates through `y1` as well: `y1` is not a constant inside `y2`.

    `y1.backward(retain_graph=True)` leaves the saved tensors of `y1`'s nodes in place, so the
    second backward can run through them. With x1 = x2 = 1 and state = 4, y1 = 2·x1 + 4·x2 = 6.
    Then y2 = 2·x1 + y1·x2, and the chain rule runs through `y1.grad_fn` too:
    dy2/dx1 = 2 + x2·dy1/dx1 = 2 + 1·2 = **4**, and dy2/dx2 = y1 + x2·dy1/dx2 = 6 + 1·4 = **10**.
    The `zero_()` calls between the backwards matter: leaves *accumulate* into `.grad`, so
    without them the results would be 2 + 4 = 6 and 4 + 10 = 14.
    """
    x1 = torch.tensor([1.0], requires_grad=True)
    x2 = torch.tensor([1.0], requires_grad=True)
    state = torch.tensor([4.0])
    y1 = 2 * x1 + state * x2
    y1.backward(retain_graph=True)  # keep y1's saved tensors: y2's graph runs through them
    x1.grad.zero_(), x2.grad.zero_()  # leaves accumulate; start y2's gradients from zero
    y2 = 2 * x1 + y1 * x2
    y2.backward()
    return {"x1.grad": x1.grad, "x2.grad": x2.grad}


@case(
    "graph/second-backward-saves-nothing",
    question="Why can I call backward twice on x + 1 without retain_graph?",
    expect="Every second backward without retain_graph=True raises.",
    outcome=Returns({"saved tensors in the graph": [], "x.grad": torch.tensor([2.0, 2.0])}),
    see_also=(_SAVED, "graph/python-scalar-is-saved-too", "graph/backward-through-freed-graph"),
)
def second_backward_saves_nothing():
    """What backward frees are the *saved tensors*; a graph that saved none has nothing to
    lose, and a second backward through it works.

    `(x + 1).sum()` records `SumBackward0` and `AddBackward0`. Their formulas in
    `derivatives.yaml` need no values from the forward: the gradient of a sum is `grad`
    expanded to the input's shape (the node keeps the *shape*, not a tensor), the gradient of
    `x + 1` with respect to `x` is `grad` itself (the node keeps `alpha`, a Python scalar). The
    graph holds no `SavedVariable` at all, which the case observes by listing every `_saved_*`
    attribute that holds a tensor. The error of the second backward is raised when a node
    *unpacks* a saved tensor that was released; here no node unpacks anything, so the second
    `y.backward()` runs, and since leaves *accumulate* into `.grad`, `x.grad` becomes 1 + 1 = 2.

    The same holds for `x + x`, `-x`, `x.sum()`, `x.clone()` or a view: nothing saved. It stops
    holding as soon as one node on the path saves something, and multiplication by a Python
    number does (`graph/python-scalar-is-saved-too`). Do not rely on this in real code: which ops
    save what is an implementation detail of each formula.
    """
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = (x + 1).sum()
    saved = _saved_tensor_names(y)
    y.backward()
    y.backward()  # nothing was saved, so nothing was freed: this one works too
    return {"saved tensors in the graph": saved, "x.grad": x.grad}


@case(
    "graph/python-scalar-is-saved-too",
    question="Why does a second backward through 2 * x fail, when the only value it needs is the constant 2?",
    expect="2 * x saves nothing (2 is a Python number), so a second backward works as for x + 1.",
    outcome=Raises(RuntimeError, _FREED),
    fix="graph/retain-graph-second-backward",
    see_also=(_SAVED, "graph/second-backward-saves-nothing"),
)
def python_scalar_is_saved_too():
    """`2 * x` calls `mul.Tensor` with `2` wrapped in a 0-dim tensor, and `MulBackward0` saves
    that tensor; the first backward frees it like any other saved tensor.

    The formula for `mul.Tensor(self, other)` in `derivatives.yaml` is
    `self: mul_tensor_backward(grad, other, ...)`: the gradient for `x` needs `other`. Python's
    `2 * x` does not pick the `mul.Scalar` overload; PyTorch wraps `2` into a "wrapped number"
    tensor and dispatches `mul.Tensor`, so `MulBackward0` stores it as `_saved_other` (readable
    before the backward as `tensor(2)`). `_saved_self` stays `None`: `x` would only be needed for
    the gradient of `other`, which does not require grad. The backward releases every saved
    variable of every node it ran, constant or not, and the second backward unpacks a released
    one. Predict the variations by the formula, not by the Python syntax: `x / 2` and `x * t`
    for a tensor `t` fail the same way, `x + 2` and `x - 2` do not.
    """
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = (2 * x).sum()
    y.backward()
    snapshot("after the first backward", y)
    y.backward()  # MulBackward0 unpacks its _saved_other (the wrapped 2): released


@case(
    "graph/retain-graph-second-backward",
    question="What does a second backward with retain_graph=True on the first one compute?",
    expect="The gradient again, replacing the first one.",
    outcome=Returns(
        {"x.grad after 1": torch.tensor([2.0, 4.0]), "x.grad after 2": torch.tensor([4.0, 8.0])}
    ),
    see_also=(_BACKWARD, "graph/retain-graph-is-per-call", "graph/python-scalar-is-saved-too"),
)
def retain_graph_second_backward():
    """`retain_graph=True` keeps the saved tensors through the first backward, so the second
    one can unpack them; its gradient is *added* to the first.

    `(x * x).sum()` saves `x` twice in `MulBackward0` (`_saved_self` and `_saved_other`, both
    needed because both operands require grad). With `retain_graph=True` the engine skips the
    release after running each node, and the second `backward()` unpacks them again:
    d(x·x)/dx = 2x = [2, 4] each time. `x` is a leaf, and leaves accumulate into `.grad`
    (`AccumulateGrad` adds to an existing `.grad`), hence [4, 8] after two calls. In a training
    loop the accumulation is why `zero_grad()` runs before each backward; here it shows that the
    second backward really ran through the retained graph.
    """
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)  # keep the saved x's: a second backward follows
    first = x.grad.clone()
    y.backward()  # the last backward may free: nothing runs through this graph afterwards
    return {"x.grad after 1": first, "x.grad after 2": x.grad}


@case(
    "graph/retain-graph-is-per-call",
    question="I passed retain_graph=True once; why does the third backward fail?",
    expect="Once retained, the graph stays retained.",
    outcome=Raises(RuntimeError, _FREED),
    fix="graph/retain-graph-second-backward",
    see_also=(_BACKWARD, "graph/retain-graph-second-backward"),
)
def retain_graph_is_per_call():
    """`retain_graph` is an argument of one backward call, not a property of the graph: the
    second call, without it, frees the saved tensors, and the third finds them gone.

    Each `backward()` decides for itself whether to release the saved variables of the nodes it
    runs; the graph keeps no memory of earlier calls. The first call (`retain_graph=True`) leaves
    them, the second (default `retain_graph=False`) runs the nodes and releases them, and the
    third unpacks a released tensor. The rule to predict any sequence: every backward except the
    last one through a given node needs `retain_graph=True`.
    """
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)  # keep the saved tensors for exactly one more backward
    y.backward()  # default retain_graph=False: releases them
    y.backward()


@case(
    "graph/retained-graph-keeps-tensors-alive",
    question="What does a retained graph keep in memory, and when is it released?",
    expect="Once I `del` my intermediate tensor, its memory is gone.",
    outcome=Returns(
        {
            "h alive after backward(retain_graph=True)": True,
            "saved input is x": True,
            "saved non-leaf input is the same object": True,
            "saved own output is the same object": False,
            "h alive after backward()": False,
        }
    ),
    see_also=(
        _SAVED,
        "https://pytorch.org/docs/stable/notes/autograd.html#saved-tensors-hooks-doc",
    ),
)
def retained_graph_keeps_tensors_alive():
    """A saved tensor is referenced by its graph node; while the graph is retained it stays
    alive even when no Python name refers to it, and a backward without retain frees it.

    `h = x.exp()` and `h.sin()`: `SinBackward0` saves its input `h` (d sin h / dh = cos h).
    After `del h`, the only reference left is the `SavedVariable` inside `SinBackward0`, which
    the case shows with a weak reference: it still resolves after `backward(retain_graph=True)`.
    The plain `backward()` releases the saved variables of every node it runs, the last
    reference goes, and the weak reference dies *while `y` and its `grad_fn` still exist*: the
    nodes survive, their saved tensors do not. In an RNN trained with `retain_graph=True`, every
    batch's activations stay referenced this way by the graph the state drags along. Any saved
    tensor that is not the node's own output is kept as the very same tensor object, leaf or
    not: `x.pow(2).grad_fn._saved_self is x`, and for the non-leaf `h2 = x * 2`,
    `h2.sin().grad_fn._saved_self is h2`. A node's own output is saved without its `grad_fn`
    (which would be the node itself, a reference cycle) and reads back as a new tensor object
    sharing the storage (`h2.exp().grad_fn._saved_result is` that output is False).
    """
    x = torch.randn(1000, requires_grad=True)
    h = x.exp()
    pow_node = x.pow(2).grad_fn  # a second small graph that saves the leaf x itself
    h2 = x * 2  # a non-leaf: saved as an input, it is kept as itself too
    non_leaf_same = h2.sin().grad_fn._saved_self is h2
    out = h2.exp()  # ExpBackward0 saves its own output
    output_same = out.grad_fn._saved_result is out
    y = h.sin().sum()
    h_ref = weakref.ref(h)
    del h  # from here only SinBackward0's saved tensor refers to h
    y.backward(retain_graph=True)  # keep the saved tensors alive for inspection
    gc.collect()
    alive_retained = h_ref() is not None
    snapshot("after backward(retain_graph=True)", y)
    y.backward()  # this one releases them
    gc.collect()
    return {
        "h alive after backward(retain_graph=True)": alive_retained,
        "saved input is x": pow_node._saved_self is x,
        "saved non-leaf input is the same object": non_leaf_same,
        "saved own output is the same object": output_same,
        "h alive after backward()": h_ref() is not None,
    }


@case(
    "graph/saved-tensor-after-backward",
    question="Why does reading grad_fn._saved_self after backward raise?",
    expect="_saved_self is an attribute of the node; it can be read whenever the node exists.",
    outcome=Raises(RuntimeError, r"backward through the graph a second time"),
    fix="graph/retained-graph-keeps-tensors-alive",
    see_also=(_SAVED, "graph/retained-graph-keeps-tensors-alive"),
)
def saved_tensor_after_backward():
    """`_saved_*` attributes unpack the node's `SavedVariable`, the same unpacking that the
    backward does; after a backward without retain it has been released and unpacking raises.

    `y = x.pow(2)` saves `x` (`pow_backward(grad, self, exponent)` needs the base). Before the
    backward `y.grad_fn._saved_self is x` holds. The backward runs `PowBackward0` and then
    releases its saved variables; the node object itself lives on as `y.grad_fn`, so the
    attribute exists, but reading it unpacks a released variable and raises the same error as a
    second backward would, whose text names both situations ("or directly access saved tensors
    after they have already been freed"). Metadata that is not a tensor (`_saved_exponent`)
    stays readable.
    """
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = x.pow(2)
    y.sum().backward()
    return {"saved": y.grad_fn._saved_self}


@case(
    "graph/autograd-grad-frees-too",
    question="Does torch.autograd.grad free the graph like backward does?",
    expect="autograd.grad only computes and returns gradients, so it leaves the graph alone.",
    outcome=Raises(RuntimeError, _FREED),
    fix="graph/create-graph-implies-retain",
    see_also=(_GRAD, "graph/create-graph-implies-retain"),
)
def autograd_grad_frees_too():
    """`torch.autograd.grad` runs the same engine as `backward`, with the same default
    `retain_graph=create_graph=False`: it releases the saved tensors of the nodes it runs.

    The only differences from `backward` are where the gradients go (returned, instead of
    accumulated into the leaves' `.grad`) and which inputs they are computed for. The graph of
    `(x * x).sum()` saves `x` twice in `MulBackward0`; the first `grad` call unpacks and then
    releases them, and the second unpacks released variables. Pass `retain_graph=True` (or
    `create_graph=True`, `graph/create-graph-implies-retain`) to every call but the last.
    """
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    torch.autograd.grad(y, x)
    torch.autograd.grad(y, x)


@case(
    "graph/create-graph-implies-retain",
    question="Why does a second autograd.grad work after one with create_graph=True?",
    expect="The second call fails like any second backward without retain_graph.",
    outcome=Returns(
        {
            "first": torch.tensor([2.0, 4.0]),
            "first has a grad_fn": True,
            "second": torch.tensor([2.0, 4.0]),
        }
    ),
    see_also=(_GRAD, "graph/autograd-grad-frees-too", "graph/retain-graph-is-per-call"),
)
def create_graph_implies_retain():
    """`retain_graph` defaults to the value of `create_graph`: building a graph of the
    backward needs the forward's saved tensors to stay, so `create_graph=True` retains them.

    With `create_graph=True` the backward formulas are themselves recorded (the gradient
    `x·g + g·x` of `x * x` gets an `AddBackward0`), and those recorded formulas refer to the
    saved `x`: releasing it would break the graph just built. So the first call keeps the saved
    tensors, and the second call, with the defaults, works and then releases them (a third would
    fail, as in `graph/retain-graph-is-per-call`). `autograd.grad` is used here because
    `backward(create_graph=True)` warns about the reference cycle between a parameter and a
    `.grad` that has a `grad_fn`.
    """
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    (first,) = torch.autograd.grad(y, x, create_graph=True)  # retains: the default follows it
    (second,) = torch.autograd.grad(y, x)  # default retain_graph=False: frees after this one
    return {
        "first": first.detach(),
        "first has a grad_fn": first.grad_fn is not None,
        "second": second,
    }

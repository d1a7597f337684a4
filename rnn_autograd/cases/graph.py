"""Graph lifetime: what ``backward`` frees, what ``retain_graph`` keeps, and for how long."""

from __future__ import annotations

import torch

from ..spec import Raises, Returns, case


@case(
    "graph/backward-through-freed-graph",
    question="Why does the second backward fail with 'Trying to backward through the graph a second time'?",
    expect="y2 is a new tensor, so y2.backward() should just work.",
    outcome=Raises(RuntimeError, r"backward through the graph a second time"),
    fix="graph/retain-graph-shared-subgraph",
    see_also=("https://pytorch.org/docs/stable/notes/autograd.html#saved-tensors",),
)
def backward_through_freed_graph():
    """`y2` is new, but its graph runs through `y1`'s graph, whose saved tensors the first
    backward already freed.

    `y1 = 2 * x1 + state * x2` records a graph of `grad_fn` nodes: `AddBackward0` with two
    inputs, `MulBackward0` for `2 * x1` and `MulBackward0` for `state * x2`. To compute
    `d(state * x2)/d x2 = state`, that last node *saves* `state` (a multiplication saves the
    operand it needs for the other's gradient). `y1.backward()` walks the graph and, because
    `retain_graph` defaults to `create_graph` (False), releases every saved tensor as soon as
    its node has run, so the memory of a graph lives only as long as one backward needs it.

    `y2 = 2 * x1 + y1 * x2` builds new nodes whose inputs include `y1.grad_fn`: the new graph is
    *attached* to the old one, not a copy of it. `y2.backward()` reaches `y1`'s `MulBackward0`,
    finds its saved `state` released, and raises. Any variation that makes the second backward
    reach a node with a freed saved tensor fails the same way; one that only reaches nodes that
    save nothing (an addition, say) does not.
    """
    x1 = torch.tensor([1.0], requires_grad=True)
    x2 = torch.tensor([1.0], requires_grad=True)
    state = torch.tensor([4.0])
    y1 = 2 * x1 + state * x2
    y1.backward()
    y2 = 2 * x1 + y1 * x2
    y2.backward()  # reaches y1's MulBackward0, whose saved `state` is gone


@case(
    "graph/retain-graph-shared-subgraph",
    question="What gradients does the notebook get with retain_graph=True and the grads zeroed in between?",
    expect="x1.grad == 2 and x2.grad == 1 + 4, as for y2 alone with y1 a constant.",
    outcome=Returns({"x1.grad": torch.tensor([4.0]), "x2.grad": torch.tensor([10.0])}),
    see_also=("graph/backward-through-freed-graph",),
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

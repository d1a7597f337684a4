"""Hidden-state strategies: what each backpropagates through, checked against full backprop."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rnn_autograd.errors import UsageError
from rnn_autograd.pipeline.data import counting_sequence, sequential_batches
from rnn_autograd.pipeline.model import RNNModel
from rnn_autograd.pipeline.state import STRATEGY_FORMS, StateGraphError, parse_strategy
from rnn_autograd.pipeline.training import lm_loss, train

VOCAB, HIDDEN, BATCH, STEPS = 15, 6, 3, 4
TOKENS = counting_sequence(num_runs=40, seed=1)  # 200 tokens: 16 sequential batches of 3 x 4


def _model(cell: str, fused: bool | None = None) -> RNNModel:
    torch.manual_seed(0)
    return RNNModel(VOCAB, HIDDEN, cell=cell, fused=fused)


def _reference_grads(model, batches, last: int, span: int, scored: int):
    """Full backprop by hand: the rows of batches ``last - span + 1 .. last`` as one sequence.

    The state entering the span is the state after every earlier batch, with no graph; the loss
    is the mean over the last ``scored`` batches' tokens, backpropagated through the whole span.
    """
    first = max(0, last - span + 1)
    state = model.begin_state(BATCH)
    with torch.no_grad():  # the history before the span: it gives the state, not gradients
        for X, _ in batches[:first]:
            _, state = model(X, state)
    X = torch.cat([x for x, _ in batches[first : last + 1]], dim=1)  # (batch, span * steps)
    Y = torch.cat([y for _, y in batches[first : last + 1]], dim=1)
    logits, state = model(X, state)  # time-major: row t * batch + i is step t of row i
    keep = (last + 1 - first - scored) * STEPS * BATCH  # rows before the scored steps
    loss = F.cross_entropy(logits[keep:], Y.T.reshape(-1)[keep:])
    model.zero_grad(set_to_none=True)
    loss.backward()
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad(set_to_none=True)
    return grads


# (strategy, batches it scores per update, batches its gradient spans)
SPANS = [
    ("detach", 1, 1),
    ("detach-inplace", 1, 1),
    ("window:3", 3, 3),
    ("tbptt:4,12", 1, 3),
    ("tbptt:8,12", 2, 3),
    ("tbptt:8,8", 2, 2),
]


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
@pytest.mark.parametrize(("spec", "scored", "span"), SPANS, ids=[s[0] for s in SPANS])
def test_each_update_has_the_gradient_of_full_backprop_over_the_strategys_span(
    spec, scored, span, cell
):
    model = _model(cell)
    batches = list(sequential_batches(TOKENS, BATCH, STEPS))
    strategy = parse_strategy(spec)
    strategy.begin_epoch()
    updates = 0
    for i, (X, Y) in enumerate(batches):
        result = strategy.train_batch(model, X, Y, lm_loss)
        if not result.update:
            assert all(p.grad is None for p in model.parameters())
            continue
        # weights never change in this test (no optimizer step), so the reference sees the
        # same model the strategy saw
        got = [p.grad.clone() for p in model.parameters()]
        model.zero_grad(set_to_none=True)
        torch.testing.assert_close(got, _reference_grads(model, batches, i, span, scored))
        updates += 1
    assert updates == len(batches) // scored


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_fresh_state_has_the_gradient_of_each_batch_alone_from_zeros(cell):
    model = _model(cell)
    strategy = parse_strategy("fresh")
    strategy.begin_epoch()
    for X, Y in list(sequential_batches(TOKENS, BATCH, STEPS))[:4]:
        strategy.train_batch(model, X, Y, lm_loss)
        got = [p.grad.clone() for p in model.parameters()]
        model.zero_grad(set_to_none=True)
        lm_loss(model(X, model.begin_state(BATCH))[0], Y).backward()
        torch.testing.assert_close(got, [p.grad for p in model.parameters()])
        model.zero_grad(set_to_none=True)


def test_a_partial_window_at_the_end_of_an_epoch_is_backpropagated_too():
    model = _model("rnn")
    strategy = parse_strategy("window:5")
    strategy.begin_epoch()
    batches = list(sequential_batches(TOKENS, BATCH, STEPS))  # 16 batches: 3 windows + 1 left
    updates = 0
    for X, Y in batches:
        updates += strategy.train_batch(model, X, Y, lm_loss).update
        model.zero_grad(set_to_none=True)  # only the last update's gradient is compared
    tail = strategy.end_epoch()
    assert updates == 3 and tail is not None and tail.update
    got = [p.grad.clone() for p in model.parameters()]
    model.zero_grad(set_to_none=True)
    torch.testing.assert_close(got, _reference_grads(model, batches, 15, 1, 1))


@pytest.mark.parametrize(
    ("cell", "fused"), [("rnn", True), ("rnn", False), ("gru", None), ("lstm", None)]
)
def test_carrying_the_state_without_detaching_fails_naming_the_case_that_explains_it(cell, fused):
    model = _model(cell, fused)
    with pytest.raises(StateGraphError, match="rnn-state/no-detach") as info:
        train(model, sequential_batches(TOKENS, BATCH, STEPS), "carry", epochs=1, lr=0.1)
    assert isinstance(info.value, RuntimeError)  # the type torch raised, kept
    assert "backward through the graph a second time" in str(info.value)  # torch's text, kept


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_detach_and_detach_inplace_train_bit_identically(cell):
    finals = []
    for spec in ("detach", "detach-inplace"):
        model = _model(cell)
        batches = sequential_batches(TOKENS, BATCH, STEPS)
        history = train(model, batches, spec, epochs=2, lr=1.0, device="cpu")
        finals.append((history.perplexity, [p.detach().clone() for p in model.parameters()]))
    assert finals[0][0] == finals[1][0]
    for a, b in zip(finals[0][1], finals[1][1], strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("spec", ["detach", "fresh", "window:2", "tbptt:4,8", "detach-inplace"])
def test_every_strategy_trains_an_lstm_with_its_tuple_state(spec):
    model = _model("lstm")
    history = train(model, sequential_batches(TOKENS, BATCH, STEPS), spec, epochs=1, lr=1.0)
    assert history.epochs[0].tokens == 16 * BATCH * STEPS
    assert 1.0 < history.perplexity < float("inf")


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("detach", "detach"),
        (" Detach-Inplace ", "detach-inplace"),
        ("fresh", "fresh"),
        ("carry", "carry"),
        ("window:4", "window:4"),
        ("tbptt:35,70", "tbptt:35,70"),
    ],
)
def test_strategy_names_parse_to_strategies_that_report_their_name(text, name):
    assert parse_strategy(text).spec == name


@pytest.mark.parametrize(
    "text", ["", "detatch", "window", "window:0", "window:x", "tbptt:70,35", "tbptt:5", "tbptt:a,b"]
)
def test_a_bad_strategy_is_one_line_that_lists_the_valid_forms(text):
    with pytest.raises(UsageError, match="unknown strategy") as info:
        parse_strategy(text)
    message = str(info.value)
    assert STRATEGY_FORMS in message and "\n" not in message


def test_tbptt_spans_must_be_multiples_of_num_steps():
    strategy = parse_strategy("tbptt:6,12")
    strategy.begin_epoch()
    X, Y = next(iter(sequential_batches(TOKENS, BATCH, STEPS)))
    with pytest.raises(UsageError, match="multiples of num_steps=4"):
        strategy.train_batch(_model("rnn"), X, Y, lm_loss)

"""RNNModel: the notebook's model, with the same outputs for the same weights."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rnn_autograd.errors import UsageError
from rnn_autograd.pipeline.fused_rnn import fused_tanh_rnn
from rnn_autograd.pipeline.model import RNNModel


class NotebookRNNModel(nn.Module):
    """The notebook's class (../shared/seed/notebook.txt, In [408]), copied as it is."""

    def __init__(self, rnn_layer, vocab_size, **kwargs):
        super().__init__(**kwargs)
        self.rnn = rnn_layer
        self.vocab_size = vocab_size
        self.num_hiddens = self.rnn.hidden_size
        if not self.rnn.bidirectional:
            self.num_directions = 1
            self.linear = nn.Linear(self.num_hiddens, self.vocab_size)
        else:
            self.num_directions = 2
            self.linear = nn.Linear(self.num_hiddens * 2, self.vocab_size)

    def forward(self, inputs, state):
        X = F.one_hot(inputs.T.long(), self.vocab_size)
        X = X.to(torch.float32)
        Y, state = self.rnn(X, state)
        output = self.linear(Y.reshape((-1, Y.shape[-1])))
        return output, state

    def begin_state(self, device, batch_size=1):
        if not isinstance(self.rnn, nn.LSTM):
            return torch.zeros(
                (self.num_directions * self.rnn.num_layers, batch_size, self.num_hiddens),
                device=device,
            )
        else:
            return (
                torch.zeros(
                    (self.num_directions * self.rnn.num_layers, batch_size, self.num_hiddens),
                    device=device,
                ),
                torch.zeros(
                    (self.num_directions * self.rnn.num_layers, batch_size, self.num_hiddens),
                    device=device,
                ),
            )


LAYERS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


CONFIGS = [
    ("rnn", 1, True),
    ("rnn", 1, False),
    ("rnn", 2, False),
    ("gru", 1, False),
    ("lstm", 2, False),
]


def _pair(cell, layers, fused, vocab=20, hidden=16):
    torch.manual_seed(0)
    notebook = NotebookRNNModel(LAYERS[cell](vocab, hidden, layers), vocab_size=vocab)
    ours = RNNModel(vocab, hidden, cell=cell, num_layers=layers, fused=fused)
    ours.load_state_dict(notebook.state_dict())  # same parameter names, so the same weights
    return notebook, ours


def _random_state(model, batch):
    state = model.begin_state(batch_size=batch, device="cpu")
    if isinstance(state, tuple):
        return tuple(torch.randn_like(s) for s in state)
    return torch.randn_like(state)


@pytest.mark.parametrize(("cell", "layers", "fused"), CONFIGS, ids=lambda v: str(v))
def test_with_the_same_weights_outputs_and_states_equal_the_notebooks_model(cell, layers, fused):
    notebook, ours = _pair(cell, layers, fused)
    X = torch.randint(0, 20, (5, 7))  # (batch, num_steps)
    state = _random_state(notebook, 5)
    out_nb, state_nb = notebook(X, state)
    out, state_ours = ours(X, state)
    assert out.shape == (7 * 5, 20)  # time-major: (num_steps * batch, vocab)
    torch.testing.assert_close(out, out_nb)
    torch.testing.assert_close(state_ours, state_nb)


@pytest.mark.parametrize(("cell", "layers", "fused"), CONFIGS, ids=lambda v: str(v))
def test_with_the_same_weights_gradients_equal_the_notebooks_model(cell, layers, fused):
    notebook, ours = _pair(cell, layers, fused)
    X, Y = torch.randint(0, 20, (2, 5, 6))
    start = _random_state(notebook, 5)
    grads = []
    for model in (notebook, ours):
        # each model gets its own leaf copy of the same start state, to compare their grads
        if isinstance(start, tuple):
            state = tuple(s.clone().requires_grad_() for s in start)
        else:
            state = start.clone().requires_grad_()
        out, new = model(X, state)
        last = new[0] if isinstance(new, tuple) else new
        (F.cross_entropy(out, Y.T.reshape(-1)) + last.square().sum()).backward()
        leaf = state[0] if isinstance(state, tuple) else state
        grads.append([p.grad for p in model.parameters()] + [leaf.grad])
    torch.testing.assert_close(grads[1], grads[0])


def test_begin_state_is_zeros_or_the_lstm_pair_of_zeros():
    assert RNNModel(10, 8, num_layers=2).begin_state(3).shape == (2, 3, 8)
    h, c = RNNModel(10, 8, cell="lstm").begin_state(3)
    assert h.shape == c.shape == (1, 3, 8) and not h.any() and not c.any()


def test_the_fused_path_is_used_for_one_tanh_layer_on_the_cpu_unless_told_otherwise():
    assert RNNModel(10, 8).uses_fused("cpu")
    assert not RNNModel(10, 8).uses_fused("cuda")  # cuDNN's kernel is faster there
    assert RNNModel(10, 8, fused=True).uses_fused("cuda")
    assert not RNNModel(10, 8, fused=False).uses_fused("cpu")
    assert not RNNModel(10, 8, cell="gru").uses_fused("cpu")
    assert not RNNModel(10, 8, num_layers=2).uses_fused("cpu")
    with pytest.raises(UsageError, match="fused=True needs cell='rnn'"):
        RNNModel(10, 8, cell="lstm", fused=True)


def test_the_fused_state_can_be_detached_in_place_as_the_notebook_does():
    model = RNNModel(10, 8, fused=True)
    _, state = model(torch.randint(0, 10, (2, 3)), model.begin_state(2))
    state.detach_()  # refused on views: the fused layer returns its own tensor
    assert state.grad_fn is None and not state.requires_grad


def test_the_fused_layer_passes_gradcheck_in_double_precision():
    proj = torch.randn(4, 2, 3, dtype=torch.double, requires_grad=True)
    h0 = torch.randn(1, 2, 3, dtype=torch.double, requires_grad=True)
    w = torch.randn(3, 3, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(fused_tanh_rnn, (proj, h0, w))


def test_an_unknown_cell_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown cell 'transformer'"):
        RNNModel(10, cell="transformer")

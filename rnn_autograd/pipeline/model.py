"""The notebook's language model: a recurrent layer over one-hot tokens, then a linear head.

``RNNModel`` keeps the notebook's parameter names (``rnn.weight_ih_l0``, ``linear.weight``, ...)
and output layout, so a state dict moves between the two and, with the same weights, the outputs
are equal. The model knows nothing of strategies: it maps ``(X, state)`` to ``(logits, state)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import UsageError
from .bounds import check_int, check_model_size
from .fused_rnn import fused_embedding_tanh_rnn

__all__ = ["CELLS", "RNNModel", "State", "map_state"]

CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}

#: A hidden state: one tensor ``(num_layers, batch, hidden)``, or the LSTM's ``(h, c)`` pair.
State = torch.Tensor | tuple[torch.Tensor, ...]


def map_state(fn, state: State) -> State:
    """Apply ``fn`` to the tensor, or to each tensor of an LSTM tuple."""
    return tuple(fn(s) for s in state) if isinstance(state, tuple) else fn(state)


class RNNModel(nn.Module):
    """A recurrent language model: ``nn.RNN``, ``nn.GRU`` or ``nn.LSTM``, then a linear head.

    ``forward(X, state)`` takes token ids ``X`` of shape ``(batch, num_steps)`` and returns logits
    of shape ``(num_steps * batch, vocab_size)``, time-major (row ``t * batch + i`` is step ``t``
    of sequence ``i``, the notebook's layout; targets are ``Y.T.reshape(-1)``), and the new state.

    The input is the one-hot encoding of ``X``. Where the layer is a single tanh ``nn.RNN``
    layer on the CPU (``fused=None``, the default, decides so; ``True`` forces it on any device)
    the same arithmetic runs faster: one-hot times
    ``W_ih`` is a column lookup (an embedding of ``W_ih.T``), and the recurrence runs in a
    hand-written autograd function whose backward computes ``dW_hh`` as one matrix product over
    all steps instead of one per step (see ``rnn_autograd.pipeline.fused_rnn``). ``fused=False`` runs
    ``nn.RNN`` on the one-hot input, exactly as the notebook does. On CUDA ``nn.RNN`` runs
    cuDNN's fused kernel, which a Python loop over steps cannot beat, so ``None`` leaves it there.

    Args:
        vocab_size: the number of tokens: the size of the one-hot input and of the logits.
        num_hiddens: the size of the hidden state.
        cell: ``"rnn"`` (tanh ``nn.RNN``), ``"gru"`` or ``"lstm"``.
        num_layers: the number of stacked recurrent layers.
        fused: the fused tanh RNN: None on the CPU where it applies, True always (needs
            ``cell="rnn"`` and ``num_layers=1``), False never.
    """

    def __init__(
        self,
        vocab_size: int,
        num_hiddens: int = 256,
        cell: str = "rnn",
        num_layers: int = 1,
        fused: bool | None = None,
    ):
        super().__init__()
        if not isinstance(cell, str) or cell not in CELLS:
            raise UsageError(f"unknown cell {cell!r}; expected one of: {', '.join(CELLS)}")
        vocab_size = check_int(vocab_size, "vocab_size")
        num_hiddens = check_int(num_hiddens, "num_hiddens")
        num_layers = check_int(num_layers, "num_layers")
        if fused not in (None, True, False):
            raise UsageError(f"fused must be None, True or False; got {fused!r}")
        # before torch allocates: a size beyond the free memory is one line, not an allocator error
        check_model_size(vocab_size, num_hiddens, num_layers, cell)
        self.cell = cell
        self.vocab_size = vocab_size
        self.num_hiddens = num_hiddens
        self.num_layers = num_layers
        self.rnn = CELLS[cell](vocab_size, num_hiddens, num_layers)
        self.linear = nn.Linear(num_hiddens, vocab_size)
        can_fuse = cell == "rnn" and num_layers == 1
        if fused and not can_fuse:
            raise UsageError("fused=True needs cell='rnn' and num_layers=1")
        self.fused = fused if can_fuse else False  # None: on the CPU only

    def uses_fused(self, device: torch.device | str) -> bool:
        """Whether ``forward`` on ``device`` takes the fused path (see the class docstring)."""
        if self.fused is None:
            return torch.device(device).type == "cpu"
        return self.fused

    @property
    def config(self) -> dict:
        """The constructor arguments, to rebuild the model from a checkpoint."""
        return {
            "vocab_size": self.vocab_size,
            "num_hiddens": self.num_hiddens,
            "cell": self.cell,
            "num_layers": self.num_layers,
        }

    def begin_state(self, batch_size: int = 1, device: torch.device | str | None = None) -> State:
        """Zeros of shape ``(num_layers, batch_size, num_hiddens)``; a pair of them for LSTM."""
        if device is None:
            device = self.linear.weight.device
        shape = (self.num_layers, batch_size, self.num_hiddens)
        if self.cell == "lstm":
            return torch.zeros(shape, device=device), torch.zeros(shape, device=device)
        return torch.zeros(shape, device=device)

    def forward(self, X: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        if self.uses_fused(X.device):
            r = self.rnn
            # one_hot(X) @ W_ih.T picks column X of W_ih: an embedding lookup of W_ih.T,
            # bit for bit the same numbers without building the (steps, batch, vocab) one-hot.
            # The biases are added to the (vocab, hidden) table before the lookup rather than
            # to every looked-up row after it: the same sums, vocab rows instead of steps * batch
            # (the lookup itself runs inside the fused layer, into its own buffer)
            table = r.weight_ih_l0.t() + (r.bias_ih_l0 + r.bias_hh_l0)
            Y, state = fused_embedding_tanh_rnn(X.T, table, state, r.weight_hh_l0)
        else:
            inputs = F.one_hot(X.T, self.vocab_size).to(torch.float32)  # (steps, batch, vocab)
            Y, state = self.rnn(inputs, state)  # Y: (steps, batch, hidden)
        # (steps * batch, hidden) -> (steps * batch, vocab)
        return self.linear(Y.reshape(-1, Y.shape[-1])), state

"""``{loss-curve}``: a short training run at build time, drawn as a loss-curve figure.

The run uses the pipeline itself (``rnn_autograd.pipeline.data``, ``.model``, ``.train``, ``.predict``):
the notebook's synthetic sequence, cut into sequential batches, trained once per strategy named
in ``:strategies:``, with a checkpoint written after every epoch and the last one reloaded for a
greedy prediction. The figure (a PNG made with matplotlib's Agg canvas) and a table of the
figures each run ended with are put on the page; every number shown is the run's own.
"""

from __future__ import annotations

import tempfile
import traceback
from pathlib import Path
from typing import Any

import torch
from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

GENERATED = "_generated/figures"
logger = logging.getLogger(__name__)


def _train_runs(strategies: list[str], epochs: int, hidden: int, seed: int) -> dict[str, Any]:
    """Train one small model per strategy; return histories and a prediction per strategy."""
    from rnn_autograd.pipeline.data import counting_sequence, sequential_batches
    from rnn_autograd.pipeline.model import RNNModel
    from rnn_autograd.pipeline.prediction import load_for_prediction, predict
    from rnn_autograd.pipeline.training import train

    tokens = counting_sequence(seed=seed)
    vocab_size = max(tokens) + 1
    batches = sequential_batches(tokens, batch_size=10, num_steps=20)
    runs: dict[str, Any] = {}
    threads = torch.get_num_threads()
    # One thread: at this size, two threads on a shared 2-core machine only wait for each other.
    torch.set_num_threads(1)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name in strategies:
                torch.manual_seed(seed)
                # fused=False: nn.RNN on the one-hot input, the notebook's own model, and at this
                # tiny size the faster path on a CPU
                model = RNNModel(vocab_size, num_hiddens=hidden, fused=False)
                ckpt = Path(tmp) / f"{name.replace(':', '-')}.pt"
                history = train(
                    model, batches, name, epochs=epochs, lr=1.0, device="cpu", checkpoint_path=ckpt
                )
                reloaded, _, _ = load_for_prediction(ckpt)
                runs[name] = {
                    "history": history,
                    "prediction": predict(reloaded, [1, 2, 3], 10),
                }
    finally:
        torch.set_num_threads(threads)
    return {
        "runs": runs,
        "tokens": len(tokens),
        "vocab_size": vocab_size,
        "batches": len(batches),
    }


def _plot(result: dict[str, Any], path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.6), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for name, run in result["runs"].items():
        epochs = [e.epoch for e in run["history"].epochs]
        ax.plot(epochs, [e.perplexity for e in run["history"].epochs], label=name)
    ax.set(xlabel="epoch", ylabel="training perplexity", yscale="log")
    ax.set_title(f"Sequential batches of the synthetic sequence, torch {torch.__version__}")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)


class LossCurve(SphinxDirective):
    """Train briefly with each strategy and show the loss curves and final figures."""

    option_spec = {
        "strategies": directives.unchanged,
        "epochs": directives.positive_int,
        "hidden": directives.positive_int,
    }

    def run(self) -> list[nodes.Node]:
        strategies = [s.strip() for s in self.options.get("strategies", "detach").split(",")]
        epochs = self.options.get("epochs", 30)
        hidden = self.options.get("hidden", 64)
        try:
            result = _train_runs(strategies, epochs, hidden, seed=0)
        except Exception:
            logger.error(
                "page %r: the training run for the loss curve failed:\n%s",
                self.env.docname,
                traceback.format_exc(),
                location=self.get_location(),
            )
            return []
        out_dir = Path(self.env.app.srcdir) / GENERATED
        out_dir.mkdir(parents=True, exist_ok=True)
        name = f"loss-curve-{self.env.docname.replace('/', '-')}-{self.lineno}.png"
        _plot(result, out_dir / name)
        self.env.note_dependency(__file__)

        figure = nodes.figure(classes=["loss-curve"])
        figure += nodes.image(uri=f"/{GENERATED}/{name}", alt="training perplexity per epoch")
        caption = (
            f"Training perplexity per epoch: {result['tokens']} tokens in "
            f"{result['batches']} sequential batches of 10 rows by 20 steps, "
            f"RNNModel({result['vocab_size']}, num_hiddens={hidden}, fused=False), SGD lr 1, clip 1, "
            f"{epochs} epochs, CPU, torch {torch.__version__}; run while this page was built."
        )
        figure += nodes.caption(caption, caption)
        return [figure, self._table(result)]

    def _table(self, result: dict[str, Any]) -> nodes.Element:
        header = ["strategy", "final perplexity", "final accuracy", "predict([1, 2, 3], 10)"]
        rows = [
            [
                name,
                f"{run['history'].perplexity:.3f}",
                f"{run['history'].accuracy:.3f}",
                " ".join(str(i) for i in run["prediction"]),
            ]
            for name, run in result["runs"].items()
        ]
        table = nodes.table(classes=["loss-curve-table"])
        group = nodes.tgroup(cols=len(header))
        table += group
        group.extend(nodes.colspec(colwidth=1) for _ in header)
        head = nodes.thead()
        head += _row(header)
        body = nodes.tbody()
        body.extend(_row(r) for r in rows)
        group += head
        group += body
        return table


def _row(cells: list[str]) -> nodes.row:
    row = nodes.row()
    for text in cells:
        entry = nodes.entry()
        entry += nodes.paragraph(text, text)
        row += entry
    return row


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("loss-curve", LossCurve)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}

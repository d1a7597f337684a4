"""``explain`` reads a traceback however it was pasted: IPython old and new, ANSI colours,
Windows paths, a message alone, and messages in an older torch release's words."""

from __future__ import annotations

import pytest

from rnn_autograd.diagnose.code_signals import code_signals
from rnn_autograd.diagnose.error_text import current_wording, parse_error_text
from rnn_autograd.diagnose.explain import match_text
from rnn_autograd.spec import get_case

_FREED = (
    "Trying to backward through the graph a second time (or directly access saved tensors after"
    " they have already been freed). Saved intermediate values of the graph are freed when you"
    " call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward"
    " through the graph a second time or if you need to access saved tensors after calling"
    " backward."
)
_R, _G, _N = "\x1b[0;31m", "\x1b[0;32m", "\x1b[0m"
# IPython 8 in a terminal or a notebook: coloured, a "Cell In[..]" frame, numbered lines,
# "File PATH:LINE, in f(...)" frames for libraries.
IPYTHON_8 = f"""{_R}---------------------------------------------------------------------------{_N}
{_R}RuntimeError{_N}                              Traceback (most recent call last)
Cell {_G}In[12], line 9{_N}
{_G}      7{_N} output, hidden {_R}={_N} model(inputs, hidden)
{_G}      8{_N} loss {_R}={_N} criterion(output, targets)
{_R}----> 9{_N} loss{_R}.{_N}backward()

File {_G}~/miniconda3/lib/python3.11/site-packages/torch/_tensor.py:487{_N}, in {_G}Tensor.backward{_N}(self, gradient, retain_graph, create_graph, inputs)
{_G}    486{_N} if retain_graph is None: retain_graph = create_graph
{_R}--> 487{_N} torch{_R}.{_N}autograd{_R}.{_N}backward(self, gradient, retain_graph=True)

{_R}RuntimeError{_N}: {_FREED}
"""
# IPython < 8 (Colab of 2019): "<ipython-input-...> in <module>()" and "PATH in f(...)" frames.
IPYTHON_OLD = """---------------------------------------------------------------------------
RuntimeError                              Traceback (most recent call last)
<ipython-input-7-3f2a9c01> in <module>()
      4     output, hidden = model(inputs, hidden)
      5     loss = criterion(output, targets)
----> 6     loss.backward()
      7

/usr/local/lib/python3.6/dist-packages/torch/tensor.py in backward(self, gradient, retain_graph)
    106         \"\"\"
--> 107         torch.autograd.backward(self, gradient, retain_graph=True)

RuntimeError: Trying to backward through the graph a second time, but the buffers have already \
been freed. Specify retain_graph=True when calling backward the first time.
"""
WINDOWS = rf"""Traceback (most recent call last):
  File "C:\Users\me\proj\train.py", line 44, in <module>
    total_loss = total_loss + loss
  File "C:\Users\me\proj\train.py", line 45, in <module>
    total_loss.backward()
  File "C:\Users\me\anaconda3\lib\site-packages\torch\_tensor.py", line 396, in backward
    torch.autograd.backward(self, gradient, retain_graph=True)
RuntimeError: {_FREED}
"""


@pytest.mark.parametrize(
    "text, context",
    [
        (
            IPYTHON_8,
            ("output, hidden = model(inputs, hidden)", "loss = criterion(output, targets)"),
        ),
        (
            IPYTHON_OLD,
            ("output, hidden = model(inputs, hidden)", "loss = criterion(output, targets)"),
        ),
        (WINDOWS, ("total_loss = total_loss + loss",)),
    ],
    ids=["ipython 8 with colours", "ipython before 8", "windows paths"],
)
def test_the_users_lines_are_read_without_numbers_colours_or_torchs_own_lines(text, context):
    [error] = parse_error_text(text)
    assert error.type_name == "RuntimeError"
    assert error.message.startswith("Trying to backward through the graph a second time")
    assert error.context[: len(context)] == context
    assert not any("retain_graph" in line for line in error.context)  # torch's lines left out
    assert not any(line[:1].isdigit() for line in error.context)


@pytest.mark.parametrize(
    "text, fix_words",
    [(IPYTHON_8, "detach"), (IPYTHON_OLD, "detach"), (WINDOWS, "values")],
    ids=["ipython 8", "ipython before 8", "windows"],
)
def test_a_noisy_traceback_leads_to_the_fix_for_the_carried_tensor(text, fix_words):
    first = match_text(text)[0]
    assert first.tier == "declared" and not first.trap, first.case.id
    fix = get_case(first.case.fix)
    assert fix_words in code_signals(fix.source.splitlines()), (first.case.id, fix.id)


@pytest.mark.parametrize(
    "old, case_id",
    [
        (
            "RuntimeError: Can't call numpy() on Variable that requires grad. Use"
            " var.detach().numpy() instead.",
            "conversions/numpy-of-requires-grad",
        ),
        (
            "RuntimeError: element 0 of variables does not require grad and does not have a grad_fn",
            {"training-loop/loss-under-no-grad", "training-loop/loss-from-numpy"},
        ),
    ],
    ids=["numpy on Variable", "element 0 of variables"],
)
def test_a_message_in_torch_1_words_is_declared_by_the_case_of_todays_words(old, case_id):
    first = match_text(old)[0]
    assert first.tier == "declared"
    assert first.case.id in ({case_id} if isinstance(case_id, str) else case_id)
    assert any("older torch" in r for r in first.reasons)


_OLD_LEAF = (
    "RuntimeError: a leaf Variable that requires grad has been used in an in-place operation."
)


@pytest.mark.parametrize(
    "code, case_id",
    [
        ("w -= lr * w.grad", "grad-mode/leaf-inplace-outside-no-grad"),
        ("ctx.mark_dirty(x)", "custom-function/mark-dirty-on-leaf"),
    ],
)
def test_torch_1_words_for_a_leaf_changed_in_place_are_told_apart_by_the_code(code, case_id):
    # Today only ctx.mark_dirty says "has been used"; torch < 1.8 said it for every leaf.
    text = (
        f'Traceback (most recent call last):\n  File "a.py", line 3, in f\n    {code}\n{_OLD_LEAF}'
    )
    assert match_text(text)[0].case.id == case_id


def test_today_words_are_kept_and_older_words_rewritten():
    today = "a leaf Variable that requires grad is being used in an in-place operation."
    assert current_wording(today) == today
    assert current_wording(_OLD_LEAF) == "RuntimeError: " + today


@pytest.mark.parametrize(
    "text",
    [
        "one of the variables needed for gradient computation has been modified by an inplace"
        " operation: [torch.cuda.FloatTensor [10, 20]], which is output 0 of TBackward, is at"
        " version 2; expected version 1 instead. Hint: the backtrace further above shows the"
        " operation that failed to compute its gradient.",
        "RuntimeError: one of the variables needed for gradient computation has been modified by"
        " an inplace operation",  # torch 0.4: no details at all
    ],
    ids=["torch 1.x with its details", "torch 0.4 without details"],
)
def test_a_version_message_without_a_traceback_is_declared(text):
    first = match_text(text)[0]
    assert first.tier in ("declared", "pattern")
    assert "modified by an inplace operation" in first.declared.pattern


LIGHTNING = f"""Traceback (most recent call last):
  File "train.py", line 88, in <module>
    trainer.fit(model, dm)
  File "/opt/conda/lib/python3.10/site-packages/pytorch_lightning/trainer/trainer.py", line 532, in fit
    call._call_and_handle_interrupt(
  File "/opt/conda/lib/python3.10/contextlib.py", line 153, in __exit__
    self.gen.throw(typ, value, traceback)
  File "/home/u/proj/model.py", line 41, in training_step
    self.manual_backward(total_loss)
  File "/opt/conda/lib/python3.10/site-packages/torch/_tensor.py", line 522, in backward
    torch.autograd.backward(self, gradient, retain_graph=True)
RuntimeError: {_FREED}
"""


@pytest.mark.parametrize(
    "text",
    [
        LIGHTNING,
        "\n".join("    " + line for line in LIGHTNING.splitlines()),
        "\n".join("> " + line for line in LIGHTNING.splitlines()),
    ],
    ids=["as printed", "a markdown code block", "a markdown quote"],
)
def test_installed_packages_lines_are_left_out_and_a_pasted_block_is_read_as_printed(text):
    [error] = parse_error_text(text)
    assert error.type_name == "RuntimeError"
    assert error.context == ("trainer.fit(model, dm)", "self.manual_backward(total_loss)")

"""The public surface is explicit: ``__all__`` names exactly what the package exports."""

from __future__ import annotations

import subprocess
import sys

import rnn_autograd


def test_every_name_in_all_is_importable_and_documented():
    for name in rnn_autograd.__all__:
        obj = getattr(rnn_autograd, name)
        if name != "__version__":
            assert (obj.__doc__ or "").strip(), f"{name} has no docstring"


def test_all_lists_every_public_name_the_package_binds_except_submodules():
    import types

    public = {
        n
        for n, v in vars(rnn_autograd).items()
        # A callable submodule (``diagnose``) is a public name; other submodules are not.
        if not n.startswith("_") and (not isinstance(v, types.ModuleType) or callable(v))
    }
    assert public == set(rnn_autograd.__all__) - {"__version__"}


def test_importing_the_package_does_not_import_matplotlib():
    code = "import sys, rnn_autograd; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_diagnose_is_both_the_subpackage_and_the_context_manager():
    import torch

    import rnn_autograd.diagnose as package
    from rnn_autograd import diagnose

    assert package is sys.modules["rnn_autograd.diagnose"] is diagnose
    x = torch.ones(2, requires_grad=True)
    y = (x * 2).sum()
    y.backward()
    try:
        with diagnose(watch=y):
            y.backward()
    except RuntimeError as exc:
        assert any("backward-through-freed-graph" in n for n in exc.__notes__)
    else:
        raise AssertionError("the second backward should raise")


def test_a_function_never_shadows_its_own_module():
    import importlib

    for dotted in [
        "rnn_autograd.pipeline.training",
        "rnn_autograd.pipeline.prediction",
        "rnn_autograd.diagnose.context",
        "rnn_autograd.diagnose",
        "rnn_autograd.bench",
    ]:
        module = importlib.import_module(dotted)
        parent, _, name = dotted.rpartition(".")
        assert getattr(importlib.import_module(parent), name) is module, dotted


def test_record_is_exported_as_a_context_manager_and_decorator_of_its_own_module():
    import contextlib

    from rnn_autograd.diagnose import recording

    assert "record" in rnn_autograd.__all__
    assert rnn_autograd.record is rnn_autograd.diagnose.record is recording.record
    assert issubclass(rnn_autograd.record, contextlib.ContextDecorator)
    assert sys.modules["rnn_autograd.diagnose.recording"] is recording  # not shadowed

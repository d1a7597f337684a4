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
        if not n.startswith("_") and not isinstance(v, types.ModuleType)
    }
    assert public == set(rnn_autograd.__all__) - {"__version__"}


def test_importing_the_package_does_not_import_matplotlib():
    code = "import sys, rnn_autograd; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

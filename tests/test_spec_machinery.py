"""The case machinery itself: declarations, mismatches, isolation, the registry."""

from __future__ import annotations

import warnings

import pytest
import torch

from rnn_autograd.spec import (
    ByTorch,
    Case,
    CaseLookupError,
    Close,
    Raises,
    Returns,
    Satisfies,
    Warned,
    check,
    get_case,
    register,
    run_case,
)
from rnn_autograd.spec.case import _REGISTRY
from rnn_autograd.spec.torch_private import has_top_of_hooks_stack


def make(func, outcome, id="test/x"):
    return Case(id=id, func=func, question="q?", outcome=outcome, explanation="e", module=__name__)


def raises_runtime():
    raise RuntimeError("Trying to backward through the graph a second time (details)")


def returns_grad():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    return {"grad": x.grad, "leaf": x.is_leaf, "version": x._version}


def test_a_correct_declaration_matches():
    v = check(
        make(returns_grad, Returns({"grad": torch.tensor([3.0, 3.0]), "leaf": True, "version": 0}))
    )
    assert v.ok, v.mismatches


def test_a_wrong_value_is_a_mismatch_showing_declared_and_observed():
    v = check(
        make(returns_grad, Returns({"grad": torch.tensor([2.0, 2.0]), "leaf": True, "version": 0}))
    )
    assert not v.ok
    assert (
        "declared tensor([2., 2.])" in v.mismatches[0]
        and "observed tensor([3., 3.])" in v.mismatches[0]
    )


def test_a_missing_and_an_extra_observation_are_mismatches():
    v = check(
        make(returns_grad, Returns({"grad": torch.tensor([3.0, 3.0]), "leaf": True, "other": 1}))
    )
    assert any("missing observation 'other'" in m for m in v.mismatches)
    assert any("extra observation 'version'" in m for m in v.mismatches)


def test_an_int_is_not_a_bool_and_a_float_is_not_a_tensor():
    v = check(make(lambda: {"v": 1, "f": torch.tensor(1.0)}, Returns({"v": True, "f": 1.0})))
    assert len(v.mismatches) == 2


def test_close_compares_with_a_tolerance():
    case = make(
        lambda: {"x": torch.tensor([1.0 + 1e-7])}, Returns({"x": Close(torch.tensor([1.0]))})
    )
    assert check(case).ok
    case = make(lambda: {"x": torch.tensor([1.1])}, Returns({"x": Close(torch.tensor([1.0]))}))
    assert not check(case).ok


def test_satisfies_states_a_property():
    assert check(
        make(lambda: {"loss": 0.5}, Returns({"loss": Satisfies(lambda v: v < 1, "below 1")}))
    ).ok
    v = check(make(lambda: {"loss": 2.0}, Returns({"loss": Satisfies(lambda v: v < 1, "below 1")})))
    assert "not below 1" in v.mismatches[0]


def test_a_matching_exception_matches():
    assert check(make(raises_runtime, Raises(RuntimeError, r"graph a second time"))).ok


def test_a_different_exception_type_is_a_mismatch():
    v = check(make(raises_runtime, Raises(ValueError, r"graph a second time")))
    assert "declared ValueError, observed RuntimeError" in v.mismatches[0]


def test_a_subclass_is_not_the_declared_type():
    def raises_subclass():
        raise NotImplementedError("graph a second time")  # a RuntimeError subclass

    assert not check(make(raises_subclass, Raises(RuntimeError, r"graph a second time"))).ok


def test_a_non_matching_message_is_a_mismatch():
    v = check(make(raises_runtime, Raises(RuntimeError, r"modified by an inplace operation")))
    assert "does not match" in v.mismatches[0]


def test_declaring_a_raise_that_returns_is_a_mismatch_and_vice_versa():
    assert not check(make(returns_grad, Raises(RuntimeError, "x"))).ok
    v = check(make(raises_runtime, Returns({})))
    assert "observed RuntimeError" in v.mismatches[0]


def test_warnings_are_observations():
    def warns():
        warnings.warn(
            "the .grad attribute of a Tensor that is not a leaf", UserWarning, stacklevel=1
        )

    assert not check(make(warns, Returns({}))).ok, "an undeclared warning is a mismatch"
    assert check(make(warns, Returns({}, warns=(Warned(UserWarning, r"not a leaf"),)))).ok
    assert not check(make(lambda: None, Returns({}, warns=(Warned(UserWarning, "x"),)))).ok


def test_by_torch_picks_the_declaration_for_the_installed_release():
    outcome = ByTorch({"<2.0": Raises(RuntimeError, "old"), ">=2.0": Returns({"v": 1})})
    assert check(make(lambda: {"v": 1}, outcome)).ok


def test_by_torch_with_no_matching_range_is_a_mismatch_not_a_crash():
    v = check(make(lambda: {"v": 1}, ByTorch({"<1.0": Returns({"v": 1})})))
    assert not v.ok and "covered by 0" in v.mismatches[0]


def test_isolation_restores_global_state_after_a_raising_case():
    recorded = []

    def leaky():
        torch.set_grad_enabled(False)
        torch.autograd.set_detect_anomaly(True)
        torch.set_default_dtype(torch.float64)
        torch.use_deterministic_algorithms(True)
        torch.set_num_threads(3)
        torch.set_warn_always(True)
        _Recording(recorded).__enter__()
        torch.manual_seed(123)
        raise RuntimeError("boom")

    threads = torch.get_num_threads()
    torch.manual_seed(7)
    expected_next = torch.rand(1)
    torch.manual_seed(7)
    obs = run_case(make(leaky, Raises(RuntimeError, "boom")))
    assert obs.raised is RuntimeError
    assert torch.is_grad_enabled()
    assert not torch.is_anomaly_enabled()
    assert torch.get_default_dtype() is torch.float32
    assert not torch.are_deterministic_algorithms_enabled()
    assert torch.get_num_threads() == threads
    assert _no_saved_tensors_hooks_active(recorded)
    assert not torch.is_warn_always_enabled()
    assert torch.equal(torch.rand(1), expected_next), "the caller's RNG stream is untouched"


def _no_saved_tensors_hooks_active(*records: list) -> bool:
    """Public probe, on every release: a saving op calls the pack hook on top of the stack."""
    y = torch.ones(2, requires_grad=True) * torch.ones(2, requires_grad=True)  # saves both
    del y
    if has_top_of_hooks_stack():
        return torch._C._autograd._top_saved_tensors_default_hooks(False) is None
    return not any(records)


class _Recording(torch.autograd.graph.saved_tensors_hooks):
    """A subclass, as ``save_on_cpu`` is one: it inherits ``__enter__``/``__exit__``."""

    def __init__(self, record: list):
        super().__init__(lambda t: record.append(t) or t, lambda t: t)


@pytest.mark.parametrize("private_top", [True, False], ids=["top-of-stack-api", "fallback"])
def test_the_hooks_stack_is_restored_with_or_without_the_private_top_of_stack_api(
    monkeypatch, private_top
):
    # torch 2.2.2 and 2.7.1 have no _top_saved_tensors_default_hooks: the fallback counts pushes.
    if not private_top:
        monkeypatch.delattr(torch._C._autograd, "_top_saved_tensors_default_hooks", raising=False)
    elif not has_top_of_hooks_stack():
        pytest.skip(f"torch {torch.__version__} has no _top_saved_tensors_default_hooks")
    below, above = [], []

    def leaky():
        _Recording(below).__enter__()
        with torch.autograd.graph.saved_tensors_hooks(lambda t: t, lambda t: t):  # popped by `with`
            pass
        torch.autograd.graph.saved_tensors_hooks(
            lambda t: above.append(t) or t, lambda t: t
        ).__enter__()
        raise RuntimeError("boom")

    assert run_case(make(leaky, Raises(RuntimeError, "boom"))).raised is RuntimeError
    monkeypatch.undo()
    assert _no_saved_tensors_hooks_active(below, above), "both leaked hooks were popped"
    assert not below and not above
    cls = torch.autograd.graph.saved_tensors_hooks
    assert cls.__enter__.__qualname__ == "saved_tensors_hooks.__enter__", "the class is restored"


def test_every_case_runs_with_the_same_seed():
    first = run_case(make(lambda: {"r": torch.rand(3)}, Returns({})))
    second = run_case(make(lambda: {"r": torch.rand(3)}, Returns({})))
    assert torch.equal(first.values["r"], second.values["r"])


def test_a_duplicate_id_is_rejected():
    existing = get_case("graph/backward-through-freed-graph")
    with pytest.raises(ValueError, match="duplicate case id"):
        register(existing)


def test_a_malformed_id_is_rejected():
    with pytest.raises(ValueError, match="family/name"):
        register(make(lambda: None, Returns({}), id="NoFamily"))
    assert "NoFamily" not in _REGISTRY


def test_an_unknown_id_names_the_closest_ones():
    with pytest.raises(CaseLookupError, match="closest: graph/backward-through-freed-graph"):
        get_case("graph/backward-through-freed-grph")


def test_a_raises_declaration_describes_its_warnings_so_releases_that_warn_differently_differ():
    from rnn_autograd.spec import Raises, Warned

    old = Raises(RuntimeError, "boom", warns=(Warned(UserWarning, "deprecated"),))
    new = Raises(RuntimeError, "boom", warns=(Warned(FutureWarning, "deprecated"),))
    assert old.describe() == "raises RuntimeError matching 'boom'; warns UserWarning(~'deprecated')"
    assert old.describe() != new.describe() != Raises(RuntimeError, "boom").describe()

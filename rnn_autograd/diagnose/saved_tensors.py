"""Reading the tensors a ``grad_fn`` node saved for backward, and their versions, side-effect free.

How the versions are read (torch 2.x has no public accessor for the saved version):

- ``node._raw_saved_<attr>`` is the ``SavedTensor`` record; its ``.data`` is the saved tensor
  *without* unpacking it (no version check, no unpack hook). It shares the tensor's version
  counter, so ``.data._version`` is the version *now*. ``.data`` is ``None`` once freed (or when
  nothing was saved); ``.unpack_hook`` is set when ``saved_tensors_hooks`` packed it.
- ``node._saved_<attr>`` unpacks it, which is the check backward itself makes: it returns the tensor
  when the versions agree (saved version = current version), raises RuntimeError "... is at
  version N; expected version M instead" when they differ (M is the saved version, parsed from the
  message), and raises "... after they have already been freed" when freed. Unpacking changes no
  version and frees nothing; the unpacked tensor is dropped at once. Tensors packed by
  ``saved_tensors_hooks`` are never unpacked here (that would run the user's hook): they are
  listed with ``hooked=True`` and unknown versions, as torch does not track them either.
- A list-valued attribute (``_saved_indices``; a custom ``autograd.Function``'s
  ``saved_tensors``) is unpacked element by element through ``SavedTensor.unpack()``. A saved
  *output* cannot be unpacked alone (torch needs its node and says "detached in-place"); for it
  the error of unpacking the whole attribute is used, when its versions are this tensor's.

Checked on torch 2.13.0 by tests/test_inspector.py: every path above has a test that also runs
the backward and compares its error with the prediction.

Older releases (2.2.2, 2.7.1) show neither ``.data`` nor ``.unpack`` nor ``.unpack_hook`` on a
``SavedTensor``: there the attribute is unpacked instead (``_infos_by_unpacking``), which gives the
same versions, frees nothing and changes no version, but runs an unpack hook and cannot name a
stale tensor; ``GraphReport.summary()`` then says so in one line (``reading_note``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from ..spec import torch_private

__all__ = ["SavedTensorInfo", "TensorNamer", "layout", "saved_tensors_of"]

_VERSIONS = re.compile(r"is at version (\d+); expected version (\d+) instead")
_FREED = "already been freed"


@dataclass(frozen=True)
class SavedTensorInfo:
    """One tensor a node saved for backward, with its version then and now."""

    node_name: str
    node_id: str
    attr: str
    shape: tuple[int, ...] | None
    dtype: str | None
    saved_version: int | None
    current_version: int | None
    freed: bool
    name: str | None = None
    hooked: bool = False

    @property
    def stale(self) -> bool:
        """Changed in place since it was saved: unpacking it (backward does) raises."""
        return (
            self.saved_version is not None
            and self.current_version is not None
            and self.saved_version != self.current_version
        )

    @property
    def label(self) -> str:
        """``attr`` plus the user's name for the tensor where one was given."""
        return f"{self.attr} ({self.name})" if self.name else self.attr

    @property
    def layout(self) -> str:
        """``float32[2, 4]``; ``?`` when freed."""
        return layout(self.dtype, self.shape) or "?"

    @property
    def status(self) -> str:
        if self.freed:
            return "freed"
        if self.hooked:
            return "packed by saved_tensors_hooks, version not tracked"
        if self.saved_version is None or self.current_version is None:
            return "version unknown"
        text = f"saved v{self.saved_version}, now v{self.current_version}"
        return text + (" STALE" if self.stale else "")


def layout(dtype: str | None, shape: tuple[int, ...] | None) -> str:
    """``float32[2, 4]``; empty when the shape is unknown."""
    if shape is None:
        return ""
    return f"{(dtype or '').replace('torch.', '')}[{', '.join(map(str, shape))}]"


class TensorNamer:
    """Names by identity, else by the same view of the same memory, else "view of NAME"."""

    def __init__(self, names: Mapping[str, torch.Tensor]):
        self._by_id = {id(t): n for n, t in names.items()}
        self._by_view: dict[tuple, str] = {}
        self._by_storage: dict[int, str] = {}
        for n, t in names.items():  # the last name given for a tensor wins, as for identity
            key = _view_key(t)
            if key is not None:
                self._by_view[key] = n
                if key[0]:
                    self._by_storage[_storage_ptr(t)] = n

    def name(self, t: Any) -> str | None:
        if not isinstance(t, torch.Tensor):
            return None
        if id(t) in self._by_id:
            return self._by_id[id(t)]
        key = _view_key(t)
        if key is None:
            return None
        if key in self._by_view:
            return self._by_view[key]
        owner = self._by_storage.get(_storage_ptr(t)) if key[0] else None
        return f"view of {owner}" if owner else None


def _view_key(t: torch.Tensor) -> tuple | None:
    try:
        return (t.data_ptr(), t.storage_offset(), tuple(t.shape), tuple(t.stride()), t.dtype)
    except (RuntimeError, NotImplementedError):  # no storage (meta, sparse, some subclasses)
        return None


def _storage_ptr(t: torch.Tensor) -> int:
    return t.untyped_storage().data_ptr()


# Attribute names per node type: dir() on every node of a long graph would be the cost.
_ATTRS: dict[type, frozenset[str]] = {}


def _attr_names(fn: Any) -> frozenset[str]:
    kind = type(fn)
    if kind not in _ATTRS:
        _ATTRS[kind] = frozenset(dir(fn))
    return _ATTRS[kind]


def _saved_attrs(fn: Any) -> list[str]:
    # hasattr() would unpack (and raise for freed tensors): names come from dir() instead.
    return sorted(a[len("_raw_saved_") :] for a in _attr_names(fn) if a.startswith("_raw_saved_"))


def saved_tensors_of(fn: Any, node_id: str, namer: TensorNamer) -> list[SavedTensorInfo]:
    """Every tensor ``fn`` saved, in attribute order, classified current, stale, freed or hooked."""
    node_name = fn.name()
    infos: list[SavedTensorInfo] = []
    for attr in _saved_attrs(fn):
        try:
            infos += _saved_infos(fn, (node_name, node_id), attr, namer)
        except Exception:  # an unforeseen node kind: list it, claim nothing, never break the walk
            infos.append(_record((node_name, node_id), attr, None))
    return infos


def _saved_infos(
    fn: Any, node: tuple[str, str], attr: str, namer: TensorNamer
) -> list[SavedTensorInfo]:
    # Custom autograd.Function nodes expose `saved_tensors` instead of `_saved_tensors`.
    plain = f"_saved_{attr}"
    unpack_name = plain if plain in _attr_names(fn) else "saved_tensors"
    if not torch_private.saved_tensor_record_is_readable():  # 2.2.2, 2.7.1: no SavedTensor.data
        return _infos_by_unpacking(fn, node, attr, unpack_name, namer)
    try:
        raw = getattr(fn, f"_raw_saved_{attr}")
    except RuntimeError as exc:  # a custom Function whose saved tensors are freed
        if _FREED in str(exc):
            return [_record(node, attr, None, freed=True)]
        raise
    many = isinstance(raw, (tuple, list))
    # (label, SavedTensor); a list may hold None for an optional tensor left out.
    items = (
        [(f"{attr}[{i}]", r) for i, r in enumerate(raw) if r is not None] if many else [(attr, raw)]
    )
    if any(_hooked(r) for _, r in items):
        # Packed by saved_tensors_hooks: unpacking would run the user's hook, so do not.
        return [_record(node, label, None, hooked=True) for label, _ in items]
    whole_error = _unpack_error(lambda: getattr(fn, unpack_name))
    infos = []
    for label, r in items:
        error = whole_error
        if many and whole_error is not None:
            error = _unpack_error(r.unpack)
            if error is not None and "detached in-place" in error:
                # A saved *output* cannot be unpacked alone (it needs its node): the whole
                # attribute's error speaks for it when the versions in it are this tensor's.
                error = whole_error
        info = _classify(node, label, r.data, error, namer)
        if info is not None:
            infos.append(info)
    return infos


def reading_note() -> str | None:
    """One line for a report on a torch whose saved tensors can only be read by unpacking."""
    if torch_private.saved_tensor_record_is_readable():
        return None
    return (
        f"torch {torch.__version__} shows no SavedTensor.data: saved versions were read by "
        "unpacking (a saved_tensors_hooks unpack hook would run; a stale tensor is not named)"
    )


def _infos_by_unpacking(
    fn: Any, node: tuple[str, str], attr: str, unpack_name: str, namer: TensorNamer
) -> list[SavedTensorInfo]:
    """The fallback where ``SavedTensor`` has neither ``.data`` nor ``.unpack`` (torch 2.2.2 and
    2.7.1): unpack the whole attribute, the check backward makes. It returns the tensors when
    every saved version equals the current one, or raises with "is at version N; expected
    version M" (the versions, but not which tensor, so it is not named) or "already freed".
    Tensors packed by saved_tensors_hooks cannot be told apart here: their unpack hook runs."""
    try:
        value = getattr(fn, unpack_name)
    except RuntimeError as exc:
        found = _VERSIONS.search(str(exc))
        if _FREED in str(exc):
            return [_record(node, attr, None, freed=True)]
        if found:
            now, then = int(found.group(1)), int(found.group(2))
            return [_record(node, attr, None, saved_version=then, current_version=now)]
        return [_record(node, attr, None)]
    many = isinstance(value, (tuple, list))
    labelled = [(f"{attr}[{i}]", t) for i, t in enumerate(value)] if many else [(attr, value)]
    infos = []
    for label, t in labelled:
        if isinstance(t, torch.Tensor):  # None: an optional input left out
            v = _version(t)
            infos.append(_record(node, label, t, saved_version=v, current_version=v, namer=namer))
    return infos


def _hooked(raw: Any) -> bool:
    # `unpack_hook` is set while hooks hold the tensor; older releases only show a non-tensor.
    if getattr(raw, "unpack_hook", None) is not None:
        return True
    return raw.data is not None and not isinstance(raw.data, torch.Tensor)


def _unpack_error(unpack: Any) -> str | None:
    """The RuntimeError message unpacking raises, or None; the unpacked value is dropped."""
    try:
        unpack()
    except RuntimeError as exc:
        return str(exc)
    return None


def _classify(
    node: tuple[str, str],
    attr: str,
    data: torch.Tensor | None,
    error: str | None,
    namer: TensorNamer,
) -> SavedTensorInfo | None:
    if data is None:
        if error is not None and _FREED in error:
            return _record(node, attr, None, freed=True)
        return None  # nothing was saved under this name (an optional input left out)
    current = _version(data)
    found = _VERSIONS.search(error) if error else None
    if found and current is not None and int(found.group(1)) == current:
        saved = int(found.group(2))
    elif error is None:
        saved = current
    else:
        saved = None  # unpacking failed for another reason: report the tensor, claim nothing
    return _record(node, attr, data, saved_version=saved, current_version=current, namer=namer)


def _version(t: torch.Tensor) -> int | None:
    try:
        return int(t._version)
    except RuntimeError:  # inference tensors have no version counter
        return None


def _record(
    node: tuple[str, str],
    attr: str,
    data: torch.Tensor | None,
    *,
    freed: bool = False,
    hooked: bool = False,
    saved_version: int | None = None,
    current_version: int | None = None,
    namer: TensorNamer | None = None,
) -> SavedTensorInfo:
    return SavedTensorInfo(
        node_name=node[0],
        node_id=node[1],
        attr=attr,
        shape=tuple(data.shape) if data is not None else None,
        dtype=str(data.dtype) if data is not None else None,
        saved_version=saved_version,
        current_version=current_version,
        freed=freed,
        name=namer.name(data) if namer is not None and data is not None else None,
        hooked=hooked,
    )

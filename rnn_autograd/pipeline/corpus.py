"""Character corpora from text files, and the vocabulary that maps tokens to ids and back."""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from ..errors import UsageError
from .bounds import check_int, check_memory

__all__ = ["UNK", "Corpus", "Vocab", "load_char_corpus"]

UNK = "<unk>"


class Vocab:
    """Tokens to ids and back: the unknown token is id 0, then tokens by decreasing frequency.

    Ties in frequency are broken by the token itself, so the same text always gives the same
    vocabulary. ``encode`` maps an unseen token to the unknown id unless ``strict``.

    Args:
        tokens: the tokens of the corpus (a string is its characters), counted.
        min_freq: tokens seen fewer times are left out (they encode as the unknown id).

    >>> v = Vocab("abracadabra")
    >>> v.tokens
    ['<unk>', 'a', 'b', 'r', 'c', 'd']
    >>> v.decode(v.encode("cab"))
    'cab'
    """

    def __init__(self, tokens: Iterable[str] = (), min_freq: int = 0):
        counts = Counter(tokens)
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        self.tokens: list[str] = [UNK] + [t for t, c in ordered if c >= min_freq and t != UNK]
        self._index = {t: i for i, t in enumerate(self.tokens)}

    @classmethod
    def from_tokens(cls, tokens: Sequence[str]) -> Vocab:
        """The vocabulary whose id order is exactly ``tokens`` (which starts with ``<unk>``)."""
        if isinstance(tokens, str) or not tokens or tokens[0] != UNK:
            raise UsageError(f"a stored vocabulary is a list of tokens that starts with {UNK!r}")
        v = cls()
        v.tokens = list(tokens)
        v._index = {t: i for i, t in enumerate(v.tokens)}
        return v

    @property
    def unk(self) -> int:
        return 0

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self._index

    def encode(self, tokens: Iterable[str], strict: bool = False) -> list[int]:
        """Ids of ``tokens`` (a string is a sequence of characters).

        Unseen tokens become the unknown id, or raise ``UsageError`` naming them when ``strict``.
        """
        ids = []
        for tok in tokens:
            i = self._index.get(tok)
            if i is None:
                if strict:
                    raise UsageError(
                        f"token {tok!r} is not in the vocabulary of {len(self)} tokens "
                        f"(known: {''.join(t for t in self.tokens[1:] if len(t) == 1)!r})"
                    )
                i = self.unk
            ids.append(i)
        return ids

    def decode(self, ids: Iterable[int], sep: str = "") -> str:
        """The text of ``ids``, tokens joined by ``sep``; an id out of range is a ``UsageError``."""
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self.tokens):
                raise UsageError(f"id {i} is outside the vocabulary (0 .. {len(self.tokens) - 1})")
            out.append(self.tokens[i])
        return sep.join(out)

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens)"


class Corpus(NamedTuple):
    """A corpus as ids, with the vocabulary that decodes them and how its text was normalised."""

    ids: list[int]
    vocab: Vocab
    lower: bool
    letters_only: bool


def normalise(text: str, lower: bool = True, letters_only: bool = True) -> str:
    """d2l's cleaning of *The Time Machine*: each run of non-letters becomes one space."""
    if letters_only:
        text = re.sub(r"[^A-Za-z]+", " ", text).strip()
    return text.lower() if lower else text


def load_char_corpus(
    path: str | Path,
    max_chars: int | None = None,
    lower: bool = True,
    letters_only: bool = True,
) -> Corpus:
    """A UTF-8 text file as character ids with its vocabulary.

    With the defaults (d2l's), *The Time Machine* has 26 letters, the space and ``<unk>``: 28
    tokens. ``max_chars`` keeps the first characters of the normalised text (for quick runs).
    A missing, unreadable or empty file is a ``UsageError``.

    Args:
        path: the UTF-8 text file.
        max_chars: keep the first ``max_chars`` characters of the normalised text; None: all.
        lower: lower-case the text.
        letters_only: replace every run of characters other than the ASCII letters by one space
            (and strip the ends).

    Returns:
        The ``Corpus``: the text's ids and its ``Vocab``.
    """
    if not isinstance(path, str | os.PathLike) or str(path) == "":
        raise UsageError(f"the corpus must be a text file path; got {path!r}")
    if max_chars is not None:
        check_int(max_chars, "max_chars")
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"corpus {p} is a folder; give a UTF-8 text file")
    if not p.is_file():
        raise UsageError(f"corpus file not found: {p}")
    # the text, its normalised copy and a list of ids: far more than the file's bytes
    check_memory(40 * p.stat().st_size, f"the corpus {p}", "use a smaller file")
    try:
        raw = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"corpus file {p} is not UTF-8 text ({exc.reason} at byte {exc.start}); give a UTF-8 text file"
        ) from None
    except OSError as exc:
        raise UsageError(f"cannot read corpus file {p}: {os.strerror(exc.errno or 0)}") from None
    if "\x00" in raw:
        raise UsageError(
            f"corpus file {p} holds NUL bytes: it is binary, not text; give a UTF-8 text file"
        )
    text = normalise(raw, lower=lower, letters_only=letters_only)
    if max_chars is not None:
        text = text[:max_chars]
    if not text:
        raise UsageError(f"corpus file {p} has no characters left after normalising")
    vocab = Vocab(text)
    return Corpus(vocab.encode(text), vocab, lower, letters_only)

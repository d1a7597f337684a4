"""Token streams, the three batchings, character corpora and the vocabulary."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnn_autograd.errors import UsageError
from rnn_autograd.pipeline.corpus import UNK, Vocab, load_char_corpus
from rnn_autograd.pipeline.data import (
    counting_sequence,
    make_batches,
    random_batches,
    sequential_batches,
    window_batches,
)

FAST = settings(max_examples=60, deadline=None)

corpora = st.integers(min_value=0, max_value=400).map(lambda n: list(range(1000, 1000 + n)))
sizes = st.tuples(st.integers(1, 9), st.integers(1, 9))


def _batches_or_skip(fn, tokens, batch_size, num_steps, **kw):
    """The batches, or None where the corpus is too short (checked by the error tests)."""
    try:
        return list(fn(tokens, batch_size, num_steps, **kw))
    except UsageError:
        return None


# Corpora of distinct increasing tokens make every property a statement about positions:
# token value - 1000 is its index in the corpus.


@FAST
@given(corpora, sizes, st.sampled_from(["windows", "sequential", "random"]))
def test_every_batching_gives_y_equal_to_x_shifted_by_one(tokens, size, kind):
    batches = _batches_or_skip(lambda *a: make_batches(kind, *a), tokens, *size)
    for X, Y in batches or []:
        assert X.shape == Y.shape == size
        assert X.dtype == Y.dtype == torch.long
        torch.testing.assert_close(Y, X + 1)  # the next token of the stream, position by position


@FAST
@given(corpora, sizes, st.sampled_from(["windows", "sequential", "random"]))
def test_no_batching_reads_past_the_end_of_the_corpus(tokens, size, kind):
    batches = _batches_or_skip(lambda *a: make_batches(kind, *a), tokens, *size)
    for X, Y in batches or []:
        assert int(X.min()) >= 1000 and int(Y.max()) <= 1000 + len(tokens) - 1


@FAST
@given(corpora, sizes)
def test_sequential_rows_continue_exactly_where_the_previous_batch_ended(tokens, size):
    batches = _batches_or_skip(sequential_batches, tokens, *size)
    for (X0, _), (X1, _) in zip(batches or [], (batches or [])[1:], strict=False):
        torch.testing.assert_close(X1[:, 0], X0[:, -1] + 1)


@FAST
@given(corpora, sizes)
def test_sequential_rows_are_contiguous_slices_that_do_not_overlap(tokens, size):
    batches = _batches_or_skip(sequential_batches, tokens, *size)
    if batches:
        rows = torch.cat([X for X, _ in batches], dim=1)  # (batch, all steps)
        flat = rows.reshape(-1)
        assert len(set(flat.tolist())) == flat.numel()
        torch.testing.assert_close(rows[:, 1:], rows[:, :-1] + 1)


@FAST
@given(corpora, sizes)
def test_windows_are_the_notebooks_overlapping_rows_in_order(tokens, size):
    batch_size, num_steps = size
    batches = _batches_or_skip(window_batches, tokens, batch_size, num_steps)
    rows = torch.cat([X for X, _ in batches]) if batches else torch.empty(0, num_steps)
    for r, row in enumerate(rows):
        assert row.tolist() == tokens[r : r + num_steps]
    if batches:
        assert len(batches) == (len(tokens) - num_steps) // batch_size


@FAST
@given(corpora, sizes, st.integers(0, 5))
def test_random_batches_use_each_subsequence_at_most_once_and_depend_only_on_the_seed(
    tokens, size, seed
):
    first = _batches_or_skip(random_batches, tokens, *size, seed=seed)
    again = _batches_or_skip(random_batches, tokens, *size, seed=seed)
    if first:
        starts = torch.cat([X[:, 0] for X, _ in first]).tolist()
        assert len(set(starts)) == len(starts)
        assert len({(s - 1000) % size[1] for s in starts}) == 1  # one offset, aligned cuts
        for (X, Y), (X2, Y2) in zip(first, again, strict=True):
            torch.testing.assert_close((X, Y), (X2, Y2))


@pytest.mark.parametrize(
    ("kind", "needed"), [("windows", "25 tokens"), ("sequential", "101 tokens")]
)
def test_a_corpus_too_short_for_one_batch_is_an_error_naming_the_numbers(kind, needed):
    with pytest.raises(UsageError, match=rf"too short.*24 tokens.*need at least {needed}"):
        make_batches(kind, list(range(24)), 5, 20)


def test_random_batches_on_a_too_short_corpus_name_the_numbers():
    with pytest.raises(UsageError, match=r"too short for one random batch: 30 tokens"):
        random_batches(list(range(30)), 2, 20)


def test_an_unknown_batching_lists_the_known_ones():
    with pytest.raises(UsageError, match="unknown batching 'sorted'.*sequential, windows, random"):
        make_batches("sorted", list(range(100)), 2, 3)


def test_batches_can_be_iterated_again_and_know_their_length():
    batches = sequential_batches(list(range(100)), 3, 5)
    assert len(batches) == len(list(batches)) == len(list(batches)) == 6


def test_the_counting_sequence_is_runs_of_consecutive_integers_from_a_seeded_start():
    seq = counting_sequence(num_runs=50, run_length=5, low=0, high=10, seed=3)
    assert len(seq) == 250
    runs = [seq[i : i + 5] for i in range(0, 250, 5)]
    assert all(run == list(range(run[0], run[0] + 5)) and 0 <= run[0] <= 10 for run in runs)
    assert seq == counting_sequence(num_runs=50, seed=3)
    assert seq != counting_sequence(num_runs=50, seed=4)


def test_the_counting_sequence_reaches_both_ends_of_the_start_range():
    starts = set(counting_sequence(num_runs=500, seed=0)[::5])
    assert starts == set(range(11))


@settings(max_examples=80, deadline=None)
@given(st.text(min_size=1, max_size=60))
def test_the_vocabulary_round_trips_the_text_it_was_built_from(text):
    vocab = Vocab(text)
    assert vocab.decode(vocab.encode(text)) == text


def test_the_vocabulary_puts_the_unknown_token_first_then_tokens_by_frequency():
    vocab = Vocab("the cat sat")
    assert vocab.tokens[0] == UNK
    assert vocab.tokens[1:4] == ["t", " ", "a"]  # 't' three times; ' ' and 'a' twice, by token
    counts = [("the cat sat").count(t) for t in vocab.tokens[1:]]
    assert counts == sorted(counts, reverse=True)


def test_an_unseen_token_maps_to_unknown_or_is_an_error_when_strict():
    vocab = Vocab("abc")
    assert vocab.encode("abz") == [vocab.encode("a")[0], vocab.encode("b")[0], vocab.unk]
    with pytest.raises(UsageError, match="token 'z' is not in the vocabulary"):
        vocab.encode("z", strict=True)


def test_a_stored_vocabulary_rebuilds_the_same_ids():
    vocab = Vocab("hello world")
    again = Vocab.from_tokens(vocab.tokens)
    assert again.encode("low") == vocab.encode("low")


def test_a_char_corpus_is_lowercased_letters_and_single_spaces(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("The Time-Machine,\n\nby H. G. Wells 1895\n", encoding="utf-8")
    corpus = load_char_corpus(path)
    assert corpus.vocab.decode(corpus.ids) == "the time machine by h g wells"
    short = load_char_corpus(path, max_chars=3)
    assert short.vocab.decode(short.ids) == "the"


def test_a_char_corpus_keeps_case_and_punctuation_when_asked(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("Ab, c!", encoding="utf-8")
    corpus = load_char_corpus(path, lower=False, letters_only=False)
    assert corpus.vocab.decode(corpus.ids) == "Ab, c!"


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "corpus file not found"), (b"\xff\xfe\x00", "not UTF-8"), (b"123 !!", "no characters")],
    ids=["missing", "not-utf8", "empty-after-normalising"],
)
def test_a_bad_corpus_file_is_a_usage_error(tmp_path, content, message):
    path = tmp_path / "corpus.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UsageError, match=message):
        load_char_corpus(path)


def test_the_time_machine_has_the_28_token_vocabulary_of_d2l(timemachine_path):
    corpus = load_char_corpus(timemachine_path)
    assert len(corpus.vocab) == 28
    assert len(corpus.ids) > 100_000

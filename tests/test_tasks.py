"""The delayed recall task (rnn_autograd.bench.tasks)."""

from __future__ import annotations

import pytest
import torch

from rnn_autograd.bench.tasks import (
    delayed_recall_sequence,
    recall_mask,
    recall_vocab_size,
)
from rnn_autograd.errors import UsageError


def test_each_episode_repeats_its_key_delay_steps_later_with_clock_tokens_between():
    delay, keys = 7, 3
    seq = delayed_recall_sequence(20, delay=delay, num_keys=keys, seed=3)
    assert len(seq) == 20 * (delay + 1)
    for e in range(20):
        episode = seq[e * (delay + 1) : (e + 1) * (delay + 1)]
        assert episode[0] == episode[-1] < keys
        assert episode[1:-1] == list(range(keys, keys + delay - 1))
    assert max(seq) < recall_vocab_size(delay, keys)


def test_the_same_seed_gives_the_same_sequence_and_keys_vary():
    a = delayed_recall_sequence(50, delay=4, num_keys=4, seed=1)
    assert a == delayed_recall_sequence(50, delay=4, num_keys=4, seed=1)
    assert len({a[i] for i in range(0, len(a), 5)}) == 4


def test_the_recall_mask_marks_exactly_the_targets_that_repeat_a_key():
    delay, keys = 5, 3
    seq = torch.tensor(delayed_recall_sequence(10, delay=delay, num_keys=keys))
    x, y = seq[:-1], seq[1:]
    mask = recall_mask(x, delay, keys)
    positions = torch.arange(len(y)) + 1  # index of each target in seq
    torch.testing.assert_close(mask, positions % (delay + 1) == delay)


@pytest.mark.parametrize(("delay", "keys"), [(1, 4), (5, 1)], ids=["delay-1", "one-key"])
def test_degenerate_parameters_are_usage_errors(delay, keys):
    with pytest.raises(UsageError, match="delay >= 2 and num_keys >= 2"):
        delayed_recall_sequence(3, delay=delay, num_keys=keys)

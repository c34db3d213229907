"""gym.slime.packing: slime's dynamic-batch schedule (pack the step first-fit, split to a multiple
of DP, deal to ranks), checked on worked examples."""

import pytest

from gym.slime.packing import align, deal, dp_schedule, first_fit


def test_first_fit_fills_earlier_bins_not_only_the_last():
    # 6 opens bin 0, 5 opens bin 1, 2 goes back into bin 0 (6 + 2 = 8), 3 into bin 1.
    # Packing in order (a new bin when the next sample overflows the current one) would make 3 bins.
    assert first_fit([6, 5, 2, 3], budget=8) == [[0, 2], [1, 3]]


def test_a_sample_longer_than_the_budget_gets_its_own_bin():
    assert first_fit([3, 12, 4], budget=8) == [[0, 2], [1]]


def test_align_splits_the_fullest_bin_until_a_multiple_of_dp():
    lengths = [6, 5, 2, 3]
    # Both bins hold 8 tokens: the later one ([1, 3]) splits first, then [0, 2].
    assert align([[0, 2], [1, 3]], dp=4, lengths=lengths) == [[0], [1], [3], [2]]
    assert align([[0, 2], [1, 3]], dp=2, lengths=lengths) == [[0, 2], [1, 3]]  # already a multiple
    # 3 bins for DP 2: one split makes 4
    assert align([[0], [1], [2, 3]], dp=2, lengths=lengths) == [[0], [1], [3], [2]]


def test_deal_gives_every_rank_the_same_number_of_micro_batches():
    lengths = [6, 5, 2, 3]
    bins = [[0], [1], [3], [2]]
    assert deal(bins, 2, lengths, balance=False) == [[[0], [3]], [[1], [2]]]  # bin k to rank k mod DP
    assert deal(bins, 2, lengths) == [[[0], [2]], [[1], [3]]]  # balanced: 6 + 2 and 5 + 3 tokens


def test_dp_schedule_places_every_sample_once_within_the_budget():
    import random

    rng = random.Random(1)
    lengths = [rng.randint(100, 4000) for _ in range(64)]
    ranks = dp_schedule(lengths, max_tokens_per_gpu=4608, dp=8)
    assert len({len(r) for r in ranks}) == 1  # the same micro-batch count on every rank
    placed = sorted(i for r in ranks for mb in r for i in mb)
    assert placed == list(range(64))
    assert all(sum(lengths[i] for i in mb) <= 4608 for r in ranks for mb in r)
    # context parallelism: the budget covers CP GPUs, so fewer micro-batches
    assert len(dp_schedule(lengths, 4608, dp=8, cp=2)[0]) < len(ranks[0])


def test_fewer_samples_than_ranks_is_refused():
    with pytest.raises(ValueError, match="one sample per rank"):
        dp_schedule([10, 10], 100, dp=4)

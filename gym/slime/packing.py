"""How slime turns one optimizer step's samples into micro-batches per data-parallel rank, with
dynamic batching (`--use-dynamic-batch-size --max-tokens-per-gpu B`).

slime (`slime/utils/dp_schedule.py` `build_dp_schedule`, with `first_fit_pack` and
`expand_bins_by_splitting` from `slime/utils/seqlen_balancing.py`; read at THUDM/slime 04e67434,
the stored version: the pinned a74ae3a0 was not available to read) packs first and distributes
second, for each step of `global_batch_size` samples:

1. **pack** the whole step's samples first-fit, in order, into bins of at most B × CP tokens: each
   sample goes into the first bin it fits in, else opens a new one (a sample longer than the
   budget gets a bin of its own);
2. **align**: while the number of bins K is not a multiple of DP (and at least DP), split the
   fullest bin that holds more than one sample into two halves balanced by tokens (longest sample
   first, each into the lighter half), so every rank runs the same number of micro-batches;
3. **deal** the K bins to the DP ranks, K / DP each. With `--balance-data` (gym always passes it)
   slime balances the ranks' estimated FLOPs with a Karmarkar-Karp partition of equal sizes;
   without it, bin k goes to rank k mod DP. gym draws the balanced deal with a simpler greedy of
   equal counts (heaviest bin first, to the lightest rank with room), balancing tokens: the same
   counts per rank, and close sums.

This is what lesson 04's picture draws; written here, in gym's words, so that it can be tested
against worked examples.
"""

from __future__ import annotations


def first_fit(lengths: list[int], budget: int) -> list[list[int]]:
    """Sample indices in bins of at most `budget` tokens, first fit in order (step 1)."""
    bins: list[list[int]] = []
    sums: list[int] = []
    for i, n in enumerate(lengths):
        for b, total in enumerate(sums):
            if total + n <= budget:
                bins[b].append(i)
                sums[b] += n
                break
        else:
            bins.append([i])
            sums.append(n)
    return bins


def _halves(bin_: list[int], lengths: list[int]) -> tuple[list[int], list[int]]:
    """A bin split in two, balanced by tokens: longest sample first, each into the lighter half."""
    halves: tuple[list[int], list[int]] = ([], [])
    sums = [0, 0]
    for i in sorted(bin_, key=lambda i: -lengths[i]):
        h = 0 if sums[0] <= sums[1] else 1
        halves[h].append(i)
        sums[h] += lengths[i]
    return halves


def align(bins: list[list[int]], dp: int, lengths: list[int]) -> list[list[int]]:
    """The bins, split until their number is a multiple of `dp` (at least `dp`) (step 2).

    Splits the fullest bin with more than one sample (ties: the later one, as slime's `max` over
    (tokens, index) pairs); stops early when only single-sample bins are left."""
    bins = [list(b) for b in bins]
    target = max(-(-len(bins) // dp) * dp, dp)
    while len(bins) < target:
        candidates = [(sum(lengths[i] for i in b), k) for k, b in enumerate(bins) if len(b) > 1]
        if not candidates:
            break
        _, k = max(candidates)
        bins[k], extra = _halves(bins[k], lengths)
        bins.append(extra)
    return bins


def deal(bins: list[list[int]], dp: int, lengths: list[int], balance: bool = True) -> list[list[list[int]]]:
    """Per rank, its micro-batches (lists of sample indices), len(bins) / dp each (step 3).

    balance=False: bin k to rank k mod dp (slime without --balance-data). balance=True: heaviest
    bin first, to the rank with the fewest tokens among those with room (gym's stand-in for
    slime's Karmarkar-Karp on estimated FLOPs)."""
    per_rank = len(bins) // dp
    if not balance:
        return [[bins[k] for k in range(r, len(bins), dp)] for r in range(dp)]
    ranks: list[list[list[int]]] = [[] for _ in range(dp)]
    load = [0] * dp
    for b in sorted(bins, key=lambda b: -sum(lengths[i] for i in b)):
        r = min((r for r in range(dp) if len(ranks[r]) < per_rank), key=lambda r: (load[r], r))
        ranks[r].append(b)
        load[r] += sum(lengths[i] for i in b)
    return ranks


def dp_schedule(lengths: list[int], max_tokens_per_gpu: int, dp: int, cp: int = 1,
                balance: bool = True) -> list[list[list[int]]]:
    """One step's samples (their token counts) as slime schedules them with dynamic batching:
    per DP rank, its micro-batches, each a list of sample indices (steps 1-3 above)."""
    if dp < 1 or len(lengths) < dp:
        raise ValueError(f"a step needs at least one sample per rank: {len(lengths)} samples, DP {dp}")
    bins = align(first_fit(lengths, max_tokens_per_gpu * cp), dp, lengths)
    if len(bins) % dp:
        raise ValueError(f"{len(bins)} micro-batches cannot be split into a multiple of DP {dp} (slime asserts)")
    return deal(bins, dp, lengths, balance)

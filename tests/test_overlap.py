"""gym.local.overlap: lesson 03 explains its overlap measurement only when it is plausible."""

from gym.local.overlap import read_overlap


def test_figures_measured_on_a_busy_machine_get_a_warning_not_an_explanation():
    # issue 17's figures: split 24.5x faster than taking turns (impossible for two workers)
    r = read_overlap([2.27] * 8, [0.0927] * 8, R=0.05, T=0.04, cores=2)
    assert not r.plausible and r.message.startswith("⚠ **Warning: this machine was too busy")
    assert "24.49×" in r.message and "Overlap" not in r.message
    # a split run four times slower than taking turns: starved workers, not overlap's cost
    assert not read_overlap([0.1] * 8, [0.4] * 8, R=0.06, T=0.04, cores=2).plausible
    # an unsteady baseline
    assert not read_overlap([0.1, 0.3, 0.1, 0.35, 0.1], [0.1] * 5, R=0.06, T=0.04, cores=2).plausible
    # one core for two workers
    assert "1 core for 2 workers" in read_overlap([0.1] * 5, [0.1] * 5, R=0.06, T=0.04, cores=1).message


def test_the_explanation_follows_the_numbers():
    paid = read_overlap([0.10, 0.101, 0.099], [0.07, 0.07, 0.07], R=0.05, T=0.05, cores=2)
    assert paid.plausible and paid.message.startswith("Overlap paid") and "1.43×" in paid.message
    nothing = read_overlap([0.10, 0.101, 0.099], [0.11, 0.11, 0.11], R=0.09, T=0.01, cores=2)
    assert nothing.plausible and nothing.message.startswith("Overlap bought nothing")


def test_split_workers_run_one_torch_thread_each_by_default():
    # torch's default is a thread per core of the machine in every worker: on a machine with many
    # cores (or a busy one) the two pinned workers' threads wait on each other's cores
    import os

    from gym.local.runner import default_threads

    assert default_threads(split=True) == 1
    assert default_threads(split=False) == len(os.sched_getaffinity(0))


def test_beating_the_ideal_is_a_measurement_problem_not_overlap():
    # measured on the shared machine: R 0.02 s, T 0.07 s (ideal 1.29x), split 1.44x faster
    r = read_overlap([0.09] * 8, [0.0625] * 8, R=0.02, T=0.07, cores=2)
    assert not r.plausible and "beats the ideal" in r.message
    full = read_overlap([0.09] * 8, [0.0705] * 8, R=0.02, T=0.07, cores=2)  # 1.28x of 1.29x
    assert full.plausible and full.message.startswith("Overlap paid in full")

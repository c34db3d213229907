"""gym.published: the measurements the lessons show beside the model's hours and dollars."""

from gym.published import STEP_TIMES, beside_markdown


def test_each_measurement_is_shown_with_its_source_and_the_models_estimate():
    text = beside_markdown()
    for p in STEP_TIMES:
        assert p.source in text and f"**{p.seconds:g} s**" in text
        ratio = p.estimate().step_seconds / p.seconds
        assert 0.5 <= ratio <= 2, (p.source, ratio)  # issue 10's goal for every step time: within 2x
    assert STEP_TIMES[0].slime_config().resolve().model.short_name == "Qwen3-4B"  # the lessons' model first


def test_the_lessons_show_the_calibration_rows_own_estimate():
    """One mapping per published run: the lessons' 'model' column is the calibration table's prediction
    (before, gym.published mapped Relax#152 its own way: 103 s beside the table's 75 s)."""
    import pytest

    from gym.perf.calibration import rows

    steps = {r.row: r.predicted for r in rows() if r.kind == "step" and r.in_goal}
    for p in STEP_TIMES:
        assert p.estimate().step_seconds == pytest.approx(steps[p.row])

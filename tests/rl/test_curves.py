"""Return curves on a step grid, their area and the steps to a threshold."""

from mlpzoo.rl.curves import area_under_curve, plot_return_curves, return_curve, steps_to_threshold


def test_return_curve_averages_each_window_and_carries_empty_windows():
    episodes = [(10, 1.0), (20, 3.0), (70, 10.0)]
    steps, curve = return_curve(episodes, total_steps=100, points=4)
    assert steps == [25, 50, 75, 100]
    assert curve == [2.0, 2.0, 10.0, 10.0]


def test_area_and_steps_to_threshold():
    steps, curve = [25, 50, 75, 100], [2.0, 2.0, 10.0, 10.0]
    assert area_under_curve(curve) == 6.0
    assert steps_to_threshold(steps, curve, 5.0, 100) == 75
    assert steps_to_threshold(steps, curve, 50.0, 100) == 100  # never reached: censored at the budget


def test_plot_writes_a_png(tmp_path):
    runs = {"moe": [{"steps": [1, 2], "curve": [0.0, 1.0]}, {"steps": [1, 2], "curve": [0.5, 2.0]}]}
    path = plot_return_curves(runs, tmp_path / "curves.png", "t", threshold=1.5)
    assert path.stat().st_size > 1000

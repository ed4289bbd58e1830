"""train.fused: the measured rule that switches compiled KAN kernels on only where they pay.

No timing is asserted: every step time and cached measurement is injected.
"""

import json

import pytest
import torch
from torch import nn

from mlpzoo.errors import ConfigError
from mlpzoo.layers.kan import BSplineKANLinear
from mlpzoo.tasks import get_task
from mlpzoo.train import TrainConfig, Trainer
from mlpzoo.train import fused as F
from mlpzoo.train.fused import FusedAuto, FusedTimings, decide

# A compiled step 30 % faster than eager, 20 s to compile.
MEASURED = FusedTimings(eager_step_s=0.10, fused_step_s=0.07, compile_s=20.0)


def test_short_runs_stay_eager_without_measuring():
    # 500 steps of 0.1 s = 50 s of eager training: under MIN_RUN_SECONDS, whatever was measured.
    assert decide(500, 0.1, None) == "eager"
    assert decide(500, 0.1, MEASURED) == "eager"


def test_a_long_run_with_nothing_cached_measures_once():
    assert decide(50_000, 0.1, None) == "measure"


def test_compiles_when_steps_times_saving_exceed_the_compile_time():
    # saving 0.03 s a step: 20 s of compiling pays after 667 steps.
    assert decide(5_000, 0.1, MEASURED) == "fused"
    assert decide(1_300, 0.1, MEASURED, min_run_s=60) == "fused"  # 1,300 x 0.03 = 39 s > 20 s
    assert decide(600, 0.1, MEASURED, min_run_s=0) == "eager"  # 600 x 0.03 = 18 s < 20 s


def test_the_saving_scales_with_this_runs_step_time():
    # The cached run saved 30 %; here a step takes 1 s, so 0.3 s a step: 100 steps pay 20 s.
    assert decide(100, 1.0, MEASURED, min_run_s=0) == "fused"
    assert decide(60, 1.0, MEASURED, min_run_s=0) == "eager"


def test_no_saving_never_compiles():
    slower = FusedTimings(eager_step_s=0.1, fused_step_s=0.12, compile_s=1.0)
    assert decide(10**9, 0.1, slower) == "eager"


class KANNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.kan = BSplineKANLinear(4, 3)
        self.head = nn.Linear(3, 1)

    def forward(self, x):
        return self.head(self.kan(x))


def feed(auto: FusedAuto, seconds: list[float], steps_left: int) -> None:
    for s in seconds:
        auto.after_step(s, steps_left)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "inductor"))
    return tmp_path / "timings.json"


def test_auto_picks_eager_for_a_short_run(cache):
    model = KANNet()
    auto = FusedAuto(model, "auto", batch_size=64, device=torch.device("cpu"), cache=cache)
    F.save_timings(auto.key, MEASURED, cache)
    feed(auto, [0.5, 0.1, 0.1, 0.1], steps_left=200)  # warm-up + 3 timed eager steps; 20 s left
    assert auto.decision == "eager" and not auto.active
    assert model.kan.fused is False


def test_auto_picks_compiled_for_a_long_run_from_cached_timings(cache):
    model = KANNet()
    auto = FusedAuto(model, "auto", batch_size=64, device=torch.device("cpu"), cache=cache)
    F.save_timings(auto.key, MEASURED, cache)
    feed(auto, [0.5, 0.1, 0.1, 0.1], steps_left=20_000)
    assert auto.decision == "fused" and not auto.active
    assert model.kan.fused == "auto"
    auto.restore()
    assert model.kan.fused is False


def test_auto_measures_once_caches_and_keeps_the_faster(cache):
    model = KANNet()
    auto = FusedAuto(model, "auto", batch_size=64, device=torch.device("cpu"), cache=cache)
    feed(auto, [0.5, 0.1, 0.1, 0.1], steps_left=20_000)
    assert auto.decision == "measure" and model.kan.fused == "auto"  # the next step compiles
    feed(auto, [12.0, 0.06, 0.07, 0.08], steps_left=19_990)  # compiling step, then 3 compiled steps
    assert auto.decision == "fused" and model.kan.fused == "auto"
    saved = json.loads(cache.read_text())[auto.key]
    assert saved == {"eager_step_s": 0.1, "fused_step_s": 0.07, "compile_s": pytest.approx(11.93)}
    # The next run of the same model reads the cache and decides before compiling anything.
    again = FusedAuto(KANNet(), "auto", batch_size=64, device=torch.device("cpu"), cache=cache)
    feed(again, [0.5, 0.1, 0.1, 0.1], steps_left=100)
    assert again.decision == "eager"


def test_a_measured_slowdown_goes_back_to_eager(cache):
    model = KANNet()
    auto = FusedAuto(model, "auto", batch_size=64, device=torch.device("cpu"), cache=cache)
    feed(auto, [0.5, 0.1, 0.1, 0.1, 5.0, 0.2, 0.2, 0.2], steps_left=20_000)
    assert auto.decision == "eager" and model.kan.fused is False


def test_modes_false_and_true_and_models_without_kan_layers(cache):
    model = KANNet()
    assert not FusedAuto(model, False, 64, torch.device("cpu"), cache).active and model.kan.fused is False
    forced = FusedAuto(model, True, 64, torch.device("cpu"), cache)
    assert forced.decision == "fused" and model.kan.fused == "auto"
    forced.restore()
    plain = FusedAuto(nn.Linear(2, 2), "auto", 64, torch.device("cpu"), cache)
    assert plain.decision == "eager" and not plain.active


def test_config_refuses_other_values():
    with pytest.raises(ConfigError, match="fused"):
        TrainConfig(fused="sometimes").validate()


class KANRegressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.kan = BSplineKANLinear(2, 1)

    def forward(self, batch):
        return self.kan(batch["x"]).squeeze(-1)


def test_a_short_trainer_fit_stays_eager(cache, monkeypatch):
    monkeypatch.setenv("MLPZOO_CACHE", str(cache.parent))
    task = get_task("regression")
    model = KANRegressor()
    torch.manual_seed(0)
    x = torch.rand(256, 2) * 2 - 1
    seen = []

    class Data:
        def __len__(self):
            return 256

        def num_batches(self, batch_size):
            return 4

        def iter_batches(self, batch_size, shuffle=False, seed=0, epoch=0):
            for i in range(0, 256, 64):
                seen.append(model.kan.fused)
                yield {"x": x[i : i + 64], "label": x[i : i + 64].sum(1)}

    config = TrainConfig(epochs=3, batch_size=64, progress=False, save_checkpoints=False, num_threads=1)
    trainer = Trainer(task, model, config)
    trainer.fit(Data(), Data())
    assert trainer._fused.decision == "eager" and set(seen) == {False}
    assert not cache.exists()  # nothing measured, nothing compiled

"""The dispatch simulator: config errors, conflict resolution, order bookkeeping, determinism."""

import pytest
import torch

from mlpzoo.errors import ConfigError
from mlpzoo.rl.dispatch import FEATURES, STATE_FEATURES, DispatchConfig, DispatchSimulator


def test_zero_vehicles_is_one_line_naming_the_field():
    with pytest.raises(ConfigError) as info:
        DispatchConfig(vehicles=0)
    assert "DispatchConfig.vehicles=0" in str(info.value) and "\n" not in str(info.value)


def test_negative_demand_is_refused():
    with pytest.raises(ConfigError, match="base_demand=-1.0; demand cannot be negative"):
        DispatchConfig(base_demand=-1.0)
    with pytest.raises(ConfigError, match="rush_peak"):
        DispatchConfig(rush_peak=-2.0)


def test_unknown_config_key_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="unknown DispatchConfig key.*valid keys: .*vehicles"):
        DispatchConfig.from_dict({"vehicle": 3})


def test_demand_peaks_at_the_rush_hours():
    config = DispatchConfig(base_demand=2.0, rush_peak=3.0, ticks=100, rush_hours=(0.3, 0.75))
    assert config.demand_rate(30) == pytest.approx(6.0)
    assert config.demand_rate(75) == pytest.approx(6.0)
    assert config.demand_rate(0) == pytest.approx(2.0, abs=1e-3)


def test_observation_shapes_and_the_idle_option():
    config = DispatchConfig(vehicles=5, candidates=3)
    sim = DispatchSimulator(config, batch=2)
    obs = sim.reset(0)
    assert obs.candidates.shape == (2, 5, 4, FEATURES) and obs.states.shape == (2, 5, STATE_FEATURES)
    assert obs.mask[..., 0].all() and (obs.candidates[..., 0, 6] == 1).all()  # staying idle is always there
    assert obs.idle.all()


def _one_order_two_vehicles() -> DispatchSimulator:
    config = DispatchConfig(grid=10, vehicles=2, base_demand=0.0, rush_peak=0.0, candidates=2)
    sim = DispatchSimulator(config, batch=1)
    sim.reset(0)
    sim.position[0] = torch.tensor([[0, 0], [4, 4]])
    sim.origin[0, 0], sim.destination[0, 0] = torch.tensor([5, 5]), torch.tensor([5, 9])
    sim.open[0, 0] = True
    return sim


def test_a_contested_order_goes_to_the_closer_vehicle():
    sim = _one_order_two_vehicles()
    obs = sim._observe()
    assert obs.mask[0, :, 1].tolist() == [False, True]  # 10 cells is beyond max_pickup 6: vehicle 0 is not offered it
    sim.config = DispatchConfig(grid=10, vehicles=2, base_demand=0.0, rush_peak=0.0, candidates=2, max_pickup=10)
    obs = sim._observe()
    assert obs.mask[0, :, 1].tolist() == [True, True]
    _, rewards, info = sim.step(torch.tensor([[1, 1]]))
    assert rewards[0].tolist() == pytest.approx([0.0, 1.0 - 0.1 * 2])
    assert info["served"].item() == 1 and info["pickup_ticks"].item() == 2
    # The winner drives 2 ticks to the pickup and 4 to the destination (one tick already passed), then waits there.
    assert sim.busy[0].tolist() == [0, 5] and sim.position[0, 1].tolist() == [5, 9]
    assert not sim.open[0, 0]


def test_orders_are_served_lost_or_still_open():
    sim = DispatchSimulator(DispatchConfig(base_demand=3.0), batch=4)
    obs = sim.reset(1)
    generator = torch.Generator().manual_seed(0)
    while not sim.done:
        actions = torch.randint(0, 5, obs.idle.shape, generator=generator) * obs.idle
        obs, _, _ = sim.step(actions)
    assert torch.equal(sim.served + sim.lost + sim.open.sum(1), sim.demand)
    assert (sim.served > 0).all()


def test_busy_vehicles_take_no_order():
    sim = _one_order_two_vehicles()
    sim.config = DispatchConfig(grid=10, vehicles=2, base_demand=0.0, rush_peak=0.0, candidates=2, max_pickup=10)
    sim.busy[0, 1] = 3
    obs = sim._observe()
    assert obs.mask[0, 1, 1:].sum() == 0
    _, rewards, _ = sim.step(torch.tensor([[0, 1]]))
    assert rewards.sum() == 0 and sim.open[0, 0]


def test_same_seed_same_day():
    def day(seed):
        sim = DispatchSimulator(DispatchConfig(), batch=2)
        obs = sim.reset(seed)
        while not sim.done:
            obs, _, _ = sim.step(obs.mask[..., 1].long() * obs.idle)
        return sim.served.clone(), sim.demand.clone()

    assert all(torch.equal(a, b) for a, b in zip(day(3), day(3)))
    assert not torch.equal(day(3)[1], day(4)[1])

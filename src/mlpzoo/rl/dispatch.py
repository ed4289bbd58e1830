"""A vectorised ride-hailing order-dispatch simulator: grid city, orders with pickup windows, a homogeneous fleet.

Built for the OSPO claim ("One Step is Enough: Multi-Agent Reinforcement Learning based on One-Step
Policy Optimization for Order Dispatch on Ride-Sharing Platforms", 2025, catalog id ``ospo``), whose
experiments use a Manhattan trip table. No public trip table is available offline here, so demand is
**synthetic (a stand-in)**: a Poisson number of orders per tick whose rate follows a daily profile with
a morning and an evening rush hour; off-peak origins and destinations are uniform over the grid, the
morning rush sends trips from anywhere *to* downtown (a block around the centre) and the evening rush
sends them from downtown out.

The city is a ``grid x grid`` lattice; moving one cell (Manhattan metric) takes one tick. Each tick:

1. every idle vehicle (an agent) sees its ``candidates`` nearest open orders within ``max_pickup``
   cells and picks one of them or stays idle (action 0): one decision step per tick;
2. two vehicles picking the same order: the closer one gets it (ties: the lower vehicle index), the
   other stays idle this tick;
3. a matched vehicle is busy for ``pickup + trip`` ticks and reappears idle at the order's
   destination; it earns ``1 - pickup_cost * pickup`` (serving counts, a long pickup costs);
4. orders waiting longer than ``pickup_window`` ticks are lost; new orders arrive.

``batch`` cities run side by side as tensors ``(batch, vehicles, ...)``: every step is a fixed number
of torch operations whatever the fleet size, with no Python loop over vehicles or orders. Each tick
writes its new orders into its own block of ``max_new_orders`` slots, reused only after
``pickup_window + 1`` ticks when every order in it has been served or lost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch

from mlpzoo.errors import ConfigError

#: Per candidate: vehicle x, y, time of day (sin, cos), open orders and idle vehicles nearby;
#: is-idle flag, pickup distance, trip length, order age, destination x, y.
FEATURES = 12
#: Per vehicle (the critic's input): the six vehicle features and whether it is busy.
STATE_FEATURES = 7


@dataclass(frozen=True)
class DispatchConfig:
    """One simulated day.

    Args:
        grid: the city is ``grid x grid`` cells (10).
        vehicles: fleet size per city (20).
        ticks: decision steps per day (120).
        base_demand: mean new orders per tick off-peak (1.0); must be >= 0.
        rush_peak: demand multiplier at the top of each rush hour (3.0).
        rush_hours: fractions of the day at which the rush hours peak ((0.3, 0.75)).
        rush_width: standard deviation of a rush hour, as a fraction of the day (0.06).
        downtown: side of the downtown block around the centre, in cells (3).
        rush_share: share of rush-hour trips that go to (morning) or leave (evening) downtown (0.7).
        pickup_window: ticks an order waits for a vehicle before it is lost (5).
        max_pickup: farthest pickup offered to a vehicle, in cells (6).
        candidates: nearest open orders offered to each idle vehicle (4).
        max_new_orders: cap on new orders per tick and city (12).
        pickup_cost: reward lost per pickup tick (0.1).
        local_radius: radius of the "nearby" order and vehicle counts (2).
    """

    grid: int = 10
    vehicles: int = 20
    ticks: int = 120
    base_demand: float = 1.0
    rush_peak: float = 3.0
    rush_hours: tuple[float, ...] = (0.3, 0.75)
    rush_width: float = 0.06
    downtown: int = 3
    rush_share: float = 0.7
    pickup_window: int = 5
    max_pickup: int = 6
    candidates: int = 4
    max_new_orders: int = 12
    pickup_cost: float = 0.1
    local_radius: int = 2

    def __post_init__(self) -> None:
        for name in ("grid", "vehicles", "ticks", "pickup_window", "max_pickup", "candidates", "max_new_orders"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                hint = "a city needs at least one vehicle" if name == "vehicles" else "pass a positive integer"
                raise ConfigError(f"DispatchConfig.{name}={value!r}; {hint}")
        if not self.base_demand >= 0:
            raise ConfigError(f"DispatchConfig.base_demand={self.base_demand}; demand cannot be negative, use >= 0")
        if not self.rush_peak >= 0:
            raise ConfigError(f"DispatchConfig.rush_peak={self.rush_peak}; demand cannot be negative, use >= 0")
        if not 0 <= self.rush_share <= 1:
            raise ConfigError(f"DispatchConfig.rush_share={self.rush_share}; pass a share in [0, 1]")
        if not 1 <= self.downtown <= self.grid:
            raise ConfigError(f"DispatchConfig.downtown={self.downtown}; pass 1 .. grid ({self.grid})")

    @classmethod
    def from_dict(cls, values: dict) -> "DispatchConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(
                f"unknown DispatchConfig key(s) {', '.join(unknown)}; valid keys: {', '.join(sorted(known))}"
            )
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})

    def demand_rate(self, tick: int) -> float:
        """Mean new orders per tick: the off-peak base times ``1 + (peak - 1) * rush shape``."""
        day = tick / self.ticks
        rush = sum(math.exp(-0.5 * ((day - peak) / self.rush_width) ** 2) for peak in self.rush_hours)
        return self.base_demand * (1.0 + (self.rush_peak - 1.0) * min(rush, 1.0))


@dataclass
class Observation:
    """What the fleet sees at one tick.

    ``candidates (B, V, C + 1, F)``: features of staying idle (index 0) and of each candidate order;
    ``mask (B, V, C + 1)``: which candidates exist (idle always); ``idle (B, V)``: who decides;
    ``states (B, V, S)``: each vehicle's state (the critic's input).
    """

    candidates: torch.Tensor
    mask: torch.Tensor
    idle: torch.Tensor
    states: torch.Tensor


class DispatchSimulator:
    """``batch`` cities stepped together; ``reset(seed)`` then ``step(actions)`` once per tick.

    ``step`` returns ``(observation, rewards (B, V), info)`` with ``info`` holding per city the
    orders served and the summed pickup ticks of this tick; ``done`` is True after ``config.ticks``
    ticks. Totals over the day: ``served``, ``pickup_ticks``, ``lost`` and ``demand`` (B,).
    """

    def __init__(self, config: DispatchConfig, batch: int = 1):
        if batch < 1:
            raise ConfigError(f"DispatchSimulator batch={batch}; pass at least one city")
        self.config, self.batch = config, batch
        self.slots = config.max_new_orders * (config.pickup_window + 1)
        lo = (config.grid - config.downtown) // 2
        self.downtown_lo, self.downtown_hi = lo, lo + config.downtown

    # --- the day -------------------------------------------------------------------------------------

    def reset(self, seed: int) -> Observation:
        c, b = self.config, self.batch
        self.generator = torch.Generator().manual_seed(seed)
        self.tick = 0
        self.position = torch.randint(0, c.grid, (b, c.vehicles, 2), generator=self.generator)
        self.busy = torch.zeros(b, c.vehicles, dtype=torch.long)
        self.origin = torch.zeros(b, self.slots, 2, dtype=torch.long)
        self.destination = torch.zeros(b, self.slots, 2, dtype=torch.long)
        self.created = torch.zeros(b, self.slots, dtype=torch.long)
        self.open = torch.zeros(b, self.slots, dtype=torch.bool)
        self.served = torch.zeros(b)
        self.pickup_ticks = torch.zeros(b)
        self.lost = torch.zeros(b)
        self.demand = torch.zeros(b)
        self._arrive()
        return self._observe()

    @property
    def done(self) -> bool:
        return self.tick >= self.config.ticks

    def step(self, actions: torch.Tensor) -> tuple[Observation, torch.Tensor, dict]:
        """``actions (B, V)``: 0 stays idle, ``a > 0`` picks the ``a``-th candidate of the last observation."""
        c = self.config
        chosen = torch.gather(self._candidate_slots, 2, (actions - 1).clamp_min(0).unsqueeze(-1)).squeeze(-1)
        distance = torch.gather(self._candidate_distance, 2, (actions - 1).clamp_min(0).unsqueeze(-1)).squeeze(-1)
        wants = (actions > 0) & self._idle & torch.isfinite(distance)
        # The closest vehicle wins a contested order, ties to the lower index: one scatter of a sort key.
        vehicle = torch.arange(c.vehicles).expand(self.batch, -1)
        key = torch.where(wants, distance.clamp_max(1e6) * c.vehicles + vehicle, torch.full_like(distance, math.inf))
        best = torch.full((self.batch, self.slots), math.inf).scatter_reduce(1, chosen, key, "amin")
        matched = wants & (torch.gather(best, 1, chosen) == key)
        pickup = torch.where(matched, distance, torch.zeros_like(distance)).long()
        destination = torch.gather(self.destination, 1, chosen.unsqueeze(-1).expand(-1, -1, 2))
        origin = torch.gather(self.origin, 1, chosen.unsqueeze(-1).expand(-1, -1, 2))
        trip = (destination - origin).abs().sum(-1)
        self.busy = torch.where(matched, pickup + trip, self.busy)
        self.position = torch.where(matched.unsqueeze(-1), destination, self.position)
        taken = torch.zeros(self.batch, self.slots, dtype=torch.long).scatter_add_(1, chosen, matched.long()) > 0
        self.open &= ~taken
        rewards = torch.where(matched, 1.0 - c.pickup_cost * pickup.float(), torch.zeros(()))
        served_now, pickup_now = matched.sum(1).float(), pickup.sum(1).float()
        self.served += served_now
        self.pickup_ticks += pickup_now
        # The clock moves: vehicles drive, old orders are lost, new ones arrive.
        self.busy = (self.busy - 1).clamp_min(0)
        self.tick += 1
        expired = self.open & (self.tick - self.created > c.pickup_window)
        self.lost += expired.sum(1).float()
        self.open &= ~expired
        if not self.done:
            self._arrive()
        return self._observe(), rewards, {"served": served_now, "pickup_ticks": pickup_now}

    # --- demand -------------------------------------------------------------------------------------

    def _arrive(self) -> None:
        """This tick's orders: a Poisson count per city, written into the tick's block of slots."""
        c, b, m = self.config, self.batch, self.config.max_new_orders
        rate = torch.full((b,), c.demand_rate(self.tick))
        count = torch.poisson(rate, generator=self.generator).long().clamp_max(m)
        start = (self.tick % (c.pickup_window + 1)) * m
        block = slice(start, start + m)
        rush_in, rush_out = self._rush_shares()
        origin = self._uniform(b, m)
        destination = self._uniform(b, m)
        to_downtown = torch.rand(b, m, generator=self.generator) < rush_in
        from_downtown = torch.rand(b, m, generator=self.generator) < rush_out
        destination = torch.where(to_downtown.unsqueeze(-1), self._downtown(b, m), destination)
        origin = torch.where(from_downtown.unsqueeze(-1), self._downtown(b, m), origin)
        self.origin[:, block], self.destination[:, block] = origin, destination
        self.created[:, block] = self.tick
        self.open[:, block] = torch.arange(m).expand(b, -1) < count.unsqueeze(-1)
        self.demand += count.float()

    def _rush_shares(self) -> tuple[float, float]:
        """Shares of trips into and out of downtown now: the morning rush goes in, the evening rush out."""
        c, day = self.config, self.tick / self.config.ticks
        weights = [math.exp(-0.5 * ((day - peak) / c.rush_width) ** 2) for peak in c.rush_hours]
        morning = weights[0] if weights else 0.0
        evening = sum(weights[1:])
        return c.rush_share * min(morning, 1.0), c.rush_share * min(evening, 1.0)

    def _uniform(self, b: int, m: int) -> torch.Tensor:
        return torch.randint(0, self.config.grid, (b, m, 2), generator=self.generator)

    def _downtown(self, b: int, m: int) -> torch.Tensor:
        return torch.randint(self.downtown_lo, self.downtown_hi, (b, m, 2), generator=self.generator)

    # --- what the fleet sees ------------------------------------------------------------------------

    def _observe(self) -> Observation:
        c = self.config
        idle = self.busy == 0
        # Manhattan distance of every vehicle to every order slot (B, V, O); unavailable = inf.
        distance = (self.position.unsqueeze(2) - self.origin.unsqueeze(1)).abs().sum(-1).float()
        reachable = self.open.unsqueeze(1) & idle.unsqueeze(-1) & (distance <= c.max_pickup)
        distance = torch.where(reachable, distance, torch.full_like(distance, math.inf))
        k = min(c.candidates, self.slots)
        nearest, slots = torch.topk(-distance + 1e-3 * self._slot_jitter(), k, dim=-1)  # nearest first
        self._candidate_slots = slots
        self._candidate_distance = torch.gather(distance, 2, slots)
        self._idle = idle
        exists = torch.isfinite(self._candidate_distance)
        vehicle = self._vehicle_features(idle, distance)
        order = self._order_features(slots, exists)
        idle_option = torch.zeros(*order.shape[:2], 1, order.shape[-1])
        idle_option[..., 0] = 1.0
        per_candidate = torch.cat([idle_option, order], dim=2)
        candidates = torch.cat([vehicle.unsqueeze(2).expand(-1, -1, k + 1, -1), per_candidate], dim=-1)
        mask = torch.cat([torch.ones_like(exists[..., :1]), exists], dim=-1)
        states = torch.cat([vehicle, (~idle).float().unsqueeze(-1)], dim=-1)
        return Observation(candidates, mask, idle, states)

    def _slot_jitter(self) -> torch.Tensor:
        """A fixed tiny preference by slot so that equally near orders are ranked the same way every time."""
        return -torch.arange(self.slots, dtype=torch.float32) / self.slots

    def _vehicle_features(self, idle: torch.Tensor, distance: torch.Tensor) -> torch.Tensor:
        c = self.config
        phase = 2 * math.pi * self.tick / c.ticks
        position = self.position.float() / (c.grid - 1 if c.grid > 1 else 1)
        gaps = (self.position.unsqueeze(2) - self.position.unsqueeze(1)).abs().sum(-1)
        idle_near = ((gaps <= c.local_radius) & idle.unsqueeze(1)).sum(-1).float()
        order_gaps = (self.position.unsqueeze(2) - self.origin.unsqueeze(1)).abs().sum(-1)
        orders_near = ((order_gaps <= c.local_radius) & self.open.unsqueeze(1)).sum(-1).float()
        clock = torch.tensor([math.sin(phase), math.cos(phase)]).expand(self.batch, c.vehicles, 2)
        return torch.cat([position, clock, (orders_near / 4).unsqueeze(-1), (idle_near / 4).unsqueeze(-1)], dim=-1)

    def _order_features(self, slots: torch.Tensor, exists: torch.Tensor) -> torch.Tensor:
        c, b, v, k = self.config, *slots.shape
        flat = slots.reshape(b, v * k)
        origin = torch.gather(self.origin, 1, flat.unsqueeze(-1).expand(-1, -1, 2)).reshape(b, v, k, 2)
        destination = torch.gather(self.destination, 1, flat.unsqueeze(-1).expand(-1, -1, 2)).reshape(b, v, k, 2)
        age = (self.tick - torch.gather(self.created, 1, flat)).reshape(b, v, k).float()
        pickup = torch.where(exists, self._candidate_distance, torch.zeros(()))
        trip = (destination - origin).abs().sum(-1).float()
        scale = c.grid - 1 if c.grid > 1 else 1
        features = torch.stack(
            [
                torch.zeros_like(pickup),  # not the idle option
                pickup / c.max_pickup,
                trip / (2 * scale),
                age / c.pickup_window,
                destination[..., 0].float() / scale,
                destination[..., 1].float() / scale,
            ],
            dim=-1,
        )
        return features * exists.unsqueeze(-1)

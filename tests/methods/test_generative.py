"""DDPM and flow matching: schedules, the closed-form forward process, a 1-D mixture fit,
sampler shapes and seeding, and conditioning on known coordinates."""

import math

import pytest
import torch

from mlpzoo.layers.denoise import ResidualMLPDenoiser
from mlpzoo.methods.generative import (
    FlowMatching,
    GaussianDiffusion,
    fit_generative,
    make_betas,
)


def _net(dim=1, context_dim=0):
    torch.manual_seed(0)
    return ResidualMLPDenoiser(dim, hidden_dim=64, n_blocks=2, time_dim=32, context_dim=context_dim)


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_schedule_properties(kind):
    betas = make_betas(kind, 1000)
    alpha_bar = torch.cumprod(1 - betas, 0)
    assert betas.shape == (1000,) and (betas > 0).all() and (betas <= 0.999).all()
    assert (alpha_bar[1:] < alpha_bar[:-1]).all()
    assert alpha_bar[0] > 0.999 and alpha_bar[-1] < 1e-4  # starts at data, ends at (near) pure noise
    if kind == "linear":
        assert betas[0].item() == pytest.approx(1e-4) and betas[-1].item() == pytest.approx(0.02)
        assert make_betas("linear", 100)[-1].item() == pytest.approx(0.2)  # rescaled by 1000 / T
    else:
        t = 300
        expected = (math.cos((t / 1000 + 0.008) / 1.008 * math.pi / 2) / math.cos(0.008 / 1.008 * math.pi / 2)) ** 2
        assert alpha_bar[t - 1].item() == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="schedule"):
        make_betas("quadratic", 10)


def test_q_sample_matches_the_markov_chain():
    """Closed-form q(x_t | x_0) against iterating x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) eps."""
    process = GaussianDiffusion(_net(), steps=50, schedule="linear")
    g = torch.Generator().manual_seed(0)
    x0 = torch.full((200_000, 1), 1.5)
    x = x0.clone()
    for t in range(30):
        x = (1 - process.betas[t]).sqrt() * x + process.betas[t].sqrt() * torch.randn(x.shape, generator=g)
    closed = process.q_sample(x0, torch.full((len(x0),), 29), torch.randn(x0.shape, generator=g))
    ab = process.alpha_bar[29].item()
    for sample in (x, closed):
        assert sample.mean().item() == pytest.approx(math.sqrt(ab) * 1.5, abs=0.01)
        assert sample.var().item() == pytest.approx(1 - ab, abs=0.01)


def _mixture(n=3000):
    g = torch.Generator().manual_seed(0)
    right = torch.rand(n, generator=g) < 0.7
    return (torch.where(right, 2.0, -2.0) + 0.3 * torch.randn(n, generator=g))[:, None]


@pytest.mark.parametrize("kind", ["ddpm", "ddpm-v", "flow"])
def test_fits_a_gaussian_mixture(kind):
    data = _mixture()
    if kind == "ddpm":
        process = GaussianDiffusion(_net(), steps=100, schedule="cosine", clip_x0=4.0)
    elif kind.startswith("ddpm-"):
        process = GaussianDiffusion(_net(), steps=100, schedule="linear", prediction=kind[5:])
    else:
        process = FlowMatching(_net(), steps=20, method="heun")
    losses = fit_generative(process, data, steps=600, batch_size=256, lr=3e-3)
    assert sum(losses[-100:]) < sum(losses[:100])
    s = process.sample(4000, generator=torch.Generator().manual_seed(1))[:, 0]
    right = s > 0
    assert right.float().mean().item() == pytest.approx(0.7, abs=0.06)  # mode weights
    assert s[right].mean().item() == pytest.approx(2.0, abs=0.15)
    assert s[~right].mean().item() == pytest.approx(-2.0, abs=0.15)
    assert s[right].std().item() == pytest.approx(0.3, abs=0.12)  # modes stay sharp, no mean collapse
    assert s.std().item() == pytest.approx(data.std().item(), rel=0.1)


@pytest.mark.parametrize("kind", ["ddpm", "flow"])
def test_sampler_shapes_and_seeding(kind):
    net = _net(dim=3, context_dim=2)
    process = GaussianDiffusion(net, steps=10) if kind == "ddpm" else FlowMatching(net, steps=5)
    context = torch.randn(2)

    def draw(seed):
        return process.sample(7, context, generator=torch.Generator().manual_seed(seed))

    a, b, c = draw(0), draw(0), draw(1)
    assert a.shape == (7, 3) and torch.equal(a, b) and not torch.equal(a, c)
    with pytest.raises(ValueError, match="both known and mask"):
        process.sample(2, context, known=torch.zeros(3))


def test_function_evaluation_counts():
    calls = []
    net = _net(dim=2)
    net.register_forward_hook(lambda *args: calls.append(1))
    ddpm, flow = GaussianDiffusion(net, steps=12), FlowMatching(net, steps=6)
    for process, kwargs in (
        (ddpm, {}),
        (ddpm, {"resample": 3}),
        (flow, {"method": "euler"}),
        (flow, {"method": "heun"}),
        (flow, {"method": "heun", "resample": 2}),
    ):
        calls.clear()
        known = {"known": torch.zeros(2), "mask": torch.tensor([True, False])} if "resample" in kwargs else {}
        process.sample(4, **kwargs, **known)
        assert len(calls) == process.function_evaluations(**kwargs)
    assert ddpm.function_evaluations(resample=3) == 12 + 11 * 2 and flow.function_evaluations(method="heun") == 12
    assert flow.function_evaluations(method="heun", resample=2) == 24


def _correlated(n=3000):
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, generator=g)
    return torch.stack([a, a + 0.2 * torch.randn(n, generator=g)], 1)


@pytest.mark.parametrize("kind", ["ddpm", "flow"])
def test_conditioning_on_known_coordinates(kind):
    """Unconditional model of (a, a + noise); fixing a = 1.5 must move the other coordinate to ~1.5."""
    data = _correlated()
    if kind == "ddpm":
        process = GaussianDiffusion(_net(dim=2), steps=50, schedule="linear")
        options = {"resample": 2}
    else:
        process = FlowMatching(_net(dim=2), steps=20, method="euler")
        options = {"resample": 3}
    fit_generative(process, data, steps=400, batch_size=256, lr=3e-3)
    known, mask = torch.tensor([1.5, 0.0]), torch.tensor([True, False])
    s = process.sample(500, known=known, mask=mask, generator=torch.Generator().manual_seed(0), **options)
    assert torch.equal(s[:, 0], torch.full((500,), 1.5))  # the known coordinate is exact
    assert s[:, 1].mean().item() == pytest.approx(1.5, abs=0.3)
    free = process.sample(500, generator=torch.Generator().manual_seed(0))
    assert free[:, 1].mean().abs().item() < 0.3  # unconditioned draws are centred


def test_guidance_pulls_towards_known():
    data = _correlated()
    process = GaussianDiffusion(_net(dim=2), steps=50)
    fit_generative(process, data, steps=200, batch_size=256, lr=3e-3)
    known, mask = torch.tensor([1.5, 0.0]), torch.tensor([True, False])
    s = process.sample(300, known=known, mask=mask, guidance=0.5, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(s).all() and s[:, 1].mean().item() > 0.8


def test_fit_rejects_mismatched_context():
    process = FlowMatching(_net(dim=2, context_dim=1))
    with pytest.raises(ValueError, match="one context per row"):
        fit_generative(process, torch.zeros(10, 2), torch.zeros(9, 1), steps=1)


def test_v_prediction_target_and_its_x0_estimate():
    """v = sqrt(abar) eps - sqrt(1 - abar) x_0 (Salimans & Ho): the loss targets it, and sampling inverts it to
    x_0 = sqrt(abar) x_t - sqrt(1 - abar) v."""

    class Constant(torch.nn.Module):
        data_dim = 3

        def __init__(self, value):
            super().__init__()
            self.value = value

        def forward(self, x, t, context=None):
            return torch.full_like(x, self.value)

    x0 = torch.full((64, 3), 3.0)
    process = GaussianDiffusion(Constant(-3.0), steps=10, prediction="v")
    process.alpha_bar.fill_(0.0)  # x_t = eps, so v = -x_0 whatever the noise
    assert process.loss(x0).item() == pytest.approx(0.0, abs=1e-6)
    assert GaussianDiffusion(Constant(-3.0), steps=10).loss(x0).item() > 5.0  # the eps target differs

    class TrueV(torch.nn.Module):
        """Returns the v of the clean value 2 for whatever x_t it sees."""

        data_dim = 3

        def forward(self, x, t, context=None):
            ab = one_step.alpha_bar[0]
            eps = (x - ab.sqrt() * 2.0) / (1 - ab).sqrt()
            return ab.sqrt() * eps - (1 - ab).sqrt() * 2.0

    one_step = GaussianDiffusion(TrueV(), steps=1, prediction="v")  # a single step returns the x_0 estimate
    draw = one_step.sample(5, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(draw, torch.full_like(draw, 2.0), atol=1e-4)
    with pytest.raises(ValueError, match="prediction target"):
        GaussianDiffusion(Constant(0.0), steps=10, prediction="x0")

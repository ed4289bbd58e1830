"""The selective scan, fused kernel and chunked fallback: equal to the plain recurrence (float64), gradients,
the recurrent step, inits."""

import math

import pytest
import torch

from mlpzoo.errors import ConfigError
from mlpzoo.layers.ssm import (
    MambaMixer,
    linear_scan,
    selective_scan,
    selective_state_update,
)
from mlpzoo.layers.ssm_kernel import kernel_available

# Both paths of selective_scan: the exact chunked scan, and the C kernel where a compiler is present.
FUSED = [False, pytest.param(True, marks=pytest.mark.skipif(not kernel_available(), reason="no C compiler"))]


def reference_scan(u, delta, A, B, C, D):
    """The recurrence written out token by token (the paper's selective_scan_ref)."""
    b, length, d = u.shape
    h = u.new_zeros(b, d, A.shape[1])
    outputs = []
    for t in range(length):
        b_t = B[:, t, None, :] if B.dim() == 3 else B
        c_t = C[:, t, None, :] if C.dim() == 3 else C
        h = torch.exp(delta[:, t, :, None] * A) * h + (delta[:, t] * u[:, t])[..., None] * b_t
        outputs.append((h * c_t).sum(-1) + D * u[:, t])
    return torch.stack(outputs, 1), h


def random_inputs(b=2, length=37, d=3, n=4, selective=True, seed=0):
    gen = torch.Generator().manual_seed(seed)
    f64 = {"dtype": torch.float64, "generator": gen}
    u = torch.randn(b, length, d, **f64)
    delta = torch.rand(b, length, d, **f64) * 2
    A = -torch.rand(d, n, **f64) * 3
    shape = (b, length, n) if selective else (d, n)
    return u, delta, A, torch.randn(*shape, **f64), torch.randn(*shape, **f64), torch.randn(d, **f64)


@pytest.mark.parametrize("fused", FUSED)
@pytest.mark.parametrize("chunk", [1, 4, 8, 37, 64])
@pytest.mark.parametrize("selective", [True, False])
def test_scan_equals_sequential_recurrence(chunk, selective, fused):
    args = random_inputs(selective=selective)
    expected, last = reference_scan(*args)
    y, final = selective_scan(*args, chunk_size=chunk, return_final_state=True, fused=fused)
    assert torch.allclose(y, expected, atol=1e-12, rtol=1e-12)
    assert torch.allclose(final, last, atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("fused", FUSED)
def test_scan_stays_finite_with_large_decays(fused):
    # A total decay of ~4000 per chunk would overflow exp(-cumsum) in the factorised form.
    u, delta, A, B, C, D = (t.float() for t in random_inputs(length=200))
    y = selective_scan(u, delta * 100, A, B, C, D, chunk_size=64, fused=fused)
    expected, _ = reference_scan(u.double(), delta.double() * 100, A.double(), B.double(), C.double(), D.double())
    assert torch.isfinite(y).all()
    assert torch.allclose(y.double(), expected, atol=1e-4)


@pytest.mark.parametrize("fused", FUSED)
def test_initial_state_carries_over(fused):
    args = random_inputs(length=20)
    whole = selective_scan(*args, chunk_size=3, fused=fused)
    u, delta, A, B, C, D = args
    first, state = selective_scan(
        u[:, :9], delta[:, :9], A, B[:, :9], C[:, :9], D, chunk_size=4, return_final_state=True, fused=fused
    )
    second = selective_scan(
        u[:, 9:], delta[:, 9:], A, B[:, 9:], C[:, 9:], D, initial_state=state, chunk_size=4, fused=fused
    )
    assert torch.allclose(torch.cat([first, second], 1), whole, atol=1e-12)


@pytest.mark.parametrize("fused", FUSED)
@pytest.mark.parametrize("selective", [True, False])
def test_scan_gradients_match_finite_differences(selective, fused):
    args = [t.requires_grad_() for t in random_inputs(b=2, length=11, d=2, n=3, selective=selective)]
    h0 = torch.randn(2, 2, 3, dtype=torch.float64, requires_grad=True)

    def scan_with_state(*a):
        return selective_scan(*a[:-1], initial_state=a[-1], chunk_size=4, return_final_state=True, fused=fused)

    assert torch.autograd.gradcheck(scan_with_state, [*args, h0])


def test_linear_scan_gradients_including_initial_state():
    gen = torch.Generator().manual_seed(1)
    log_a = (-torch.rand(2, 9, 3, dtype=torch.float64, generator=gen)).requires_grad_()
    x = torch.randn(2, 9, 3, dtype=torch.float64, generator=gen).requires_grad_()
    h0 = torch.randn(2, 3, dtype=torch.float64, generator=gen).requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b, c: linear_scan(a, b, c, chunk_size=4), (log_a, x, h0))


@pytest.mark.parametrize("fused", FUSED)
def test_scan_gradients_equal_reference_autograd(fused):
    args = [t.requires_grad_() for t in random_inputs(length=30)]
    selective_scan(*args, chunk_size=7, fused=fused).square().sum().backward()
    ours = [t.grad.clone() for t in args]
    for t in args:
        t.grad = None
    reference_scan(*args)[0].square().sum().backward()
    for mine, theirs in zip(ours, (t.grad for t in args)):
        assert torch.allclose(mine, theirs, atol=1e-10)


@pytest.mark.parametrize("fused", FUSED)
@pytest.mark.parametrize("selective", [True, False])
def test_recurrent_step_equals_parallel_forward_in_float32(selective, fused):
    torch.manual_seed(0)
    mixer = MambaMixer(16, d_state=16, selective=selective, chunk_size=8, fused=fused)
    hidden = torch.randn(2, 40, 16)
    parallel = mixer(hidden)
    state = mixer.allocate_state(2)
    steps = []
    for t in range(40):
        out, state = mixer.step(hidden[:, t], state)
        steps.append(out)
    assert torch.allclose(torch.stack(steps, 1), parallel, atol=1e-5, rtol=1e-5)


def test_state_update_is_one_step_of_the_scan():
    u, delta, A, B, C, D = random_inputs(length=1)
    y, state = selective_state_update(
        torch.zeros(2, 3, 4, dtype=torch.float64), u[:, 0], delta[:, 0], A, B[:, 0, None], C[:, 0, None], D
    )
    expected, last = reference_scan(u, delta, A, B, C, D)
    assert torch.allclose(y, expected[:, 0]) and torch.allclose(state, last)


@pytest.mark.parametrize("fused", FUSED)
@pytest.mark.parametrize("selective", [True, False])
def test_recurrent_step_equals_parallel_forward(selective, fused):
    torch.manual_seed(0)
    mixer = MambaMixer(8, d_state=4, selective=selective, chunk_size=5, fused=fused).double()
    hidden = torch.randn(2, 13, 8, dtype=torch.float64)
    parallel = mixer(hidden)
    state = mixer.allocate_state(2)
    steps = []
    for t in range(13):
        out, state = mixer.step(hidden[:, t], state)
        steps.append(out)
    assert torch.allclose(torch.stack(steps, 1), parallel, atol=1e-12)


def test_official_initialisation():
    torch.manual_seed(0)
    mixer = MambaMixer(64, d_state=16, dt_min=0.001, dt_max=0.1)
    assert torch.allclose(-torch.exp(mixer.A_log), -torch.arange(1, 17.0).expand(128, 16))
    assert torch.equal(mixer.D, torch.ones(128))
    dt = torch.nn.functional.softplus(mixer.dt_proj.bias)
    assert dt.min() >= 0.001 - 1e-6 and dt.max() <= 0.1 + 1e-6
    # log-uniform: about half of the values below the geometric mean sqrt(0.001 * 0.1) = 0.01
    assert 0.3 < (dt < 0.01).float().mean() < 0.7
    assert mixer.dt_rank == math.ceil(64 / 16)
    bound = mixer.dt_rank**-0.5
    assert mixer.dt_proj.weight.abs().max() <= bound
    assert mixer.conv1d.groups == 128 and mixer.conv1d.kernel_size == (4,)


def test_selective_parameters_depend_on_the_input_and_lti_ones_do_not():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 16)
    for selective in (True, False):
        mixer = MambaMixer(8, selective=selective)
        delta, B, _ = mixer.ssm_parameters(x)
        varies = not torch.allclose(delta[:, 0], delta[:, 1])
        assert varies == selective
        assert (B.dim() == 3) == selective


def test_causality():
    torch.manual_seed(0)
    mixer = MambaMixer(8)
    hidden = torch.randn(1, 12, 8)
    changed = hidden.clone()
    changed[:, 7:] += 1.0
    assert torch.allclose(mixer(hidden)[:, :7], mixer(changed)[:, :7], atol=1e-6)


def test_bad_input():
    with pytest.raises(ConfigError, match="dt_min"):
        MambaMixer(8, dt_min=0.5, dt_max=0.1)
    with pytest.raises(ConfigError, match="expects"):
        MambaMixer(8)(torch.randn(2, 5, 7))
    u, delta, A, B, C, D = random_inputs()
    with pytest.raises(ConfigError, match="A must be"):
        selective_scan(u, delta, A[:2], B, C, D)
    with pytest.raises(ConfigError, match="chunk_size"):
        linear_scan(delta, delta, chunk_size=0)


def test_non_contiguous_inputs():
    gen = torch.Generator().manual_seed(3)
    log_a = -torch.rand(9, 2, 3, dtype=torch.float64, generator=gen).transpose(0, 1)  # (2, 9, 3), strided
    x = torch.randn(3, 9, 2, dtype=torch.float64, generator=gen).permute(2, 1, 0)
    h = torch.zeros(2, 3, dtype=torch.float64)
    expected = []
    for t in range(9):
        h = torch.exp(log_a[:, t]) * h + x[:, t]
        expected.append(h)
    assert torch.allclose(linear_scan(log_a, x, chunk_size=4), torch.stack(expected, 1))

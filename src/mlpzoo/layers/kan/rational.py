"""Group-rational KAN (GR-KAN): a learnable safe Padé activation shared by channel groups.

Yang & Wang, "Kolmogorov-Arnold Transformer", arXiv:2409.10594 (rational base function,
group-wise coefficient sharing, variance-preserving initialisation). The backward pass follows
Raffel & Chen, "FlashKAT: Understanding and Addressing Performance Bottlenecks in the
Kolmogorov-Arnold Transformer", arXiv:2505.13813: coefficient gradients are reduced per group
block instead of being scattered element by element. :func:`atomic_group_rational` keeps KAT's own
accumulation (every element adds its partials into its group's coefficient gradients one by one)
as the baseline FlashKAT is measured against.

Every channel ``d`` of group ``g = d // (dim / groups)`` applies

    F(x) = (a_0 + a_1 x + ... + a_5 x^5) / (1 + |b_1| |x| + |b_2| |x|^2 + |b_3| |x|^3 + |b_4| |x|^4),

the form of KAT's CUDA kernel (the denominator is at least 1, so there are no poles). Every
group has its own ``a`` and ``b`` (KAT's ``KAT_1DGroup`` layout; its ``KAT_Group`` shares ``a``).
Non-finite inputs are not checked (a check costs a full pass per call): NaN propagates, and
``+-inf`` gives NaN because the polynomial degrees make ``F`` an inf/inf quotient there.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.autograd.function import once_differentiable

from mlpzoo.errors import ConfigError
from mlpzoo.layers.kan.checks import check_tensor
from mlpzoo.layers.kan.fused import (
    check_fused,
    coefficient_table,
    fused_enabled,
    rational_backward,
    rational_forward,
)

NUM_COEFFS = 6  # a_0 .. a_5
DEN_COEFFS = 4  # b_1 .. b_4
RATIONAL_FLOPS = 2 * (NUM_COEFFS - 1) + 1 + 2 * DEN_COEFFS + 1  # see GroupRational.elementwise_flops
INIT_NAMES = ("identity", "gelu", "silu")
FIT_RANGE = (-3.0, 3.0)

# name -> (a, b, max abs error of the fit on FIT_RANGE); filled on first use, deterministic.
_INIT_CACHE: dict[str, tuple[tuple[float, ...], tuple[float, ...], float]] = {}

# Rows per backward chunk are chosen so one chunk's temporaries stay in a core's L2 cache.
_CHUNK_ELEMENTS = 1 << 15


def _target(name: str, x: torch.Tensor) -> torch.Tensor:
    if name == "gelu":
        return nn.functional.gelu(x)
    if name == "silu":
        return nn.functional.silu(x)
    return x


def rational_init(name: str) -> tuple[tuple[float, ...], tuple[float, ...], float]:
    """Coefficients ``(a, b, max_error)`` of the rational closest to activation ``name``.

    Least squares on 1201 points of ``[-3, 3]`` in float64: a linearised fit
    (``P(x) - f(x) sum_i c_i |x|^i = f(x)``, then ``c`` clipped at 0) starts a projected
    Levenberg-Marquardt on the true rational residual with ``c_i = |b_i| >= 0``. No randomness
    and no BLAS, so the result is bit-identical on every call; cached per name in ``_INIT_CACHE``.
    """
    key = name.lower()
    if key not in INIT_NAMES:
        raise ConfigError(f"unknown rational init {name!r}; choose one of {', '.join(INIT_NAMES)}")
    if key not in _INIT_CACHE:
        if key == "identity":
            _INIT_CACHE[key] = ((0.0, 1.0, 0.0, 0.0, 0.0, 0.0), (0.0,) * DEN_COEFFS, 0.0)
        else:
            _INIT_CACHE[key] = _fit_rational(key)
    return _INIT_CACHE[key]


def _fit_rational(name: str, points: int = 1201, iterations: int = 50):
    # One thread, no BLAS/LAPACK (their results can change in the last bits with threading and
    # memory alignment): sums are torch reductions and the 10x10 solves are done in Python.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _levenberg_marquardt(name, points, iterations)
    finally:
        torch.set_num_threads(threads)


def _solve(matrix: list[list[float]], rhs: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting on a small dense system."""
    n = len(rhs)
    m = [row[:] + [v] for row, v in zip(matrix, rhs)]
    for c in range(n):
        pivot = max(range(c, n), key=lambda r: abs(m[r][c]))
        m[c], m[pivot] = m[pivot], m[c]
        for r in range(c + 1, n):
            factor = m[r][c] / m[c][c]
            for j in range(c, n + 1):
                m[r][j] -= factor * m[c][j]
    out = [0.0] * n
    for r in range(n - 1, -1, -1):
        out[r] = (m[r][n] - sum(m[r][j] * out[j] for j in range(r + 1, n))) / m[r][r]
    return out


def _gram(cols: torch.Tensor, r: torch.Tensor) -> tuple[list[list[float]], list[float]]:
    """``(J^T J, J^T r)`` for ``J = cols`` ``(points, 10)`` by element-wise sums."""
    jtj = (cols[:, :, None] * cols[:, None, :]).sum(0)
    return jtj.tolist(), (cols * r[:, None]).sum(0).tolist()


def _levenberg_marquardt(name: str, points: int, iterations: int):
    x = torch.linspace(*FIT_RANGE, points, dtype=torch.float64)
    y = _target(name, x)
    xp = torch.stack([x**k for k in range(NUM_COEFFS)], 1)
    axp = torch.stack([x.abs() ** i for i in range(1, DEN_COEFFS + 1)], 1)
    n = NUM_COEFFS + DEN_COEFFS

    def parts(t):
        p = (xp * t[:NUM_COEFFS]).sum(1)
        q = 1.0 + (axp * t[NUM_COEFFS:]).sum(1)
        return p, q, p / q - y

    # Linearised start: P(x) - f(x) sum_i c_i |x|^i = f(x), least squares, then c >= 0.
    jtj, jty = _gram(torch.cat([xp, -y[:, None] * axp], 1), y)
    theta = torch.tensor(_solve(jtj, jty), dtype=torch.float64)
    theta[NUM_COEFFS:] = theta[NUM_COEFFS:].clamp_min(0.0)
    p, q, r = parts(theta)
    loss = r.square().sum().item()
    damping = 1e-3
    for _ in range(iterations):
        jtj, jtr = _gram(torch.cat([xp / q[:, None], -(p / q**2)[:, None] * axp], 1), r)
        for _ in range(40):
            damped = [[v * (1.0 + damping) if i == j else v for j, v in enumerate(row)] for i, row in enumerate(jtj)]
            step = _solve(damped, jtr)
            trial = theta - torch.tensor(step, dtype=torch.float64)
            trial[NUM_COEFFS:] = trial[NUM_COEFFS:].clamp_min(0.0)
            p2, q2, r2 = parts(trial)
            loss2 = r2.square().sum().item()
            if loss2 < loss:
                theta, p, q, r, loss = trial, p2, q2, r2, loss2
                damping = max(damping / 3, 1e-12)
                break
            damping *= 4
        else:
            break
    coeffs = theta.tolist()
    assert len(coeffs) == n
    return tuple(coeffs[:NUM_COEFFS]), tuple(coeffs[NUM_COEFFS:]), r.abs().max().item()


def _check_coefficients(x: torch.Tensor, a: torch.Tensor, b: torch.Tensor, groups: int) -> None:
    if tuple(a.shape) != (groups, NUM_COEFFS) or tuple(b.shape) != (groups, DEN_COEFFS):
        raise ConfigError(
            f"rational coefficients must be a: ({groups}, {NUM_COEFFS}) and b: ({groups}, {DEN_COEFFS}), "
            f"got {tuple(a.shape)} and {tuple(b.shape)}; give one row per group"
        )
    if x.shape[-1] % groups:
        raise ConfigError(f"groups={groups} must divide the last input dim {x.shape[-1]}; pick a divisor")


def naive_group_rational(x: torch.Tensor, a: torch.Tensor, b: torch.Tensor, groups: int) -> torch.Tensor:
    """The group rational in plain torch ops (autograd differentiates it), as in KAT's torch code.

    Stacks the powers ``x^0..x^5`` per element and contracts them with each group's
    coefficients, so autograd keeps ``(elements, 6)`` tensors and reduces broadcast gradients.
    The reference for tests and the baseline for the FlashKAT-style backward.
    """
    _check_coefficients(x, a, b, groups)
    shape = x.shape
    z = x.reshape(-1, groups, shape[-1] // groups).transpose(0, 1).reshape(groups, -1)
    powers = [torch.ones_like(z), z]
    for _ in range(NUM_COEFFS - 2):
        powers.append(powers[-1] * z)
    xps = torch.stack(powers, 1)  # (groups, 6, n)
    numerator = torch.bmm(a.unsqueeze(1), xps).squeeze(1)
    den_w = torch.cat([torch.ones_like(b[:, :1]), b.abs(), torch.zeros_like(b[:, :1])], 1)
    denominator = torch.bmm(den_w.unsqueeze(1), xps.abs()).squeeze(1)
    out = numerator / denominator
    return out.reshape(groups, -1, shape[-1] // groups).transpose(0, 1).reshape(shape)


def _per_channel(coeffs: torch.Tensor, dim: int) -> torch.Tensor:
    """``(G, K)`` group coefficients -> ``(K, dim)`` rows, one value per channel.

    Broadcasting a contiguous per-channel row over the batch runs about 4x faster on CPU than
    broadcasting ``(G, 1)`` over ``(m, G, dim/G)``, whose innermost stride is zero.
    """
    return coeffs.T.repeat_interleave(dim // coeffs.shape[0], dim=1)


def _horner(rows: list[torch.Tensor], z: torch.Tensor) -> torch.Tensor:
    """``sum_k rows[k] z^k`` for per-channel rows ``(dim,)`` (at least two) and z ``(m, dim)``."""
    out = torch.addcmul(rows[-2], rows[-1], z)
    for row in reversed(rows[:-2]):
        out = torch.addcmul(row, out, z)
    return out


def _denominator(z: torch.Tensor, den: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(Q, |z|)`` with ``den = [1, |b1|, |b2|, |b3|, |b4|]`` as per-channel rows."""
    az = z.abs()
    return _horner(den, az), az


def _chunk_rows(dim: int, rows: int, device: torch.device) -> int:
    # CPU: each thread gets about 2^15 elements of every op (torch's parallel grain), so one
    # chunk's ~20 temporaries stay in a core's L2 cache and both cores still share each op.
    # GPU: one chunk; splitting would only add kernel launches.
    if device.type != "cpu":
        return max(1, rows)
    return max(1, (_CHUNK_ELEMENTS * max(1, torch.get_num_threads())) // dim)


def _coefficient_rows(a: torch.Tensor, b: torch.Tensor, dim: int):
    num = _per_channel(a, dim)
    den = _per_channel(torch.cat([torch.ones_like(b[:, :1]), b.abs()], 1), dim)
    return num, den


class _GroupRationalFunction(torch.autograd.Function):
    """Element-wise grad_x; coefficient grads summed per group block, chunk by chunk.

    Per chunk of rows the ten per-element partials ``g/Q x^k`` and ``g F/Q |x|^i`` are written to
    one transient ``(10, rows, dim)`` buffer and summed over the rows; the per-channel sums are
    folded into groups once at the end. The full ``(elements, 10)`` tensor never exists and
    nothing is scattered per element. Saved: ``x`` and the output ``F`` (which the next layer
    keeps anyway); ``Q`` is recomputed. Not twice differentiable.

    With ``fused`` (see :mod:`mlpzoo.layers.kan.fused`) both passes are single compiled kernels
    with the same arithmetic; then ``x`` and the ``(11, dim)`` coefficient table are saved and
    ``F`` is recomputed too.
    """

    @staticmethod
    def forward(ctx, x, a, b, groups, fused):
        dim = x.shape[-1]
        ctx.groups, ctx.fused = groups, fused_enabled(fused, x) and fused
        if ctx.fused:
            table = coefficient_table(a, b, dim)
            out = rational_forward(x.reshape(-1, dim).contiguous(), table, fused)
            ctx.save_for_backward(x, a, b, table)
            return out.view(x.shape)
        out = _eager_forward(x, a, b)
        ctx.save_for_backward(x, a, b, out)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        x, a, b, saved = ctx.saved_tensors  # saved: the coefficient table (fused) or the output F
        groups, dim = ctx.groups, x.shape[-1]
        if ctx.fused:  # the kernel folds the sums into groups and applies the sign itself
            z = x.reshape(-1, dim).contiguous()
            g = grad_out.reshape(z.shape).contiguous()
            grad_x, grad_a, grad_b = rational_backward(z, g, saved, b, ctx.fused)
        else:
            grad_x = torch.empty_like(x).reshape(-1, dim) if ctx.needs_input_grad[0] else None
            acc_dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
            sums = torch.zeros(NUM_COEFFS + DEN_COEFFS, dim, dtype=acc_dtype, device=x.device)
            for buf in _element_partials(x, a, b, saved, grad_out, grad_x):
                sums += buf.sum(1, dtype=acc_dtype)  # one reduction per channel over the chunk's rows
            grad_a, grad_b = _coefficient_grads(sums.view(-1, groups, dim // groups).sum(-1).T, a, b)
        grad_x = grad_x.reshape(x.shape) if ctx.needs_input_grad[0] else None
        return grad_x, grad_a, grad_b, None, None


def _eager_forward(x: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``P(x) / Q(|x|)`` element by element, by chunks of rows (see :func:`_chunk_rows`)."""
    dim = x.shape[-1]
    z_all = x.reshape(-1, dim)
    num, den = _coefficient_rows(a, b, dim)
    num, den = list(num.unbind(0)), list(den.unbind(0))
    out = torch.empty_like(z_all)
    step = _chunk_rows(dim, z_all.shape[0], z_all.device)
    for start in range(0, z_all.shape[0], step):
        z = z_all[start : start + step]
        q, _ = _denominator(z, den)
        torch.div(_horner(num, z), q, out=out[start : start + step])
    return out.reshape(x.shape)


def _coefficient_grads(per_group: torch.Tensor, a: torch.Tensor, b: torch.Tensor):
    """``(grad_a, grad_b)`` from the ``(groups, 10)`` sums of ``g/Q x^k`` and ``g F/Q |x|^i``.

    dF/d|b_i| = -F/Q |x|^i. d|b|/db is taken as copysign(1, b), +1 at b = 0 as in the PAU/KAT
    kernels: with sign(0) = 0 the zero-initialised b of `identity` could never move.
    """
    grad_a = per_group[:, :NUM_COEFFS].to(a.dtype)
    grad_b = -per_group[:, NUM_COEFFS:].to(b.dtype) * torch.copysign(torch.ones_like(b), b)
    return grad_a, grad_b


def _element_partials(x, a, b, out, grad_out, grad_x):
    """Per chunk of rows, the ten per-element partials ``g/Q x^k`` (k = 0..5) and ``g F/Q |x|^i``
    (i = 1..4) as one ``(10, rows, dim)`` buffer, reused between chunks (yielded, so the caller
    reduces it before the next chunk). Writes ``grad_x`` ``(elements / dim, dim)`` when given."""
    dim = x.shape[-1]
    z_all, f_all = x.reshape(-1, dim), out.reshape(-1, dim)
    g_all = grad_out.reshape(z_all.shape)
    num, den = _coefficient_rows(a, b, dim)
    # P' = sum_k k a_k x^(k-1);  dQ/d|x| = sum_i i |b_i| |x|^(i-1).
    dnum = num[1:] * torch.arange(1, NUM_COEFFS, dtype=num.dtype, device=num.device)[:, None]
    dden = den[1:] * torch.arange(1, DEN_COEFFS + 1, dtype=den.dtype, device=den.device)[:, None]
    num, den, dnum, dden = (list(t.unbind(0)) for t in (num, den, dnum, dden))
    step = _chunk_rows(dim, z_all.shape[0], z_all.device)
    buf = None
    for start in range(0, z_all.shape[0], step):
        z, f = z_all[start : start + step], f_all[start : start + step]
        if buf is None or buf.shape[1] != z.shape[0]:
            buf = torch.empty((NUM_COEFFS + DEN_COEFFS,) + tuple(z.shape), dtype=z.dtype, device=z.device)
        q, az = _denominator(z, den)
        r = torch.div(g_all[start : start + step], q, out=buf[0])
        if grad_x is not None:
            dq = _horner(dden, az).mul_(torch.sign(z))
            torch.mul(torch.addcmul(_horner(dnum, z), f, dq, value=-1.0), r, out=grad_x[start : start + step])
        for k in range(1, NUM_COEFFS):
            torch.mul(buf[k - 1], z, out=buf[k])
        s = NUM_COEFFS
        torch.mul(r, f, out=buf[s]).mul_(az)
        for i in range(s + 1, s + DEN_COEFFS):
            torch.mul(buf[i - 1], az, out=buf[i])
        yield buf


class _AtomicGroupRationalFunction(torch.autograd.Function):
    """KAT's GR-KAN backward as its public kernels accumulate it: element by element.

    In KAT's CUDA and Triton kernels (github.com/Adamdad/rational_kat_cu) one thread handles one
    element, computes its ten partials and atomically adds each into its group's coefficient
    gradient (float32), so every element of a group contends for the same ten addresses. Here the
    same partials as :class:`_GroupRationalFunction` (same forward, same ``grad_x``) are added with
    ``index_add_`` into a flat ``(groups * 10,)`` float32 accumulator, one source element per
    index: on a GPU that is one ``atomicAdd`` per element and partial, as in KAT's kernel; on the
    CPU a serial loop of scalar adds. Only the accumulation differs from the block-reduced backward.
    """

    @staticmethod
    def forward(ctx, x, a, b, groups):
        out = _eager_forward(x, a, b)
        ctx.groups = groups
        ctx.save_for_backward(x, a, b, out)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        x, a, b, out = ctx.saved_tensors
        groups, dim = ctx.groups, x.shape[-1]
        parts = NUM_COEFFS + DEN_COEFFS
        grad_x = torch.empty_like(x).reshape(-1, dim) if ctx.needs_input_grad[0] else None
        acc = torch.zeros(
            groups * parts, dtype=torch.float64 if x.dtype == torch.float64 else torch.float32, device=x.device
        )
        # Slot of partial k of channel d: group(d) * 10 + k; the (10, rows, dim) index is built once per chunk size.
        slots = torch.arange(dim, device=x.device) // (dim // groups) * parts
        index: dict[int, torch.Tensor] = {}
        for buf in _element_partials(x, a, b, out, grad_out, grad_x):
            rows = buf.shape[1]
            if rows not in index:
                ks = torch.arange(parts, device=x.device)[:, None, None]
                index[rows] = (ks + slots[None, None, :]).expand(parts, rows, dim).reshape(-1)
            acc.index_add_(0, index[rows], buf.reshape(-1).to(acc.dtype))
        grad_a, grad_b = _coefficient_grads(acc.view(groups, parts), a, b)
        grad_x = grad_x.reshape(x.shape) if grad_x is not None else None
        return grad_x, grad_a, grad_b, None


def atomic_group_rational(x: torch.Tensor, a: torch.Tensor, b: torch.Tensor, groups: int) -> torch.Tensor:
    """Group rational with KAT's per-element accumulation of the coefficient gradients (the baseline
    FlashKAT removes); same values and gradients as :func:`group_rational` up to summation order."""
    _check_coefficients(x, a, b, groups)
    return _AtomicGroupRationalFunction.apply(x, a, b, groups)


def group_rational(
    x: torch.Tensor, a: torch.Tensor, b: torch.Tensor, groups: int, fused: bool | str = False
) -> torch.Tensor:
    """Group rational of ``x`` (..., dim) with coefficients ``a`` (groups, 6), ``b`` (groups, 4).

    Same values as :func:`naive_group_rational`; the backward is the block-reduced one.
    ``fused``: ``False`` eager ops; ``True`` the ``torch.compile`` kernels of
    :mod:`mlpzoo.layers.kan.fused` (errors if compiling fails); ``"auto"`` those kernels, falling
    back to eager ops with one warning where compiling fails. float32/float64 only; other dtypes
    and calls inside a ``torch.compile`` trace use the eager ops.
    """
    _check_coefficients(x, a, b, groups)
    return _GroupRationalFunction.apply(x, a, b, groups, check_fused(fused))


class GroupRational(nn.Module):
    """Element-wise learnable rational activation, one coefficient set per channel group.

    Args:
        dim: number of channels (the last input dim).
        groups: channel groups; channels ``[g * dim/groups, (g+1) * dim/groups)`` share the
            coefficients of group ``g``. Must divide ``dim``.
        init: ``identity``, ``gelu`` or ``silu``: every group starts as the least-squares rational
            fit of that function on ``[-3, 3]`` (see :func:`rational_init`).
        naive: use :func:`naive_group_rational` (plain autograd) instead of the custom backward.
        atomic: use :func:`atomic_group_rational` (KAT's per-element accumulation; a benchmark baseline).
        fused: ``False`` (default), ``True`` or ``"auto"``: compiled kernels, see :func:`group_rational`.
            The first call per process compiles (seconds; see docs/kan.md), so the default stays eager.
    """

    def __init__(
        self,
        dim: int,
        groups: int = 8,
        init: str = "gelu",
        naive: bool = False,
        fused: bool | str = False,
        atomic: bool = False,
    ):
        super().__init__()
        if dim < 1 or groups < 1 or dim % groups:
            raise ConfigError(f"GroupRational groups={groups} must divide dim={dim}; pick a divisor of {dim}")
        if naive and atomic:
            raise ConfigError("GroupRational naive=True and atomic=True are two different backwards; choose one")
        a, b, _ = rational_init(init)
        self.dim, self.groups, self.init, self.naive, self.atomic = dim, groups, init.lower(), naive, atomic
        self.fused = check_fused(fused)
        self.a = nn.Parameter(torch.tensor(a, dtype=torch.float32).repeat(groups, 1))
        self.b = nn.Parameter(torch.tensor(b, dtype=torch.float32).repeat(groups, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "GroupRational", self.a)
        if x.dim() == 0 or x.shape[-1] != self.dim:
            raise ConfigError(f"GroupRational expects last dim {self.dim}, got {x.shape[-1]}; match dim to the input")
        if self.naive:
            return naive_group_rational(x, self.a, self.b, self.groups)
        if self.atomic:
            return atomic_group_rational(x, self.a, self.b, self.groups)
        return group_rational(x, self.a, self.b, self.groups, self.fused)

    def elementwise_flops(self, inputs: tuple[torch.Tensor, ...]) -> int:
        """Forward FLOPs: per element Horner on P (5 multiply-adds), ``|x|``, Horner on Q (4), one divide."""
        return RATIONAL_FLOPS * inputs[0].numel()

    def extra_repr(self) -> str:
        fused = f", fused={self.fused!r}" if self.fused is not False else ""
        backward = ", naive=True" if self.naive else ", atomic=True" if self.atomic else ""
        return f"dim={self.dim}, groups={self.groups}, init={self.init!r}{fused}{backward}"


def rational_second_moment(init: str, samples: int = 20001) -> float:
    """``E[F(x)^2]`` for ``x ~ N(0, 1)`` with ``F`` the rational of ``init`` (trapezoid on [-8, 8])."""
    a, b, _ = rational_init(init)
    x = torch.linspace(-8.0, 8.0, samples, dtype=torch.float64)
    a, b = torch.tensor([a], dtype=torch.float64), torch.tensor([b], dtype=torch.float64)
    f = naive_group_rational(x[:, None], a, b, 1)[:, 0]
    density = torch.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)
    return torch.trapezoid(f**2 * density, x).item()


class GRKANLinear(nn.Module):
    """``Linear(GroupRational(x))``: the GR-KAN layer of KAT.

    Variance-preserving initialisation (KAT): for ``x ~ N(0, 1)`` the rational's output
    has second moment ``mu = E[F(x)^2]`` (computed numerically at construction), so the linear
    weights are drawn from ``N(0, 1 / (in_features * mu))`` and the bias starts at zero, which
    makes ``E[out^2] = in_features * std^2 * mu = 1 = Var(in)``.

    Args:
        in_features, out_features: widths.
        groups: rational groups; must divide ``in_features``.
        init: the rational's starting function (``identity``, ``gelu``, ``silu``).
        bias: bias of the linear layer.
        naive: plain-autograd rational (for benchmarks and checks).
        atomic: the rational with KAT's per-element gradient accumulation (the FlashKAT benchmark's baseline).
        fused: the rational's compiled kernels (``False``, ``True``, ``"auto"``; see :class:`GroupRational`).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        groups: int = 8,
        init: str = "gelu",
        bias: bool = True,
        naive: bool = False,
        fused: bool | str = False,
        atomic: bool = False,
    ):
        super().__init__()
        if out_features < 1:
            raise ConfigError(f"GRKANLinear out_features={out_features} must be >= 1; give a positive width")
        if in_features < 1 or groups < 1 or in_features % groups:
            raise ConfigError(
                f"GRKANLinear groups={groups} must divide in_features={in_features}; pick a divisor of {in_features}"
            )
        self.in_features, self.out_features = in_features, out_features
        self.rational = GroupRational(in_features, groups, init, naive=naive, fused=fused, atomic=atomic)
        self.linear = nn.Linear(in_features, out_features, bias=bias)
        self.second_moment = rational_second_moment(init)
        with torch.no_grad():
            self.linear.weight.normal_(0.0, math.sqrt(1.0 / (in_features * self.second_moment)))
            if bias:
                self.linear.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.rational(x))

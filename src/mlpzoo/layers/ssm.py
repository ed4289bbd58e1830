"""Selective state space layer (S6) and the Mamba mixer block.

Gu & Dao, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces", 2023,
arXiv:2312.00752. The state of each channel ``d`` and state index ``n`` follows

    h_t = exp(delta_t * A) * h_{t-1} + delta_t * B_t * u_t,      y_t = C_t . h_t + D * u_t

(zero-order hold for ``A``, the simplified Euler step for ``B``, as in the official
``selective_scan_ref``). In the selective model (S6) ``delta, B, C`` are functions of the input;
in the LTI ablation (``selective=False``, S4D-real-like) they are learned constants.

Training uses :func:`selective_scan`, a chunked scan: positions are cut into chunks of ``T``.
Pass 1 runs the recurrence over the ``T`` positions of all chunks at once from zero states (one
vectorised step per position); a sequential carry between chunks then combines each chunk's
final local state with its total decay ``exp(sum(delta * A))`` (a log-space sum, exponent
<= 0, so it cannot overflow); pass 2 reruns the chunks from their true incoming states. That is
``2T + L/T`` Python steps instead of ``L``, with the arithmetic of the plain recurrence.
Memory is linear in ``L``. We do not use the factorised ``exp(S_t) * cumsum(exp(-S_s) x_s)``
form: ``exp(-S)`` overflows float32 once a chunk's total decay passes ~88, which trained
``delta`` reach. The backward pass is the same scan run backwards in time (the adjoint of a
linear recurrence is a linear recurrence), so autograd saves only the decays and the states.

On CPU, :func:`selective_scan` runs the fused C kernel of :mod:`mlpzoo.layers.ssm_kernel` when it
builds (``fused="auto"``): one pass per batch row with the ``(d, n)`` state in cache, forward and
backward, the same arithmetic as the recurrence. The chunked scan above is the fallback (other
devices, other dtypes, no C compiler) and the reference the kernel is tested against.

Generation uses :meth:`MambaMixer.step`, which carries the convolution window and the SSM state
and gives the same outputs as the parallel forward.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from mlpzoo.errors import ConfigError
from mlpzoo.layers import ssm_kernel

__all__ = ["MambaMixer", "MambaState", "linear_scan", "selective_scan", "selective_state_update"]

DEFAULT_CHUNK = 64


def _pad_to(tensor: torch.Tensor, length: int) -> torch.Tensor:
    if tensor.shape[1] == length:
        return tensor
    out = tensor.new_zeros(tensor.shape[0], length, *tensor.shape[2:])
    out[:, : tensor.shape[1]] = tensor
    return out


def _chunked_scan(
    log_a: torch.Tensor, x: torch.Tensor, h0: torch.Tensor, chunk: int, reverse: bool = False
) -> torch.Tensor:
    """States of ``h_t = exp(log_a_t) h_{t-1} + x_t`` for inputs ``(b, L, *rest)`` (no autograd).

    ``reverse=True`` runs from the end: ``h_t = exp(log_a_t) h_{t+1} + x_t`` with ``h0`` after the
    last position. Padded positions (``log_a = x = 0``) pass the state through unchanged.
    """
    b, length = x.shape[:2]
    rest = x.shape[2:]
    steps = max(1, min(chunk, length))
    chunks = -(-length // steps)
    padded = chunks * steps
    if reverse and padded != length:  # padding must come before the real positions in scan order
        shift = padded - length
        log_a = torch.cat([log_a.new_zeros(b, shift, *rest), log_a], 1)
        x = torch.cat([x.new_zeros(b, shift, *rest), x], 1)
    else:
        log_a, x = _pad_to(log_a, padded), _pad_to(x, padded)
    log_a = log_a.reshape(b, chunks, steps, *rest)
    x = x.reshape(b, chunks, steps, *rest)
    decay = log_a.exp()
    # Decay across a whole chunk: a log-space sum, exponent <= 0, so it cannot overflow.
    chunk_decay = log_a.sum(2).exp_()
    order = range(steps - 1, -1, -1) if reverse else range(steps)
    h = x.new_zeros(b, chunks, *rest)
    for t in order:  # pass 1: every chunk from a zero state, all chunks at once
        torch.addcmul(x[:, :, t], decay[:, :, t], h, out=h)
    incoming = torch.empty_like(h)
    carry = h0
    for k in range(chunks - 1, -1, -1) if reverse else range(chunks):  # sequential carry between chunks
        incoming[:, k] = carry
        carry = torch.addcmul(h[:, k], chunk_decay[:, k], carry)
    states = torch.empty_like(x)
    h = incoming
    for t in order:  # pass 2: the same recurrence from each chunk's true incoming state
        h = torch.addcmul(x[:, :, t], decay[:, :, t], h, out=states[:, :, t])
    states = states.view(b, padded, *rest)
    return states[:, padded - length :] if reverse else states[:, :length]


class _LinearScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, log_a, x, h0, chunk):
        states = _chunked_scan(log_a, x, h0, chunk)
        ctx.save_for_backward(log_a, states, h0)
        ctx.chunk = chunk
        return states

    @staticmethod
    def backward(ctx, grad_states):
        log_a, states, h0 = ctx.saved_tensors
        # Adjoint: lam_t = g_t + a_{t+1} lam_{t+1}, the same scan backwards in time, decays shifted by one.
        shifted = torch.cat([log_a[:, 1:], log_a.new_zeros(log_a[:, :1].shape)], 1)
        lam = _chunked_scan(shifted, grad_states, torch.zeros_like(h0), ctx.chunk, reverse=True)
        previous = torch.cat([h0.unsqueeze(1), states[:, :-1]], 1)
        grad_log_a = lam * previous * log_a.exp()
        grad_h0 = lam[:, 0] * log_a[:, 0].exp()
        return grad_log_a, lam, grad_h0, None


def linear_scan(
    log_a: torch.Tensor, x: torch.Tensor, h0: torch.Tensor | None = None, chunk_size: int = DEFAULT_CHUNK
) -> torch.Tensor:
    """All states of ``h_t = exp(log_a_t) * h_{t-1} + x_t`` along dim 1 of ``(b, L, ...)`` tensors.

    ``h0`` (``(b, ...)``, zeros by default) is the state before the first position. Differentiable
    in ``log_a``, ``x`` and ``h0``; memory is linear in ``L``.
    """
    if log_a.shape != x.shape:
        raise ConfigError(f"linear_scan: log_a {tuple(log_a.shape)} and x {tuple(x.shape)} must have the same shape")
    if chunk_size < 1:
        raise ConfigError(f"linear_scan: chunk_size = {chunk_size} must be at least 1")
    if h0 is None:
        h0 = x.new_zeros(x.shape[:1] + x.shape[2:])
    return _LinearScan.apply(log_a, x, h0, chunk_size)


def _per_step(matrix: torch.Tensor) -> torch.Tensor:
    """B or C as ``(b, L, 1, n)`` (selective, given ``(b, L, n)``) or ``(1, 1, d, n)`` (LTI, given ``(d, n)``)."""
    return matrix.unsqueeze(2) if matrix.dim() == 3 else matrix[None, None]


def _use_kernel(fused: bool | str, *tensors: torch.Tensor | None) -> bool:
    if fused not in (True, False, "auto"):
        raise ConfigError(f"selective_scan: fused = {fused!r}; use True, False or 'auto'")
    if fused is False:
        return False
    if ssm_kernel.supports(*tensors) and ssm_kernel.kernel_available():
        return True
    if fused is True:
        raise ConfigError(
            "selective_scan: fused=True needs CPU float32/float64 inputs and a C compiler "
            f"({ssm_kernel.kernel_status()['reason']}); pass fused='auto' to fall back"
        )
    return False


def selective_scan(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    initial_state: torch.Tensor | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    return_final_state: bool = False,
    fused: bool | str = "auto",
):
    """Run the SSM over a whole sequence.

    Args:
        u, delta: ``(b, L, d)`` input and (positive) step sizes.
        A: ``(d, n)`` state matrix diagonal (negative). B, C: ``(b, L, n)`` (selective) or
            ``(d, n)`` (time-invariant). D: ``(d,)`` skip connection or None.
        initial_state: ``(b, d, n)`` state before the first position (zeros by default).
        chunk_size: positions per chunk of the scan (between the kernel's backward checkpoints).
        fused: "auto" runs the fused C kernel when the inputs are CPU float32/float64 and it builds,
            else the chunked scan; True requires the kernel; False always takes the chunked scan.
    Returns ``y`` ``(b, L, d)``, and the final state ``(b, d, n)`` if ``return_final_state``.
    """
    if u.dim() != 3 or delta.shape != u.shape:
        raise ConfigError(
            f"selective_scan: u and delta must both be (batch, length, channels); got {tuple(u.shape)} and "
            f"{tuple(delta.shape)}"
        )
    if A.dim() != 2 or A.shape[0] != u.shape[2]:
        raise ConfigError(f"selective_scan: A must be (channels={u.shape[2]}, state); got {tuple(A.shape)}")
    if _use_kernel(fused, u, delta, A, B, C, D, initial_state):
        y, final = ssm_kernel.fused_selective_scan(u, delta, A, B, C, D, initial_state, chunk_size)
        return (y, final) if return_final_state else y
    log_a = delta.unsqueeze(-1) * A
    x = (delta * u).unsqueeze(-1) * _per_step(B)
    states = linear_scan(log_a, x, initial_state, chunk_size)
    if C.dim() == 3:
        y = torch.einsum("bldn,bln->bld", states, C)
    else:
        y = torch.einsum("bldn,dn->bld", states, C)
    if D is not None:
        y = y + u * D
    return (y, states[:, -1]) if return_final_state else y


def selective_state_update(
    state: torch.Tensor,
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
):
    """One recurrent step: ``state`` ``(b, d, n)``, ``u, delta`` ``(b, d)``, ``B, C`` broadcastable
    to ``(b, d, n)`` (``(b, 1, n)`` selective, ``(d, n)`` time-invariant).

    Returns ``(y (b, d), new state)``.
    """
    state = torch.exp(delta.unsqueeze(-1) * A) * state + (delta * u).unsqueeze(-1) * B
    y = (state * C).sum(-1)
    if D is not None:
        y = y + u * D
    return y, state


class MambaState:
    """Inference cache of one :class:`MambaMixer`: the last ``d_conv - 1`` conv inputs and the SSM state."""

    def __init__(self, conv: torch.Tensor, ssm: torch.Tensor):
        self.conv = conv  # (b, d_inner, d_conv - 1)
        self.ssm = ssm  # (b, d_inner, d_state)


class MambaMixer(nn.Module):
    """The Mamba block's mixer: ``in_proj -> (x, z)``, causal depthwise conv + SiLU on ``x``,
    SSM on ``x`` gated by ``SiLU(z)``, ``out_proj``. Input and output ``(b, L, d_model)``.

    Args (defaults are the official ``Mamba`` module's):
        d_model: model width. d_state: SSM state size N (16). d_conv: conv kernel (4).
        expand: inner width ``d_inner = expand * d_model`` (2). dt_rank: rank of the ``delta``
            projection, ``ceil(d_model / 16)`` when "auto".
        dt_min, dt_max: ``delta`` at init is log-uniform in ``[dt_min, dt_max]`` (0.001, 0.1), set
            through the ``dt_proj`` bias as its inverse softplus; dt_init_floor (1e-4) floors it.
        dt_scale: scales the ``dt_proj`` weight init ``U(-dt_rank^-0.5, dt_rank^-0.5)`` (1.0).
        conv_bias (True), bias (False): biases of the conv and of in/out projections.
        selective: True for S6 (``delta, B, C`` from the input); False for the LTI ablation
            (``delta`` per channel, ``B, C`` per channel and state, all learned constants).
        chunk_size: positions per chunk of the training scan.
        fused: the scan's path (see :func:`selective_scan`): "auto" (the C kernel on CPU when it
            builds), True or False.
    A is initialised S4D-real (``A = -exp(A_log)``, ``A_log = log(1..d_state)``), D to ones.
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 16,
        d_conv: int = 4,
        expand: int = 2,
        dt_rank: int | str = "auto",
        dt_min: float = 0.001,
        dt_max: float = 0.1,
        dt_init_floor: float = 1e-4,
        dt_scale: float = 1.0,
        conv_bias: bool = True,
        bias: bool = False,
        selective: bool = True,
        chunk_size: int = DEFAULT_CHUNK,
        fused: bool | str = "auto",
    ):
        super().__init__()
        if not 0 < dt_min <= dt_max:
            raise ConfigError(f"MambaMixer: need 0 < dt_min <= dt_max; got dt_min={dt_min}, dt_max={dt_max}")
        if min(d_model, d_state, d_conv, expand) < 1:
            raise ConfigError("MambaMixer: d_model, d_state, d_conv and expand must all be at least 1")
        self.d_model, self.d_state, self.d_conv = d_model, d_state, d_conv
        self.d_inner = expand * d_model
        self.dt_rank = math.ceil(d_model / 16) if dt_rank == "auto" else int(dt_rank)
        self.selective, self.chunk_size, self.fused = selective, chunk_size, fused
        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=bias)
        self.conv1d = nn.Conv1d(
            self.d_inner, self.d_inner, d_conv, groups=self.d_inner, padding=d_conv - 1, bias=conv_bias
        )
        dt = torch.exp(torch.rand(self.d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        dt = dt.clamp(min=dt_init_floor)
        inv_softplus_dt = dt + torch.log(-torch.expm1(-dt))
        if selective:
            self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * d_state, bias=False)
            self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=True)
            bound = self.dt_rank**-0.5 * dt_scale
            nn.init.uniform_(self.dt_proj.weight, -bound, bound)
            with torch.no_grad():
                self.dt_proj.bias.copy_(inv_softplus_dt)
            self.dt_proj.bias._no_reinit = True
        else:
            self.dt_bias = nn.Parameter(inv_softplus_dt)
            # S4D-style constant B, C; the scale matches x_proj's outputs at init.
            self.B = nn.Parameter(torch.randn(self.d_inner, d_state) / math.sqrt(self.d_inner))
            self.C = nn.Parameter(torch.randn(self.d_inner, d_state) / math.sqrt(self.d_inner))
        a = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(self.d_inner, 1)
        self.A_log = nn.Parameter(torch.log(a))
        self.A_log._no_weight_decay = True
        self.D = nn.Parameter(torch.ones(self.d_inner))
        self.D._no_weight_decay = True
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=bias)

    def ssm_parameters(self, x: torch.Tensor):
        """``delta`` (same shape as ``x``), ``B``, ``C`` for inputs ``x`` (``(b, L, d_inner)`` or ``(b, d_inner)``)."""
        if not self.selective:
            return F.softplus(self.dt_bias).expand_as(x), self.B, self.C
        dt, B, C = self.x_proj(x).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = F.softplus(self.dt_proj(dt))
        return delta, B, C

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        if hidden.dim() != 3 or hidden.shape[-1] != self.d_model:
            raise ConfigError(f"MambaMixer expects (batch, length, {self.d_model}); got {tuple(hidden.shape)}")
        length = hidden.shape[1]
        x, z = self.in_proj(hidden).chunk(2, dim=-1)
        x = F.silu(self.conv1d(x.transpose(1, 2))[..., :length].transpose(1, 2))
        delta, B, C = self.ssm_parameters(x)
        A = -torch.exp(self.A_log)
        y = selective_scan(x, delta, A, B, C, self.D, chunk_size=self.chunk_size, fused=self.fused)
        return self.out_proj(y * F.silu(z))

    def allocate_state(self, batch_size: int, device=None, dtype=None) -> MambaState:
        weight = self.in_proj.weight
        device, dtype = device or weight.device, dtype or weight.dtype
        return MambaState(
            torch.zeros(batch_size, self.d_inner, self.d_conv - 1, device=device, dtype=dtype),
            torch.zeros(batch_size, self.d_inner, self.d_state, device=device, dtype=dtype),
        )

    def step(self, hidden: torch.Tensor, state: MambaState) -> tuple[torch.Tensor, MambaState]:
        """One token ``(b, d_model)`` -> ``(b, d_model)``; returns the updated state."""
        x, z = self.in_proj(hidden).chunk(2, dim=-1)
        window = torch.cat([state.conv, x.unsqueeze(-1)], dim=-1)  # (b, d_inner, d_conv)
        x = (window * self.conv1d.weight.squeeze(1)).sum(-1)
        if self.conv1d.bias is not None:
            x = x + self.conv1d.bias
        x = F.silu(x)
        delta, B, C = self.ssm_parameters(x)
        if self.selective:
            B, C = B.unsqueeze(1), C.unsqueeze(1)
        A = -torch.exp(self.A_log)
        y, ssm = selective_state_update(state.ssm, x, delta, A, B, C, self.D)
        return self.out_proj(y * F.silu(z)), MambaState(window[..., 1:], ssm)

/* Fused CPU selective scan (forward and backward) for mlpzoo.layers.ssm.
 *
 * Gu & Dao, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces", 2023, arXiv:2312.00752:
 *     h_t = exp(delta_t * A) * h_{t-1} + delta_t * B_t * u_t,      y_t = C_t . h_t + D * u_t
 * One pass over the sequence per batch row, the (d, n) state held in cache, every step fused: no
 * (b, L, d, n) tensor is ever written. The forward keeps the state at the start of every chunk of
 * `chunk` positions; the backward reruns each chunk from that checkpoint (last chunk first) and runs
 * the adjoint recurrence lam_t = C_t gy_t + exp(delta_{t+1} A) lam_{t+1} back through it.
 *
 * Layouts (all contiguous): u, delta, y, du, ddelta (b, L, d); A (d, n); B, C selective (b, L, n), or
 * time-invariant (d, n); D (d,); h0, h_last, dh0 (b, d, n); checkpoints (b, ceil(L / chunk), d, n).
 * Gradients that sum over the batch (dA, dD, and dB, dC when time-invariant) are written per batch row,
 * (b, d, n) or (b, d), and summed by the caller, so batch rows run in parallel without sharing writes.
 * Built by mlpzoo/layers/ssm_kernel.py with the system C compiler and loaded through ctypes; the inner loops over n
 * need -fopenmp-simd (reductions) and -fno-trapping-math (the clamps in exp_f32 as selects) to vectorise.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* exp for float32 that the compiler vectorises: exp(x) = 2^k exp(r), |r| <= ln2 / 2, with the Cephes
 * expf polynomial (relative error about 1e-7); x is clamped to [-87, 88] (exp(-87) ~ 1.6e-38). */
static inline float exp_f32(float x) {
    x = x > -87.0f ? x : -87.0f;  /* two selects, not nested: they vectorise as min/max */
    x = x < 88.0f ? x : 88.0f;
    float k = floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - k * 0.693359375f;
    r = r + k * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)k + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

static inline double exp_f64(double x) { return exp(x); }

typedef struct {
    int64_t batch, length, d, n, chunk;
    int selective;
} shape_t;

#define DEFINE_SCAN(T, EXP)                                                                                     \
typedef struct {                                                                                                \
    const T *u, *delta, *A, *B, *C, *D, *h0, *gy, *gh_last, *checkpoints;                                       \
    T *y, *h_last, *ckpt_out, *du, *ddelta, *dA, *dB, *dC, *dD, *dh0;                                           \
    shape_t s;                                                                                                  \
    int64_t b_begin, b_end;                                                                                     \
} args_##T;                                                                                                     \
                                                                                                                \
/* B or C at (row b, position t) as a pointer to the n values of channel 0; channel stride in *step. */         \
static inline const T *bc_##T(const T *m, const shape_t *s, int64_t b, int64_t t, int64_t *step) {             \
    if (s->selective) { *step = 0; return m + (b * s->length + t) * s->n; }                                    \
    *step = s->n; return m;                                                                                     \
}                                                                                                               \
                                                                                                                \
/* One position of one channel: h = exp(dt A) h + du B in place; returns C . h. */                               \
static inline T step_##T(const T *restrict Ac, const T *restrict Bc, const T *restrict Cc, T *restrict hc,        \
                         T dt, T du, int64_t n) {                                                               \
    T acc = 0;                                                                                                  \
    _Pragma("omp simd reduction(+:acc)")                                                                        \
    for (int64_t i = 0; i < n; i++) {                                                                           \
        hc[i] = EXP(dt * Ac[i]) * hc[i] + du * Bc[i];                                                           \
        acc += Cc[i] * hc[i];                                                                                   \
    }                                                                                                           \
    return acc;                                                                                                 \
}                                                                                                               \
                                                                                                                \
/* The adjoint of one position of one channel: lam = g + C gy; accumulates dA, dB, dC; g <- lam exp(dt A).      \
 * Returns sum(lam B) in *lam_b and sum(dlog_a A) in *lam_loga. */                                              \
static inline void adjoint_##T(const T *restrict Ac, const T *restrict Bc, const T *restrict Cc,                 \
                               const T *restrict hc, const T *restrict hpc, T *restrict gc, T *restrict dAc,    \
                               T *restrict dBc, T *restrict dCc, T dt, T du, T gyc, int64_t n,                  \
                               T *lam_b_out, T *lam_loga_out) {                                                 \
    T lam_b = 0, lam_loga = 0;                                                                                  \
    _Pragma("omp simd reduction(+:lam_b, lam_loga)")                                                            \
    for (int64_t i = 0; i < n; i++) {                                                                           \
        const T decay = EXP(dt * Ac[i]), lam = gc[i] + Cc[i] * gyc;                                             \
        const T dlog = lam * hpc[i] * decay;                                                                    \
        dCc[i] += gyc * hc[i];                                                                                  \
        dBc[i] += lam * du;                                                                                     \
        lam_b += lam * Bc[i];                                                                                   \
        lam_loga += dlog * Ac[i];                                                                               \
        dAc[i] += dlog * dt;                                                                                    \
        gc[i] = lam * decay;                                                                                    \
    }                                                                                                           \
    *lam_b_out = lam_b;                                                                                         \
    *lam_loga_out = lam_loga;                                                                                   \
}                                                                                                               \
                                                                                                                \
/* Run positions [t0, t1) of row b from state h (d * n, updated in place); states (optional) gets the       \
 * state after each position; y (optional) the outputs. */                                                      \
static void run_##T(const args_##T *a, int64_t b, int64_t t0, int64_t t1, T *h, T *states, T *y) {              \
    const shape_t *s = &a->s;                                                                                   \
    const int64_t d = s->d, n = s->n;                                                                           \
    for (int64_t t = t0; t < t1; t++) {                                                                         \
        const T *u = a->u + (b * s->length + t) * d, *dl = a->delta + (b * s->length + t) * d;                  \
        int64_t bstep, cstep;                                                                                   \
        const T *Bt = bc_##T(a->B, s, b, t, &bstep), *Ct = bc_##T(a->C, s, b, t, &cstep);                       \
        for (int64_t c = 0; c < d; c++) {                                                                       \
            const T dt = dl[c], du = dt * u[c], *Ac = a->A + c * n, *Bc = Bt + c * bstep, *Cc = Ct + c * cstep; \
            T *hc = h + c * n;                                                                                  \
            /* n = 16 (Mamba's default) as a constant: the update becomes straight-line vector code. */          \
            const T acc = n == 16 ? step_##T(Ac, Bc, Cc, hc, dt, du, 16) : step_##T(Ac, Bc, Cc, hc, dt, du, n);  \
            if (states) memcpy(states + ((t - t0) * d + c) * n, hc, n * sizeof(T));                              \
            if (y) y[(b * s->length + t) * d + c] = acc + (a->D ? a->D[c] * u[c] : 0);                          \
        }                                                                                                       \
    }                                                                                                           \
}                                                                                                               \
                                                                                                                \
static void *forward_rows_##T(void *p) {                                                                        \
    const args_##T *a = p;                                                                                      \
    const shape_t *s = &a->s;                                                                                   \
    const int64_t dn = s->d * s->n, chunks = (s->length + s->chunk - 1) / s->chunk;                             \
    for (int64_t b = a->b_begin; b < a->b_end; b++) {                                                           \
        T *h = a->h_last + b * dn;                                                                              \
        if (a->h0) memcpy(h, a->h0 + b * dn, dn * sizeof(T)); else memset(h, 0, dn * sizeof(T));                \
        for (int64_t k = 0; k < chunks; k++) {                                                                  \
            int64_t t0 = k * s->chunk, t1 = t0 + s->chunk < s->length ? t0 + s->chunk : s->length;              \
            if (a->ckpt_out) memcpy(a->ckpt_out + (b * chunks + k) * dn, h, dn * sizeof(T));                    \
            run_##T(a, b, t0, t1, h, NULL, a->y);                                                               \
        }                                                                                                       \
    }                                                                                                           \
    return NULL;                                                                                                \
}                                                                                                               \
                                                                                                                \
static void *backward_rows_##T(void *p) {                                                                       \
    const args_##T *a = p;                                                                                      \
    const shape_t *s = &a->s;                                                                                   \
    const int64_t d = s->d, n = s->n, dn = d * n, L = s->length, chunks = (L + s->chunk - 1) / s->chunk;        \
    T *states = malloc((s->chunk + 1) * dn * sizeof(T));                                                      \
    if (!states) return (void *)1;                                                                              \
    for (int64_t b = a->b_begin; b < a->b_end; b++) {                                                           \
        T *g = a->dh0 + b * dn, *dA = a->dA + b * dn, *dD = a->dD + b * d;                                      \
        if (a->gh_last) memcpy(g, a->gh_last + b * dn, dn * sizeof(T)); else memset(g, 0, dn * sizeof(T));     \
        for (int64_t k = chunks - 1; k >= 0; k--) {                                                             \
            int64_t t0 = k * s->chunk, t1 = t0 + s->chunk < L ? t0 + s->chunk : L;                              \
            /* Slot 0 is the running state, slot j + 1 the state after position t0 + j; then slot 0 is reset \
             * to the chunk's incoming state, the "previous state" of its first position. */                 \
            memcpy(states, a->checkpoints + (b * chunks + k) * dn, dn * sizeof(T));                             \
            run_##T(a, b, t0, t1, states, states + dn, NULL);                                                   \
            memcpy(states, a->checkpoints + (b * chunks + k) * dn, dn * sizeof(T));                             \
            for (int64_t t = t1 - 1; t >= t0; t--) {                                                            \
                const int64_t row = (b * L + t) * d;                                                            \
                const T *u = a->u + row, *dl = a->delta + row, *gy = a->gy + row;                               \
                int64_t bstep, cstep;                                                                           \
                const T *Bt = bc_##T(a->B, s, b, t, &bstep), *Ct = bc_##T(a->C, s, b, t, &cstep);               \
                T *dBt = s->selective ? a->dB + (b * L + t) * n : a->dB + b * dn;                               \
                T *dCt = s->selective ? a->dC + (b * L + t) * n : a->dC + b * dn;                               \
                const T *hs = states + (t - t0 + 1) * dn, *hp = states + (t - t0) * dn;                         \
                for (int64_t c = 0; c < d; c++) {                                                               \
                    const T dt = dl[c], uc = u[c], gyc = gy[c], du = dt * uc;                                   \
                    const T *Ac = a->A + c * n, *Bc = Bt + c * bstep, *Cc = Ct + c * cstep;                     \
                    const T *hc = hs + c * n, *hpc = hp + c * n;                                                \
                    T *gc = g + c * n, *dAc = dA + c * n, *dBc = dBt + c * bstep, *dCc = dCt + c * cstep;       \
                    T lam_b, lam_loga;                                                                          \
                    if (n == 16)                                                                                \
                        adjoint_##T(Ac, Bc, Cc, hc, hpc, gc, dAc, dBc, dCc, dt, du, gyc, 16, &lam_b, &lam_loga);\
                    else                                                                                        \
                        adjoint_##T(Ac, Bc, Cc, hc, hpc, gc, dAc, dBc, dCc, dt, du, gyc, n, &lam_b, &lam_loga); \
                    a->du[row + c] = lam_b * dt + (a->D ? a->D[c] * gyc : 0);                                   \
                    a->ddelta[row + c] = lam_b * uc + lam_loga;                                                 \
                    dD[c] += gyc * uc;                                                                          \
                }                                                                                               \
            }                                                                                                   \
        }                                                                                                       \
    }                                                                                                           \
    free(states);                                                                                               \
    return NULL;                                                                                                \
}                                                                                                               \
                                                                                                                \
/* Split the batch rows over `threads` POSIX threads (the calling thread takes the first share). */            \
static int parallel_##T(void *(*fn)(void *), args_##T *a, int threads) {                                        \
    if (threads > a->s.batch) threads = (int)a->s.batch;                                                        \
    if (threads < 1) threads = 1;                                                                               \
    args_##T parts[64];                                                                                         \
    pthread_t ids[64];                                                                                          \
    if (threads > 64) threads = 64;                                                                             \
    int status = 0;                                                                                             \
    for (int i = 0; i < threads; i++) {                                                                         \
        parts[i] = *a;                                                                                          \
        parts[i].b_begin = a->s.batch * i / threads;                                                            \
        parts[i].b_end = a->s.batch * (i + 1) / threads;                                                        \
    }                                                                                                           \
    int started = 1;                                                                                            \
    for (int i = 1; i < threads; i++, started++)                                                                \
        if (pthread_create(&ids[i], NULL, fn, &parts[i]) != 0) break;                                           \
    for (int i = started; i < threads; i++) status |= fn(&parts[i]) != NULL;  /* could not start: run here */   \
    status |= fn(&parts[0]) != NULL;                                                                            \
    for (int i = 1; i < started; i++) {                                                                         \
        void *r;                                                                                                \
        pthread_join(ids[i], &r);                                                                               \
        status |= r != NULL;                                                                                    \
    }                                                                                                           \
    return status;                                                                                              \
}                                                                                                               \
                                                                                                                \
int mlpzoo_scan_forward_##T(const T *u, const T *delta, const T *A, const T *B, const T *C, const T *D,         \
                            const T *h0, T *y, T *h_last, T *checkpoints, int64_t batch, int64_t length,         \
                            int64_t d, int64_t n, int selective, int64_t chunk, int threads) {                  \
    args_##T a = {0};                                                                                           \
    a.u = u; a.delta = delta; a.A = A; a.B = B; a.C = C; a.D = D; a.h0 = h0;                                    \
    a.y = y; a.h_last = h_last; a.ckpt_out = checkpoints;                                                       \
    a.s = (shape_t){batch, length, d, n, chunk, selective};                                                     \
    return parallel_##T(forward_rows_##T, &a, threads);                                                         \
}                                                                                                               \
                                                                                                                \
int mlpzoo_scan_backward_##T(const T *u, const T *delta, const T *A, const T *B, const T *C, const T *D,        \
                             const T *checkpoints, const T *gy, const T *gh_last, T *du, T *ddelta, T *dA,      \
                             T *dB, T *dC, T *dD, T *dh0, int64_t batch, int64_t length, int64_t d, int64_t n,  \
                             int selective, int64_t chunk, int threads) {                                       \
    args_##T a = {0};                                                                                           \
    a.u = u; a.delta = delta; a.A = A; a.B = B; a.C = C; a.D = D; a.checkpoints = checkpoints;                  \
    a.gy = gy; a.gh_last = gh_last; a.du = du; a.ddelta = ddelta; a.dA = dA; a.dB = dB; a.dC = dC;              \
    a.dD = dD; a.dh0 = dh0;                                                                                     \
    a.s = (shape_t){batch, length, d, n, chunk, selective};                                                     \
    return parallel_##T(backward_rows_##T, &a, threads);                                                        \
}

DEFINE_SCAN(float, exp_f32)
DEFINE_SCAN(double, exp_f64)

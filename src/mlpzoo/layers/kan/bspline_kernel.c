/* The spline branch of a B-spline KAN layer as a sparse product, forward and backward.
 *
 * Liu et al., "KAN: Kolmogorov-Arnold Networks", 2024, arXiv:2404.19756. Of an input's G + k bases only the
 * k + 1 of its interval are non-zero, so y[b, :] = sum_i sum_m v[b, m, i] W[i, t[b, i] + m, :]: half the
 * multiply-adds of the dense (N, (G + k) in) @ ((G + k) in, out) product at G = 5, k = 3, and no dense basis
 * matrix is ever written. Called by mlpzoo/layers/kan/bspline.py (built by mlpzoo/layers/native.py).
 *
 * Layouts (contiguous): x, u, gx (N, in); t (N, in) int32, the column of each input's first non-zero basis in
 * the padded weights (window m is column t + m); v (N, K, in) with K = k + 1; W, dW (in, P, out): the scaled
 * coefficients per input with P >= max(t) + K padded columns (zero where no basis lives); y, g (N, out).
 * The bases and the input gradient are computed here too, in one pass each with no temporaries: the
 * elementwise torch ops they replace each allocated a batch-sized tensor.
 * Rows are processed in blocks whose outputs (or output gradients) stay in cache while every input's
 * (P, out) weight slab is streamed once per block.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    int64_t n, in, out, k1, p, grid;
    const double *slopes; /* (k, k + 1) d/du coefficients of the window bases, row p for u^p */
} dims_t;

static int64_t block_rows(const dims_t *s) {
    int64_t rows = 65536 / (s->out > 0 ? s->out : 1); /* ~256 KiB of float outputs per block */
    return rows < 1 ? 1 : rows;
}

#define DEFINE_SPLINE(T)                                                                                        \
typedef struct {                                                                                                \
    const int32_t *t;                                                                                           \
    const T *v, *W, *g, *u, *step;                                                                              \
    T *y, *dW, *gx;                                                                                             \
    dims_t s;                                                                                                   \
    int64_t begin, end; /* rows (forward) or inputs (backward) of this thread */                                \
} job_##T;                                                                                                      \
                                                                                                                \
/* y[r, :] += sum_m v_m W[c + m, :] for one row and one input; K = 4 (cubic) fused in one pass over y. */        \
static inline void axpy_window_##T(T *restrict yr, const T *restrict w, const T *v, int64_t vstride,           \
                                   int64_t k1, int64_t out) {                                                   \
    if (k1 == 4) {                                                                                              \
        const T v0 = v[0], v1 = v[vstride], v2 = v[2 * vstride], v3 = v[3 * vstride];                           \
        const T *restrict w0 = w, *restrict w1 = w + out, *restrict w2 = w + 2 * out, *restrict w3 = w + 3 * out;\
        _Pragma("omp simd")                                                                                     \
        for (int64_t j = 0; j < out; j++) yr[j] += v0 * w0[j] + v1 * w1[j] + v2 * w2[j] + v3 * w3[j];        \
        return;                                                                                                 \
    }                                                                                                           \
    for (int64_t m = 0; m < k1; m++) {                                                                          \
        const T vm = v[m * vstride];                                                                            \
        const T *restrict wm = w + m * out;                                                                     \
        _Pragma("omp simd")                                                                                     \
        for (int64_t j = 0; j < out; j++) yr[j] += vm * wm[j];                                                \
    }                                                                                                           \
}                                                                                                               \
                                                                                                                \
/* Two cubic inputs at once: eight coefficient rows per pass over y, half the y loads and stores. */          \
static inline void axpy_pair_##T(T *restrict yr, const T *restrict w, const T *restrict x, const T *v,          \
                                 int64_t vstride, int64_t out) {                                                \
    const T v0 = v[0], v1 = v[vstride], v2 = v[2 * vstride], v3 = v[3 * vstride];                               \
    const T u0 = v[1], u1 = v[vstride + 1], u2 = v[2 * vstride + 1], u3 = v[3 * vstride + 1];                   \
    const T *restrict w1 = w + out, *restrict w2 = w + 2 * out, *restrict w3 = w + 3 * out;                     \
    const T *restrict x1 = x + out, *restrict x2 = x + 2 * out, *restrict x3 = x + 3 * out;                     \
    _Pragma("omp simd")                                                                                         \
    for (int64_t j = 0; j < out; j++)                                                                           \
        yr[j] += (v0 * w[j] + v1 * w1[j] + v2 * w2[j] + v3 * w3[j]) + (u0 * x[j] + u1 * x1[j] + u2 * x2[j] + u3 * x3[j]);\
}                                                                                                               \
                                                                                                                \
static void *forward_##T(void *arg) {                                                                           \
    const job_##T *a = arg;                                                                                     \
    const dims_t s = a->s;                                                                                      \
    const int64_t step = block_rows(&s);                                                                        \
    const int64_t pairs = s.k1 == 4 ? s.in / 2 * 2 : 0;                                                          \
    memset(a->y + a->begin * s.out, 0, (a->end - a->begin) * s.out * sizeof(T));                                \
    for (int64_t r0 = a->begin; r0 < a->end; r0 += step) {                                                      \
        const int64_t r1 = r0 + step < a->end ? r0 + step : a->end;                                             \
        for (int64_t i = 0; i < pairs; i += 2) {                                                                \
            const T *Wi = a->W + i * s.p * s.out, *Wn = Wi + s.p * s.out;                                       \
            for (int64_t r = r0; r < r1; r++) {                                                                 \
                const int64_t c = a->t[r * s.in + i], d = a->t[r * s.in + i + 1];                               \
                axpy_pair_##T(a->y + r * s.out, Wi + c * s.out, Wn + d * s.out, a->v + r * s.k1 * s.in + i,     \
                              s.in, s.out);                                                                     \
            }                                                                                                   \
        }                                                                                                       \
        for (int64_t i = pairs; i < s.in; i++) {                                                                \
            const T *Wi = a->W + i * s.p * s.out;                                                               \
            for (int64_t r = r0; r < r1; r++) {                                                                 \
                const int64_t c = a->t[r * s.in + i];                                                           \
                axpy_window_##T(a->y + r * s.out, Wi + c * s.out, a->v + r * s.k1 * s.in + i, s.in, s.k1, s.out);\
            }                                                                                                   \
        }                                                                                                       \
    }                                                                                                           \
    return NULL;                                                                                                \
}                                                                                                               \
                                                                                                                \
/* For one row and one input: dW[c + m, :] += v_m g and, with dv, dv[m] = g . W[c + m, :]. */                  \
static inline void adjoint_window_##T(const T *restrict gr, const T *restrict w, T *restrict dw, const T *v,    \
                                      T *dv, int64_t vstride, int64_t k1, int64_t out) {                        \
    if (k1 == 4 && dv) {                                                                                        \
        const T v0 = v[0], v1 = v[vstride], v2 = v[2 * vstride], v3 = v[3 * vstride];                           \
        const T *restrict w0 = w, *restrict w1 = w + out, *restrict w2 = w + 2 * out, *restrict w3 = w + 3 * out;\
        T *restrict d0 = dw, *restrict d1 = dw + out, *restrict d2 = dw + 2 * out, *restrict d3 = dw + 3 * out; \
        T s0 = 0, s1 = 0, s2 = 0, s3 = 0;                                                                       \
        _Pragma("omp simd reduction(+:s0, s1, s2, s3)")                                                         \
        for (int64_t j = 0; j < out; j++) {                                                                   \
            const T gj = gr[j];                                                                                 \
            d0[j] += v0 * gj; d1[j] += v1 * gj; d2[j] += v2 * gj; d3[j] += v3 * gj;                             \
            s0 += gj * w0[j]; s1 += gj * w1[j]; s2 += gj * w2[j]; s3 += gj * w3[j];                             \
        }                                                                                                       \
        dv[0] = s0; dv[1] = s1; dv[2] = s2; dv[3] = s3;                                                         \
        return;                                                                                                 \
    }                                                                                                           \
    if (k1 == 4) {                                                                                              \
        const T v0 = v[0], v1 = v[vstride], v2 = v[2 * vstride], v3 = v[3 * vstride];                           \
        T *restrict d0 = dw, *restrict d1 = dw + out, *restrict d2 = dw + 2 * out, *restrict d3 = dw + 3 * out; \
        _Pragma("omp simd")                                                                                     \
        for (int64_t j = 0; j < out; j++) {                                                                   \
            const T gj = gr[j];                                                                                 \
            d0[j] += v0 * gj; d1[j] += v1 * gj; d2[j] += v2 * gj; d3[j] += v3 * gj;                             \
        }                                                                                                       \
        return;                                                                                                 \
    }                                                                                                           \
    for (int64_t m = 0; m < k1; m++) {                                                                          \
        const T vm = v[m * vstride];                                                                            \
        const T *restrict wm = w + m * out;                                                                     \
        T *restrict dm = dw + m * out;                                                                          \
        T sm = 0;                                                                                               \
        _Pragma("omp simd reduction(+:sm)")                                                                     \
        for (int64_t j = 0; j < out; j++) {                                                                   \
            dm[j] += vm * gr[j];                                                                                \
            sm += gr[j] * wm[j];                                                                                \
        }                                                                                                       \
        if (dv) dv[m] = sm;                                                                                     \
    }                                                                                                           \
}                                                                                                               \
                                                                                                                \
/* d/dx of the point's k + 1 window bases dotted with dv: sum_m dv[m] dB_m(u) / step, by Horner on S (the        \
 * d/du coefficients, S[p * K + m] for u^p, p < k); zero where k = 1 and the point is clamped (a kink there). */ \
static inline T grad_input_##T(const T *dv, T u, T step, int64_t c, const dims_t *s) {                          \
    const int64_t k = s->k1 - 1;                                                                                \
    T acc = 0;                                                                                                  \
    if (k == 3) { /* the closed form of bspline._compact(derivative=True), same operations */                   \
        const T half_u2 = u * u / 2, w = 1 - u;                                                                 \
        const T b0 = (w * w) * (T)-0.5, b1 = 3 * half_u2 - 2 * u, b2 = (u + (T)0.5) - 3 * half_u2;            \
        acc = dv[0] * b0 + dv[1] * b1 + dv[2] * b2 + dv[3] * half_u2;                                           \
    } else {                                                                                                    \
        for (int64_t m = 0; m <= k; m++) {                                                                      \
            T b = (T)s->slopes[(k - 1) * s->k1 + m];                                                            \
            for (int64_t p = k - 2; p >= 0; p--) b = b * u + (T)s->slopes[p * s->k1 + m];                       \
            acc += dv[m] * b;                                                                                   \
        }                                                                                                       \
        if (k == 1) {                                                                                           \
            const T at = (T)(c - k) + u;                                                                        \
            if (!(at > -k && at < s->grid + k)) acc = 0;                                                        \
        }                                                                                                       \
    }                                                                                                           \
    return acc / step;                                                                                          \
}                                                                                                               \
                                                                                                                \
/* Two cubic inputs of one row at once (each g value loaded once for eight coefficient rows). */              \
static inline void adjoint_pair_##T(const T *restrict gr, const T *restrict w, const T *restrict x,             \
                                    T *restrict dw, T *restrict dx, const T *v, T *dv, int64_t vstride,         \
                                    int64_t out) {                                                              \
    const T v0 = v[0], v1 = v[vstride], v2 = v[2 * vstride], v3 = v[3 * vstride];                               \
    const T u0 = v[1], u1 = v[vstride + 1], u2 = v[2 * vstride + 1], u3 = v[3 * vstride + 1];                   \
    T s0 = 0, s1 = 0, s2 = 0, s3 = 0, q0 = 0, q1 = 0, q2 = 0, q3 = 0;                                           \
    _Pragma("omp simd reduction(+:s0, s1, s2, s3, q0, q1, q2, q3)")                                             \
    for (int64_t j = 0; j < out; j++) {                                                                         \
        const T gj = gr[j];                                                                                     \
        dw[j] += v0 * gj; dw[out + j] += v1 * gj; dw[2 * out + j] += v2 * gj; dw[3 * out + j] += v3 * gj;       \
        dx[j] += u0 * gj; dx[out + j] += u1 * gj; dx[2 * out + j] += u2 * gj; dx[3 * out + j] += u3 * gj;       \
        s0 += gj * w[j]; s1 += gj * w[out + j]; s2 += gj * w[2 * out + j]; s3 += gj * w[3 * out + j];           \
        q0 += gj * x[j]; q1 += gj * x[out + j]; q2 += gj * x[2 * out + j]; q3 += gj * x[3 * out + j];           \
    }                                                                                                           \
    dv[0] = s0; dv[1] = s1; dv[2] = s2; dv[3] = s3; dv[4] = q0; dv[5] = q1; dv[6] = q2; dv[7] = q3;             \
}                                                                                                               \
                                                                                                                \
static void *backward_##T(void *arg) {                                                                          \
    const job_##T *a = arg;                                                                                     \
    const dims_t s = a->s;                                                                                      \
    const int64_t step = block_rows(&s);                                                                        \
    const int64_t pairs_end = s.k1 == 4 && a->gx ? a->begin + (a->end - a->begin) / 2 * 2 : a->begin;           \
    T dv[128];                                                                                                  \
    memset(a->dW + a->begin * s.p * s.out, 0, (a->end - a->begin) * s.p * s.out * sizeof(T));                   \
    for (int64_t r0 = 0; r0 < s.n; r0 += step) {                                                                \
        const int64_t r1 = r0 + step < s.n ? r0 + step : s.n;                                                   \
        for (int64_t i = a->begin; i < pairs_end; i += 2) {                                                     \
            const T *Wi = a->W + i * s.p * s.out, *Wn = Wi + s.p * s.out;                                       \
            T *dWi = a->dW + i * s.p * s.out, *dWn = dWi + s.p * s.out;                                         \
            for (int64_t r = r0; r < r1; r++) {                                                                 \
                const int64_t at = r * s.in + i, c = a->t[at], e = a->t[at + 1];                                \
                adjoint_pair_##T(a->g + r * s.out, Wi + c * s.out, Wn + e * s.out, dWi + c * s.out,             \
                                 dWn + e * s.out, a->v + r * s.k1 * s.in + i, dv, s.in, s.out);                 \
                a->gx[at] = grad_input_##T(dv, a->u[at], a->step[i], c, &s);                                    \
                a->gx[at + 1] = grad_input_##T(dv + 4, a->u[at + 1], a->step[i + 1], e, &s);                    \
            }                                                                                                   \
        }                                                                                                       \
        for (int64_t i = pairs_end; i < a->end; i++) {                                                          \
            const T *Wi = a->W + i * s.p * s.out;                                                               \
            T *dWi = a->dW + i * s.p * s.out;                                                                   \
            for (int64_t r = r0; r < r1; r++) {                                                                 \
                const int64_t c = a->t[r * s.in + i], at = r * s.k1 * s.in + i;                                 \
                adjoint_window_##T(a->g + r * s.out, Wi + c * s.out, dWi + c * s.out, a->v + at,                \
                                   a->gx ? dv : NULL, s.in, s.k1, s.out);                                       \
                if (a->gx) a->gx[r * s.in + i] = grad_input_##T(dv, a->u[r * s.in + i], a->step[i], c, &s);    \
            }                                                                                                   \
        }                                                                                                       \
    }                                                                                                           \
    return NULL;                                                                                                \
}                                                                                                               \
                                                                                                                \
/* Split [0, total) over `threads` POSIX threads (the calling thread takes the first share). */                \
static void parallel_##T(void *(*fn)(void *), job_##T *a, int64_t total, int threads) {                         \
    if (threads > total) threads = (int)total;                                                                  \
    if (threads > 64) threads = 64;                                                                             \
    if (threads < 1) threads = 1;                                                                               \
    job_##T parts[64];                                                                                          \
    pthread_t ids[64];                                                                                          \
    int started[64] = {0};                                                                                      \
    for (int i = 0; i < threads; i++) {                                                                         \
        parts[i] = *a;                                                                                          \
        parts[i].begin = total * i / threads;                                                                   \
        parts[i].end = total * (i + 1) / threads;                                                               \
    }                                                                                                           \
    for (int i = 1; i < threads; i++) started[i] = pthread_create(&ids[i], NULL, fn, &parts[i]) == 0;           \
    for (int i = 1; i < threads; i++) if (!started[i]) fn(&parts[i]);  /* could not start: run here */          \
    fn(&parts[0]);                                                                                              \
    for (int i = 1; i < threads; i++) if (started[i]) pthread_join(ids[i], NULL);                               \
}                                                                                                               \
                                                                                                                \
/* Wt[i, pad + j, o] = coef[o, j, i] * scaler[o, i] (scaler may be NULL), zero in the pad columns; in tiles of \
 * 32 x 32 (o, i) so both the strided reads and the writes stay in cache. */                                    \
void mlpzoo_spline_layout_##T(const T *coef, const T *scaler, T *Wt, int64_t out, int64_t nj, int64_t in,       \
                              int64_t p, int64_t pad) {                                                         \
    for (int64_t i = 0; i < in; i++) {                                                                          \
        memset(Wt + i * p * out, 0, pad * out * sizeof(T));                                                     \
        memset(Wt + (i * p + pad + nj) * out, 0, (p - pad - nj) * out * sizeof(T));                              \
    }                                                                                                           \
    for (int64_t i0 = 0; i0 < in; i0 += 32)                                                                     \
        for (int64_t o0 = 0; o0 < out; o0 += 32) {                                                              \
            const int64_t i1 = i0 + 32 < in ? i0 + 32 : in, o1 = o0 + 32 < out ? o0 + 32 : out;                 \
            for (int64_t i = i0; i < i1; i++)                                                                   \
                for (int64_t j = 0; j < nj; j++) {                                                              \
                    T *dst = Wt + (i * p + pad + j) * out;                                                      \
                    for (int64_t o = o0; o < o1; o++)                                                           \
                        dst[o] = coef[(o * nj + j) * in + i] * (scaler ? scaler[o * in + i] : 1);               \
                }                                                                                               \
        }                                                                                                       \
}                                                                                                               \
                                                                                                                \
/* The inverse for gradients: gcoef[o, j, i] = dWt[i, pad + j, o] * scaler[o, i] and                           \
 * gscaler[o, i] = sum_j dWt[i, pad + j, o] * coef[o, j, i] (either output may be NULL). */                     \
void mlpzoo_spline_unlayout_##T(const T *dWt, const T *coef, const T *scaler, T *gcoef, T *gscaler,             \
                                int64_t out, int64_t nj, int64_t in, int64_t p, int64_t pad) {                  \
    for (int64_t o0 = 0; o0 < out; o0 += 32)                                                                    \
        for (int64_t i0 = 0; i0 < in; i0 += 32) {                                                              \
            const int64_t i1 = i0 + 32 < in ? i0 + 32 : in, o1 = o0 + 32 < out ? o0 + 32 : out;                 \
            for (int64_t o = o0; o < o1; o++) {                                                                 \
                for (int64_t i = i0; i < i1; i++) {                                                             \
                    const T sc = scaler ? scaler[o * in + i] : 1;                                               \
                    T acc = 0;                                                                                  \
                    for (int64_t j = 0; j < nj; j++) {                                                          \
                        const T d = dWt[(i * p + pad + j) * out + o];                                           \
                        acc += d * coef[(o * nj + j) * in + i];                                                 \
                        if (gcoef) gcoef[(o * nj + j) * in + i] = d * sc;                                       \
                    }                                                                                           \
                    if (gscaler) gscaler[o * in + i] = acc;                                                     \
                }                                                                                               \
            }                                                                                                   \
        }                                                                                                       \
}                                                                                                               \
                                                                                                                \
/* Column t + k of each point's first window basis in the padded layout, its local coordinate u and its        \
 * K = k + 1 window values v (N, K, in): the same clamps and, for k = 3, the same closed form as                \
 * bspline._coordinates and bspline._compact; else Horner on P (P[p * K + m]: u^p in basis m). */              \
void mlpzoo_spline_bases_##T(const T *x, const T *start, const T *step, int32_t *t, T *u, T *v, int64_t n,     \
                             int64_t in, int64_t grid, int64_t k, const double *P) {                            \
    const int64_t k1 = k + 1;                                                                                   \
    const T lo = (T)-k, hi = (T)(grid + k), last = (T)(grid + k - 1);                                           \
    for (int64_t r = 0; r < n; r++) {                                                                           \
        const T *xr = x + r * in;                                                                               \
        T *ur = u + r * in, *vr = v + r * k1 * in;                                                              \
        int32_t *tr = t + r * in;                                                                               \
        _Pragma("omp simd")                                                                                     \
        for (int64_t i = 0; i < in; i++) {                                                                      \
            T sc = (xr[i] - start[i]) / step[i];                                                                \
            sc = sc < lo ? lo : (sc > hi ? hi : sc);                                                            \
            T fl = (T)(int32_t)sc; /* truncation, then floor for negatives: sc is clamped, so it fits */         \
            fl = fl > sc ? fl - 1 : fl;                                                                         \
            fl = fl > last ? last : fl;                                                                         \
            const T uu = sc - fl;                                                                               \
            ur[i] = uu;                                                                                         \
            tr[i] = (int32_t)fl + (int32_t)k;                                                                   \
            if (k == 3) {                                                                                       \
                const T u2 = uu * uu, u3 = u2 * uu, w = 1 - uu;                                                 \
                vr[i] = (w * w * w) / 6;                                                                        \
                vr[in + i] = (u3 / 2 - u2) + (T)(2.0 / 3.0);                                                    \
                vr[2 * in + i] = (uu + u2 - u3) / 2 + (T)(1.0 / 6.0);                                           \
                vr[3 * in + i] = u3 / 6;                                                                        \
            }                                                                                                   \
        }                                                                                                       \
        if (k != 3)                                                                                             \
            for (int64_t m = 0; m < k1; m++)                                                                    \
                for (int64_t i = 0; i < in; i++) {                                                              \
                    T b = (T)P[k * k1 + m];                                                                     \
                    for (int64_t p = k - 1; p >= 0; p--) b = b * ur[i] + (T)P[p * k1 + m];                      \
                    vr[m * in + i] = b;                                                                         \
                }                                                                                               \
    }                                                                                                           \
}                                                                                                               \
                                                                                                                \
void mlpzoo_spline_forward_##T(const int32_t *t, const T *v, const T *W, T *y, int64_t n, int64_t in,           \
                               int64_t out, int64_t k1, int64_t p, int threads) {                               \
    job_##T a = {t, v, W, NULL, NULL, NULL, y, NULL, NULL, {n, in, out, k1, p, 0, NULL}, 0, 0};                 \
    parallel_##T(forward_##T, &a, n, threads);                                                                  \
}                                                                                                               \
                                                                                                                \
/* dW (always) and, where gx is not NULL, the input gradient gx (N, in) from u, step and the slopes. */        \
void mlpzoo_spline_backward_##T(const int32_t *t, const T *v, const T *u, const T *step, const double *slopes,  \
                                const T *W, const T *g, T *dW, T *gx, int64_t n, int64_t in, int64_t out,       \
                                int64_t k1, int64_t p, int64_t grid, int threads) {                             \
    job_##T a = {t, v, W, g, u, step, NULL, dW, gx, {n, in, out, k1, p, grid, slopes}, 0, 0};                   \
    parallel_##T(backward_##T, &a, in, threads);                                                                \
}

DEFINE_SPLINE(float)
DEFINE_SPLINE(double)

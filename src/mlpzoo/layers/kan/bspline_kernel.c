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
 *
 * Rows are processed in blocks whose outputs (or output gradients) stay in cache while every input's (P, out)
 * weight slab is streamed once per block. Cubic splines (K = 4) take the fast path: within a block, an input's
 * rows are sorted by window column (a counting sort), so all rows of one bucket share the same four weight rows
 * and the inner loops keep them, or the four dW rows being summed, in vector registers across the bucket's
 * rows; a row-at-a-time loop instead reloads and re-stores them for every row. Other orders take that
 * row-at-a-time loop.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Vectors of the widest registers the build targets (GCC/clang vector extensions; narrower machines split them). */
#if defined(__AVX512F__)
#define VBYTES 64
#else
#define VBYTES 32
#endif
/* Pin a loaded vector to a register: GCC otherwise folds the load into every FMA that reads it and reloads it
 * each time, which makes the inner loops load-bound. */
#if defined(__AVX__) && defined(__GNUC__)
#define KEEP(x) __asm__("" : "+v"(x))
#else
#define KEEP(x) ((void)0)
#endif
/* Keep a function out of interprocedural optimisation: GCC's clone with constant arguments loses its vector loop. */
#if defined(__GNUC__) && !defined(__clang__)
#define NOIPA __attribute__((noipa))
#else
#define NOIPA __attribute__((noinline))
#endif
/* Vectors of one output tile in the cubic loops: 4 x TILE accumulators, 16 of AVX-512's 32 registers (8 of 16). */
#if VBYTES == 64
#define TILE 4
#else
#define TILE 2
#endif

typedef float vec_float __attribute__((vector_size(VBYTES)));
typedef double vec_double __attribute__((vector_size(VBYTES)));

/* out[n] = the sum of acc[n]'s lanes, n < 16. With 16 float lanes a transposing tree does it in 15 shuffle
 * pairs (lane q of the last vector holds acc[bit-reversed q]) instead of 16 separate horizontal sums. */
static inline void reduce16_float(const vec_float *acc, float *out) {
#if VBYTES == 64
    vec_float c[8], d[4], e[2];
    for (int k = 0; k < 8; k++) /* [a | b]: each half-sum of a, then of b */
        c[k] = __builtin_shufflevector(acc[2 * k], acc[2 * k + 1], 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22,
                                       23) +
               __builtin_shufflevector(acc[2 * k], acc[2 * k + 1], 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29,
                                       30, 31);
    for (int k = 0; k < 4; k++)
        d[k] = __builtin_shufflevector(c[2 * k], c[2 * k + 1], 0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27) +
               __builtin_shufflevector(c[2 * k], c[2 * k + 1], 4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
    for (int k = 0; k < 2; k++)
        e[k] = __builtin_shufflevector(d[2 * k], d[2 * k + 1], 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29) +
               __builtin_shufflevector(d[2 * k], d[2 * k + 1], 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31);
    const vec_float f = __builtin_shufflevector(e[0], e[1], 0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30) +
                        __builtin_shufflevector(e[0], e[1], 1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31);
    static const int lane[16] = {0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15};
    for (int n = 0; n < 16; n++) out[n] = f[lane[n]];
#else
    for (int n = 0; n < 16; n++) {
        float sum = 0;
        for (int q = 0; q < (int)(VBYTES / sizeof(float)); q++) sum += acc[n][q];
        out[n] = sum;
    }
#endif
}

static inline void reduce16_double(const vec_double *acc, double *out) {
    for (int n = 0; n < 16; n++) {
        double sum = 0;
        for (int q = 0; q < (int)(VBYTES / sizeof(double)); q++) sum += acc[n][q];
        out[n] = sum;
    }
}

typedef struct {
    int64_t n, in, out, k1, p, grid;
    const double *slopes; /* (k, k + 1) d/du coefficients of the window bases, row p for u^p */
} dims_t;

static int64_t block_rows(const dims_t *s) {
    int64_t rows = 65536 / (s->out > 0 ? s->out : 1); /* ~256 KiB of float outputs per block */
    return rows < 1 ? 1 : rows;
}

#define DEFINE_SPLINE(T)                                                                                                 \
typedef struct {                                                                                                         \
    const int32_t *t; /* the cubic loops: rows sorted per input and block, and the blocks' bucket bounds */              \
    const T *v, *W, *g, *u, *step;                                                                                       \
    T *y, *dW, *gx;                                                                                                      \
    dims_t s;                                                                                                            \
    int64_t begin, end; /* rows (forward) or inputs (backward) of this thread; blocks in the cubic forward */            \
    const int32_t *starts;                                                                                               \
    int64_t block;                                                                                                       \
    T *q;         /* the cubic backward's scratch, 3 * out values per thread */                                          \
    int64_t ld;   /* the cubic loops: row stride of y (forward) or g (backward), >= out */                               \
    int add_gx;   /* the cubic backward: add to gx instead of writing it */                                              \
} job_##T;                                                                                                               \
                                                                                                                         \
enum { LANES_##T = VBYTES / sizeof(T) };                                                                                 \
                                                                                                                         \
static inline vec_##T load_##T(const T *p) {                                                                             \
    vec_##T v;                                                                                                           \
    memcpy(&v, p, sizeof v);                                                                                             \
    return v;                                                                                                            \
}                                                                                                                        \
                                                                                                                         \
static inline void store_##T(T *p, vec_##T v) { memcpy(p, &v, sizeof v); }                                               \
                                                                                                                         \
static inline vec_##T splat_##T(T a) { return (vec_##T){0} + a; }                                                        \
                                                                                                                         \
/* A value's grid coordinate (x - start) / step clamped to [lo, hi]; *floor gets its interval's start, at most           \
 * `last` (truncation, then floor for negatives: the coordinate is clamped, so it fits an int32); returns the            \
 * local coordinate u in [0, 1]. The clamps of bspline._coordinates. */                                                  \
static inline T interval_##T(T x, T start, T step, T lo, T hi, T last, T *floor) {                                       \
    T sc = (x - start) / step;                                                                                           \
    sc = sc < lo ? lo : (sc > hi ? hi : sc);                                                                             \
    T fl = (T)(int32_t)sc;                                                                                               \
    fl = fl > sc ? fl - 1 : fl;                                                                                          \
    fl = fl > last ? last : fl;                                                                                          \
    *floor = fl;                                                                                                         \
    return sc - fl;                                                                                                      \
}                                                                                                                        \
                                                                                                                         \
/* The four cubic window values at u: bspline._compact's closed form. */                                                 \
static inline void cubic_window_##T(T u, T *v0, T *v1, T *v2, T *v3) {                                                   \
    const T u2 = u * u, u3 = u2 * u, w = 1 - u;                                                                          \
    *v0 = (w * w * w) / 6;                                                                                               \
    *v1 = (u3 / 2 - u2) + (T)(2.0 / 3.0);                                                                                \
    *v2 = (u + u2 - u3) / 2 + (T)(1.0 / 6.0);                                                                            \
    *v3 = u3 / 6;                                                                                                        \
}                                                                                                                        \
                                                                                                                         \
/* Rows m = 0..3 of an output tile: dst[m][q] = src[m * out + j + q lanes], q < nv. */                                   \
static inline __attribute__((always_inline)) void load_rows_##T(vec_##T (*dst)[TILE], const T *src, int64_t out,         \
                                                                int64_t j, int nv) {                                     \
    for (int m = 0; m < 4; m++)                                                                                          \
        for (int q = 0; q < nv; q++) dst[m][q] = load_##T(src + m * out + j + q * LANES_##T);                            \
}                                                                                                                        \
                                                                                                                         \
/* y[r, :] += sum_m v_m W[c + m, :] for one row and one input. */                                                        \
static inline void axpy_window_##T(T *restrict yr, const T *restrict w, const T *v, int64_t vstride,                     \
                                   int64_t k1, int64_t out) {                                                            \
    for (int64_t m = 0; m < k1; m++) {                                                                                   \
        const T vm = v[m * vstride];                                                                                     \
        const T *restrict wm = w + m * out;                                                                              \
        _Pragma("omp simd")                                                                                              \
        for (int64_t j = 0; j < out; j++) yr[j] += vm * wm[j];                                                           \
    }                                                                                                                    \
}                                                                                                                        \
                                                                                                                         \
/* Row at a time, any order: for each block of rows, each input, each row. */                                            \
static void *forward_##T(void *arg) {                                                                                    \
    const job_##T *a = arg;                                                                                              \
    const dims_t s = a->s;                                                                                               \
    const int64_t step = block_rows(&s);                                                                                 \
    memset(a->y + a->begin * s.out, 0, (a->end - a->begin) * s.out * sizeof(T));                                         \
    for (int64_t r0 = a->begin; r0 < a->end; r0 += step) {                                                               \
        const int64_t r1 = r0 + step < a->end ? r0 + step : a->end;                                                      \
        for (int64_t i = 0; i < s.in; i++) {                                                                             \
            const T *Wi = a->W + i * s.p * s.out;                                                                        \
            for (int64_t r = r0; r < r1; r++) {                                                                          \
                const int64_t c = a->t[r * s.in + i];                                                                    \
                axpy_window_##T(a->y + r * s.out, Wi + c * s.out, a->v + r * s.k1 * s.in + i, s.in, s.k1, s.out);        \
            }                                                                                                            \
        }                                                                                                                \
    }                                                                                                                    \
    return NULL;                                                                                                         \
}                                                                                                                        \
                                                                                                                         \
/* y[r, j .. j + nv lanes) += sum_m v_m W[c + m, ...] for the rows of one bucket, W's tile held in registers. */         \
static inline __attribute__((always_inline)) void forward_tile_##T(T *y, int64_t ld, const T *w,                         \
                                                                   const int32_t *rows, const T *vs, int32_t b0,         \
                                                                   int32_t b1, int64_t out, int64_t j, int nv) {         \
    const int64_t L = LANES_##T;                                                                                         \
    vec_##T wt[4][TILE];                                                                                                 \
    load_rows_##T(wt, w, out, j, nv);                                                                                    \
    for (int32_t b = b0; b < b1; b++) {                                                                                  \
        const T *vb = vs + 4 * b;                                                                                        \
        const vec_##T v0 = splat_##T(vb[0]), v1 = splat_##T(vb[1]), v2 = splat_##T(vb[2]), v3 = splat_##T(vb[3]);        \
        T *yr = y + (int64_t)rows[b] * ld + j;                                                                           \
        for (int q = 0; q < nv; q++)                                                                                     \
            store_##T(yr + q * L, load_##T(yr + q * L) + v0 * wt[0][q] + v1 * wt[1][q] + v2 * wt[2][q] + v3 * wt[3][q]); \
    }                                                                                                                    \
}                                                                                                                        \
                                                                                                                         \
/* The sorted layout (see mlpzoo_spline_sorted_bases): input i's entries are rows, u and window values of its            \
 * N points, block by block and, within a block, by window column; bucket c of block b is entries                        \
 * starts[(i * blocks + b) * (p + 1) + c] .. [... + c + 1]. */                                                           \
static inline const int32_t *buckets_##T(const job_##T *a, int64_t i, int64_t b) {                                       \
    const int64_t blocks = (a->s.n + a->block - 1) / a->block;                                                           \
    return a->starts + (i * blocks + b) * (a->s.p + 1);                                                                  \
}                                                                                                                        \
                                                                                                                         \
static void *forward_cubic_##T(void *arg) {                                                                              \
    const job_##T *a = arg;                                                                                              \
    const dims_t s = a->s;                                                                                               \
    const int64_t L = LANES_##T, tiles = s.out / (TILE * L) * (TILE * L), vecs = s.out / L * L;                          \
    for (int64_t blk = a->begin; blk < a->end; blk++) {                                                                  \
        const int64_t r0 = blk * a->block, r1 = r0 + a->block < s.n ? r0 + a->block : s.n;                               \
        for (int64_t r = r0; r < r1; r++) memset(a->y + r * a->ld, 0, s.out * sizeof(T));                                \
        for (int64_t i = 0; i < s.in; i++) {                                                                             \
            const int32_t *start = buckets_##T(a, i, blk), *rows = a->t + i * s.n;                                       \
            const T *vs = a->v + 4 * i * s.n;                                                                            \
            for (int64_t c = 0; c < s.p; c++) {                                                                          \
                const int32_t b0 = start[c], b1 = start[c + 1];                                                          \
                if (b0 == b1) continue;                                                                                  \
                const T *w = a->W + (i * s.p + c) * s.out;                                                               \
                for (int64_t j = 0; j < tiles; j += TILE * L)                                                            \
                    forward_tile_##T(a->y, a->ld, w, rows, vs, b0, b1, s.out, j, TILE);                                  \
                for (int64_t j = tiles; j < vecs; j += L)                                                                \
                    forward_tile_##T(a->y, a->ld, w, rows, vs, b0, b1, s.out, j, 1);                                     \
                for (int32_t b = b0; b < b1 && vecs < s.out; b++) {                                                      \
                    const T *vb = vs + 4 * b;                                                                            \
                    T *yr = a->y + (int64_t)rows[b] * a->ld;                                                             \
                    for (int64_t j = vecs; j < s.out; j++)                                                               \
                        yr[j] += vb[0] * w[j] + vb[1] * w[s.out + j] + vb[2] * w[2 * s.out + j] +                        \
                                 vb[3] * w[3 * s.out + j];                                                               \
                }                                                                                                        \
            }                                                                                                            \
        }                                                                                                                \
    }                                                                                                                    \
    return NULL;                                                                                                         \
}                                                                                                                        \
                                                                                                                         \
/* For one row and one input: dW[c + m, :] += v_m g and, with dv, dv[m] = g . W[c + m, :]. */                            \
static inline void adjoint_window_##T(const T *restrict gr, const T *restrict w, T *restrict dw, const T *v,             \
                                      T *dv, int64_t vstride, int64_t k1, int64_t out) {                                 \
    for (int64_t m = 0; m < k1; m++) {                                                                                   \
        const T vm = v[m * vstride];                                                                                     \
        const T *restrict wm = w + m * out;                                                                              \
        T *restrict dm = dw + m * out;                                                                                   \
        T sm = 0;                                                                                                        \
        _Pragma("omp simd reduction(+:sm)")                                                                              \
        for (int64_t j = 0; j < out; j++) {                                                                              \
            dm[j] += vm * gr[j];                                                                                         \
            sm += gr[j] * wm[j];                                                                                         \
        }                                                                                                                \
        if (dv) dv[m] = sm;                                                                                              \
    }                                                                                                                    \
}                                                                                                                        \
                                                                                                                         \
/* d/dx of the point's k + 1 window bases dotted with dv: sum_m dv[m] dB_m(u) / step, by Horner on S (the                \
 * d/du coefficients, S[p * K + m] for u^p, p < k); zero where k = 1 and the point is clamped (a kink there). */         \
static inline T grad_input_##T(const T *dv, T u, T step, int64_t c, const dims_t *s) {                                   \
    const int64_t k = s->k1 - 1;                                                                                         \
    T acc = 0;                                                                                                           \
    for (int64_t m = 0; m <= k; m++) {                                                                                   \
        T b = (T)s->slopes[(k - 1) * s->k1 + m];                                                                         \
        for (int64_t p = k - 2; p >= 0; p--) b = b * u + (T)s->slopes[p * s->k1 + m];                                    \
        acc += dv[m] * b;                                                                                                \
    }                                                                                                                    \
    if (k == 1) {                                                                                                        \
        const T at = (T)(c - k) + u;                                                                                     \
        if (!(at > -k && at < s->grid + k)) acc = 0;                                                                     \
    }                                                                                                                    \
    return acc / step;                                                                                                   \
}                                                                                                                        \
                                                                                                                         \
/* Row at a time, any order. */                                                                                          \
static void *backward_##T(void *arg) {                                                                                   \
    const job_##T *a = arg;                                                                                              \
    const dims_t s = a->s;                                                                                               \
    const int64_t step = block_rows(&s);                                                                                 \
    T dv[64];                                                                                                            \
    memset(a->dW + a->begin * s.p * s.out, 0, (a->end - a->begin) * s.p * s.out * sizeof(T));                            \
    for (int64_t r0 = 0; r0 < s.n; r0 += step) {                                                                         \
        const int64_t r1 = r0 + step < s.n ? r0 + step : s.n;                                                            \
        for (int64_t i = a->begin; i < a->end; i++) {                                                                    \
            const T *Wi = a->W + i * s.p * s.out;                                                                        \
            T *dWi = a->dW + i * s.p * s.out;                                                                            \
            for (int64_t r = r0; r < r1; r++) {                                                                          \
                const int64_t c = a->t[r * s.in + i], at = r * s.k1 * s.in + i;                                          \
                adjoint_window_##T(a->g + r * s.out, Wi + c * s.out, dWi + c * s.out, a->v + at,                         \
                                   a->gx ? dv : NULL, s.in, s.k1, s.out);                                                \
                if (a->gx) a->gx[r * s.in + i] = grad_input_##T(dv, a->u[r * s.in + i], a->step[i], c, &s);              \
            }                                                                                                            \
        }                                                                                                                \
    }                                                                                                                    \
    return NULL;                                                                                                         \
}                                                                                                                        \
                                                                                                                         \
/* dW[c + m, j .. j + nv lanes) += sum over the bucket's rows of v_m g[r, ...], summed in registers. */                  \
static inline __attribute__((always_inline)) void adjoint_tile_##T(T *dw, const T *g, int64_t ld,                        \
                                                                   const int32_t *rows, const T *vs, int32_t b0,         \
                                                                   int32_t b1, int64_t out, int64_t j, int nv) {         \
    const int64_t L = LANES_##T;                                                                                         \
    vec_##T d[4][TILE];                                                                                                  \
    load_rows_##T(d, dw, out, j, nv);                                                                                    \
    for (int32_t b = b0; b < b1; b++) {                                                                                  \
        const T *vb = vs + 4 * b;                                                                                        \
        const vec_##T v0 = splat_##T(vb[0]), v1 = splat_##T(vb[1]), v2 = splat_##T(vb[2]), v3 = splat_##T(vb[3]);        \
        const T *gr = g + (int64_t)rows[b] * ld + j;                                                                     \
        if (b + 2 < b1) /* rows are scattered: fetch two ahead */                                                        \
            for (int q = 0; q < nv; q++) __builtin_prefetch(g + (int64_t)rows[b + 2] * ld + j + q * L);                  \
        for (int q = 0; q < nv; q++) {                                                                                   \
            vec_##T gq = load_##T(gr + q * L);                                                                           \
            KEEP(gq);                                                                                                    \
            d[0][q] += v0 * gq;                                                                                          \
            d[1][q] += v1 * gq;                                                                                          \
            d[2][q] += v2 * gq;                                                                                          \
            d[3][q] += v3 * gq;                                                                                          \
        }                                                                                                                \
    }                                                                                                                    \
    for (int q = 0; q < nv; q++) {                                                                                       \
        for (int m = 0; m < 4; m++) store_##T(dw + m * out + j + q * L, d[m][q]);                                        \
    }                                                                                                                    \
}                                                                                                                        \
                                                                                                                         \
/* The input gradient of one bucket. gx = sum_m (g . W[c + m]) b'_m(u) / step and b'_m(u) = sum_p S[p][m] u^p, so        \
 * gx = (g . Q_0 + u g . Q_1 + u^2 g . Q_2) / step with Q_p = sum_m S[p][m] W[c + m] (q holds Q_0..Q_2): three           \
 * dot products per row, not four. Five rows at a time, fifteen vector sums; a last partial group repeats its            \
 * last row and drops the copies. */                                                                                     \
static void grad_input_bucket_##T(const job_##T *a, int64_t i, const T *w, const int32_t *rows, const T *us,             \
                                  int32_t b0, int32_t b1, T *q) {                                                        \
    const dims_t s = a->s;                                                                                               \
    const int64_t L = LANES_##T, vecs = s.out / L * L;                                                                   \
    for (int p = 0; p < 3; p++) {                                                                                        \
        const T c0 = (T)s.slopes[4 * p], c1 = (T)s.slopes[4 * p + 1], c2 = (T)s.slopes[4 * p + 2];                       \
        const T c3 = (T)s.slopes[4 * p + 3];                                                                             \
        _Pragma("omp simd")                                                                                              \
        for (int64_t j = 0; j < s.out; j++)                                                                              \
            q[p * s.out + j] = c0 * w[j] + c1 * w[s.out + j] + c2 * w[2 * s.out + j] + c3 * w[3 * s.out + j];            \
    }                                                                                                                    \
    const T *q0 = q, *q1 = q + s.out, *q2 = q + 2 * s.out;                                                               \
    for (int32_t b = b0; b < b1; b += 5) {                                                                               \
        const T *gs[5];                                                                                                  \
        for (int x = 0; x < 5; x++) gs[x] = a->g + (int64_t)rows[b + x < b1 ? b + x : b1 - 1] * a->ld;                   \
        vec_##T acc[16];                                                                                                 \
        for (int x = 0; x < 16; x++) acc[x] = (vec_##T){0};                                                              \
        for (int64_t j = 0; j < vecs; j += L) {                                                                          \
            vec_##T e0 = load_##T(q0 + j), e1 = load_##T(q1 + j), e2 = load_##T(q2 + j), h[5];                           \
            KEEP(e0);                                                                                                    \
            KEEP(e1);                                                                                                    \
            KEEP(e2);                                                                                                    \
            for (int x = 0; x < 5; x++) {                                                                                \
                h[x] = load_##T(gs[x] + j);                                                                              \
                KEEP(h[x]);                                                                                              \
            }                                                                                                            \
            for (int x = 0; x < 5; x++) {                                                                                \
                acc[3 * x] += h[x] * e0;                                                                                 \
                acc[3 * x + 1] += h[x] * e1;                                                                             \
                acc[3 * x + 2] += h[x] * e2;                                                                             \
            }                                                                                                            \
        }                                                                                                                \
        T dq[16];                                                                                                        \
        reduce16_##T(acc, dq);                                                                                           \
        for (int x = 0; x < 5 && b + x < b1; x++) {                                                                      \
            for (int64_t j = vecs; j < s.out; j++) {                                                                     \
                dq[3 * x] += gs[x][j] * q0[j];                                                                           \
                dq[3 * x + 1] += gs[x][j] * q1[j];                                                                       \
                dq[3 * x + 2] += gs[x][j] * q2[j];                                                                       \
            }                                                                                                            \
            const T u = us[b + x], grad = (dq[3 * x] + u * (dq[3 * x + 1] + u * dq[3 * x + 2])) / a->step[i];            \
            T *at = a->gx + (int64_t)rows[b + x] * s.in + i;                                                             \
            *at = a->add_gx ? *at + grad : grad;                                                                         \
        }                                                                                                                \
    }                                                                                                                    \
}                                                                                                                        \
                                                                                                                         \
static void *backward_cubic_##T(void *arg) {                                                                             \
    const job_##T *a = arg;                                                                                              \
    const dims_t s = a->s;                                                                                               \
    const int64_t L = LANES_##T, tiles = s.out / (TILE * L) * (TILE * L), vecs = s.out / L * L;                          \
    T *q = a->gx ? a->q : NULL;                                                                                          \
    if (s.n == 0) /* no rows: the slabs are zeroed in the block loop, which does not run */                              \
        memset(a->dW + a->begin * s.p * s.out, 0, (a->end - a->begin) * s.p * s.out * sizeof(T));                        \
    for (int64_t blk = 0, r0 = 0; r0 < s.n; blk++, r0 += a->block) {                                                     \
        for (int64_t i = a->begin; i < a->end; i++) {                                                                    \
            const int32_t *start = buckets_##T(a, i, blk), *rows = a->t + i * s.n;                                       \
            const T *vs = a->v + 4 * i * s.n;                                                                            \
            if (r0 == 0) /* zeroed here, not in one pass up front: the slab is then in cache for the sums */             \
                memset(a->dW + i * s.p * s.out, 0, s.p * s.out * sizeof(T));                                             \
            for (int64_t c = 0; c < s.p; c++) {                                                                          \
                const int32_t b0 = start[c], b1 = start[c + 1];                                                          \
                if (b0 == b1) continue;                                                                                  \
                T *dw = a->dW + (i * s.p + c) * s.out;                                                                   \
                for (int64_t j = 0; j < tiles; j += TILE * L)                                                            \
                    adjoint_tile_##T(dw, a->g, a->ld, rows, vs, b0, b1, s.out, j, TILE);                                 \
                for (int64_t j = tiles; j < vecs; j += L)                                                                \
                    adjoint_tile_##T(dw, a->g, a->ld, rows, vs, b0, b1, s.out, j, 1);                                    \
                for (int32_t b = b0; b < b1 && vecs < s.out; b++) {                                                      \
                    const T *vb = vs + 4 * b, *gr = a->g + (int64_t)rows[b] * a->ld;                                     \
                    for (int64_t j = vecs; j < s.out; j++) {                                                             \
                        dw[j] += vb[0] * gr[j];                                                                          \
                        dw[s.out + j] += vb[1] * gr[j];                                                                  \
                        dw[2 * s.out + j] += vb[2] * gr[j];                                                              \
                        dw[3 * s.out + j] += vb[3] * gr[j];                                                              \
                    }                                                                                                    \
                }                                                                                                        \
                if (q) grad_input_bucket_##T(a, i, a->W + (i * s.p + c) * s.out, rows, a->u + i * s.n, b0, b1, q);       \
            }                                                                                                            \
        }                                                                                                                \
    }                                                                                                                    \
    return NULL;                                                                                                         \
}                                                                                                                        \
                                                                                                                         \
/* Split [0, total) over `threads` POSIX threads (the calling thread takes the first share). */                          \
static void parallel_##T(void *(*fn)(void *), job_##T *a, int64_t total, int threads) {                                  \
    if (threads > total) threads = (int)total;                                                                           \
    if (threads > 64) threads = 64;                                                                                      \
    if (threads < 1) threads = 1;                                                                                        \
    job_##T parts[64];                                                                                                   \
    pthread_t ids[64];                                                                                                   \
    int started[64] = {0};                                                                                               \
    for (int i = 0; i < threads; i++) {                                                                                  \
        parts[i] = *a;                                                                                                   \
        parts[i].begin = total * i / threads;                                                                            \
        parts[i].end = total * (i + 1) / threads;                                                                        \
        if (a->q) parts[i].q = a->q + i * 3 * a->s.out;                                                                  \
    }                                                                                                                    \
    for (int i = 1; i < threads; i++) started[i] = pthread_create(&ids[i], NULL, fn, &parts[i]) == 0;                    \
    for (int i = 1; i < threads; i++) if (!started[i]) fn(&parts[i]);  /* could not start: run here */                   \
    fn(&parts[0]);                                                                                                       \
    for (int i = 1; i < threads; i++) if (started[i]) pthread_join(ids[i], NULL);                                        \
}                                                                                                                        \
                                                                                                                         \
/* Wt[i, pad + j, o] = coef[o, j, i] * scaler[o, i] (scaler may be NULL), zero in the pad columns. By 16 x 16            \
 * tiles of (o, i) copied through a local buffer: each line of coef and Wt is read or written once as a whole.           \
 * (Reading a column of coef directly hits the same cache set at every row when nj * in is a power of two.) */           \
void mlpzoo_spline_layout_##T(const T *coef, const T *scaler, T *Wt, int64_t out, int64_t nj, int64_t in,                \
                              int64_t p, int64_t pad) {                                                                  \
    for (int64_t i = 0; i < in; i++) {                                                                                   \
        memset(Wt + i * p * out, 0, pad * out * sizeof(T));                                                              \
        memset(Wt + (i * p + pad + nj) * out, 0, (p - pad - nj) * out * sizeof(T));                                      \
    }                                                                                                                    \
    T tile[16][16];                                                                                                      \
    for (int64_t o0 = 0; o0 < out; o0 += 16)                                                                             \
        for (int64_t i0 = 0; i0 < in; i0 += 16) {                                                                        \
            const int64_t ob = o0 + 16 < out ? 16 : out - o0, ib = i0 + 16 < in ? 16 : in - i0;                          \
            for (int64_t j = 0; j < nj; j++) {                                                                           \
                for (int64_t oo = 0; oo < ob; oo++) {                                                                    \
                    const T *src = coef + ((o0 + oo) * nj + j) * in + i0;                                                \
                    const T *sc = scaler ? scaler + (o0 + oo) * in + i0 : NULL;                                          \
                    for (int64_t ii = 0; ii < ib; ii++) tile[oo][ii] = src[ii] * (sc ? sc[ii] : 1);                      \
                }                                                                                                        \
                for (int64_t ii = 0; ii < ib; ii++) {                                                                    \
                    T *dst = Wt + ((i0 + ii) * p + pad + j) * out + o0;                                                  \
                    for (int64_t oo = 0; oo < ob; oo++) dst[oo] = tile[oo][ii];                                          \
                }                                                                                                        \
            }                                                                                                            \
        }                                                                                                                \
}                                                                                                                        \
                                                                                                                         \
/* The inverse for gradients: gcoef[o, j, i] = dWt[i, pad + j, o] * scaler[o, i] and                                     \
 * gscaler[o, i] = sum_j dWt[i, pad + j, o] * coef[o, j, i] (either output may be NULL); tiled as the layout. */         \
void mlpzoo_spline_unlayout_##T(const T *dWt, const T *coef, const T *scaler, T *gcoef, T *gscaler,                      \
                                int64_t out, int64_t nj, int64_t in, int64_t p, int64_t pad) {                           \
    T tile[16][16], acc[16][16];                                                                                         \
    for (int64_t o0 = 0; o0 < out; o0 += 16)                                                                             \
        for (int64_t i0 = 0; i0 < in; i0 += 16) {                                                                        \
            const int64_t ob = o0 + 16 < out ? 16 : out - o0, ib = i0 + 16 < in ? 16 : in - i0;                          \
            memset(acc, 0, sizeof acc);                                                                                  \
            for (int64_t j = 0; j < nj; j++) {                                                                           \
                for (int64_t ii = 0; ii < ib; ii++) {                                                                    \
                    const T *src = dWt + ((i0 + ii) * p + pad + j) * out + o0;                                           \
                    for (int64_t oo = 0; oo < ob; oo++) tile[oo][ii] = src[oo];                                          \
                }                                                                                                        \
                for (int64_t oo = 0; oo < ob; oo++) {                                                                    \
                    const int64_t row = ((o0 + oo) * nj + j) * in + i0;                                                  \
                    const T *sc = scaler ? scaler + (o0 + oo) * in + i0 : NULL;                                          \
                    for (int64_t ii = 0; ii < ib; ii++) {                                                                \
                        acc[oo][ii] += tile[oo][ii] * coef[row + ii];                                                    \
                        if (gcoef) gcoef[row + ii] = tile[oo][ii] * (sc ? sc[ii] : 1);                                   \
                    }                                                                                                    \
                }                                                                                                        \
            }                                                                                                            \
            if (gscaler)                                                                                                 \
                for (int64_t oo = 0; oo < ob; oo++) memcpy(gscaler + (o0 + oo) * in + i0, acc[oo], ib * sizeof(T));      \
        }                                                                                                                \
}                                                                                                                        \
                                                                                                                         \
/* Column t + k of each point's first window basis in the padded layout, its local coordinate u and its                  \
 * K = k + 1 window values v (N, K, in): the same clamps and, for k = 3, the same closed form as                         \
 * bspline._coordinates and bspline._compact; else Horner on P (P[p * K + m]: u^p in basis m). */                        \
void mlpzoo_spline_bases_##T(const T *x, const T *start, const T *step, int32_t *t, T *u, T *v, int64_t n,               \
                             int64_t in, int64_t grid, int64_t k, const double *P) {                                     \
    const int64_t k1 = k + 1;                                                                                            \
    const T lo = (T)-k, hi = (T)(grid + k), last = (T)(grid + k - 1);                                                    \
    for (int64_t r = 0; r < n; r++) {                                                                                    \
        const T *xr = x + r * in;                                                                                        \
        T *ur = u + r * in, *vr = v + r * k1 * in;                                                                       \
        int32_t *tr = t + r * in;                                                                                        \
        _Pragma("omp simd")                                                                                              \
        for (int64_t i = 0; i < in; i++) {                                                                               \
            T fl;                                                                                                        \
            const T uu = interval_##T(xr[i], start[i], step[i], lo, hi, last, &fl);                                      \
            ur[i] = uu;                                                                                                  \
            tr[i] = (int32_t)fl + (int32_t)k;                                                                            \
            if (k == 3) cubic_window_##T(uu, vr + i, vr + in + i, vr + 2 * in + i, vr + 3 * in + i);                     \
        }                                                                                                                \
        if (k != 3)                                                                                                      \
            for (int64_t m = 0; m < k1; m++)                                                                             \
                for (int64_t i = 0; i < in; i++) {                                                                       \
                    T b = (T)P[k * k1 + m];                                                                              \
                    for (int64_t p = k - 1; p >= 0; p--) b = b * ur[i] + (T)P[p * k1 + m];                               \
                    vr[m * in + i] = b;                                                                                  \
                }                                                                                                        \
    }                                                                                                                    \
}                                                                                                                        \
                                                                                                                         \
/* Window column c, local coordinate u and the four cubic window values of 16 inputs of one row: the clamps and          \
 * closed form of mlpzoo_spline_bases. A fixed count of 16 in its own function, so that it becomes vector code. */       \
static NOIPA void window_chunk_##T(const T *restrict xr, const T *restrict start, const T *restrict step, T lo,          \
                                   T hi, T last, int32_t *restrict c, T *restrict u, T (*restrict v)[16]) {              \
    _Pragma("omp simd")                                                                                                  \
    for (int di = 0; di < 16; di++) {                                                                                    \
        T fl;                                                                                                            \
        u[di] = interval_##T(xr[di], start[di], step[di], lo, hi, last, &fl);                                            \
        c[di] = (int32_t)fl + 3;                                                                                         \
        cubic_window_##T(u[di], v[0] + di, v[1] + di, v[2] + di, v[3] + di);                                             \
    }                                                                                                                    \
}                                                                                                                        \
                                                                                                                         \
/* The cubic loops' layout: per block of `block` rows and per input, the block's rows sorted by window column (a         \
 * counting sort; see buckets_##T), with each one's local coordinate u and four window values in the same order:         \
 * rows, us (in, N), vs (in, N, 4), starts (in, blocks, p + 1). Inputs are taken sixteen at a time, so each              \
 * pass over a block reads whole cache lines of x. The same clamps and closed form as mlpzoo_spline_bases. */            \
void mlpzoo_spline_sorted_bases_##T(const T *x, const T *start, const T *step, int32_t *rows, T *us, T *vs,              \
                                    int32_t *starts, int64_t n, int64_t in, int64_t grid, int64_t p,                     \
                                    int64_t block) {                                                                     \
    enum { CHUNK = 16 };                                                                                                 \
    const T lo = (T)-3, hi = (T)(grid + 3), last = (T)(grid + 2);                                                        \
    const int64_t blocks = (n + block - 1) / block;                                                                      \
    int32_t next[CHUNK][64 + 1], c[CHUNK];                                                                               \
    T u[CHUNK], v[4][CHUNK];                                                                                             \
    for (int64_t blk = 0; blk < blocks; blk++) {                                                                         \
        const int64_t r0 = blk * block, r1 = r0 + block < n ? r0 + block : n;                                            \
        for (int64_t i0 = 0; i0 < in; i0 += CHUNK) {                                                                     \
            const int64_t width = i0 + CHUNK < in ? CHUNK : in - i0;                                                     \
            for (int64_t di = 0; di < width; di++) memset(next[di], 0, (p + 1) * sizeof(int32_t));                       \
            for (int pass = 0; pass < 2; pass++) {                                                                       \
                for (int64_t r = r0; r < r1; r++) {                                                                      \
                    if (width == CHUNK) {                                                                                \
                        window_chunk_##T(x + r * in + i0, start + i0, step + i0, lo, hi, last, c, u, v);                 \
                    } else { /* the last inputs: padded, so the chunk never reads past x */                              \
                        T xs[CHUNK] = {0}, ss[CHUNK] = {0}, hs[CHUNK];                                                   \
                        for (int64_t di = 0; di < CHUNK; di++) hs[di] = 1;                                               \
                        memcpy(xs, x + r * in + i0, width * sizeof(T));                                                  \
                        memcpy(ss, start + i0, width * sizeof(T));                                                       \
                        memcpy(hs, step + i0, width * sizeof(T));                                                        \
                        window_chunk_##T(xs, ss, hs, lo, hi, last, c, u, v);                                             \
                    }                                                                                                    \
                    if (pass == 0) {                                                                                     \
                        for (int64_t di = 0; di < width; di++) next[di][c[di] + 1]++;                                    \
                        continue;                                                                                        \
                    }                                                                                                    \
                    for (int64_t di = 0; di < width; di++) {                                                             \
                        const int64_t at = (i0 + di) * n + next[di][c[di]]++;                                            \
                        rows[at] = (int32_t)r;                                                                           \
                        us[at] = u[di];                                                                                  \
                        vs[4 * at] = v[0][di];                                                                           \
                        vs[4 * at + 1] = v[1][di];                                                                       \
                        vs[4 * at + 2] = v[2][di];                                                                       \
                        vs[4 * at + 3] = v[3][di];                                                                       \
                    }                                                                                                    \
                }                                                                                                        \
                if (pass == 1) break;                                                                                    \
                for (int64_t di = 0; di < width; di++) { /* counts to bucket starts (absolute within input i) */         \
                    next[di][0] = (int32_t)r0;                                                                           \
                    for (int64_t col = 0; col < p; col++) next[di][col + 1] += next[di][col];                            \
                    memcpy(starts + ((i0 + di) * blocks + blk) * (p + 1), next[di], (p + 1) * sizeof(int32_t));          \
                }                                                                                                        \
            }                                                                                                            \
        }                                                                                                                \
    }                                                                                                                    \
}                                                                                                                        \
                                                                                                                         \
/* y (N rows `ld` apart) = the spline branch of `out` outputs whose laid-out weights are W (in, p, out). */              \
void mlpzoo_spline_forward_cubic_##T(const int32_t *rows, const T *vs, const int32_t *starts, const T *W, T *y,          \
                                     int64_t ld, int64_t n, int64_t in, int64_t out, int64_t p, int64_t block,           \
                                     int threads) {                                                                      \
    job_##T a = {rows, vs, W, NULL, NULL, NULL, y, NULL, NULL, {n, in, out, 4, p, 0, NULL}, 0, 0, starts, block,         \
                 NULL, ld, 0};                                                                                           \
    parallel_##T(forward_cubic_##T, &a, (n + block - 1) / block, threads);                                               \
}                                                                                                                        \
                                                                                                                         \
/* dW and, where gx is not NULL, the input gradient (written, or added to with add_gx) from g (N rows `ld`               \
 * apart); q: 3 * out scratch values per thread. */                                                                      \
void mlpzoo_spline_backward_cubic_##T(const int32_t *rows, const T *us, const T *vs, const int32_t *starts,              \
                                      const T *step, const double *slopes, const T *W, const T *g, T *dW, T *gx,         \
                                      T *q, int64_t ld, int add_gx, int64_t n, int64_t in, int64_t out, int64_t p,       \
                                      int64_t block, int threads) {                                                      \
    job_##T a = {rows, vs, W, g, us, step, NULL, dW, gx, {n, in, out, 4, p, 0, slopes}, 0, 0, starts, block, q,          \
                 ld, add_gx};                                                                                            \
    parallel_##T(backward_cubic_##T, &a, in, threads);                                                                   \
}                                                                                                                        \
                                                                                                                         \
void mlpzoo_spline_forward_##T(const int32_t *t, const T *v, const T *W, T *y, int64_t n, int64_t in,                    \
                               int64_t out, int64_t k1, int64_t p, int threads) {                                        \
    job_##T a = {t, v, W, NULL, NULL, NULL, y, NULL, NULL, {n, in, out, k1, p, 0, NULL}, 0, 0, NULL, 0, NULL, out, 0};   \
    parallel_##T(forward_##T, &a, n, threads);                                                                           \
}                                                                                                                        \
                                                                                                                         \
/* dW (always) and, where gx is not NULL, the input gradient gx (N, in) from u, step and the slopes. */                  \
void mlpzoo_spline_backward_##T(const int32_t *t, const T *v, const T *u, const T *step, const double *slopes,           \
                                const T *W, const T *g, T *dW, T *gx, int64_t n, int64_t in, int64_t out,                \
                                int64_t k1, int64_t p, int64_t grid, int threads) {                                      \
    job_##T a = {t, v, W, g, u, step, NULL, dW, gx, {n, in, out, k1, p, grid, slopes}, 0, 0, NULL, 0, NULL, out, 0};     \
    parallel_##T(backward_##T, &a, in, threads);                                                                         \
}

DEFINE_SPLINE(float)
DEFINE_SPLINE(double)

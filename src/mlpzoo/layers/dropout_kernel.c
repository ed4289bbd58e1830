/* Dropout masks from a counter-based hash, fused with ReLU, for mlpzoo.layers.dropout.
 *
 * Element e of a call is kept when lane (e & 1) of splitmix64(key + (e >> 1) * golden) is below
 * `threshold` (a 32-bit probability): the mask is a pure function of (key, e), so the forward never
 * stores it and the backward recomputes it; the key is drawn from torch's generator, so a seed pins
 * every mask. splitmix64 (Steele, Lea & Flood, OOPSLA 2014) on consecutive counters passes BigCrush.
 * dropout_keep() in dropout.py computes the same bits with torch integer ops (the fallback), and the
 * tests check the two agree bit for bit.
 *
 * relu_dropout keeps NaN as torch does (relu(NaN) = NaN, NaN * 0 = NaN), and its backward needs only
 * the output: out > 0 exactly where the unit was kept and positive.
 * Built by mlpzoo/layers/native.py with the system C compiler and loaded through ctypes.
 */
#include <stdint.h>

static inline uint64_t splitmix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

#define GOLDEN 0x9e3779b97f4a7c15ULL

/* The 0-or-scale factor of element e of the call with this key. */
static inline float factor_float(uint64_t key, int64_t e, uint32_t threshold, float scale) {
    uint64_t z = splitmix64(key + (uint64_t)(e >> 1) * GOLDEN);
    uint32_t lane = (e & 1) ? (uint32_t)(z >> 32) : (uint32_t)z;
    return lane < threshold ? scale : 0.0f;
}

static inline double factor_double(uint64_t key, int64_t e, uint32_t threshold, double scale) {
    uint64_t z = splitmix64(key + (uint64_t)(e >> 1) * GOLDEN);
    uint32_t lane = (e & 1) ? (uint32_t)(z >> 32) : (uint32_t)z;
    return lane < threshold ? scale : 0.0;
}

#define DEFINE(T, SUFFIX)                                                                                       \
    /* out = x * mask * scale (relu = 0) or relu(x) * mask * scale (relu = 1), element by element. */          \
    void mlpzoo_dropout_forward_##SUFFIX(const T *x, T *out, int64_t n, uint64_t key, uint32_t threshold,     \
                                         T scale, int relu) {                                                    \
        if (relu) {                                                                                             \
            _Pragma("omp simd") for (int64_t e = 0; e < n; e++) {                                             \
                T v = x[e];                                                                                     \
                v = (v > 0 || v != v) ? v : (T)0;                                                               \
                out[e] = v * factor_##SUFFIX(key, e, threshold, scale);                                         \
            }                                                                                                   \
        } else {                                                                                                \
            _Pragma("omp simd") for (int64_t e = 0; e < n; e++) out[e] = x[e] * factor_##SUFFIX(key, e, threshold, scale); \
        }                                                                                                       \
    }                                                                                                           \
    /* grad_x = grad * mask * scale, the mask recomputed from the key. */                                      \
    void mlpzoo_dropout_backward_##SUFFIX(const T *grad, T *grad_x, int64_t n, uint64_t key, uint32_t threshold, \
                                          T scale) {                                                             \
        _Pragma("omp simd") for (int64_t e = 0; e < n; e++) grad_x[e] = grad[e] * factor_##SUFFIX(key, e, threshold, scale); \
    }                                                                                                           \
    /* relu_dropout's backward: grad * scale where the output is positive, else 0. */                          \
    void mlpzoo_relu_dropout_backward_##SUFFIX(const T *grad, const T *out, T *grad_x, int64_t n, T scale) {   \
        _Pragma("omp simd") for (int64_t e = 0; e < n; e++) grad_x[e] = out[e] > 0 ? grad[e] * scale : (T)0;     \
    }

DEFINE(float, float)
DEFINE(double, double)

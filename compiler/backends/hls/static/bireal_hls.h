// bireal-hw HLS support: the stream bus word, a checked stream read for C-simulation and the
// XNOR-popcount primitives every generated kernel uses. Plain C++ on top of ap_int.h and
// hls_stream.h (Vitis HLS's, or hls4ml's open-source copies for g++ C-simulation).
#ifndef BIREAL_HLS_H
#define BIREAL_HLS_H

#include <ap_int.h>
#include <hls_stream.h>
#include <stdint.h>

#include <type_traits>

#if defined(__has_include)
#if __has_include(<ap_axi_sdata.h>)
#include <ap_axi_sdata.h>
#define BIREAL_HAVE_AXI_SDATA 1
#endif
#endif

#ifndef BIREAL_HAVE_AXI_SDATA
// The layout of Vitis HLS's ap_axiu (data, keep, strb, user, last, id, dest) for g++ builds.
template <int D, int U, int TI, int TD>
struct ap_axiu {
    ap_uint<D> data;
    ap_uint<(D + 7) / 8> keep;
    ap_uint<(D + 7) / 8> strb;
    ap_uint<(U > 0 ? U : 1)> user;
    ap_uint<1> last;
    ap_uint<(TI > 0 ? TI : 1)> id;
    ap_uint<(TD > 0 ? TD : 1)> dest;
};
#endif

// A signed constant table entry: ap_int<bits> in synthesis; in C-simulation the C integer type
// given, which holds the same values and compiles much faster than ap_int initializers.
#ifdef __SYNTHESIS__
#define BIREAL_CONST_INT(bits, ctype) ap_int<bits>
#else

#define BIREAL_CONST_INT(bits, ctype) ctype
#endif

// Arithmetic types. Synthesis gets the exact widths; C-simulation computes on int64_t, whose
// values are the same as long as every value fits its declared width, which C-simulation checks
// (bireal::fits, bireal::put), counting violations in bireal::overflows.
#ifdef __SYNTHESIS__
#define BIREAL_INT(bits) ap_int<bits>
#define BIREAL_UINT(bits) ap_uint<bits>
#else
namespace bireal {
template <int B>
struct csim_int {  // the narrowest fast C type holding B bits (with a sign bit to spare)
    typedef typename std::conditional<(B < 32), int32_t, int64_t>::type type;
};
}  // namespace bireal
#define BIREAL_INT(bits) bireal::csim_int<bits>::type
#define BIREAL_UINT(bits) bireal::csim_int<bits>::type
#endif

namespace bireal {

// One 64-bit AXI-Stream word between the DMA and the accelerator.
typedef ap_axiu<64, 0, 0, 0> bus_t;

#ifndef __SYNTHESIS__
// C-simulation counts reads of an empty stream (a kernel reading more than was written).
extern unsigned long long empty_reads;
extern unsigned long long overflows;
#endif

// C-simulation: count a value outside B bits (two's complement when S); synthesis: nothing.
template <int B, bool S>
inline void fits(int64_t v) {
#ifndef __SYNTHESIS__
    const bool ok = B >= 64 || (S ? (v >= -(1ll << ((B - 1) & 63)) && v < (1ll << ((B - 1) & 63)))
                                  : (v >= 0 && v < (1ll << (B & 63))));
    if (!ok) ++overflows;
#endif
}

template <typename T>
inline T pop(hls::stream<T> &s) {
#ifndef __SYNTHESIS__
    if (s.empty()) {
        ++empty_reads;
        return T();
    }
#endif
    return s.read();
}

// Wide beats are taken apart into 64-bit words once per beat; elements are read and written in
// those words with native shifts (one pass over the beat, not one wide-integer op per element),
// so arithmetic runs on narrow types, in hardware and in C-simulation alike.
template <int W>
inline void unpack(const ap_uint<W> &x, uint64_t out[(W + 63) / 64]) {
#pragma HLS INLINE
    for (int j = 0; j < (W + 63) / 64; j++) {
#pragma HLS UNROLL
        const int hi = (64 * j + 63 < W - 1) ? 64 * j + 63 : W - 1;
        out[j] = x.range(hi, 64 * j).to_uint64();
    }
}

template <int W>
inline ap_uint<W> pack(const uint64_t in[(W + 63) / 64]) {
#pragma HLS INLINE
    ap_uint<W> y = 0;
    for (int j = 0; j < (W + 63) / 64; j++) {
#pragma HLS UNROLL
        const int hi = (64 * j + 63 < W - 1) ? 64 * j + 63 : W - 1;
        y.range(hi, 64 * j) = ap_uint<64>(in[j]);
    }
    return y;
}

template <int B>
inline uint64_t low_mask() {
    return B >= 64 ? ~0ull : ((1ull << (B & 63)) - 1);
}

// Element i (B bits, two's complement when S) of a beat held as 64-bit words.
template <int B, bool S>
inline int64_t get(const uint64_t *w, int i) {
#pragma HLS INLINE
    const int bit = B * i, j = bit >> 6, o = bit & 63;
    uint64_t v = w[j] >> o;
    if (o + B > 64) v |= w[j + 1] << (64 - o);
    v &= low_mask<B>();
    if (S && B < 64 && ((v >> ((B - 1) & 63)) & 1)) v |= ~low_mask<B>();
    return (int64_t)v;
}

// Set element i (B bits, two's complement when S) of zero-initialized words.
template <int B, bool S>
inline void put(uint64_t *w, int i, int64_t value) {
#pragma HLS INLINE
    fits<B, S>(value);
    const uint64_t v = (uint64_t)value & low_mask<B>();
    const int bit = B * i, j = bit >> 6, o = bit & 63;
    w[j] |= v << o;
    if (o + B > 64) w[j + 1] |= v >> (64 - o);
}

// OR the N bits of `src` (words) into `dst` (words, zero there) at bit offset `at`.
template <int N>
inline void put_bits(uint64_t *dst, int at, const uint64_t *src) {
#pragma HLS INLINE
    for (int j = 0; j < (N + 63) / 64; j++) {
#pragma HLS UNROLL
        const int n = (N - 64 * j) < 64 ? N - 64 * j : 64;
        const uint64_t v = src[j] & (n == 64 ? ~0ull : ((1ull << (n & 63)) - 1));
        const int bit = at + 64 * j, w = bit >> 6, o = bit & 63;
        dst[w] |= v << o;
        if (o && o + n > 64) dst[w + 1] |= v >> (64 - o);
    }
}

// Set bits of a 64-bit word: an adder tree in hardware, the CPU's popcount in C-simulation.
inline int popcount64(uint64_t x) {
#pragma HLS INLINE
#ifndef __SYNTHESIS__
    return __builtin_popcountll(x);
#else
    int c = 0;
    for (int i = 0; i < 64; i++) {
#pragma HLS UNROLL
        c += (x >> i) & 1;
    }
    return c;
#endif
}

}  // namespace bireal

#endif

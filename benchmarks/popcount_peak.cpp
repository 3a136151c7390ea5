// Peak XOR-popcount rate of this CPU on L1-resident data (benchmarks/popcount_peak.py builds it
// with g++ -O3 -march=native and runs it).
//
//   popcount_peak THREADS SECONDS_PER_TRIAL TRIALS
//
// One binary op = one bit XORed and counted. Every thread owns two 4 KiB buffers of random words
// (8 KiB, L1-resident) and sweeps them again and again; after each sweep one word of `a` is
// changed by that sweep's count and a compiler memory barrier is issued, so no sweep can be
// hoisted or folded away. Every variant is first checked against a plain scalar count.
// Prints one JSON object: {"variant": {"gops": best total rate over the trials, ...}, ...}.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#if defined(__AVX2__) || defined(__AVX512BW__)
#include <immintrin.h>
#endif

namespace {

constexpr size_t kBytes = 4096;
constexpr size_t kWords = kBytes / 8;

inline void clobber() { asm volatile("" : : : "memory"); }

uint64_t reference_count(const uint64_t* a, const uint64_t* b) {
    uint64_t n = 0;
    for (size_t i = 0; i < kWords; ++i) {
        uint64_t x = a[i] ^ b[i];
        while (x) {
            x &= x - 1;
            ++n;
        }
    }
    return n;
}

// scalar popcnt on 64-bit words, 4 independent accumulators (no auto-vectorization, so it stays
// scalar even where the compiler could use vpopcntq).
__attribute__((optimize("no-tree-vectorize"))) uint64_t sweep_scalar(const uint64_t* a,
                                                                     const uint64_t* b) {
    uint64_t c0 = 0, c1 = 0, c2 = 0, c3 = 0;
    for (size_t i = 0; i < kWords; i += 4) {
        c0 += __builtin_popcountll(a[i] ^ b[i]);
        c1 += __builtin_popcountll(a[i + 1] ^ b[i + 1]);
        c2 += __builtin_popcountll(a[i + 2] ^ b[i + 2]);
        c3 += __builtin_popcountll(a[i + 3] ^ b[i + 3]);
    }
    return c0 + c1 + c2 + c3;
}

#if defined(__AVX2__)
// AVX2 vpshufb nibble lookup (Mula), 8-bit counts summed with vpsadbw every 8 vectors.
uint64_t sweep_avx2_lut(const uint64_t* a, const uint64_t* b) {
    const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2,
                                         1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
    const __m256i low = _mm256_set1_epi8(0x0f);
    const __m256i* pa = reinterpret_cast<const __m256i*>(a);
    const __m256i* pb = reinterpret_cast<const __m256i*>(b);
    __m256i total = _mm256_setzero_si256();
    constexpr size_t n = kBytes / 32;
    for (size_t i = 0; i < n; i += 8) {
        __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
        for (size_t j = 0; j < 8; j += 2) {
            __m256i x0 = _mm256_xor_si256(_mm256_load_si256(pa + i + j), _mm256_load_si256(pb + i + j));
            __m256i x1 = _mm256_xor_si256(_mm256_load_si256(pa + i + j + 1),
                                          _mm256_load_si256(pb + i + j + 1));
            acc0 = _mm256_add_epi8(acc0, _mm256_shuffle_epi8(lut, _mm256_and_si256(x0, low)));
            acc0 = _mm256_add_epi8(
                acc0, _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(x0, 4), low)));
            acc1 = _mm256_add_epi8(acc1, _mm256_shuffle_epi8(lut, _mm256_and_si256(x1, low)));
            acc1 = _mm256_add_epi8(
                acc1, _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(x1, 4), low)));
        }
        total = _mm256_add_epi64(total, _mm256_sad_epu8(acc0, _mm256_setzero_si256()));
        total = _mm256_add_epi64(total, _mm256_sad_epu8(acc1, _mm256_setzero_si256()));
    }
    alignas(32) uint64_t t[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(t), total);
    return t[0] + t[1] + t[2] + t[3];
}
#endif

#if defined(__AVX512BW__)
// AVX-512BW vpshufb nibble lookup: XOR, split into nibbles, two 64-byte table lookups, 8-bit
// accumulate in two independent registers, vpsadbw to 64-bit lanes every 8 vectors.
uint64_t sweep_avx512bw_lut(const uint64_t* a, const uint64_t* b) {
    const __m512i lut = _mm512_broadcast_i32x4(
        _mm_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4));
    const __m512i low = _mm512_set1_epi8(0x0f);
    const __m512i* pa = reinterpret_cast<const __m512i*>(a);
    const __m512i* pb = reinterpret_cast<const __m512i*>(b);
    __m512i total = _mm512_setzero_si512();
    constexpr size_t n = kBytes / 64;
    for (size_t i = 0; i < n; i += 8) {
        __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
        for (size_t j = 0; j < 8; j += 2) {
            __m512i x0 = _mm512_xor_si512(_mm512_load_si512(pa + i + j), _mm512_load_si512(pb + i + j));
            __m512i x1 = _mm512_xor_si512(_mm512_load_si512(pa + i + j + 1),
                                          _mm512_load_si512(pb + i + j + 1));
            acc0 = _mm512_add_epi8(acc0, _mm512_shuffle_epi8(lut, _mm512_and_si512(x0, low)));
            acc0 = _mm512_add_epi8(
                acc0, _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(x0, 4), low)));
            acc1 = _mm512_add_epi8(acc1, _mm512_shuffle_epi8(lut, _mm512_and_si512(x1, low)));
            acc1 = _mm512_add_epi8(
                acc1, _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(x1, 4), low)));
        }
        total = _mm512_add_epi64(total, _mm512_sad_epu8(acc0, _mm512_setzero_si512()));
        total = _mm512_add_epi64(total, _mm512_sad_epu8(acc1, _mm512_setzero_si512()));
    }
    return static_cast<uint64_t>(_mm512_reduce_add_epi64(total));
}

// The vector operations of one ISA, for the Harley-Seal sweep below.
struct Avx512BwOps {
    using V = __m512i;
    static V zero() { return _mm512_setzero_si512(); }
    static V load(const void* p) { return _mm512_load_si512(p); }
    static V xor_(V a, V b) { return _mm512_xor_si512(a, b); }
    static void csa(V& h, V& l, V a, V b, V c) {
        l = _mm512_ternarylogic_epi32(a, b, c, 0x96);  // a ^ b ^ c
        h = _mm512_ternarylogic_epi32(a, b, c, 0xe8);  // majority
    }
    static V count(V v) {  // per 64-bit lane: vpshufb nibble lookups, vpsadbw
        const V lut = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4));
        const V low = _mm512_set1_epi8(0x0f);
        V c = _mm512_add_epi8(_mm512_shuffle_epi8(lut, _mm512_and_si512(v, low)),
                              _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(v, 4), low)));
        return _mm512_sad_epu8(c, _mm512_setzero_si512());
    }
    static V add(V a, V b) { return _mm512_add_epi64(a, b); }
    static V shl(V a, int k) { return _mm512_slli_epi64(a, k); }
    static uint64_t reduce(V v) { return static_cast<uint64_t>(_mm512_reduce_add_epi64(v)); }
    static constexpr size_t bytes = 64;
};

// Harley-Seal: carry-save adders compress 16 XORed vectors into one "sixteens" vector that is
// counted, plus the leftover ones..eights at the end. The reduction a long binary dot product
// (K bits) can use; 16x fewer counts per bit.
template <class O>
uint64_t sweep_harley_seal(const uint64_t* a, const uint64_t* b) {
    using V = typename O::V;
    const char* pa = reinterpret_cast<const char*>(a);
    const char* pb = reinterpret_cast<const char*>(b);
    V total = O::zero(), ones = O::zero(), twos = ones, fours = ones, eights = ones, sixteens;
    V twosA, twosB, foursA, foursB, eightsA, eightsB;
    constexpr size_t n = kBytes / O::bytes;
#define X(k) O::xor_(O::load(pa + (i + (k)) * O::bytes), O::load(pb + (i + (k)) * O::bytes))
    for (size_t i = 0; i < n; i += 16) {
        O::csa(twosA, ones, ones, X(0), X(1));
        O::csa(twosB, ones, ones, X(2), X(3));
        O::csa(foursA, twos, twos, twosA, twosB);
        O::csa(twosA, ones, ones, X(4), X(5));
        O::csa(twosB, ones, ones, X(6), X(7));
        O::csa(foursB, twos, twos, twosA, twosB);
        O::csa(eightsA, fours, fours, foursA, foursB);
        O::csa(twosA, ones, ones, X(8), X(9));
        O::csa(twosB, ones, ones, X(10), X(11));
        O::csa(foursA, twos, twos, twosA, twosB);
        O::csa(twosA, ones, ones, X(12), X(13));
        O::csa(twosB, ones, ones, X(14), X(15));
        O::csa(foursB, twos, twos, twosA, twosB);
        O::csa(eightsB, fours, fours, foursA, foursB);
        O::csa(sixteens, eights, eights, eightsA, eightsB);
        total = O::add(total, O::count(sixteens));
    }
#undef X
    total = O::shl(total, 4);
    total = O::add(total, O::shl(O::count(eights), 3));
    total = O::add(total, O::shl(O::count(fours), 2));
    total = O::add(total, O::shl(O::count(twos), 1));
    total = O::add(total, O::count(ones));
    return O::reduce(total);
}

uint64_t sweep_avx512bw_harley_seal(const uint64_t* a, const uint64_t* b) {
    return sweep_harley_seal<Avx512BwOps>(a, b);
}
#endif

#if defined(__AVX512VPOPCNTDQ__)
struct Avx512PopcntOps : Avx512BwOps {
    static V count(V v) { return _mm512_popcnt_epi64(v); }
};

// Harley-Seal with the counts on vpopcntq: what the vpopcntdq path's binary convs run
uint64_t sweep_avx512_vpopcntdq_harley_seal(const uint64_t* a, const uint64_t* b) {
    return sweep_harley_seal<Avx512PopcntOps>(a, b);
}

// Native vpopcntq (Ice Lake and later): XOR + popcount per 64-bit lane, 4 accumulators.
uint64_t sweep_avx512_vpopcntq(const uint64_t* a, const uint64_t* b) {
    const __m512i* pa = reinterpret_cast<const __m512i*>(a);
    const __m512i* pb = reinterpret_cast<const __m512i*>(b);
    __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0;
    constexpr size_t n = kBytes / 64;
    for (size_t i = 0; i < n; i += 4) {
        c0 = _mm512_add_epi64(c0, _mm512_popcnt_epi64(_mm512_xor_si512(pa[i], pb[i])));
        c1 = _mm512_add_epi64(c1, _mm512_popcnt_epi64(_mm512_xor_si512(pa[i + 1], pb[i + 1])));
        c2 = _mm512_add_epi64(c2, _mm512_popcnt_epi64(_mm512_xor_si512(pa[i + 2], pb[i + 2])));
        c3 = _mm512_add_epi64(c3, _mm512_popcnt_epi64(_mm512_xor_si512(pa[i + 3], pb[i + 3])));
    }
    __m512i t = _mm512_add_epi64(_mm512_add_epi64(c0, c1), _mm512_add_epi64(c2, c3));
    return static_cast<uint64_t>(_mm512_reduce_add_epi64(t));
}
#endif

#if defined(__AVX2__) && defined(__AVX512BW__)
struct Avx2Ops {
    using V = __m256i;
    static V zero() { return _mm256_setzero_si256(); }
    static V load(const void* p) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(p)); }
    static V xor_(V a, V b) { return _mm256_xor_si256(a, b); }
    static void csa(V& h, V& l, V a, V b, V c) {  // no vpternlog on AVX2: xor, and, or
        V u = _mm256_xor_si256(a, b);
        h = _mm256_or_si256(_mm256_and_si256(a, b), _mm256_and_si256(u, c));
        l = _mm256_xor_si256(u, c);
    }
    static V count(V v) {
        const V lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3,
                                       1, 2, 2, 3, 2, 3, 3, 4);
        const V low = _mm256_set1_epi8(0x0f);
        V c = _mm256_add_epi8(_mm256_shuffle_epi8(lut, _mm256_and_si256(v, low)),
                              _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(v, 4), low)));
        return _mm256_sad_epu8(c, _mm256_setzero_si256());
    }
    static V add(V a, V b) { return _mm256_add_epi64(a, b); }
    static V shl(V a, int k) { return _mm256_slli_epi64(a, k); }
    static uint64_t reduce(V v) {
        alignas(32) uint64_t t[4];
        _mm256_store_si256(reinterpret_cast<__m256i*>(t), v);
        return t[0] + t[1] + t[2] + t[3];
    }
    static constexpr size_t bytes = 32;
};

// the AVX2 path's form: Harley-Seal on 256-bit vectors (built here with -march=native, the
// compiler may encode it with EVEX, still 256 bits wide)
uint64_t sweep_avx2_harley_seal(const uint64_t* a, const uint64_t* b) {
    return sweep_harley_seal<Avx2Ops>(a, b);
}
#endif

using Sweep = uint64_t (*)(const uint64_t*, const uint64_t*);

struct Variant {
    const char* name;
    Sweep fn;
    bool supported;
};

std::vector<Variant> variants() {
    std::vector<Variant> v;
    v.push_back({"scalar_popcnt64", sweep_scalar, true});
#if defined(__AVX2__)
    v.push_back({"avx2_vpshufb", sweep_avx2_lut, static_cast<bool>(__builtin_cpu_supports("avx2"))});
#endif
#if defined(__AVX2__) && defined(__AVX512BW__)
    v.push_back({"avx2_harley_seal", sweep_avx2_harley_seal, static_cast<bool>(__builtin_cpu_supports("avx2"))});
#endif
#if defined(__AVX512BW__)
    bool bw = __builtin_cpu_supports("avx512bw");
    v.push_back({"avx512bw_vpshufb", sweep_avx512bw_lut, bw});
    v.push_back({"avx512bw_harley_seal", sweep_avx512bw_harley_seal, bw});
#endif
#if defined(__AVX512VPOPCNTDQ__)
    bool dq = __builtin_cpu_supports("avx512vpopcntdq");
    v.push_back({"avx512_vpopcntdq", sweep_avx512_vpopcntq, dq});
    v.push_back({"avx512_vpopcntdq_harley_seal", sweep_avx512_vpopcntdq_harley_seal, dq});
#endif
    return v;
}

uint64_t xorshift(uint64_t& s) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
}

struct alignas(64) Buffers {
    uint64_t a[kWords];
    uint64_t b[kWords];
};

// Sweeps `sweeps` times; returns the sum of counts (kept so nothing is dead).
uint64_t run(Sweep fn, Buffers& buf, uint64_t sweeps) {
    uint64_t sum = 0;
    for (uint64_t r = 0; r < sweeps; ++r) {
        uint64_t c = fn(buf.a, buf.b);
        sum += c;
        buf.a[r & (kWords - 1)] += c;  // vary the data sweep to sweep
        clobber();
    }
    return sum;
}

}  // namespace

int main(int argc, char** argv) {
    int threads = argc > 1 ? std::atoi(argv[1]) : 1;
    double seconds = argc > 2 ? std::atof(argv[2]) : 0.2;
    int trials = argc > 3 ? std::atoi(argv[3]) : 3;
    if (threads < 1) threads = 1;

    std::vector<Buffers*> bufs(threads);
    for (int t = 0; t < threads; ++t) {
        bufs[t] = new Buffers;
        uint64_t s = 0x9E3779B97F4A7C15ull * (t + 1);
        for (size_t i = 0; i < kWords; ++i) {
            bufs[t]->a[i] = xorshift(s);
            bufs[t]->b[i] = xorshift(s);
        }
    }

    std::string out = "{";
    bool first = true;
    uint64_t sink = 0;
    for (const Variant& v : variants()) {
        if (!v.supported) continue;
        uint64_t expect = reference_count(bufs[0]->a, bufs[0]->b);
        uint64_t got = v.fn(bufs[0]->a, bufs[0]->b);
        if (got != expect) {
            std::fprintf(stderr, "variant %s counts %llu, expected %llu\n", v.name,
                         (unsigned long long)got, (unsigned long long)expect);
            return 2;
        }
        // calibrate sweeps so one trial lasts about `seconds` on one thread
        uint64_t sweeps = 1000;
        for (;;) {
            auto t0 = std::chrono::steady_clock::now();
            sink += run(v.fn, *bufs[0], sweeps);
            double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            if (dt > 0.02) {
                sweeps = static_cast<uint64_t>(sweeps * seconds / dt) + 1;
                break;
            }
            sweeps *= 4;
        }
        double best = 0.0;
        for (int trial = 0; trial < trials; ++trial) {
            std::atomic<int> ready{0};
            std::atomic<bool> go{false};
            std::vector<double> elapsed(threads);
            std::vector<uint64_t> sums(threads);
            std::vector<std::thread> pool;
            for (int t = 0; t < threads; ++t) {
                pool.emplace_back([&, t] {
                    ready.fetch_add(1);
                    while (!go.load(std::memory_order_acquire)) {
                    }
                    auto t0 = std::chrono::steady_clock::now();
                    sums[t] = run(v.fn, *bufs[t], sweeps);
                    elapsed[t] =
                        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                });
            }
            while (ready.load() < threads) {
            }
            go.store(true, std::memory_order_release);
            for (auto& th : pool) th.join();
            double slowest = 0.0;
            for (int t = 0; t < threads; ++t) {
                if (elapsed[t] > slowest) slowest = elapsed[t];
                sink += sums[t];
            }
            double bits = static_cast<double>(threads) * sweeps * kBytes * 8.0;
            double gops = bits / slowest / 1e9;
            if (gops > best) best = gops;
        }
        char line[256];
        std::snprintf(line, sizeof line, "%s\"%s\": {\"gops\": %.3f, \"sweeps\": %llu}",
                      first ? "" : ", ", v.name, best, (unsigned long long)sweeps);
        out += line;
        first = false;
    }
    char tail[64];
    std::snprintf(tail, sizeof tail, "%s\"_sink\": %llu}", first ? "" : ", ",
                  (unsigned long long)(sink & 0xffff));
    out += tail;
    std::puts(out.c_str());
    for (auto* b : bufs) delete b;
    return 0;
}

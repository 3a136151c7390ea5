// bireal-hw's threshold activation for hls4ml (io_stream): per channel, the count of ascending
// integer thresholds T with T <= direction * x, found by a binary search over 2**levels - 1
// thresholds (padded above every value), mapped to qmin + step * count. It is the exact form of a
// folded BatchNorm + requantization (step 1) and of the Bi-Real sign (one threshold 0, -1 + 2 * count).
#ifndef NNET_BIREAL_THRESHOLD_H_
#define NNET_BIREAL_THRESHOLD_H_

#include "hls_stream.h"
#include "nnet_common.h"

namespace nnet {

struct bireal_threshold_config {
    static const unsigned n_pixels = 1;
    static const unsigned n_chan = 1;
    static const unsigned levels = 1;
    static const int qmin = 0;
    static const int step = 1;
    typedef ap_int<32> threshold_t;
    typedef ap_int<2> direction_t;
    typedef ap_int<34> accum_t;
};

template <class data_T, class res_T, typename CONFIG_T>
void bireal_threshold(hls::stream<data_T> &data, hls::stream<res_T> &res,
                      const typename CONFIG_T::threshold_t thresholds[CONFIG_T::n_chan * ((1 << CONFIG_T::levels) - 1)],
                      const typename CONFIG_T::direction_t directions[CONFIG_T::n_chan]) {
    const unsigned padded = (1 << CONFIG_T::levels) - 1;
Pixels:
    for (unsigned i = 0; i < CONFIG_T::n_pixels; i++) {
        #pragma HLS PIPELINE
        data_T in = data.read();
        res_T out;
        PRAGMA_DATA_PACK(out)
    Channels:
        for (unsigned c = 0; c < CONFIG_T::n_chan; c++) {
            #pragma HLS UNROLL
            const typename CONFIG_T::accum_t v = directions[c] * in[c];
            unsigned count = 0;
        Search:
            for (int l = CONFIG_T::levels - 1; l >= 0; l--) {
                if (thresholds[c * padded + count + (1u << l) - 1] <= v) count += 1u << l;
            }
            out[c] = CONFIG_T::qmin + CONFIG_T::step * (int)count;
        }
        res.write(out);
    }
}

} // namespace nnet

#endif

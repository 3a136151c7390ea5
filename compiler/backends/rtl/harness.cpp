// Verilator test bench of a bireal-hw RTL design (compiler/backends/rtl/verilator.py).
//   harness INPUT OUTPUT FRAMES IN_WORDS OUT_WORDS MODE SEED STALL_LIMIT [+log]
// Streams FRAMES frames of IN_WORDS 64-bit words from INPUT back to back into s_axis and writes
// what m_axis delivers to OUTPUT. MODE 0: the input offers a word every cycle and the output takes
// one every cycle (the cycle counts compare with sim/); MODE 1: random gaps on the input and random
// back-pressure on the output (seeded). The design's own $display lines report each frame's last
// output beat (BIREAL_DONE) and, at the end, every FIFO's fill level, largest occupancy and
// checksum. No FIFO written or read and no bus transfer for STALL_LIMIT cycles (longer than any
// kernel computes without reading or writing): a deadlock (exit 3).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

#include "Vbireal_top.h"
#include "verilated.h"

int main(int argc, char **argv) {
    if (argc < 9) {
        std::fprintf(stderr, "usage: harness INPUT OUTPUT FRAMES IN_WORDS OUT_WORDS MODE SEED STALL_LIMIT\n");
        return 2;
    }
    const auto context = std::make_unique<VerilatedContext>();
    context->commandArgs(argc, argv);
    const char *input = argv[1], *output = argv[2];
    const uint64_t frames = std::strtoull(argv[3], nullptr, 10);
    const uint64_t in_words = std::strtoull(argv[4], nullptr, 10) * frames;
    const uint64_t out_words = std::strtoull(argv[5], nullptr, 10) * frames;
    const int mode = std::atoi(argv[6]);
    std::mt19937_64 rng(std::strtoull(argv[7], nullptr, 10));
    const uint64_t stall_limit = std::strtoull(argv[8], nullptr, 10);

    std::vector<uint64_t> in(in_words), out(out_words);
    FILE *f = std::fopen(input, "rb");
    if (!f || std::fread(in.data(), 8, in_words, f) != in_words) {
        std::fprintf(stderr, "cannot read %llu words from %s\n", (unsigned long long)in_words, input);
        return 2;
    }
    std::fclose(f);

    const auto top = std::make_unique<Vbireal_top>(context.get());
    top->ap_clk = 0;
    top->ap_rst = 1;
    top->s_axis_tvalid = 0;
    top->m_axis_tready = 0;
    for (int i = 0; i < 2; i++) {
        top->ap_clk = 0;
        top->eval();
        top->ap_clk = 1;
        top->eval();
    }
    top->ap_rst = 0;
    uint64_t sent = 0, received = 0, cycle = 0, quiet = 0, last_frames = 0, gaps = 0, held = 0;
    bool deadlock = false;
    while (received < out_words) {
        top->s_axis_tvalid = sent < in_words && (mode == 0 || rng() % 4 != 0);
        top->s_axis_tdata = sent < in_words ? in[sent] : 0;
        top->m_axis_tready = mode == 0 || rng() % 3 != 0;
        top->ap_clk = 0;
        top->eval();
        const bool took = top->s_axis_tvalid && top->s_axis_tready;
        const bool gave = top->m_axis_tvalid && top->m_axis_tready;
        const bool active = top->active;  // this cycle's FIFO traffic
        gaps += sent < in_words && !top->s_axis_tvalid;     // the source had no word this cycle
        held += top->m_axis_tvalid && !top->m_axis_tready;  // the sink refused a word
        if (gave) {
            out[received++] = top->m_axis_tdata;
            if (top->m_axis_tlast) last_frames++;
        }
        top->ap_clk = 1;
        top->eval();
        if (took) sent++;
        quiet = (took || gave || active) ? 0 : quiet + 1;
        cycle++;
        if (quiet > stall_limit) {
            deadlock = true;
            break;
        }
    }
    top->final();
    std::printf("BIREAL_END %llu %llu %llu %llu %d %llu %llu\n", (unsigned long long)cycle, (unsigned long long)sent,
                (unsigned long long)received, (unsigned long long)last_frames, deadlock ? 1 : 0,
                (unsigned long long)gaps, (unsigned long long)held);
    f = std::fopen(output, "wb");
    if (!f || std::fwrite(out.data(), 8, received, f) != received) return 2;
    std::fclose(f);
    return deadlock ? 3 : 0;
}

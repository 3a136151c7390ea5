// The host's side: AXI-Stream ports of 64-bit words.

// Input DMA: bus words -> pixels of C elements (each EB bytes on the bus, little-endian; the
// stream takes its low BITS bits). Every frame starts on a new word. Per op it takes a word
// when it holds fewer than a pixel's bytes and writes a pixel when it has one (a pixel wider
// than a word is gathered over several ops): sim's pixel_ready_ops when the bus never waits.
module bireal_input_dma #(
    parameter C = 1,
    parameter EB = 1,
    parameter BITS = 8,
    parameter PIXELS = 1,
    parameter WORDS = 1,  // bus words per frame
    parameter REACH = 1   // bit v: it reads a word while holding v bytes (v < C * EB)
) (
    input  wire clk,
    input  wire rst,
    input  wire [63:0] s_axis_tdata,
    input  wire s_axis_tvalid,
    output wire s_axis_tready,
    output wire [C*BITS-1:0] out_data,
    output wire out_valid,
    input  wire out_ready
);
    localparam PB = C * EB;  // bytes per pixel
    localparam CAP = PB + 8;
    localparam NW = $clog2(CAP + 1);
    reg [8*CAP-1:0] held;
    reg [NW-1:0] n;  // bytes held
    localparam WW = $clog2(WORDS + 1), XW = $clog2(PIXELS + 1);  // counters as wide as they count
    reg [WW-1:0] words_left;
    reg [XW-1:0] pixels_left;
    wire rd = n < PB && words_left != 0;
    wire [NW-1:0] total = n + (rd ? 4'd8 : 4'd0);
    wire wr = total >= PB;
    wire fire = (!rd || s_axis_tvalid) && (!wr || out_ready);
    // the word is placed at the byte counts where it reads only (REACH, as the width converter's)
    wire [8*CAP-1:0] merged;
    bireal_place #(.U(8), .W(64), .CAP(CAP), .NW(NW), .MAXV(PB-1), .REACH(REACH)) place (
        .held(held), .beat(s_axis_tdata), .n(n), .en(rd), .merged(merged));
    assign s_axis_tready = fire && rd;
    assign out_valid = fire && wr;
    genvar i;
    generate
        for (i = 0; i < C; i = i + 1) begin : element
            assign out_data[i*BITS +: BITS] = merged[8*EB*i +: BITS];
        end
    endgenerate
    wire frame_end = fire && wr && pixels_left == 1;
    always @(posedge clk) begin
        if (rst) begin
            held <= 0;
            n <= 0;
            words_left <= WORDS;
            pixels_left <= PIXELS;
        end else if (frame_end) begin  // the last word's padding bytes are dropped
            held <= 0;
            n <= 0;
            words_left <= WORDS;
            pixels_left <= PIXELS;
        end else if (fire) begin
            held <= wr ? merged >> (8 * PB) : merged;
            n <= wr ? total - PB[NW-1:0] : total;
            if (rd) words_left <= words_left - 1;
            if (wr) pixels_left <= pixels_left - 1;
        end
    end
endmodule

// Output DMA: beats of PE integers (BITS each, signed when SIGNED) -> 64-bit words, each value
// EB bytes little-endian; every frame starts on a new word (its last word zero-padded), TLAST
// on each frame's last word. A byte buffer of PB + PAD + 16 bytes: it takes a beat in any cycle
// where the beat fits beside what it holds, and sends a word in any cycle where it holds one
// (sim/schedule.py's _output_dma: a taker and a sender).
module bireal_output_dma #(
    parameter PE = 1,
    parameter BITS = 8,
    parameter SIGNED = 1,
    parameter KIND = 0,
    parameter EB = 1,
    parameter BEATS = 1,  // per frame
    parameter WORDS = 1   // per frame
) (
    input  wire clk,
    input  wire rst,
    input  wire [(KIND == 1 ? PE : PE * BITS)-1:0] in_data,
    input  wire in_valid,
    output wire in_ready,
    output wire [63:0] m_axis_tdata,
    output wire m_axis_tvalid,
    input  wire m_axis_tready,
    output wire m_axis_tlast
);
    localparam PB = PE * EB;
    localparam PAD = WORDS * 8 - BEATS * PB;  // bytes after a frame's last value
    localparam CAP = PB + PAD + 16;
    localparam NW = $clog2(CAP + 1);
    localparam VW = 8 * EB;
    reg [8*CAP-1:0] held;
    reg [NW-1:0] n;
    localparam BW = BEATS > 1 ? $clog2(BEATS) : 1, WDW = WORDS > 1 ? $clog2(WORDS) : 1;
    reg [BW-1:0] beat;
    reg [WDW-1:0] word;
    wire [PE*VW-1:0] v;
    bireal_unpack #(.N(PE), .BITS(BITS), .SIGNED(SIGNED), .KIND(KIND), .VW(VW)) ux (.beat(in_data), .values(v));
    wire last_beat = beat == BEATS - 1;
    wire [NW-1:0] add = last_beat ? PB + PAD : PB;
    wire take = in_valid && n + add <= CAP;
    wire send = n >= 8 && m_axis_tready;
    wire [NW-1:0] after_send = send ? n - 4'd8 : n;
    assign in_ready = take;
    assign m_axis_tvalid = n >= 8;
    assign m_axis_tdata = held[63:0];
    assign m_axis_tlast = word == WORDS - 1;
    wire [8*CAP-1:0] shifted = send ? held >> 64 : held;
    always @(posedge clk) begin
        if (rst) begin
            held <= 0;
            n <= 0;
            beat <= 0;
            word <= 0;
        end else begin
            held <= take ? (shifted | ({{8*(CAP-PB){1'b0}}, v} << (8 * after_send))) : shifted;
            n <= after_send + (take ? add : {NW{1'b0}});
            if (take) beat <= last_beat ? {BW{1'b0}} : beat + 1'b1;
            if (send) word <= (word == WORDS - 1) ? {WDW{1'b0}} : word + 1'b1;
        end
    end
`ifndef SYNTHESIS
    reg [63:0] cycle;
    reg [31:0] frames;
    always @(posedge clk) begin
        if (rst) begin
            cycle <= 0;
            frames <= 0;
        end else begin
            cycle <= cycle + 1;
            if (take && last_beat) begin
                $display("BIREAL_DONE %0d %0d", frames, cycle);
                frames <= frames + 1;
            end
        end
    end
`endif
endmodule

// Element-wise kernels: one beat in (from each input) and one out per op.

// Fork: the beat to both outputs (a residual map to its block and its shortcut).
module bireal_fork #(parameter W = 8) (
    input  wire clk,
    input  wire rst,
    input  wire [W-1:0] in_data,
    input  wire in_valid,
    output wire in_ready,
    output wire [W-1:0] out0_data,
    output wire out0_valid,
    input  wire out0_ready,
    output wire [W-1:0] out1_data,
    output wire out1_valid,
    input  wire out1_ready
);
    wire fire = in_valid && out0_ready && out1_ready;
    assign in_ready = fire;
    assign out0_valid = fire;
    assign out1_valid = fire;
    assign out0_data = in_data;
    assign out1_data = in_data;
endmodule

// Add: a + b saturated to [QMIN, QMAX], PE lanes.
module bireal_add #(
    parameter PE = 1,
    parameter AKIND = 0, parameter ABITS = 8, parameter ASIGNED = 1,
    parameter BKIND = 0, parameter BBITS = 8, parameter BSIGNED = 1,
    parameter OBITS = 8,
    parameter VW = 12,
    parameter QMIN = -128,
    parameter QMAX = 127
) (
    input  wire clk,
    input  wire rst,
    input  wire [(AKIND == 1 ? PE : PE * ABITS)-1:0] a_data,
    input  wire a_valid,
    output wire a_ready,
    input  wire [(BKIND == 1 ? PE : PE * BBITS)-1:0] b_data,
    input  wire b_valid,
    output wire b_ready,
    output wire [PE*OBITS-1:0] out_data,
    output wire out_valid,
    input  wire out_ready
);
    wire fire = a_valid && b_valid && out_ready;
    assign a_ready = fire;
    assign b_ready = fire;
    assign out_valid = fire;
    wire [PE*VW-1:0] av, bv, sv;
    bireal_unpack #(.N(PE), .BITS(ABITS), .SIGNED(ASIGNED), .KIND(AKIND), .VW(VW)) ua (.beat(a_data), .values(av));
    bireal_unpack #(.N(PE), .BITS(BBITS), .SIGNED(BSIGNED), .KIND(BKIND), .VW(VW)) ub (.beat(b_data), .values(bv));
    genvar p;
    generate
        for (p = 0; p < PE; p = p + 1) begin : lane
            wire signed [VW-1:0] sum = $signed(av[p*VW +: VW]) + $signed(bv[p*VW +: VW]);
            wire signed [VW-1:0] lo = QMIN, hi = QMAX;
            assign sv[p*VW +: VW] = sum < lo ? lo : (sum > hi ? hi : sum);
        end
    endgenerate
    bireal_pack #(.N(PE), .BITS(OBITS), .KIND(0), .VW(VW)) po (.values(sv), .beat(out_data));
endmodule

// Thresholding unit (FINN's Thresholding): per channel, QMIN + STEP * (thresholds reached by
// direction * x); PE channels per beat, GROUPS beats per pixel; a beat is written LEVELS cycles
// after its op (the search's register stages). Thresholds and directions are
// ROMs of GROUPS words (lane p of word g: channel g*PE + p).
module bireal_thresholding #(
    parameter PE = 1,
    parameter GROUPS = 1,
    parameter IKIND = 0, parameter IBITS = 8, parameter ISIGNED = 1,
    parameter OKIND = 0, parameter OBITS = 8,
    parameter VW = 10,
    parameter OW = 10,
    parameter LEVELS = 1,
    parameter TB = 12,
    parameter QMIN = 0,
    parameter STEP = 1,
    parameter TSTYLE = 0,  // bit s: threshold stage s in block RAM
    parameter THRESHOLDS = "thresholds",  // file name prefix: THRESHOLDS_000.mem ... one per lane
    parameter DIRECTIONS = "directions.mem"
) (
    input  wire clk,
    input  wire rst,
    input  wire [(IKIND == 1 ? PE : PE * IBITS)-1:0] in_data,
    input  wire in_valid,
    output wire in_ready,
    output wire [(OKIND == 1 ? PE : PE * OBITS)-1:0] out_data,
    output wire out_valid,
    input  wire out_ready
);
    localparam GW = GROUPS > 1 ? $clog2(GROUPS) : 1;
    reg [PE*2-1:0] dir_rom [0:GROUPS-1];
    initial $readmemh(DIRECTIONS, dir_rom);
    reg [GW-1:0] g;
    wire fire = in_valid && out_ready;
    assign in_ready = fire;
    assign out_valid = fire;
    always @(posedge clk)
        if (rst) g <= 0;
        else if (fire) g <= (g == GROUPS - 1) ? {GW{1'b0}} : g + 1'b1;
    wire [PE*VW-1:0] xv;
    wire [PE*OW-1:0] yv;
    wire [PE*2-1:0] dir = dir_rom[g];
    bireal_unpack #(.N(PE), .BITS(IBITS), .SIGNED(ISIGNED), .KIND(IKIND), .VW(VW)) ux (.beat(in_data), .values(xv));
    genvar p;
    generate
        for (p = 0; p < PE; p = p + 1) begin : lane
            localparam [7:0] D2 = 48 + p / 100, D1 = 48 + (p / 10) % 10, D0 = 48 + p % 10;
            localparam [23:0] LANE = {D2, D1, D0};  // the lane's number, 3 digits
            bireal_threshold_search #(.LEVELS(LEVELS), .GROUPS(GROUPS), .TB(TB), .VW(VW), .OW(OW), .QMIN(QMIN),
                                      .STEP(STEP), .PREFIX({THRESHOLDS, "_", LANE}), .TSTYLE(TSTYLE)) search (
                .clk(clk), .group({{(32-GW){1'b0}}, g}), .direction(dir[p*2 +: 2]), .x(xv[p*VW +: VW]), .y(yv[p*OW +: OW]));
        end
    endgenerate
    bireal_pack #(.N(PE), .BITS(OBITS), .KIND(OKIND), .VW(OW)) po (.values(yv), .beat(out_data));
endmodule

// Global sum pool: per channel the sum over all PIXELS pixels; the sums of channel group g are
// written in the op that reads the last pixel's group g.
module bireal_global_sum_pool #(
    parameter PE = 1,
    parameter GROUPS = 1,
    parameter PIXELS = 1,
    parameter IKIND = 0, parameter IBITS = 8, parameter ISIGNED = 1,
    parameter OBITS = 16,
    parameter VW = 18
) (
    input  wire clk,
    input  wire rst,
    input  wire [(IKIND == 1 ? PE : PE * IBITS)-1:0] in_data,
    input  wire in_valid,
    output wire in_ready,
    output wire [PE*OBITS-1:0] out_data,
    output wire out_valid,
    input  wire out_ready
);
    localparam GW = GROUPS > 1 ? $clog2(GROUPS) : 1;
    reg [PE*VW-1:0] sums [0:GROUPS-1];
    reg [GW-1:0] g;
    localparam XW = PIXELS > 1 ? $clog2(PIXELS) : 1;
    reg [XW-1:0] px;
    wire last = px == PIXELS - 1;
    wire fire = in_valid && (!last || out_ready);
    assign in_ready = fire;
    assign out_valid = fire && last;
    wire [PE*VW-1:0] xv, nv;
    wire [PE*VW-1:0] old = sums[g];
    bireal_unpack #(.N(PE), .BITS(IBITS), .SIGNED(ISIGNED), .KIND(IKIND), .VW(VW)) ux (.beat(in_data), .values(xv));
    genvar p;
    generate
        for (p = 0; p < PE; p = p + 1) begin : lane
            assign nv[p*VW +: VW] = (px == 0 ? {VW{1'b0}} : old[p*VW +: VW]) + xv[p*VW +: VW];
        end
    endgenerate
    bireal_pack #(.N(PE), .BITS(OBITS), .KIND(0), .VW(VW)) po (.values(nv), .beat(out_data));
    always @(posedge clk) begin
        if (rst) begin
            g <= 0;
            px <= 0;
        end else if (fire) begin
            sums[g] <= nv;
            if (g == GROUPS - 1) begin
                g <= 0;
                px <= last ? {XW{1'b0}} : px + 1'b1;
            end else g <= g + 1'b1;
        end
    end
endmodule

// Width converter: beats of A elements -> beats of B elements (BITS each), in order. It reads
// every op when A <= B, else while it holds fewer than B elements; it writes in the same op
// as soon as it holds B (sim/schedule.py's _dwc). The count n of elements held runs through a
// fixed cycle of values (compiler/hw/kernels/width.py, converter_counts): REACH has bit v set
// for each count v at which it reads, so the input beat is placed at those offsets only (a
// multiplexer of |REACH| inputs per bit, not a barrel shifter over every count). Where one
// width divides the other, a shift register instead: B/A beats gathered with no multiplexer, or
// A/B beats scattered through a 2:1 multiplexer per bit (the same counts and cycles).
module bireal_dwc #(
    parameter A = 1,
    parameter B = 1,
    parameter BITS = 1,
    parameter REACH = 1
) (
    input  wire clk,
    input  wire rst,
    input  wire [A*BITS-1:0] in_data,
    input  wire in_valid,
    output wire in_ready,
    output wire [B*BITS-1:0] out_data,
    output wire out_valid,
    input  wire out_ready
);
    // Where one width divides the other the converter is a shift register stepped by a counter
    // of the R beats of its cycle, with the one state that matters (the gathering's last input,
    // the scattering's first output) kept in a flip-flop: the data multiplexers' select is then one
    // register, not a compare of a count, which synthesis would copy into every bit's LUT.
    localparam R = (A < B) ? B / A : A / B;
    localparam KW = (R > 2) ? $clog2(R) : 1;
    generate
        if (A < B && B % A == 0) begin : gather
            // R beats per output: each read shifts the held elements down by A and puts the beat
            // on top; the output is the beat above the B - A held (no multiplexer)
            reg [KW-1:0] k;
            reg last;  // k == R - 1: this beat completes the output
            wire fire = in_valid && (!last || out_ready);
            assign in_ready = fire;
            assign out_valid = fire && last;
            always @(posedge clk) begin
                if (rst) begin
                    k <= 0;
                    last <= (R == 1);
                end else if (fire) begin
                    k <= last ? {KW{1'b0}} : k + 1'b1;
                    last <= last ? (R == 1) : (k == R - 2);
                end
            end
            reg [(B-A)*BITS-1:0] held;
            assign out_data = {in_data, held};
            if (B - A > A) begin : deep
                always @(posedge clk) if (fire && !last) held <= {in_data, held[(B-A)*BITS-1:A*BITS]};
            end else begin : one
                always @(posedge clk) if (fire && !last) held <= in_data;
            end
        end else if (A > B && A % B == 0) begin : scatter
            // R output beats per input: the first straight from the beat, the rest from the
            // A - B elements held, shifted down by B per output
            reg [KW-1:0] k;
            reg first;  // k == 0: this output reads the input beat
            wire fire = (!first || in_valid) && out_ready;
            assign in_ready = fire && first;
            assign out_valid = fire;
            always @(posedge clk) begin
                if (rst) begin
                    k <= 0;
                    first <= 1'b1;
                end else if (fire) begin
                    k <= (k == R - 1) ? {KW{1'b0}} : k + 1'b1;
                    first <= (k == R - 1);
                end
            end
            reg [(A-B)*BITS-1:0] held;
            assign out_data = first ? in_data[B*BITS-1:0] : held[B*BITS-1:0];
            always @(posedge clk)
                if (fire) held <= first ? in_data[A*BITS-1:B*BITS] : held >> (B * BITS);
        end else begin : general
            localparam CAP = A + B;
            localparam NW = $clog2(CAP + 1);
            reg [NW-1:0] n;
            wire rd = (A <= B) || (n < B);
            wire [NW-1:0] total = n + (rd ? A[NW-1:0] : {NW{1'b0}});
            wire wr = total >= B;
            wire fire = (!rd || in_valid) && (!wr || out_ready);
            assign in_ready = fire && rd;
            assign out_valid = fire && wr;
            always @(posedge clk) begin
                if (rst) n <= 0;
                else if (fire) n <= wr ? total - B[NW-1:0] : total;
            end
            reg [CAP*BITS-1:0] held;
            wire [CAP*BITS-1:0] merged;  // the beat placed at n elements (a read needs n < B or A <= B: n <= B)
            bireal_place #(.U(BITS), .W(A*BITS), .CAP(CAP), .NW(NW), .MAXV(B), .REACH(REACH)) place (
                .held(held), .beat(in_data), .n(n), .en(rd), .merged(merged));
            assign out_data = merged[B*BITS-1:0];
            always @(posedge clk) begin
                if (rst) held <= 0;
                else if (fire) held <= wr ? merged >> (B * BITS) : merged;
            end
        end
    endgenerate
endmodule

// Matrix-vector unit (FINN's MVAU), PE x SIMD folded: MH = NF*PE outputs of MW = SF*SIMD inputs
// for each of PIXELS input vectors. Ops (pixel, neuron fold, synapse fold) in that loop order,
// one per cycle: the input beat is read on neuron fold 0 and kept for the other folds; the output
// beat (PE channels) is pushed on the last synapse fold and written T (+ LEVELS) cycles later:
// per lane a pipelined tree (T register stages) sums the op's SIMD products into the accumulator,
// then the threshold search takes one register stage per level (MatrixVector.pipeline_stages).
//   BINARY   XNOR-popcount of bipolar inputs (IKIND 1) or ternary ones (IKIND 2: padded taps
//            count 0) with 1-bit weights (1: +1)
//   else     integer MACs: WBITS-bit two's complement weights, or with WBITS 1 sign bits
//            (1: +1), the input added or subtracted (no multiplier)
//   THRESH   QMIN + STEP * (thresholds reached by direction * acc); else acc (+ bias if BIAS)
// Per lane p: a weight ROM of NF*SF words (word nf*SF + sf: SIMD weights of WBITS bits), file
// WEIGHTS_ppp.mem, and the threshold ROMs of its search stages, THRESHOLDS_ppp_lSS.mem
// (bireal_threshold_search); directions and biases: ROMs of NF words, lane p's field p.
module bireal_mvu #(
    parameter PE = 1,
    parameter SIMD = 1,
    parameter SF = 1,
    parameter NF = 1,
    parameter PIXELS = 1,
    parameter BINARY = 1,
    parameter IKIND = 1, parameter IBITS = 1, parameter ISIGNED = 1,
    parameter WBITS = 1,
    parameter LUTMAC = 0, // narrow products (the cost model's LUT MACs): shift and add, no multiplier
    parameter ACC = 16,   // accumulator bits (signed, holds every partial sum)
    parameter THRESH = 1,
    parameter LEVELS = 1,
    parameter TB = 18,
    parameter QMIN = -1,
    parameter STEP = 2,
    parameter BIAS = 0,
    parameter BB = 8,
    parameter OKIND = 1, parameter OBITS = 1,
    parameter OW = 18,    // bits of an output value before packing (signed)
    parameter WEIGHTS = "weights",       // file name prefix: WEIGHTS_000.mem ... one per lane
    parameter WSTYLE = 0,                // the weight ROMs: 0 the synthesizer's choice, 1 block RAM
    parameter THRESHOLDS = "thresholds", // likewise
    parameter TSTYLE = 0,                // bit s: threshold search stage s in block RAM
    parameter AFFINE = 0,                // the thresholds as a multiply-add (bireal_requant)
    parameter RQV = 2,                   // bits of every reachable accumulator (the multiplier's input)
    parameter RQM = 2, parameter RQB = 2, parameter RQW = 16, parameter RQS = 0, parameter RQN = 1,
    parameter RQSTYLE = 0,
    parameter REQUANT = "requant",       // file name prefix: REQUANT_000.mem ... one per lane
    parameter DIRECTIONS = "directions.mem",
    parameter BIASES = "bias.mem",
    parameter BSTYLE = 0,                // the bias ROM: bireal_rom's STYLE (0 the synthesizer's)
    parameter TREE_PER = 4,              // adder levels per register stage (TREE_LEVELS_PER_STAGE)
    parameter PACK = 0                   // lanes 2i, 2i+1 share a DSP per input (MatrixVector.packed)
) (
    input  wire clk,
    input  wire rst,
    input  wire [(IKIND == 2 ? 2 * SIMD : (IKIND == 1 ? SIMD : SIMD * IBITS))-1:0] in_data,
    input  wire in_valid,
    output wire in_ready,
    output wire [(OKIND == 1 ? PE : PE * OBITS)-1:0] out_data,
    output wire out_valid,
    input  wire out_ready
);
    localparam IW = IKIND == 2 ? 2 * SIMD : (IKIND == 1 ? SIMD : SIMD * IBITS);
    localparam LW = SIMD * WBITS;          // weight bits per lane per tile
    localparam TILES = NF * SF;
    localparam XW = IBITS + 1;             // a decoded input (signed)
    localparam SW = SF > 1 ? $clog2(SF) : 1;
    localparam NFW = NF > 1 ? $clog2(NF) : 1;
    localparam TLW = TILES > 1 ? $clog2(TILES) : 1;

    reg [PE*2-1:0] dir_rom [0:NF-1];
    generate
        if (THRESH && !AFFINE) begin : directions
            initial $readmemh(DIRECTIONS, dir_rom);
        end
    endgenerate

    reg [SW-1:0] sf;
    reg [NFW-1:0] nf;
    reg [TLW-1:0] tile;
    reg [IW-1:0] inbuf [0:SF-1];
    // nf == 0, from a register of its own: computed from nf, the compare is copied by ABC into
    // the function of every input bit it selects (8 x 576 lanes: a 9-input function each, 4,608
    // MUXF9 trees); one flip-flop selects them all
    reg nf_zero;
    wire first_fold = NF == 1 || nf_zero;
    wire last_synapse = sf == SF - 1;
    wire fire = (!first_fold || in_valid) && (!last_synapse || out_ready);
    assign in_ready = fire && first_fold;
    assign out_valid = fire && last_synapse;

    // stage 0, the op's cycle: the input and each lane's weights -> its tree's leaves
    wire [IW-1:0] x = first_fold ? in_data : inbuf[sf];
    wire [SIMD*XW-1:0] xv;  // the inputs as signed values (integer MACs)
    bireal_unpack #(.N(SIMD), .BITS(IBITS), .SIGNED(ISIGNED), .KIND(IKIND), .VW(XW)) ux (.beat(x), .values(xv));
    wire [SIMD-1:0] valid = IKIND == 2 ? x[IW-1 -: SIMD] : {SIMD{1'b1}};
    // the tree (bireal_tree): 6-input XNOR-popcount groups or one product per input, T stages
    localparam LEAVES = BINARY ? (SIMD + 5) / 6 : SIMD;
    // AGREE: a binary unit whose weights change from op to op or whose inputs are ternary
    // registers each lane's agree bits (x XNOR w, and valid), in place of the tree's leaf
    // register, and counts them; the valid inputs are counted once for all lanes, and a lane's
    // sum is 2 agreeing - valid. Its leaves as one function of x, w and valid, ABC maps each
    // count bit as a function of 18 inputs (PE 8 x SIMD 576: 41,044 LUTs, docs/hardware.md).
    localparam AGREE = BINARY && (IKIND == 2 || NF * SF > 1);
    localparam LB = BINARY ? 4 : (WBITS == 1 ? XW + 1 : XW + WBITS);  // bits per leaf (signed)
    localparam TLEV = LEAVES > 1 ? $clog2(LEAVES) : 0;
    localparam T = 1 + (TLEV + TREE_PER - 1) / TREE_PER + PACK;  // PACK: the packed product's register
    // the op's flags when its partial sums leave the trees: {nf, last synapse fold, first, fired}
    wire [NFW+2:0] at;
    bireal_delay #(.W(NFW + 3), .N(T)) flags (.clk(clk), .rst(rst), .d({nf, last_synapse, sf == 0, fire}), .q(at));
    wire a_fired = at[0], a_first = at[1];
    wire [NFW-1:0] a_nf = at[3 +: NFW];
    wire [PE*2-1:0] dir = dir_rom[a_nf];
    wire [PE*BB-1:0] bias;
    generate
        if (BIAS) begin : biases  // where the cost model placed it (a deep one: block RAM or LUTs)
            bireal_rom #(.W(PE*BB), .D(NF), .AW(NFW), .STYLE(BSTYLE), .FILE(BIASES)) rom (.addr(a_nf), .data(bias));
        end else begin : no_biases
            assign bias = {PE*BB{1'b0}};
        end
    endgenerate
    wire [PE*OW-1:0] y;

    // AGREE: the valid inputs of the op, counted as the lanes count their agreeing ones (a
    // constant SIMD for bipolar inputs), T stages later
    wire signed [ACC-1:0] counted_all;
    generate
        if (AGREE && IKIND == 2) begin : count_valid
            reg [SIMD-1:0] vr;
            always @(posedge clk) vr <= valid;
            wire [LEAVES*LB-1:0] vleaves;
            bireal_count_groups #(.N(SIMD), .LB(LB)) count (.bits(vr), .leaves(vleaves));
            bireal_tree #(.N(LEAVES), .W(LB), .OW(ACC), .MAX(0), .PER(TREE_PER), .LAST_REG(1), .LEAF_REG(0)) vtree (
                .clk(clk), .leaves(vleaves), .valid({LEAVES{1'b1}}), .result(counted_all));
        end else begin : all_valid
            assign counted_all = SIMD;
        end
    endgenerate

    wire [PE*LW-1:0] wall;             // every lane's weights (a packed pair reads its partner's)
    wire [PE*SIMD*LB-1:0] packed_high;  // a pair's second products, computed in its first lane
    genvar p, q;
    generate
        for (p = 0; p < PE; p = p + 1) begin : lane
            // this lane's ROMs: WEIGHTS_ppp.mem (a word per tile), THRESHOLDS_ppp.mem (a word per neuron fold)
            localparam [7:0] D2 = 48 + p / 100, D1 = 48 + (p / 10) % 10, D0 = 48 + p % 10;
            localparam [23:0] LANE = {D2, D1, D0};  // the lane's number, 3 digits
            wire [LW-1:0] w;
            bireal_rom #(.W(LW), .D(TILES), .AW(TLW), .STYLE(WSTYLE), .FILE({WEIGHTS, "_", LANE, ".mem"})) weights (
                .addr(tile), .data(w));
            assign wall[p*LW +: LW] = w;
            if (!(PACK && !BINARY && !LUTMAC && WBITS > 1 && p % 2 == 1)) begin : no_partner
                assign packed_high[p*SIMD*LB +: SIMD*LB] = {(SIMD*LB){1'b0}};  // not read
            end
            wire [LEAVES*LB-1:0] leaves;
            if (AGREE) begin : agree_bits  // the op's agree bits, registered, counted in groups of 6
                reg [SIMD-1:0] r;
                always @(posedge clk) r <= ~(x[SIMD-1:0] ^ w[SIMD-1:0]) & valid;
                bireal_count_groups #(.N(SIMD), .LB(LB)) count (.bits(r), .leaves(leaves));
            end
            for (q = 0; q < LEAVES && !AGREE; q = q + 1) begin : leaf
                if (BINARY) begin : xnor_popcount
                    // x * w = +1 where they agree, -1 where not, 0 for a padded tap, over inputs
                    // 6q .. 6q+5: 2 * popcount(agree & valid) - popcount(valid)
                    localparam G = SIMD - 6 * q < 6 ? SIMD - 6 * q : 6;
                    wire [G-1:0] v = valid[6*q +: G];
                    wire [G-1:0] agree = ~(x[6*q +: G] ^ w[6*q +: G]) & v;
                    wire [3:0] agreeing = $countones(agree);
                    wire [3:0] counted = $countones(v);
                    assign leaves[q*LB +: LB] = (agreeing << 1) - counted;
                end else begin : mac
                    wire signed [XW-1:0] xe = $signed(xv[q*XW +: XW]);
                    if (WBITS == 1) begin : sign  // a sign bit: the input added or subtracted
                        assign leaves[q*LB +: LB] = w[q] ? {xe[XW-1], xe} : -{xe[XW-1], xe};
                    end else if (LUTMAC) begin : shift_add
                        // shift and add over the narrower operand's bits (its top bit subtracts),
                        // the other shifted: LUTs, as few adders in series as that operand has bits
                        wire signed [WBITS-1:0] wq = w[q*WBITS +: WBITS];
                        reg signed [LB-1:0] prod;
                        integer j;
                        always @* begin
                            prod = 0;
                            if (XW <= WBITS) begin
                                for (j = 0; j < XW; j = j + 1)
                                    if (xe[j]) prod = (j == XW - 1) ? prod - (wq <<< j) : prod + (wq <<< j);
                            end else begin
                                for (j = 0; j < WBITS; j = j + 1)
                                    if (wq[j]) prod = (j == WBITS - 1) ? prod - (xe <<< j) : prod + (xe <<< j);
                            end
                        end
                        assign leaves[q*LB +: LB] = prod;
                    end else if (PACK && p % 2 == 0) begin : packed_low
                        // one DSP48E2 for this lane and the next: (w_next * 2**18 + w) * x, its
                        // product registered (the DSP's M register); w * x is the low 18 bits
                        // sign-extended (|w x| < 2**17), w_next * x the rest plus their sign bit
                        wire signed [WBITS-1:0] wl = w[q*WBITS +: WBITS];
                        wire signed [WBITS-1:0] wh = wall[(p+1)*LW + q*WBITS +: WBITS];
                        wire signed [26:0] wp = ($signed({{(27-WBITS){wh[WBITS-1]}}, wh}) <<< 18) + wl;
                        reg signed [44:0] prod;
                        always @(posedge clk) prod <= wp * xe;
                        wire signed [17:0] low = prod[17:0];
                        wire signed [26:0] high = (prod >>> 18) + {26'b0, prod[17]};
                        wire signed [LB-1:0] low_leaf = low, high_leaf = high;  // both fit LB bits
                        assign leaves[q*LB +: LB] = low_leaf;
                        assign packed_high[((p+1)*SIMD + q)*LB +: LB] = high_leaf;
                    end else if (PACK) begin : packed_high_lane  // computed in lane p - 1
                        assign leaves[q*LB +: LB] = packed_high[(p*SIMD + q)*LB +: LB];
                    end else begin : multiply  // a DSP48E2 (the leaf register: its M register)
                        assign leaves[q*LB +: LB] = xe * $signed(w[q*WBITS +: WBITS]);
                    end
                end
            end
            wire signed [ACC-1:0] partial;
            bireal_tree #(.N(LEAVES), .W(LB), .OW(ACC), .MAX(0), .PER(TREE_PER), .LAST_REG(1), .LEAF_REG(!AGREE),
                         .CHAIN(!BINARY && !LUTMAC)) tree (
                .clk(clk), .leaves(leaves), .valid({LEAVES{1'b1}}), .result(partial));
            // AGREE: 2 agreeing - valid, in ACC bits (the true sum fits them: the wrap is exact)
            wire signed [ACC-1:0] term = AGREE ? (partial <<< 1) - counted_all : partial;
            // stage T: accumulate (restarting on synapse fold 0)
            reg signed [ACC-1:0] acc;
            wire signed [ACC-1:0] sum = (a_first ? {ACC{1'b0}} : acc) + term;
            always @(posedge clk) if (a_fired) acc <= sum;
            if (THRESH && AFFINE) begin : requant  // REQUANT_STAGES (2) more stages
                bireal_requant #(.GROUPS(NF), .VW(RQV), .MB(RQM), .BB(RQB), .SW(RQW), .S(RQS), .N(RQN), .OW(OW),
                                 .QMIN(QMIN), .STEP(STEP), .STYLE(RQSTYLE), .FILE({REQUANT, "_", LANE, ".mem"})) rq (
                    .clk(clk), .group({{(32-NFW){1'b0}}, a_nf}), .x(sum[RQV-1:0]), .y(y[p*OW +: OW]));
            end else if (THRESH) begin : thresholds  // LEVELS more stages
                bireal_threshold_search #(.LEVELS(LEVELS), .GROUPS(NF), .TB(TB), .VW(ACC), .OW(OW), .QMIN(QMIN),
                                          .STEP(STEP), .PREFIX({THRESHOLDS, "_", LANE}), .TSTYLE(TSTYLE)) search (
                    .clk(clk), .group({{(32-NFW){1'b0}}, a_nf}), .direction(dir[p*2 +: 2]), .x(sum), .y(y[p*OW +: OW]));
            end else if (BIAS) begin : biased
                assign y[p*OW +: OW] = {{(OW-ACC){sum[ACC-1]}}, sum} + {{(OW-BB){bias[p*BB+BB-1]}}, bias[p*BB +: BB]};
            end else begin : plain
                assign y[p*OW +: OW] = {{(OW-ACC){sum[ACC-1]}}, sum};
            end
        end
    endgenerate
    bireal_pack #(.N(PE), .BITS(OBITS), .KIND(OKIND), .VW(OW)) po (.values(y), .beat(out_data));

    always @(posedge clk) begin
        if (rst) begin
            sf <= 0;
            nf <= 0;
            nf_zero <= 1'b1;
            tile <= 0;
        end else if (fire) begin
            if (first_fold) inbuf[sf] <= in_data;
            tile <= (tile == TILES - 1) ? {TLW{1'b0}} : tile + 1'b1;
            if (last_synapse) begin
                sf <= 0;
                nf <= (nf == NF - 1) ? {NFW{1'b0}} : nf + 1'b1;
                nf_zero <= nf == NF - 1;
            end else sf <= sf + 1'b1;
        end
    end
endmodule

// The ones in each group of 6 of N bits (the last group N mod 6 where that is not 0), as LB-bit
// leaves (a sum of bits: Verilator 5.006's DFG optimizer fails on $countones of a register's slice).
module bireal_count_groups #(
    parameter N = 6,
    parameter LB = 4
) (
    input  wire [N-1:0]                  bits,
    output wire [((N + 5) / 6)*LB-1:0]   leaves
);
    wire [((N + 5) / 6)*6-1:0] b;
    assign b[N-1:0] = bits;
    genvar g;
    generate
        if (N % 6 != 0) begin : pad
            assign b[((N + 5) / 6)*6-1:N] = 0;
        end
        for (g = 0; g < (N + 5) / 6; g = g + 1) begin : group
            wire [3:0] n = {3'b0, b[6*g]} + {3'b0, b[6*g+1]} + {3'b0, b[6*g+2]} + {3'b0, b[6*g+3]}
                         + {3'b0, b[6*g+4]} + {3'b0, b[6*g+5]};
            assign leaves[g*LB +: LB] = n;
        end
    endgenerate
endmodule

// Pipelining: a delay line, and a balanced reduction tree with register stages
// (compiler/hw/kernels/base.py: tree_stages; sim/ delays each kernel's beats by as many cycles).

// d delayed N cycles (N = 0: a wire); reset to 0.
module bireal_delay #(
    parameter W = 1,
    parameter N = 1
) (
    input  wire         clk,
    input  wire         rst,
    input  wire [W-1:0] d,
    output wire [W-1:0] q
);
    generate
        if (N == 0) begin : through
            assign q = d;
        end else begin : line
            reg [N*W-1:0] r;
            always @(posedge clk)
                if (rst) r <= 0;
                else if (N == 1) r <= d;
                else r <= {r[N*W-1-(N > 1 ? W : 0):0], d};
            assign q = r[N*W-1 -: W];
        end
    endgenerate
endmodule

// The sum (MAX 0) or the largest (MAX 1) of the valid ones of N signed W-bit leaves, reduced in
// pairs level by level (an odd one passes on): a balanced tree of ceil(log2 N) levels.
// Registers: the leaves (unless LEAF_REG is 0: the caller registers what they are computed from),
// after every PER levels, and after the last level where LAST_REG; latency
// tree_stages(N, PER, LAST_REG) cycles (one less without the leaf register). A sum's invalid leaves count 0 and its level l holds
// W + l bits (a sum of 2**l leaves cannot overflow them); the largest keeps W bits and a valid
// flag. The result is OW bits (sign-extended or truncated: the caller's width holds every
// reachable result). A node's slot in `lv` is E bits, {value, valid} in its low bits, the rest 0.
// CHAIN 1: every adder on a carry chain of its own (bireal_chain_add). Yosys' alumacc merges a tree of
// adds with no register between them into one multi-operand $macc, which maccmap builds as a
// carry-save tree in LUTs (9 products of 19 bits: 617 LUT6 and 502 MUXF against 159 LUTs and 44
// CARRY4 as separate adds).
module bireal_tree #(
    parameter N = 1,
    parameter W = 1,
    parameter OW = 1,
    parameter MAX = 0,
    parameter PER = 4,
    parameter LAST_REG = 1,
    parameter LEAF_REG = 1,
    parameter CHAIN = 0
) (
    input  wire          clk,
    input  wire [N*W-1:0] leaves,
    input  wire [N-1:0]  valid,
    output wire [OW-1:0] result
);
    localparam LEVELS = N > 1 ? $clog2(N) : 0;
    localparam TW = W + (MAX ? 0 : LEVELS);
    localparam E = TW + 1;
    wire [(LEVELS+1)*N*E-1:0] lv /*verilator split_var*/;
    genvar l, i;
    generate
        for (i = 0; i < N; i = i + 1) begin : leaf
            wire [W-1:0] x = leaves[i*W +: W];
            reg [W-1:0] q;
            if (MAX) begin : flagged
                reg v;
                always @(posedge clk) {q, v} <= {x, valid[i]};
                assign lv[i*E +: W+1] = {q, v};
            end else if (LEAF_REG) begin : zeroed
                always @(posedge clk) q <= valid[i] ? x : {W{1'b0}};
                assign lv[i*E +: W+1] = {q, 1'b1};
            end else begin : direct
                assign lv[i*E +: W+1] = {valid[i] ? x : {W{1'b0}}, 1'b1};
            end
            if (E > W + 1) begin : pad
                assign lv[i*E + W + 1 +: E - W - 1] = 0;
            end
        end
        for (l = 1; l <= LEVELS; l = l + 1) begin : level
            localparam M = (N + (1 << l) - 1) >> l;              // nodes at this level
            localparam P = (N + (1 << (l - 1)) - 1) >> (l - 1);  // at the level before
            localparam VA = MAX ? W : W + l - 1;                 // value bits at the level before
            localparam VS = MAX ? W : W + l;                     // at this level
            for (i = 0; i < M; i = i + 1) begin : node
                wire [E-1:0] a = lv[((l-1)*N + 2*i)*E +: E];
                wire [VA-1:0] av = a[VA:1];
                wire [VS:0] s;  // {value, valid}
                if (2 * i + 1 < P) begin : pair
                    wire [E-1:0] b = lv[((l-1)*N + 2*i + 1)*E +: E];
                    wire [VA-1:0] bv = b[VA:1];
                    if (MAX) begin : larger
                        wire take_a = a[0] && (!b[0] || $signed(av) >= $signed(bv));
                        assign s = {take_a ? av : bv, a[0] | b[0]};
                    end else if (CHAIN) begin : add_apart
                        wire [VS-1:0] sum;
                        bireal_chain_add #(.W(VA)) add (.a(av), .b(bv), .s(sum));
                        assign s = {sum, 1'b1};
                    end else begin : add
                        wire [VS-1:0] sum = {av[VA-1], av} + {bv[VA-1], bv};
                        assign s = {sum, 1'b1};
                    end
                end else begin : odd
                    if (MAX) begin : pass
                        assign s = a[VS:0];
                    end else begin : widen
                        assign s = {av[VA-1], av, 1'b1};
                    end
                end
                if ((l % PER == 0 && l < LEVELS) || (l == LEVELS && LAST_REG)) begin : staged
                    reg [VS:0] q;
                    always @(posedge clk) q <= s;
                    assign lv[(l*N + i)*E +: VS+1] = q;
                end else begin : direct
                    assign lv[(l*N + i)*E +: VS+1] = s;
                end
                if (E > VS + 1) begin : pad
                    assign lv[(l*N + i)*E + VS + 1 +: E - VS - 1] = 0;
                end
            end
            if (M < N) begin : unused
                assign lv[(l*N + M)*E +: (N-M)*E] = 0;
            end
        end
        wire [TW-1:0] top = lv[LEVELS*N*E + 1 +: TW];
        if (OW > TW) begin : widen
            assign result = {{(OW-TW){top[TW-1]}}, top};
        end else begin : narrow
            assign result = top[OW-1:0];
        end
    endgenerate
endmodule

// a + b, signed W-bit operands, W + 1 bits. A module of its own under Yosys (the synthesis script
// flattens it into its kernel after mapping), so that alumacc sees one add: a tree's adds on
// carry chains (bireal_tree's CHAIN).
`ifdef YOSYS
(* keep_hierarchy *)
`endif
module bireal_chain_add #(
    parameter W = 1
) (
    input  wire [W-1:0] a,
    input  wire [W-1:0] b,
    output wire [W:0]   s
);
    assign s = {a[W-1], a} + {b[W-1], b};
endmodule

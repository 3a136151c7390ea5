// One lane's threshold unit: the count of a channel's ascending thresholds that direction * x
// reaches, as QMIN + STEP * count; a binary search over 2**LEVELS - 1 thresholds (padded above
// every input), one ROM per stage: stage s holds 2**s thresholds of each of GROUPS channels
// (file PREFIX_lSS.mem, word g * 2**s + j: threshold j * 2**(LEVELS-s) + 2**(LEVELS-1-s) - 1 of
// channel group g), read at the count the stages before it found. Pipelined: direction * x is
// registered in its cycle (with the group), and each stage but the last registers its count, so
// y is that of the x of LEVELS cycles before (Thresholding.pipeline_stages). Stage s's address
// {group, count so far} comes from registers, so a stage the cost model placed in block RAM
// (TSTYLE) is one; a stage it placed in LUTs is asked for logic.
module bireal_threshold_search #(
    parameter LEVELS = 1,
    parameter GROUPS = 1,
    parameter TB = 8,    // bits per threshold (signed, wider than every direction * x)
    parameter VW = 8,    // bits of x (signed)
    parameter OW = 8,    // bits of the result (signed)
    parameter QMIN = 0,
    parameter STEP = 1,
    parameter PREFIX = "thresholds",
    parameter TSTYLE = 0  // bits 2s+1..2s: stage s's ROM's bireal_rom STYLE (the cost model's placement)
) (
    input  wire                 clk,
    input  wire [31:0]          group,
    input  wire [1:0]           direction,  // +1, -1 or 0 (two's complement)
    input  wire signed [VW-1:0] x,
    output wire signed [OW-1:0] y
);
    localparam CW = LEVELS + 1;
    localparam GW = GROUPS > 1 ? $clog2(GROUPS) : 1;
    wire signed [TB-1:0] xs = {{(TB-VW){x[VW-1]}}, x};
    // per stage s: the value, the group and the count found before it, registered
    wire [LEVELS*TB-1:0] v /*verilator split_var*/;
    wire [LEVELS*GW-1:0] g /*verilator split_var*/;
    wire [(LEVELS+1)*CW-1:0] count /*verilator split_var*/;
    reg signed [TB-1:0] v0;
    reg [GW-1:0] g0;
    always @(posedge clk) begin
        v0 <= direction == 2'b11 ? -xs : (direction == 2'b00 ? {TB{1'b0}} : xs);
        g0 <= group[GW-1:0];
    end
    assign v[TB-1:0] = v0;
    assign g[GW-1:0] = g0;
    assign count[CW-1:0] = 0;
    genvar s;
    generate
        for (s = 0; s < LEVELS; s = s + 1) begin : stage
            localparam [7:0] S1 = 48 + s / 10, S0 = 48 + s % 10;
            wire [CW-1:0] found = count[s*CW +: CW];
            // word g * 2**s + the s bits found so far: a concatenation of registers, which a block
            // RAM's address register absorbs
            wire [GW+s-1:0] addr;
            if (s == 0) begin : first
                assign addr = g[GW-1:0];
            end else begin : later
                assign addr = {g[s*GW +: GW], found[LEVELS-1 -: (s > 0 ? s : 1)]};
            end
            wire signed [TB-1:0] t;
            bireal_rom #(.W(TB), .D(GROUPS*(1<<s)), .AW(GW+s), .STYLE((TSTYLE >> (2*s)) & 3),
                         .FILE({PREFIX, "_l", S1, S0, ".mem"})) rom (.addr(addr), .data(t));
            wire signed [TB-1:0] vs = v[s*TB +: TB];
            wire [CW-1:0] next = t <= vs ? found + (1 << (LEVELS - 1 - s)) : found;
            if (s == LEVELS - 1) begin : last
                assign count[(s+1)*CW +: CW] = next;
            end else begin : staged
                reg [CW-1:0] cq;
                reg signed [TB-1:0] vq;
                reg [GW-1:0] gq;
                always @(posedge clk) begin
                    cq <= next;
                    vq <= vs;
                    gq <= g[s*GW +: GW];
                end
                assign count[(s+1)*CW +: CW] = cq;
                assign v[(s+1)*TB +: TB] = vq;
                assign g[(s+1)*GW +: GW] = gq;
            end
        end
    endgenerate
    assign y = QMIN + STEP * $signed({1'b0, count[LEVELS*CW +: CW]});
endmodule

// A ROM ($readmemh FILE) read at `addr`: STYLE 1 asks for block RAM, 2 for LUTs (the cost
// model's placement, compiler/hw/cost.py), 0 leaves it to the synthesizer. Never URAM: an
// UltraScale+ URAM has no initial contents. Read
// combinationally: a block RAM needs `addr` to come straight from a register (a matrix unit's
// tile counter), whose next value the synthesizer then reads one cycle early.
module bireal_rom #(
    parameter W = 1,
    parameter D = 1,
    parameter AW = 1,
    parameter STYLE = 0,
    parameter FILE = "rom.mem"
) (
    input  wire [AW-1:0] addr,
    output wire [W-1:0]  data
);
    generate
        if (STYLE == 1) begin : block
            (* rom_style = "block", ram_style = "block" *) reg [W-1:0] rom [0:D-1];
            initial $readmemh(FILE, rom);
            assign data = rom[addr];
        end else if (STYLE == 2) begin : lut
            bireal_rom_logic #(.W(W), .D(D), .AW(AW), .FILE(FILE)) rom (.addr(addr), .data(data));
        end else begin : any
            reg [W-1:0] rom [0:D-1];
            initial $readmemh(FILE, rom);
            assign data = rom[addr];
        end
    endgenerate
endmodule

// A ROM in LUTs. Under Yosys it is synthesized as a module of its own (keep_hierarchy; the
// synthesis script flattens it into its kernel afterwards): without that boundary ABC maps a
// binary unit's ROM and its XNOR-popcount as one function of the input and the tile address,
// e.g. 80,108 LUTs (MUXF7-9 trees) for a PE 8 x SIMD 1,152 unit with 16-word ROMs whose ROMs
// and logic take a third of that apart (docs/hardware.md).
`ifdef YOSYS
(* keep_hierarchy *)
`endif
module bireal_rom_logic #(
    parameter W = 1,
    parameter D = 1,
    parameter AW = 1,
    parameter FILE = "rom.mem"
) (
    input  wire [AW-1:0] addr,
    output wire [W-1:0]  data
);
`ifdef YOSYS
    (* rom_style = "logic" *) reg [W-1:0] rom [0:D-1];  // Yosys' name for a ROM in LUTs
`else
    (* rom_style = "distributed" *) reg [W-1:0] rom [0:D-1];  // Vivado's
`endif
    initial $readmemh(FILE, rom);
    assign data = rom[addr];
endmodule

// One lane's requantization as a multiply-add (compiler/ir/affine.py proves it equal to the
// layer's threshold count over the accumulator's whole reachable range at build time):
// y = QMIN + STEP * clamp((M * x + B) >>> S, 0, N), with M and B of channel group `group`: word
// `group` of ROM FILE holds {M (MB bits, signed: the direction folded in), B (BB bits, signed)}.
// Pipelined (MatrixVector.REQUANT_STAGES = 2): the product is registered (a DSP48E2's M
// register), then the sum; y is that of the x of 2 cycles before. `group` comes from a register,
// so a ROM the cost model placed in block RAM (STYLE 1) is one.
module bireal_requant #(
    parameter GROUPS = 1,
    parameter VW = 8,    // bits of x (signed)
    parameter MB = 2,    // bits of M (signed)
    parameter BB = 2,    // bits of B (signed)
    parameter SW = 16,   // bits of M * x + B (signed)
    parameter S = 0,
    parameter N = 1,     // the largest count
    parameter OW = 8,    // bits of the result (signed)
    parameter QMIN = 0,
    parameter STEP = 1,
    parameter STYLE = 0,
    parameter FILE = "requant.mem"
) (
    input  wire                 clk,
    input  wire [31:0]          group,
    input  wire signed [VW-1:0] x,
    output wire signed [OW-1:0] y
);
    localparam GW = GROUPS > 1 ? $clog2(GROUPS) : 1;
    localparam CW = $clog2(N + 1) + 1;
    wire [MB+BB-1:0] word;
    bireal_rom #(.W(MB + BB), .D(GROUPS), .AW(GW), .STYLE(STYLE), .FILE(FILE)) constants (
        .addr(group[GW-1:0]), .data(word));
    wire signed [MB-1:0] m = word[MB+BB-1:BB];
    wire signed [BB-1:0] b = word[BB-1:0];
    reg signed [SW-1:0] product, total;
    reg signed [BB-1:0] bq;
    always @(posedge clk) begin
        product <= m * x;
        bq <= b;
        total <= product + bq;
    end
    wire signed [SW-1:0] f = total >>> S;
    wire signed [CW:0] count = f < 0 ? 0 : (f > N ? N : f[CW:0]);
    assign y = QMIN + STEP * count;
endmodule

// A beat of N stream elements -> N signed values of VW bits (flat, element i at [i*VW +: VW]).
// KIND 0: integer, element i at bits [i*BITS +: BITS], two's complement when SIGNED;
// KIND 1: bipolar, bit i (1: +1, 0: -1); KIND 2: ternary, bit i the sign, bit N+i valid (0: 0).
module bireal_unpack #(
    parameter N = 1,
    parameter BITS = 8,
    parameter SIGNED = 1,
    parameter KIND = 0,
    parameter VW = 10
) (
    input  wire [(KIND == 2 ? 2 * N : N * BITS)-1:0] beat,
    output wire [N*VW-1:0]                          values
);
    genvar i;
    generate
        for (i = 0; i < N; i = i + 1) begin : element
            if (KIND == 1) begin : bipolar
                assign values[i*VW +: VW] = beat[i] ? {{(VW-1){1'b0}}, 1'b1} : {VW{1'b1}};
            end else if (KIND == 2) begin : ternary
                assign values[i*VW +: VW] = !beat[N+i] ? {VW{1'b0}}
                                          : beat[i] ? {{(VW-1){1'b0}}, 1'b1} : {VW{1'b1}};
            end else if (SIGNED) begin : signed_int
                assign values[i*VW +: VW] = {{(VW-BITS){beat[i*BITS+BITS-1]}}, beat[i*BITS +: BITS]};
            end else begin : unsigned_int
                assign values[i*VW +: VW] = {{(VW-BITS){1'b0}}, beat[i*BITS +: BITS]};
            end
        end
    endgenerate
endmodule

// N signed values of VW bits -> a beat: KIND 0 the low BITS bits of each, KIND 1 one bit
// per element (1 where the value is positive).
module bireal_pack #(
    parameter N = 1,
    parameter BITS = 8,
    parameter KIND = 0,
    parameter VW = 10
) (
    input  wire [N*VW-1:0]                  values,
    output wire [(KIND == 1 ? N : N * BITS)-1:0] beat
);
    genvar i;
    generate
        for (i = 0; i < N; i = i + 1) begin : element
            if (KIND == 1) begin : bipolar
                assign beat[i] = !values[i*VW+VW-1] && values[i*VW +: VW] != 0;
            end else begin : integer_element
                assign beat[i*BITS +: BITS] = values[i*VW +: BITS];
            end
        end
    endgenerate
endmodule

// `held` (CAP units of U bits) with the W-bit `beat` placed at unit offset n, where `en` and n is
// one of the counts whose bit is set in REACH (at most MAXV); elsewhere `held` unchanged. A
// multiplexer with one input per reachable count (the width converter's and the input DMA's
// placement: compiler/hw/kernels/width.py, read_counts), not a shifter over every n.
module bireal_place #(
    parameter U = 1,
    parameter W = 1,
    parameter CAP = 1,
    parameter NW = 1,
    parameter MAXV = 0,
    parameter REACH = 1
) (
    input  wire [CAP*U-1:0] held,
    input  wire [W-1:0]     beat,
    input  wire [NW-1:0]    n,
    input  wire             en,
    output reg  [CAP*U-1:0] merged
);
    wire [MAXV:0] at;
    genvar v;
    generate
        for (v = 0; v <= MAXV; v = v + 1) begin : count
            if (((REACH >> v) & 1) != 0) begin : reached
                assign at[v] = en && n == v;
            end else begin : unreached
                assign at[v] = 1'b0;
            end
        end
    endgenerate
    integer i;
    always @* begin
        merged = held;
        for (i = 0; i <= MAXV; i = i + 1)
            if (at[i]) merged[i*U +: W] = beat;
    end
endmodule

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

// One lane's threshold unit: the count of a channel's ascending thresholds that direction * x
// reaches (a binary search over 2**LEVELS - 1 thresholds, padded above every input), as
// QMIN + STEP * count. Combinational: its registers are the FIFO it writes.
module bireal_threshold_search #(
    parameter LEVELS = 1,
    parameter TB = 8,    // bits per threshold (signed, wider than every direction * x)
    parameter VW = 8,    // bits of x (signed)
    parameter OW = 8,    // bits of the result (signed)
    parameter QMIN = 0,
    parameter STEP = 1
) (
    input  wire [((1 << LEVELS) - 1) * TB - 1:0] thresholds,
    input  wire [1:0]                            direction,  // +1, -1 or 0 (two's complement)
    input  wire signed [VW-1:0]                  x,
    output wire signed [OW-1:0]                  y
);
    wire signed [TB-1:0] xs = {{(TB-VW){x[VW-1]}}, x};
    wire signed [TB-1:0] v = direction == 2'b11 ? -xs : (direction == 2'b00 ? {TB{1'b0}} : xs);
    reg [LEVELS:0] count;
    integer s;
    always @* begin
        count = 0;
        for (s = 0; s < LEVELS; s = s + 1)
            if ($signed(thresholds[(count + (1 << (LEVELS - 1 - s)) - 1) * TB +: TB]) <= v)
                count = count + (1 << (LEVELS - 1 - s));
    end
    assign y = QMIN + STEP * $signed({1'b0, count});
endmodule

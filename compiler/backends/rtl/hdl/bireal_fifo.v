// A synchronous FIFO of DEPTH beats of W bits: the stream between two kernels.
// Write side: wr_valid is the writer's push, in the cycle its op fires, and wr_ready (not full,
// from registered state) its room. A push reserves a slot; its data arrives on wr_data LAT cycles
// later (the writer's register stages, compiler/hw kernels' pipeline_stages), when it is stored.
// Read side: rd_valid (not empty) and rd_ready (the reader's pop) are a valid/ready handshake.
// An item stored in cycle c is readable from cycle c+1; a slot freed in cycle c is writable from
// cycle c+1 (no same-cycle bypass): the semantics of sim/schedule.py.
// Simulation only (not SYNTHESIS): the largest occupancy (an item counts from the cycle it is
// pushed through the cycle before it is popped, as sim/ counts it), the cycle of every frame's
// last push (+log), and at the end its fill level (a deadlock's report), largest occupancy and
// a checksum of the beats stored (each stream's values against the IR's).
module bireal_fifo #(
    parameter W = 8,
    parameter DEPTH = 2,
    parameter LAT = 0,   // cycles from a push to its data
    parameter STYLE = 0, // the memory's placement (bireal_ram)
    parameter ITEMS = 1  // beats per frame (simulation log)
) (
    input  wire         clk,
    input  wire         rst,
    input  wire [W-1:0] wr_data,
    input  wire         wr_valid,
    output wire         wr_ready,
    output wire [W-1:0] rd_data,
    output wire         rd_valid,
    input  wire         rd_ready
);
    localparam AW = DEPTH > 1 ? $clog2(DEPTH) : 1;
    localparam CW = $clog2(DEPTH + 1);
    reg [AW-1:0] wp, rp;
    reg [CW-1:0] count;   // slots reserved (pushed, not popped)
    reg [CW-1:0] stored;  // items stored (readable), not popped
    wire push = wr_valid && wr_ready;
    wire pop = rd_valid && rd_ready;
    wire store;           // the push of LAT cycles ago: its data is on wr_data now
    bireal_delay #(.W(1), .N(LAT)) arriving (.clk(clk), .rst(rst), .d(push), .q(store));
    assign wr_ready = count != DEPTH[CW-1:0];
    assign rd_valid = stored != 0;
    bireal_ram #(.W(W), .D(DEPTH), .AW(AW), .R(1), .STYLE(STYLE)) mem (
        .clk(clk), .we(store && !rst), .waddr(wp), .wdata(wr_data), .raddr(rp), .rdata(rd_data));
    always @(posedge clk) begin
        if (rst) begin
            wp <= 0;
            rp <= 0;
            count <= 0;
            stored <= 0;
        end else begin
            if (store) begin
                wp <= (wp == DEPTH - 1) ? {AW{1'b0}} : wp + 1'b1;
            end
            if (pop) rp <= (rp == DEPTH - 1) ? {AW{1'b0}} : rp + 1'b1;
            count <= count + {{(CW-1){1'b0}}, push} - {{(CW-1){1'b0}}, pop};
            stored <= stored + {{(CW-1){1'b0}}, store} - {{(CW-1){1'b0}}, pop};
        end
    end
`ifndef SYNTHESIS
    reg [63:0] cycle;
    reg [31:0] occupancy_max, pushed, frames;
    // a checksum of every beat stored: rotate left by one, XOR the beat's 64-bit words
    reg [63:0] checksum;
    reg [63:0] folded;
    integer i;
    always @* begin
        folded = 0;
        for (i = 0; i < W; i = i + 64) folded = folded ^ (wr_data >> i);
    end
    always @(posedge clk) begin
        if (rst) begin
            cycle <= 0;
            occupancy_max <= 0;
            pushed <= 0;
            frames <= 0;
            checksum <= 0;
        end else begin
            cycle <= cycle + 1;
            if (store) checksum <= {checksum[62:0], checksum[63]} ^ folded;
            if ({{(32-CW){1'b0}}, count} + {31'd0, push} > occupancy_max)
                occupancy_max <= {{(32-CW){1'b0}}, count} + {31'd0, push};
            if (push) begin
                if (pushed == ITEMS - 1) begin
                    if ($test$plusargs("log")) $display("BIREAL_FRAME %m %0d %0d", frames, cycle);
                    pushed <= 0;
                    frames <= frames + 1;
                end else pushed <= pushed + 1;
            end
        end
    end
    final $display("BIREAL_FIFO %m %0d %0d %0d %016x", count, DEPTH, occupancy_max, checksum);
`endif
endmodule

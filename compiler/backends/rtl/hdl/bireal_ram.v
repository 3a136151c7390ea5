// A RAM of D words of W bits: one write port (at the clock) and R read ports (combinational, at
// addresses the callers register: a FIFO's read pointer, a window's tap addresses). STYLE is the
// cost model's placement (compiler/hw/cost.py): 1 distributed RAM, 2 block RAM, 0 the
// synthesizer's choice (no board given, or a memory the model keeps in flip-flops or SRLs).
module bireal_ram #(
    parameter W = 1,
    parameter D = 2,
    parameter AW = 1,
    parameter R = 1,
    parameter STYLE = 0
) (
    input  wire          clk,
    input  wire          we,
    input  wire [AW-1:0] waddr,
    input  wire [W-1:0]  wdata,
    input  wire [R*AW-1:0] raddr,
    output wire [R*W-1:0]  rdata
);
    genvar r;
    generate
        if (STYLE == 2) begin : block
            (* ram_style = "block" *) reg [W-1:0] mem [0:D-1];
            always @(posedge clk) if (we) mem[waddr] <= wdata;
            for (r = 0; r < R; r = r + 1) begin : port
                assign rdata[r*W +: W] = mem[raddr[r*AW +: AW]];
            end
        end else if (STYLE == 1) begin : distributed
            (* ram_style = "distributed" *) reg [W-1:0] mem [0:D-1];
            always @(posedge clk) if (we) mem[waddr] <= wdata;
            for (r = 0; r < R; r = r + 1) begin : port
                assign rdata[r*W +: W] = mem[raddr[r*AW +: AW]];
            end
        end else begin : any
            reg [W-1:0] mem [0:D-1];
            always @(posedge clk) if (we) mem[waddr] <= wdata;
            for (r = 0; r < R; r = r + 1) begin : port
                assign rdata[r*W +: W] = mem[raddr[r*AW +: AW]];
            end
        end
    endgenerate
endmodule

// Window kernels: the sliding-window unit (MODE 0) and the max (1) and sum (2) pools.
// A reader (one input beat of INW elements per op into a line buffer of ROWS = KH + SY rows,
// a ring that runs on across frames) and a writer (one output beat per op), as two processes:
//   the writer's output beat waits until the bottom-right real pixel of its window has been read;
//   the reader's beat J overwrites beat J - ROWS*IW*CG, and waits until the writer has written
//   the last output that uses it (sim/schedule.py's _window and window_dependencies).
// SWU: per output pixel the taps (ky, kx) then channels, TPB buffer words per beat; the sign of
// an integer input taken on the way in (SIGN_IN); padded taps hold PAD (OKIND 0, 1) or are
// invalid (OKIND 2: ternary beats, sign plane then valid plane).
// Pools: per output pixel CG beats of INW channels, each the max or sum over its window's taps
// inside the map.
// An output beat is written pipeline_stages cycles after its op (1 for the SWU; a pool's tree more).
module bireal_window #(
    parameter MODE = 0,
    parameter IH = 1, parameter IW = 1, parameter CG = 1, parameter INW = 1,
    parameter OH = 1, parameter OW = 1,
    parameter KH = 1, parameter KW = 1, parameter SY = 1, parameter SX = 1,
    parameter TOP = 0, parameter LEFT = 0,
    parameter TPB = 1,                  // SWU: buffer words per output beat
    parameter IKIND = 0, parameter IBITS = 8, parameter ISIGNED = 1,
    parameter SIGN_IN = 0,
    parameter SB = 8,                   // stored bits per element
    parameter OKIND = 0, parameter OBITS = 8,
    parameter PAD = 0,                  // SWU: the padding value (OKIND 0: an integer; 1: +1 or -1)
    parameter VW = 10,                  // pools: bits of a reduced value (signed)
    parameter POOL_PER = 2,             // pools: tree levels per register stage (POOL_LEVELS_PER_STAGE)
    parameter LBSTYLE = 0               // the line buffer's placement (bireal_ram)
) (
    input  wire clk,
    input  wire rst,
    input  wire [(IKIND == 1 ? INW : INW * IBITS)-1:0] in_data,
    input  wire in_valid,
    output wire in_ready,
    output wire [(MODE == 0 ? (OKIND == 2 ? 2 * TPB * INW : TPB * INW * SB) : (OKIND == 1 ? INW : INW * OBITS))-1:0] out_data,
    output wire out_valid,
    input  wire out_ready
);
    localparam ROWS = KH + SY;
    localparam EW = INW * SB;                       // a buffer word
    localparam DEPTH = ROWS * IW * CG;
    localparam OPP = MODE == 0 ? KH * KW * CG / TPB : CG;  // output beats per pixel
    localparam N_IN = IH * IW * CG;                 // beats per frame
    localparam N_OUT = OH * OW * OPP;
    localparam NT = KH * KW * CG;

    // narrow counters: beat and op counts run modulo 2**CW (their differences stay far inside
    // +-2**(CW-1)); positions in the map, slots and address offsets in as many bits as they need
    localparam CW = $clog2(2 * (N_IN + N_OUT + DEPTH) + 16) + 2;
    localparam AW = $clog2(DEPTH + 1) + 1;          // a line buffer address (+ one bit: signed offsets)
    localparam PW = $clog2((IH > IW ? IH : IW) + (KH > KW ? KH : KW) + (TOP > LEFT ? TOP : LEFT) + SY + SX + 2) + 2;
    localparam TW = $clog2(NT + 1);
    localparam OBW = $clog2(OPP + 1);
    localparam GW = $clog2(CG + 1);

    // the line buffer: written by the reader, read at every tap's registered address
    localparam RP = MODE == 0 ? TPB : KH * KW;
    wire [RP*AW-1:0] lb_addr;
    wire [RP*EW-1:0] lb_data;
    wire [EW-1:0] stored;
    // tables (constants, no multiplier in the logic): per output row/column the last input beat
    // its window needs, as row and column offsets; per input row/column the last writer op that
    // uses it (none: the flag), likewise; per line-buffer slot its first address; per SWU buffer
    // word of a pixel its tap row, column, and address offset (column * CG + channel group)
    reg [CW-1:0] need_row [0:OH-1];
    reg [CW-1:0] need_col [0:OW-1];
    reg [CW-1:0] use_row [0:IH-1];
    reg [CW-1:0] use_col [0:IW-1];
    reg unused_row [0:IH-1];
    reg unused_col [0:IW-1];
    reg [PW-1:0] tap_y [0:NT-1];
    reg [PW-1:0] tap_x [0:NT-1];
    reg [AW-1:0] tap_off [0:NT-1];
    // along one axis: the last input index of output o's window; the last output whose window
    // holds input i (-1: none)
    function integer last_input;
        input integer o, stride, pad, k, n;
        last_input = (o * stride - pad + k - 1 < n - 1) ? o * stride - pad + k - 1 : n - 1;
    endfunction
    function integer last_output;
        input integer i, stride, pad, k, outs;
        integer u;
        begin
            u = (i + pad) / stride;
            if (u > outs - 1) u = outs - 1;
            last_output = (u * stride - pad <= i && i <= u * stride - pad + k - 1) ? u : -1;
        end
    endfunction
    integer t;
    initial begin
        for (t = 0; t < OH; t = t + 1) need_row[t] = last_input(t, SY, TOP, KH, IH) * IW * CG;
        for (t = 0; t < OW; t = t + 1) need_col[t] = (last_input(t, SX, LEFT, KW, IW) + 1) * CG - 1;
        for (t = 0; t < IH; t = t + 1) begin
            use_row[t] = last_output(t, SY, TOP, KH, OH) * OW * OPP;
            unused_row[t] = last_output(t, SY, TOP, KH, OH) < 0;
        end
        for (t = 0; t < IW; t = t + 1) begin
            use_col[t] = (last_output(t, SX, LEFT, KW, OW) + 1) * OPP - 1;
            unused_col[t] = last_output(t, SX, LEFT, KW, OW) < 0;
        end
        for (t = 0; t < NT; t = t + 1) begin
            tap_y[t] = (t / CG) / KW;
            tap_x[t] = (t / CG) % KW;
            tap_off[t] = ((t / CG) % KW) * CG + t % CG;
        end
    end

    // ---- reader ---------------------------------------------------------------------------
    reg [AW-1:0] waddr;                 // the line buffer's next word (a ring of DEPTH words)
    reg [CW-1:0] rd_count;              // reader beats so far, modulo 2**CW
    reg [PW-1:0] fx, fy;                // the beat it overwrites: position,
    reg [GW-1:0] fg;
    reg [CW-1:0] fbase;                 // writer ops before its frame
    reg freeing;                        // reader beat >= ROWS*IW*CG: it overwrites one
    reg [CW-1:0] wr_count;              // writer ops so far, modulo 2**CW
    // the beat it overwrites after this one (fx, fy, fg, fbase when it fires)
    wire f_col = fg == CG - 1, f_row = f_col && fx == IW - 1, f_frame = f_row && fy == IH - 1;
    wire [GW-1:0] fg_n = f_col ? {GW{1'b0}} : fg + 1'b1;
    wire [PW-1:0] fx_n = f_col ? (fx == IW - 1 ? {PW{1'b0}} : fx + 1'b1) : fx;
    wire [PW-1:0] fy_n = f_row ? (fy == IH - 1 ? {PW{1'b0}} : fy + 1'b1) : fy;
    wire [CW-1:0] fbase_n = f_frame ? fbase + N_OUT : fbase;
    // the last writer op that uses the overwritten beat (fbase + use_row[fy] + use_col[fx]) and
    // whether none does, registered with fx, fy, fbase: the table lookups and their sum are not on
    // the path from wr_count to in_ready (bireal18's 56 x 56 x 64 window: 9 LUT levels with them)
    reg [CW-1:0] last_use;
    reg unused;
    wire room = !freeing || unused || $signed(wr_count - last_use) > 0;
    wire rfire = in_valid && room;
    assign in_ready = rfire;
    bireal_ram #(.W(EW), .D(DEPTH), .AW(AW), .R(RP), .STYLE(LBSTYLE)) lb (
        .clk(clk), .we(rfire && !rst), .waddr(waddr), .wdata(stored), .raddr(lb_addr), .rdata(lb_data));

    // stored elements: the sign (bit 1: x >= 0) of an integer input, else the element bits
    genvar i;
    generate
        for (i = 0; i < INW; i = i + 1) begin : store
            if (SIGN_IN) begin : sign
                assign stored[i] = ISIGNED ? !in_data[i*IBITS+IBITS-1] : 1'b1;
            end else if (IKIND == 1) begin : bipolar
                assign stored[i] = in_data[i];
            end else begin : integer_element
                assign stored[i*SB +: SB] = in_data[i*IBITS +: IBITS];
            end
        end
    endgenerate

    always @(posedge clk) begin
        if (rst) begin
            waddr <= 0; rd_count <= 0;
            fx <= 0; fy <= 0; fg <= 0; fbase <= 0; freeing <= 0;
            last_use <= use_row[0] + use_col[0];
            unused <= unused_row[0] || unused_col[0];
        end else if (rfire) begin
            waddr <= (waddr == DEPTH - 1) ? {AW{1'b0}} : waddr + 1'b1;
            rd_count <= rd_count + 1'b1;
            if (waddr == DEPTH - 1) freeing <= 1;
            if (freeing) begin
                fg <= fg_n; fx <= fx_n; fy <= fy_n; fbase <= fbase_n;
                last_use <= fbase_n + use_row[fy_n] + use_col[fx_n];
                unused <= unused_row[fy_n] || unused_col[fx_n];
            end
        end
    end

    // ---- writer ---------------------------------------------------------------------------
    reg [PW-1:0] oy, ox;
    reg [OBW-1:0] ob;
    reg [TW-1:0] word0;                 // ob * TPB
    reg [CW-1:0] nbase;                 // reader beats before its frame
    reg [ROWS*AW-1:0] rowbase;          // per window row r: the first address of its slot
    reg signed [PW-1:0] y0, x0;
    reg signed [AW:0] x0cg;             // x0 * CG
    // the reader beat the op's window needs last (nbase + need_row[oy] + need_col[ox]), registered
    // with oy, ox, nbase: computed for the next op when this one fires (as the reader's last_use)
    reg [CW-1:0] need;
    wire wfire = out_ready && $signed(rd_count - need) > 0;
    wire o_col = ob == OPP - 1, o_row = o_col && ox == OW - 1, o_frame = o_row && oy == OH - 1;
    wire [PW-1:0] ox_n = o_col ? (ox == OW - 1 ? {PW{1'b0}} : ox + 1'b1) : ox;
    wire [PW-1:0] oy_n = o_row ? (oy == OH - 1 ? {PW{1'b0}} : oy + 1'b1) : oy;
    wire [CW-1:0] nbase_n = o_frame ? nbase + N_IN : nbase;
    assign out_valid = wfire;
    // The line buffer is a ring of ROWS slots of IW*CG words; window row r of output row oy is
    // slot (y0slot + r) mod ROWS, y0slot starting at -TOP mod ROWS. The writer keeps each row's
    // slot address (`rowbase`) rather than the slot: a new output row turns the slots by SY, a new
    // frame by FRAME_TURN (its first row is IH rows past the frame's: IH - SY*(OH-1) from the
    // last), both rotations of the registers (no adder or comparison on the address path).
    localparam integer TOP_SLOTS = (ROWS - TOP % ROWS) % ROWS;  // -TOP mod ROWS
    localparam integer FRAME_TURN = ((IH - SY * (OH - 1)) % ROWS + ROWS) % ROWS;
    function [ROWS*AW-1:0] rows_from;  // the slot addresses with window row 0 in slot `first`
        input integer first;
        integer r;
        begin
            rows_from = 0;
            for (r = 0; r < ROWS; r = r + 1) rows_from[r*AW +: AW] = ((first + r) % ROWS) * IW * CG;
        end
    endfunction
    function [ROWS*AW-1:0] turned;  // row r takes row (r + by) mod ROWS's slot
        input [ROWS*AW-1:0] v;
        input integer by;
        integer r;
        begin
            turned = 0;
            for (r = 0; r < ROWS; r = r + 1) turned[r*AW +: AW] = v[((r + by) % ROWS)*AW +: AW];
        end
    endfunction

    // the writer's op: each tap's line-buffer address and whether it lies in the map, registered
    // in the op's cycle; the buffer is read in the next (the reader overwrites a word only after
    // the op that last uses it has fired: not before that read)
    generate
        if (MODE == 0) begin : swu
            genvar m;
            for (m = 0; m < TPB; m = m + 1) begin : tap
                localparam IDX = m;
                // the tap's row, column and offset for word word0 + m, read from the tables when
                // the op before fires (for the next word), so not on the address path
                reg [PW-1:0] ty, tx;
                reg [AW-1:0] toff;
                wire [TW-1:0] next = (ob == OPP - 1) ? {TW{1'b0}} : word0 + TPB[TW-1:0];
                always @(posedge clk)
                    if (rst) begin
                        ty <= tap_y[m]; tx <= tap_x[m]; toff <= tap_off[m];
                    end else if (wfire) begin
                        ty <= tap_y[next + m]; tx <= tap_x[next + m]; toff <= tap_off[next + m];
                    end
                wire signed [PW:0] iy = y0 + $signed({1'b0, ty}), ix = x0 + $signed({1'b0, tx});
                reg [AW-1:0] row;  // rowbase[ty], selected without a multiplier
                integer r;
                always @* begin
                    row = rowbase[AW-1:0];
                    for (r = 1; r < KH; r = r + 1) if (ty == r) row = rowbase[r*AW +: AW];
                end
                wire [AW:0] addr = row + x0cg + toff;
                reg [AW-1:0] addr_q;
                reg in_map;
                always @(posedge clk) begin
                    addr_q <= addr[AW-1:0];
                    in_map <= iy >= 0 && iy < IH && ix >= 0 && ix < IW;
                end
                assign lb_addr[IDX*AW +: AW] = addr_q;
                wire [EW-1:0] got = lb_data[IDX*EW +: EW];
                if (OKIND == 2) begin : ternary
                    assign out_data[m*INW +: INW] = in_map ? got : {INW{1'b0}};
                    assign out_data[TPB*INW + m*INW +: INW] = {INW{in_map}};
                end else if (OKIND == 1) begin : bipolar
                    assign out_data[m*INW +: INW] = in_map ? got : {INW{PAD > 0 ? 1'b1 : 1'b0}};
                end else begin : integer_element
                    wire [SB-1:0] pad = PAD;
                    assign out_data[m*EW +: EW] = in_map ? got : {INW{pad}};
                end
            end
        end else begin : pool
            // the taps' values registered (the tree's leaves) and reduced per element in a tree
            // (max or sum over the taps in the map): Pool.pipeline_stages
            wire [KH*KW*INW*VW-1:0] taps;
            wire [KH*KW-1:0] in_map;
            genvar k, e;
            for (k = 0; k < KH * KW; k = k + 1) begin : tap
                localparam IDX = k;
                localparam signed [PW:0] KY = k / KW, KX = k % KW;
                localparam [AW:0] OFF = (k % KW) * CG;
                wire signed [PW:0] iy = y0 + KY, ix = x0 + KX;
                wire [AW:0] addr = rowbase[(k / KW)*AW +: AW] + x0cg + OFF + ob;
                reg [AW-1:0] addr_q;
                reg in_map_q;
                always @(posedge clk) begin
                    addr_q <= addr[AW-1:0];
                    in_map_q <= iy >= 0 && iy < IH && ix >= 0 && ix < IW;
                end
                assign in_map[k] = in_map_q;
                assign lb_addr[IDX*AW +: AW] = addr_q;
                wire [EW-1:0] got = lb_data[IDX*EW +: EW];
                bireal_unpack #(.N(INW), .BITS(SB), .SIGNED(ISIGNED), .KIND(IKIND), .VW(VW)) ux (
                    .beat(got), .values(taps[k*INW*VW +: INW*VW]));
            end
            wire [INW*VW-1:0] result;
            for (e = 0; e < INW; e = e + 1) begin : element
                wire [KH*KW*VW-1:0] leaves;
                for (k = 0; k < KH * KW; k = k + 1) begin : gather
                    assign leaves[k*VW +: VW] = taps[(k*INW + e)*VW +: VW];
                end
                bireal_tree #(.N(KH * KW), .W(VW), .OW(VW), .MAX(MODE == 1), .PER(POOL_PER), .LAST_REG(0)) tree (
                    .clk(clk), .leaves(leaves), .valid(in_map), .result(result[e*VW +: VW]));
            end
            bireal_pack #(.N(INW), .BITS(OBITS), .KIND(OKIND), .VW(VW)) po (.values(result), .beat(out_data));
        end
    endgenerate

    always @(posedge clk) begin
        if (rst) begin
            oy <= 0; ox <= 0; ob <= 0; word0 <= 0; nbase <= 0; wr_count <= 0;
            y0 <= -TOP; x0 <= -LEFT; x0cg <= -LEFT * CG; rowbase <= rows_from(TOP_SLOTS);
            need <= need_row[0] + need_col[0];
        end else if (wfire) begin
            wr_count <= wr_count + 1'b1;
            ox <= ox_n; oy <= oy_n; nbase <= nbase_n;
            need <= nbase_n + need_row[oy_n] + need_col[ox_n];
            if (ob == OPP - 1) begin
                ob <= 0;
                word0 <= 0;
                if (ox == OW - 1) begin
                    x0 <= -LEFT;
                    x0cg <= -LEFT * CG;
                    if (oy == OH - 1) begin  // the frame's last beat
                        y0 <= -TOP;
                        rowbase <= turned(rowbase, FRAME_TURN);
                    end else begin
                        y0 <= y0 + SY;
                        rowbase <= turned(rowbase, SY);
                    end
                end else begin
                    x0 <= x0 + SX;
                    x0cg <= x0cg + SX * CG;
                end
            end else begin
                ob <= ob + 1'b1;
                word0 <= word0 + TPB;
            end
        end
    end
endmodule

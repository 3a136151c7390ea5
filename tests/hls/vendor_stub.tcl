# A stand-in for Vitis HLS and Vivado in tclsh: every vendor command is recorded, not run.
#   tclsh vendor_stub.tcl LOG (-f|-source) SCRIPT [-mode batch] [-tclargs ARG...]
# Appends one line per vendor command to LOG: the command and its arguments as a Tcl list.
set log [lindex $argv 0]
set rest [lrange $argv 1 end]
set script ""
set tclargs {}
for {set i 0} {$i < [llength $rest]} {incr i} {
    set a [lindex $rest $i]
    if {$a eq "-f" || $a eq "-source"} { incr i; set script [lindex $rest $i] }
    if {$a eq "-mode"} { incr i }
    if {$a eq "-tclargs"} { set tclargs [lrange $rest [expr {$i + 1}] end]; break }
}
set ::out [open $log a]
set vendor_commands {
    open_project set_top open_solution set_part create_clock config_interface config_dataflow
    csim_design csynth_design export_design create_project set_property current_project
    update_ip_catalog create_bd_design create_bd_cell apply_bd_automation connect_bd_intf_net
    validate_bd_design save_bd_design make_wrapper launch_runs wait_on_run current_fileset
    update_compile_order connect_bd_net
}
foreach cmd $vendor_commands {
    proc $cmd args "puts \$::out \[list $cmd {*}\$args\]; return {}"
}
# add_files is both: recorded, and the files must exist
proc add_files args {
    puts $::out [list add_files {*}$args]
    foreach a $args {
        if {[regexp {^(src|tb|\.\.)/} $a] && ![file exists $a]} { error "add_files: $a does not exist" }
    }
}
proc get_board_parts args { return {} }
proc get_bd_cells args { return [lindex $args end] }
proc get_ports args { return [lindex $args end] }
proc get_bd_intf_pins {name} { puts $::out [list pin $name]; return $name }
proc get_bd_pins {name} { puts $::out [list pin $name]; return $name }
proc get_files {name} { return $name }
proc get_runs {name} { return $name }
proc get_property {name args} { if {$name eq "PROGRESS"} { return "100%" }; return "" }
rename glob real_glob
proc glob args {
    set found [real_glob -nocomplain {*}$args]
    if {[llength $found] == 0} { return [list [lindex $args end]] }
    return $found
}
rename file real_file
proc file {sub args} {
    if {$sub in {copy mkdir delete}} { puts $::out [list file $sub {*}$args]; return }
    return [real_file $sub {*}$args]
}
rename exit real_exit
proc exit args { close $::out; real_exit 0 }
set argv $tclargs
set argc [llength $argv]
source $script
close $::out

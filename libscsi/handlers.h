// Command handlers named by the opcode table. Each finishes its command exactly once.
#pragma once

#include "libscsi/lu_state.h"

namespace lunkit::scsi::handlers {

// basic.cc
void test_unit_ready(LuState& lu, Command& cmd);
void request_sense(LuState& lu, Command& cmd);
void start_stop_unit(LuState& lu, Command& cmd);
void prevent_allow_medium_removal(LuState& lu, Command& cmd);
void read_capacity10(LuState& lu, Command& cmd);
void read_capacity16(LuState& lu, Command& cmd);
// inquiry.cc
void inquiry(LuState& lu, Command& cmd);
// mode.cc
void mode_sense(LuState& lu, Command& cmd);
void mode_select(LuState& lu, Command& cmd);
// read_write.cc
void read(LuState& lu, Command& cmd);
void write(LuState& lu, Command& cmd);
void verify(LuState& lu, Command& cmd);
void write_and_verify(LuState& lu, Command& cmd);
void synchronize_cache(LuState& lu, Command& cmd);
void pre_fetch(LuState& lu, Command& cmd);
// compare_and_write.cc
void compare_and_write(LuState& lu, Command& cmd);
// provisioning.cc
void write_same(LuState& lu, Command& cmd);
void unmap(LuState& lu, Command& cmd);
void get_lba_status(LuState& lu, Command& cmd);
void format_unit(LuState& lu, Command& cmd);
// maintenance.cc
void report_supported_opcodes(LuState& lu, Command& cmd);
void report_supported_tmfs(LuState& lu, Command& cmd);
// alua.cc
void report_target_port_groups(LuState& lu, Command& cmd);
// xcopy.cc
void extended_copy(LuState& lu, Command& cmd);
void receive_copy_status(LuState& lu, Command& cmd);
void receive_copy_operating_parameters(LuState& lu, Command& cmd);

}  // namespace lunkit::scsi::handlers

// MAINTENANCE IN/OUT: REPORT SUPPORTED OPERATION CODES (generated from the opcode table),
// REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS, REPORT and SET TARGET PORT GROUPS.
#include <array>

#include "libscsi/bytes.h"
#include "libscsi/handlers.h"
#include "libscsi/iov.h"

namespace lunkit::scsi::handlers {
namespace {

constexpr size_t kTimeoutsDescriptor = 12;

size_t put_timeouts(const OpcodeInfo& op, uint8_t* p) {
  put_be16(p, 0x0A);
  put_be32(p + 4, 0);             // nominal processing time: not specified
  put_be32(p + 8, op.timeout_s);  // recommended command timeout
  return kTimeoutsDescriptor;
}

}  // namespace

void report_supported_opcodes(LuState& lu, Command& cmd) {
  const bool rctd = cmd.cdb[2] & 0x80;
  const uint8_t options = cmd.cdb[2] & 0x07;
  const uint8_t requested_opcode = cmd.cdb[3];
  const uint16_t requested_sa = get_be16(&cmd.cdb[4]);
  const uint32_t allocation_length = get_be32(&cmd.cdb[6]);
  std::array<uint8_t, 4096> buf{};
  size_t off = 0;

  if (options == 0) {  // all commands
    off = 4;
    for (const OpcodeInfo& op : all_opcodes()) {
      if (!opcode_enabled(lu, op)) continue;
      uint8_t* d = &buf[off];
      d[0] = op.opcode;
      put_be16(d + 2, op.service_action);
      d[5] = static_cast<uint8_t>((rctd ? 0x02 : 0) | (op.has_service_action ? 0x01 : 0));
      put_be16(d + 6, op.cdb_len);
      off += 8;
      if (rctd) off += put_timeouts(op, &buf[off]);
    }
    put_be32(&buf[0], static_cast<uint32_t>(off - 4));
  } else {  // one command
    const bool has_sa = opcode_has_service_actions(requested_opcode);
    const OpcodeInfo* op = nullptr;
    switch (options) {
      case 1:
        if (has_sa) return complete_invalid_cdb(lu, cmd, 2, 2);
        op = find_opcode(requested_opcode, 0);
        break;
      case 2:
        if (!has_sa) return complete_invalid_cdb(lu, cmd, 2, 2);
        op = find_opcode(requested_opcode, requested_sa);
        break;
      case 3:
        op = find_opcode(requested_opcode, has_sa ? requested_sa : 0);
        break;
      default:
        return complete_invalid_cdb(lu, cmd, 2, 2);
    }
    if (op && !opcode_enabled(lu, *op)) op = nullptr;
    if (op) {
      buf[1] = static_cast<uint8_t>((rctd ? 0x80 : 0) | 0x03);  // supported per standard
      put_be16(&buf[2], op->cdb_len);
      for (size_t i = 0; i < op->cdb_len; ++i) buf[4 + i] = op->usage[i];
      off = 4 + op->cdb_len;
      if (rctd) off += put_timeouts(*op, &buf[off]);
    } else {
      buf[1] = 0x01;  // not supported
      off = 4;
    }
  }
  put_data_in(cmd, std::span(buf).first(off), allocation_length);
  complete_good(lu, cmd);
}

void report_supported_tmfs(LuState& lu, Command& cmd) {
  // Task management is carried out by the kernel target (LIO, target_tmr_work): it performs
  // ABORT TASK and LOGICAL UNIT RESET (both reach TCMU as TCMU_OP_TMR) and answers ABORT TASK SET,
  // CLEAR TASK SET and CLEAR ACA with FUNCTION NOT SUPPORTED; I_T NEXUS RESET is no LIO TMR.
  const bool repd = cmd.cdb[2] & 0x80;
  std::array<uint8_t, 16> buf{};
  buf[0] = 0x80 | 0x08;  // ATS, LURS
  size_t len = 4;
  if (repd) {
    buf[3] = 0x0C;
    len = 16;
  }
  put_data_in(cmd, std::span(buf).first(len), get_be32(&cmd.cdb[6]));
  complete_good(lu, cmd);
}

void report_target_port_groups(LuState& lu, Command& cmd) {
  const uint8_t format = cmd.cdb[1] >> 5;
  if (format > 1) return complete_invalid_cdb(lu, cmd, 1, 7);
  const PortIdentity& port = *lu.options.port;
  std::array<uint8_t, 32> buf{};
  size_t off = format == 1 ? 8 : 4;
  if (format == 1) buf[4] = 0x10;  // extended header, implicit transition time 0
  uint8_t* d = &buf[off];
  d[0] = 0x80;  // PREF; asymmetric access state 0: active/optimized
  d[1] = 0x01;  // AO_SUP: the only state this group supports
  put_be16(d + 2, port.port_group_id);
  d[7] = 1;  // one target port
  put_be16(d + 10, port.relative_port_id);
  off += 12;
  put_be32(&buf[0], static_cast<uint32_t>(off - 4));
  put_data_in(cmd, std::span(buf).first(off), get_be32(&cmd.cdb[6]));
  complete_good(lu, cmd);
}

void set_target_port_groups(LuState& lu, Command& cmd) {
  const uint32_t length = get_be32(&cmd.cdb[6]);
  if (length == 0) return complete_good(lu, cmd);
  if (cmd.data_len < length) return complete_invalid_cdb(lu, cmd, 6);  // overflow, as LIO
  if (length < 4 || (length - 4) % 4 != 0)
    return complete_condition(lu, cmd, Condition::kParameterListLengthError);
  // The single group is active/optimized and may only be set to that state.
  for (size_t at = 4; at < length; at += 4) {
    uint8_t d[4];
    copy_from_iov(cmd.iov, at, d, sizeof d);
    if (get_be16(d + 2) != lu.options.port->port_group_id)
      return complete_invalid_param(lu, cmd, static_cast<uint16_t>(at + 2));
    if ((d[0] & 0x0F) != 0) return complete_invalid_param(lu, cmd, static_cast<uint16_t>(at), 3);
  }
  complete_good(lu, cmd);
}

}  // namespace lunkit::scsi::handlers

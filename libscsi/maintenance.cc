// MAINTENANCE IN/OUT: REPORT SUPPORTED OPERATION CODES (generated from the opcode table, the
// commands the transport serves for the unit included),
// REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS. REPORT TARGET PORT GROUPS is in alua.cc.
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

bool precedes(const OpcodeInfo& a, const OpcodeInfo& b) {
  return a.opcode < b.opcode || (a.opcode == b.opcode && a.service_action < b.service_action);
}

// Whether the transport offers `opcode` on this unit through service actions.
bool transport_offers_service_actions(const LuState& lu, uint8_t opcode) {
  for (const OpcodeInfo& op : transport_opcodes())
    if (op.opcode == opcode && op.has_service_action && opcode_enabled(lu, op)) return true;
  return false;
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

  if (options == 0) {  // all commands: libscsi's and the transport's, merged in opcode order
    off = 4;
    auto own = all_opcodes();
    auto transport = transport_opcodes();
    size_t i = 0, j = 0;
    while (i < own.size() || j < transport.size()) {
      const OpcodeInfo& op =
          j == transport.size() || (i < own.size() && precedes(own[i], transport[j]))
              ? own[i++]
              : transport[j++];
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
    // A transport's command counts only while the transport offers it.
    const bool has_sa = opcode_has_service_actions(requested_opcode) ||
                        transport_offers_service_actions(lu, requested_opcode);
    const uint16_t sa = has_sa ? requested_sa : 0;
    switch (options) {
      case 1:
        if (has_sa) return complete_invalid_cdb(lu, cmd, 2, 2);
        break;
      case 2:
        if (!has_sa) return complete_invalid_cdb(lu, cmd, 2, 2);
        break;
      case 3:
        break;
      default:
        return complete_invalid_cdb(lu, cmd, 2, 2);
    }
    const OpcodeInfo* op = find_opcode(requested_opcode, sa);
    if (!op) op = find_transport_opcode(requested_opcode, sa);
    if (op && !opcode_enabled(lu, *op)) op = nullptr;
    if (op) {
      buf[1] = static_cast<uint8_t>((rctd ? 0x80 : 0) | 0x03);  // supported per standard
      put_be16(&buf[2], op->cdb_len);
      for (size_t k = 0; k < op->cdb_len; ++k) buf[4 + k] = op->usage[k];
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

}  // namespace lunkit::scsi::handlers

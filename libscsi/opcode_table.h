// The one table of CDBs: dispatch, CDB length, reserved-bit checks, LBA decoding, the
// unit-attention exemption, write protection and REPORT SUPPORTED OPERATION CODES all come
// from it. Its second part lists the commands the transport's target serves for the unit itself
// (LogicalUnitOptions::transport_commands): REPORT SUPPORTED OPERATION CODES reports them, the
// dispatcher never runs them.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "lunkit/scsi/command.h"

namespace lunkit::scsi {

struct LuState;

// The direction the CDB moves data in (checked against Command::direction when the transport
// knows it).
enum class DataDir : uint8_t { kNone, kIn, kOut };

// Where a big-endian field sits in the CDB; width 0 means absent.
struct FieldLoc {
  uint8_t offset = 0;
  uint8_t width = 0;
};

enum OpcodeFlags : uint16_t {
  kMediumAccess = 1u << 0,    // NOT READY while the unit is stopped
  kAllowedUnderUa = 1u << 1,  // executes without reporting a pending unit attention
  kMutating = 1u << 2,        // changes the medium: held back while COMPARE AND WRITE runs
  kExclusive = 1u << 3,       // COMPARE AND WRITE: runs alone against other mutating commands
  kRangeChecked = 1u << 4,    // lba/blocks decoded and checked against capacity before dispatch
  kShortForm = 1u << 5,       // 6-byte READ/WRITE: 21-bit LBA, length 0 means 256
  kNeedsPort = 1u << 6,       // only while the unit has ALUA target port groups
  kNeedsUnmap = 1u << 7,      // only on a thin-provisioned device
  kWritesMedium = 1u << 8,    // WRITE PROTECTED on a read-only device, before the handler runs
};

using CommandHandler = void (*)(LuState& lu, Command& cmd);

struct OpcodeInfo {
  uint8_t opcode = 0;
  uint8_t service_action = 0;
  bool has_service_action = false;
  uint8_t cdb_len = 0;
  std::string_view name{};
  DataDir dir = DataDir::kNone;
  FieldLoc lba{};
  FieldLoc blocks{};
  uint16_t flags = 0;
  uint16_t timeout_s = 30;  // recommended command timeout (RSOC timeouts descriptor)
  // CDB usage data: the bits that may be set in each CDB byte (byte 0 is the opcode).
  std::array<uint8_t, 16> usage{};
  // libscsi's own commands: the handler. The transport's: none, and the TransportCommands set
  // that offers the row.
  CommandHandler handler = nullptr;
  uint8_t served_by_transport = 0;
};

// Looks up one of libscsi's own commands by opcode and, for opcodes with service actions, the
// service action in cdb[1]. Returns null for unsupported commands (the transport's included);
// `*unsupported_sa` is set when the opcode exists but the service action does not.
const OpcodeInfo* find_opcode(const uint8_t* cdb, size_t cdb_len, bool* unsupported_sa);
// Same, by explicit opcode and service action.
const OpcodeInfo* find_opcode(uint8_t opcode, uint16_t service_action);
// True when libscsi serves `opcode` through service actions.
bool opcode_has_service_actions(uint8_t opcode);
// Every command libscsi executes, in opcode order.
std::span<const OpcodeInfo> all_opcodes();
// Every command a transport may serve instead (by TransportCommands set), in opcode order.
std::span<const OpcodeInfo> transport_opcodes();
// A transport's command by opcode and service action (ignored for opcodes without), or null.
const OpcodeInfo* find_transport_opcode(uint8_t opcode, uint16_t service_action);
// True when a pending unit attention is not reported to this opcode (kAllowedUnderUa).
bool opcode_allowed_under_ua(uint8_t opcode);
// Whether a command is offered on this logical unit (kNeedsPort, kNeedsUnmap, and the
// transport's commands by LogicalUnitOptions::transport_commands).
bool opcode_enabled(const LuState& lu, const OpcodeInfo& op);

}  // namespace lunkit::scsi

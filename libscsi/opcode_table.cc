#include "libscsi/opcode_table.h"

#include <algorithm>

#include "libscsi/alua.h"
#include "libscsi/handlers.h"
#include "libscsi/lu_state.h"

namespace lunkit::scsi {
namespace {

namespace h = handlers;
using D = DataDir;
constexpr uint16_t kIo = kMediumAccess | kRangeChecked;
constexpr uint16_t kWrite = kIo | kMutating | kWritesMedium;

// Usage data written as the CDB's bytes in hex ("28 18 FF ..."): byte 0 is the opcode, then
// the bits each byte may carry. A malformed string does not compile.
consteval std::array<uint8_t, 16> U(std::string_view hex) {
  auto digit = [](char c) -> uint8_t {
    if (c >= '0' && c <= '9') return static_cast<uint8_t>(c - '0');
    if (c >= 'A' && c <= 'F') return static_cast<uint8_t>(c - 'A' + 10);
    throw "usage data: not an upper-case hex digit";
  };
  std::array<uint8_t, 16> out{};
  size_t n = 0;
  for (size_t i = 0; i < hex.size(); i += 3) {
    if (n == out.size() || i + 1 >= hex.size() || (i + 2 < hex.size() && hex[i + 2] != ' '))
      throw "usage data: expected up to 16 space-separated bytes";
    out[n++] = static_cast<uint8_t>(digit(hex[i]) << 4 | digit(hex[i + 1]));
  }
  return out;
}

// The last byte of every CDB is CONTROL, where lunkit accepts no bits (no NACA, no linked
// commands). The reserved-bit check rejects every bit outside the usage data, so a bit a
// handler would refuse (ANCHOR, SP, LOEJ, power conditions, BYTCHK 1xb of WRITE AND VERIFY, RSOC
// options 4-7, RTPG formats 2-7) is left out here instead of being advertised and then refused.
// clang-format off
constexpr OpcodeInfo kOpcodes[] = {
    {.opcode = 0x00, .cdb_len = 6, .name = "TEST UNIT READY", .dir = D::kNone,
     .flags = kMediumAccess,
     .usage = U("00 00 00 00 00 00"), .handler = h::test_unit_ready},
    {.opcode = 0x03, .cdb_len = 6, .name = "REQUEST SENSE", .dir = D::kIn,
     .flags = kAllowedUnderUa,
     .usage = U("03 01 00 00 FF 00"), .handler = h::request_sense},
    {.opcode = 0x04, .cdb_len = 6, .name = "FORMAT UNIT", .dir = D::kNone,
     .flags = kMediumAccess | kMutating | kWritesMedium, .timeout_s = 3600,
     .usage = U("04 0F 00 00 00 00"), .handler = h::format_unit},
    {.opcode = 0x08, .cdb_len = 6, .name = "READ(6)", .dir = D::kIn,
     .lba = {1, 3}, .blocks = {4, 1}, .flags = kIo | kShortForm,
     .usage = U("08 1F FF FF FF 00"), .handler = h::read},
    {.opcode = 0x0A, .cdb_len = 6, .name = "WRITE(6)", .dir = D::kOut,
     .lba = {1, 3}, .blocks = {4, 1}, .flags = kWrite | kShortForm,
     .usage = U("0A 1F FF FF FF 00"), .handler = h::write},
    {.opcode = 0x12, .cdb_len = 6, .name = "INQUIRY", .dir = D::kIn,
     .flags = kAllowedUnderUa,
     .usage = U("12 01 FF FF FF 00"), .handler = h::inquiry},
    {.opcode = 0x15, .cdb_len = 6, .name = "MODE SELECT(6)", .dir = D::kOut,
     .usage = U("15 10 00 00 FF 00"), .handler = h::mode_select},
    {.opcode = 0x1A, .cdb_len = 6, .name = "MODE SENSE(6)", .dir = D::kIn,
     .usage = U("1A 08 FF FF FF 00"), .handler = h::mode_sense},
    {.opcode = 0x1B, .cdb_len = 6, .name = "START STOP UNIT", .dir = D::kNone,
     .timeout_s = 60,
     .usage = U("1B 01 00 00 01 00"), .handler = h::start_stop_unit},
    {.opcode = 0x1E, .cdb_len = 6, .name = "PREVENT ALLOW MEDIUM REMOVAL", .dir = D::kNone,
     .usage = U("1E 00 00 00 01 00"), .handler = h::prevent_allow_medium_removal},
    {.opcode = 0x25, .cdb_len = 10, .name = "READ CAPACITY(10)", .dir = D::kIn,
     .flags = kMediumAccess,
     .usage = U("25 00 00 00 00 00 00 00 00 00"), .handler = h::read_capacity10},
    {.opcode = 0x28, .cdb_len = 10, .name = "READ(10)", .dir = D::kIn,
     .lba = {2, 4}, .blocks = {7, 2}, .flags = kIo,
     .usage = U("28 18 FF FF FF FF 3F FF FF 00"), .handler = h::read},
    {.opcode = 0x2A, .cdb_len = 10, .name = "WRITE(10)", .dir = D::kOut,
     .lba = {2, 4}, .blocks = {7, 2}, .flags = kWrite,
     .usage = U("2A 18 FF FF FF FF 3F FF FF 00"), .handler = h::write},
    {.opcode = 0x2E, .cdb_len = 10, .name = "WRITE AND VERIFY(10)", .dir = D::kOut,
     .lba = {2, 4}, .blocks = {7, 2}, .flags = kWrite,
     .usage = U("2E 12 FF FF FF FF 3F FF FF 00"), .handler = h::write_and_verify},
    {.opcode = 0x2F, .cdb_len = 10, .name = "VERIFY(10)", .dir = D::kOut,
     .lba = {2, 4}, .blocks = {7, 2}, .flags = kIo,
     .usage = U("2F 16 FF FF FF FF 3F FF FF 00"), .handler = h::verify},
    {.opcode = 0x34, .cdb_len = 10, .name = "PRE-FETCH(10)", .dir = D::kNone,
     .lba = {2, 4}, .blocks = {7, 2}, .flags = kIo,
     .usage = U("34 02 FF FF FF FF 3F FF FF 00"), .handler = h::pre_fetch},
    {.opcode = 0x35, .cdb_len = 10, .name = "SYNCHRONIZE CACHE(10)", .dir = D::kNone,
     .lba = {2, 4}, .blocks = {7, 2}, .flags = kIo, .timeout_s = 60,
     .usage = U("35 02 FF FF FF FF 3F FF FF 00"), .handler = h::synchronize_cache},
    {.opcode = 0x41, .cdb_len = 10, .name = "WRITE SAME(10)", .dir = D::kOut,
     .lba = {2, 4}, .blocks = {7, 2}, .flags = kWrite, .timeout_s = 60,
     .usage = U("41 08 FF FF FF FF 3F FF FF 00"), .handler = h::write_same},
    {.opcode = 0x42, .cdb_len = 10, .name = "UNMAP", .dir = D::kOut,
     .flags = kMediumAccess | kNeedsUnmap | kMutating | kWritesMedium, .timeout_s = 60,
     .usage = U("42 00 00 00 00 00 3F FF FF 00"), .handler = h::unmap},
    {.opcode = 0x55, .cdb_len = 10, .name = "MODE SELECT(10)", .dir = D::kOut,
     .usage = U("55 10 00 00 00 00 00 FF FF 00"), .handler = h::mode_select},
    {.opcode = 0x5A, .cdb_len = 10, .name = "MODE SENSE(10)", .dir = D::kIn,
     .usage = U("5A 18 FF FF 00 00 00 FF FF 00"), .handler = h::mode_sense},
    {.opcode = 0x83, .service_action = 0x00, .has_service_action = true, .cdb_len = 16,
     .name = "EXTENDED COPY(LID1)", .dir = D::kOut,
     .flags = kMediumAccess | kMutating, .timeout_s = 600,
     .usage = U("83 00 00 00 00 00 00 00 00 00 FF FF FF FF 00 00"), .handler = h::extended_copy},
    {.opcode = 0x84, .service_action = 0x00, .has_service_action = true, .cdb_len = 16,
     .name = "RECEIVE COPY STATUS(LID1)", .dir = D::kIn,
     .usage = U("84 00 FF 00 00 00 00 00 00 00 FF FF FF FF 00 00"),
     .handler = h::receive_copy_status},
    {.opcode = 0x84, .service_action = 0x03, .has_service_action = true, .cdb_len = 16,
     .name = "RECEIVE COPY OPERATING PARAMETERS", .dir = D::kIn,
     .usage = U("84 03 00 00 00 00 00 00 00 00 FF FF FF FF 00 00"),
     .handler = h::receive_copy_operating_parameters},
    {.opcode = 0x88, .cdb_len = 16, .name = "READ(16)", .dir = D::kIn,
     .lba = {2, 8}, .blocks = {10, 4}, .flags = kIo,
     .usage = U("88 18 FF FF FF FF FF FF FF FF FF FF FF FF 3F 00"), .handler = h::read},
    {.opcode = 0x89, .cdb_len = 16, .name = "COMPARE AND WRITE", .dir = D::kOut,
     .lba = {2, 8}, .blocks = {13, 1}, .flags = kWrite | kExclusive,
     .usage = U("89 18 FF FF FF FF FF FF FF FF 00 00 00 FF 3F 00"),
     .handler = h::compare_and_write},
    {.opcode = 0x8A, .cdb_len = 16, .name = "WRITE(16)", .dir = D::kOut,
     .lba = {2, 8}, .blocks = {10, 4}, .flags = kWrite,
     .usage = U("8A 18 FF FF FF FF FF FF FF FF FF FF FF FF 3F 00"), .handler = h::write},
    {.opcode = 0x8E, .cdb_len = 16, .name = "WRITE AND VERIFY(16)", .dir = D::kOut,
     .lba = {2, 8}, .blocks = {10, 4}, .flags = kWrite,
     .usage = U("8E 12 FF FF FF FF FF FF FF FF FF FF FF FF 3F 00"), .handler = h::write_and_verify},
    {.opcode = 0x8F, .cdb_len = 16, .name = "VERIFY(16)", .dir = D::kOut,
     .lba = {2, 8}, .blocks = {10, 4}, .flags = kIo,
     .usage = U("8F 16 FF FF FF FF FF FF FF FF FF FF FF FF 3F 00"), .handler = h::verify},
    {.opcode = 0x90, .cdb_len = 16, .name = "PRE-FETCH(16)", .dir = D::kNone,
     .lba = {2, 8}, .blocks = {10, 4}, .flags = kIo,
     .usage = U("90 02 FF FF FF FF FF FF FF FF FF FF FF FF 3F 00"), .handler = h::pre_fetch},
    {.opcode = 0x91, .cdb_len = 16, .name = "SYNCHRONIZE CACHE(16)", .dir = D::kNone,
     .lba = {2, 8}, .blocks = {10, 4}, .flags = kIo, .timeout_s = 60,
     .usage = U("91 02 FF FF FF FF FF FF FF FF FF FF FF FF 3F 00"),
     .handler = h::synchronize_cache},
    {.opcode = 0x93, .cdb_len = 16, .name = "WRITE SAME(16)", .dir = D::kOut,
     .lba = {2, 8}, .blocks = {10, 4}, .flags = kWrite, .timeout_s = 60,
     .usage = U("93 09 FF FF FF FF FF FF FF FF FF FF FF FF 3F 00"), .handler = h::write_same},
    {.opcode = 0x9E, .service_action = 0x10, .has_service_action = true, .cdb_len = 16,
     .name = "READ CAPACITY(16)", .dir = D::kIn,
     .flags = kMediumAccess,
     .usage = U("9E 10 00 00 00 00 00 00 00 00 FF FF FF FF 00 00"), .handler = h::read_capacity16},
    {.opcode = 0x9E, .service_action = 0x12, .has_service_action = true, .cdb_len = 16,
     .name = "GET LBA STATUS", .dir = D::kIn,
     .lba = {2, 8}, .flags = kMediumAccess,
     .usage = U("9E 12 FF FF FF FF FF FF FF FF FF FF FF FF 00 00"), .handler = h::get_lba_status},
    {.opcode = 0xA3, .service_action = 0x0A, .has_service_action = true, .cdb_len = 12,
     .name = "REPORT TARGET PORT GROUPS", .dir = D::kIn,
     .flags = kNeedsPort,
     .usage = U("A3 2A 00 00 00 00 FF FF FF FF 00 00"), .handler = h::report_target_port_groups},
    {.opcode = 0xA3, .service_action = 0x0C, .has_service_action = true, .cdb_len = 12,
     .name = "REPORT SUPPORTED OPERATION CODES", .dir = D::kIn,
     .usage = U("A3 0C 83 FF FF FF FF FF FF FF 00 00"), .handler = h::report_supported_opcodes},
    {.opcode = 0xA3, .service_action = 0x0D, .has_service_action = true, .cdb_len = 12,
     .name = "REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS", .dir = D::kIn,
     .usage = U("A3 0D 80 00 00 00 FF FF FF FF 00 00"), .handler = h::report_supported_tmfs},
    {.opcode = 0xA8, .cdb_len = 12, .name = "READ(12)", .dir = D::kIn,
     .lba = {2, 4}, .blocks = {6, 4}, .flags = kIo,
     .usage = U("A8 18 FF FF FF FF FF FF FF FF 3F 00"), .handler = h::read},
    {.opcode = 0xAA, .cdb_len = 12, .name = "WRITE(12)", .dir = D::kOut,
     .lba = {2, 4}, .blocks = {6, 4}, .flags = kWrite,
     .usage = U("AA 18 FF FF FF FF FF FF FF FF 3F 00"), .handler = h::write},
    {.opcode = 0xAE, .cdb_len = 12, .name = "WRITE AND VERIFY(12)", .dir = D::kOut,
     .lba = {2, 4}, .blocks = {6, 4}, .flags = kWrite,
     .usage = U("AE 12 FF FF FF FF FF FF FF FF 3F 00"), .handler = h::write_and_verify},
    {.opcode = 0xAF, .cdb_len = 12, .name = "VERIFY(12)", .dir = D::kOut,
     .lba = {2, 4}, .blocks = {6, 4}, .flags = kIo,
     .usage = U("AF 16 FF FF FF FF FF FF FF FF 3F 00"), .handler = h::verify},

};

// Served by the kernel target for every TCMU unit (REPORT LUNS) or while it emulates
// reservations (target_core_device.c passthrough_parse_cdb: PR and RESERVE/RELEASE unless the
// device has TRANSPORT_FLAG_PASSTHROUGH_PGR, i.e. attrib/pgr_support 0, and only with
// attrib/emulate_pr 1). Listed by REPORT SUPPORTED OPERATION CODES when the transport offers
// them; libscsi never executes them. The usage data is what the kernel accepts without
// refusing: no third-party RESERVE/RELEASE, no PR scope other than LU_SCOPE.
constexpr uint8_t kLuns = kTransportReportLuns;
constexpr uint8_t kPr = kTransportReservations;
constexpr OpcodeInfo kTransportOpcodes[] = {
    {.opcode = 0x16, .cdb_len = 6, .name = "RESERVE(6)", .dir = D::kNone,
     .usage = U("16 00 00 00 00 00"), .served_by_transport = kPr},
    {.opcode = 0x17, .cdb_len = 6, .name = "RELEASE(6)", .dir = D::kNone,
     .usage = U("17 00 00 00 00 00"), .served_by_transport = kPr},
    {.opcode = 0x56, .cdb_len = 10, .name = "RESERVE(10)", .dir = D::kNone,
     .usage = U("56 00 00 00 00 00 00 00 00 00"), .served_by_transport = kPr},
    {.opcode = 0x57, .cdb_len = 10, .name = "RELEASE(10)", .dir = D::kNone,
     .usage = U("57 00 00 00 00 00 00 00 00 00"), .served_by_transport = kPr},
    {.opcode = 0x5E, .service_action = 0x00, .has_service_action = true, .cdb_len = 10,
     .name = "PERSISTENT RESERVE IN(READ KEYS)", .dir = D::kIn,
     .usage = U("5E 00 00 00 00 00 00 FF FF 00"), .served_by_transport = kPr},
    {.opcode = 0x5E, .service_action = 0x01, .has_service_action = true, .cdb_len = 10,
     .name = "PERSISTENT RESERVE IN(READ RESERVATION)", .dir = D::kIn,
     .usage = U("5E 01 00 00 00 00 00 FF FF 00"), .served_by_transport = kPr},
    {.opcode = 0x5E, .service_action = 0x02, .has_service_action = true, .cdb_len = 10,
     .name = "PERSISTENT RESERVE IN(REPORT CAPABILITIES)", .dir = D::kIn,
     .usage = U("5E 02 00 00 00 00 00 FF FF 00"), .served_by_transport = kPr},
    {.opcode = 0x5E, .service_action = 0x03, .has_service_action = true, .cdb_len = 10,
     .name = "PERSISTENT RESERVE IN(READ FULL STATUS)", .dir = D::kIn,
     .usage = U("5E 03 00 00 00 00 00 FF FF 00"), .served_by_transport = kPr},
    {.opcode = 0x5F, .service_action = 0x00, .has_service_action = true, .cdb_len = 10,
     .name = "PERSISTENT RESERVE OUT(REGISTER)", .dir = D::kOut,
     .usage = U("5F 00 0F 00 00 FF FF FF FF 00"), .served_by_transport = kPr},
    {.opcode = 0x5F, .service_action = 0x01, .has_service_action = true, .cdb_len = 10,
     .name = "PERSISTENT RESERVE OUT(RESERVE)", .dir = D::kOut,
     .usage = U("5F 01 0F 00 00 FF FF FF FF 00"), .served_by_transport = kPr},
    {.opcode = 0x5F, .service_action = 0x02, .has_service_action = true, .cdb_len = 10,
     .name = "PERSISTENT RESERVE OUT(RELEASE)", .dir = D::kOut,
     .usage = U("5F 02 0F 00 00 FF FF FF FF 00"), .served_by_transport = kPr},
    {.opcode = 0x5F, .service_action = 0x03, .has_service_action = true, .cdb_len = 10,
     .name = "PERSISTENT RESERVE OUT(CLEAR)", .dir = D::kOut,
     .usage = U("5F 03 0F 00 00 FF FF FF FF 00"), .served_by_transport = kPr},
    {.opcode = 0x5F, .service_action = 0x04, .has_service_action = true, .cdb_len = 10,
     .name = "PERSISTENT RESERVE OUT(PREEMPT)", .dir = D::kOut,
     .usage = U("5F 04 0F 00 00 FF FF FF FF 00"), .served_by_transport = kPr},
    {.opcode = 0x5F, .service_action = 0x05, .has_service_action = true, .cdb_len = 10,
     .name = "PERSISTENT RESERVE OUT(PREEMPT AND ABORT)", .dir = D::kOut,
     .usage = U("5F 05 0F 00 00 FF FF FF FF 00"), .served_by_transport = kPr},
    {.opcode = 0x5F, .service_action = 0x06, .has_service_action = true, .cdb_len = 10,
     .name = "PERSISTENT RESERVE OUT(REGISTER AND IGNORE EXISTING KEY)", .dir = D::kOut,
     .usage = U("5F 06 0F 00 00 FF FF FF FF 00"), .served_by_transport = kPr},
    {.opcode = 0x5F, .service_action = 0x07, .has_service_action = true, .cdb_len = 10,
     .name = "PERSISTENT RESERVE OUT(REGISTER AND MOVE)", .dir = D::kOut,
     .usage = U("5F 07 0F 00 00 FF FF FF FF 00"), .served_by_transport = kPr},
    {.opcode = 0xA0, .cdb_len = 12, .name = "REPORT LUNS", .dir = D::kIn,
     .flags = kAllowedUnderUa,
     .usage = U("A0 00 FF 00 00 00 FF FF FF FF 00 00"), .served_by_transport = kLuns},
};
// clang-format on

// Sorted by opcode and service action, each row's usage data naming its own opcode and service
// action, and each row in the right part: only the transport's name the set that offers them
// (opcode_table_test checks that libscsi's, and only those, have a handler).
template <size_t N>
constexpr bool sorted_and_consistent(const OpcodeInfo (&rows)[N], bool transport) {
  for (size_t i = 0; i < N; ++i) {
    const OpcodeInfo& op = rows[i];
    if (op.usage[0] != op.opcode || op.cdb_len > 16) return false;
    if (op.has_service_action && (op.usage[1] & 0x1F) != op.service_action) return false;
    if (transport != (op.served_by_transport != 0)) return false;
    if (i > 0) {
      const OpcodeInfo& prev = rows[i - 1];
      if (prev.opcode > op.opcode) return false;
      if (prev.opcode == op.opcode &&
          (!op.has_service_action || prev.service_action >= op.service_action))
        return false;
    }
  }
  return true;
}
static_assert(sorted_and_consistent(kOpcodes, false), "kOpcodes: order or rows");
static_assert(sorted_and_consistent(kTransportOpcodes, true), "kTransportOpcodes: order or rows");

// opcode -> index of its first row + 1 (0: not in the table).
template <size_t N>
constexpr std::array<uint8_t, 256> make_index(const OpcodeInfo (&rows)[N]) {
  static_assert(N < 255);
  std::array<uint8_t, 256> index{};
  for (size_t i = N; i-- > 0;) index[rows[i].opcode] = static_cast<uint8_t>(i + 1);
  return index;
}
constexpr std::array<uint8_t, 256> kIndex = make_index(kOpcodes);
constexpr std::array<uint8_t, 256> kTransportIndex = make_index(kTransportOpcodes);

// An opcode is in one part only; it reports no pending unit attention when all its rows say so.
constexpr std::array<bool, 256> make_ua_exemptions() {
  std::array<bool, 256> exempt{};
  for (const auto* part : {&kIndex, &kTransportIndex})
    for (size_t i = 0; i < 256; ++i) exempt[i] = exempt[i] || (*part)[i];
  for (const OpcodeInfo& op : kOpcodes) exempt[op.opcode] &= (op.flags & kAllowedUnderUa) != 0;
  for (const OpcodeInfo& op : kTransportOpcodes)
    exempt[op.opcode] &= (op.flags & kAllowedUnderUa) != 0;
  return exempt;
}
constexpr std::array<bool, 256> kAllowedUnderUaIndex = make_ua_exemptions();

constexpr bool parts_disjoint() {
  for (size_t i = 0; i < 256; ++i)
    if (kIndex[i] && kTransportIndex[i]) return false;
  return true;
}
static_assert(parts_disjoint(), "an opcode is served by libscsi or by the transport, not both");

const OpcodeInfo* find_in(std::span<const OpcodeInfo> rows, const std::array<uint8_t, 256>& index,
                          uint8_t opcode, uint16_t service_action) {
  uint8_t first = index[opcode];
  if (!first) return nullptr;
  const OpcodeInfo* op = &rows[first - 1];
  if (!op->has_service_action) return op;
  for (const OpcodeInfo* end = rows.data() + rows.size(); op != end && op->opcode == opcode; ++op)
    if (op->service_action == service_action) return op;
  return nullptr;
}

}  // namespace

const OpcodeInfo* find_opcode(uint8_t opcode, uint16_t service_action) {
  return find_in(kOpcodes, kIndex, opcode, service_action);
}

const OpcodeInfo* find_opcode(const uint8_t* cdb, size_t cdb_len, bool* unsupported_sa) {
  *unsupported_sa = false;
  uint8_t first = kIndex[cdb[0]];
  if (!first) return nullptr;
  if (!kOpcodes[first - 1].has_service_action) return &kOpcodes[first - 1];
  if (cdb_len < 2) return nullptr;
  const OpcodeInfo* op = find_opcode(cdb[0], cdb[1] & 0x1F);
  *unsupported_sa = op == nullptr;
  return op;
}

bool opcode_has_service_actions(uint8_t opcode) {
  uint8_t first = kIndex[opcode];
  return first && kOpcodes[first - 1].has_service_action;
}

std::span<const OpcodeInfo> all_opcodes() {
  return kOpcodes;
}

std::span<const OpcodeInfo> transport_opcodes() {
  return kTransportOpcodes;
}

const OpcodeInfo* find_transport_opcode(uint8_t opcode, uint16_t service_action) {
  return find_in(kTransportOpcodes, kTransportIndex, opcode, service_action);
}

bool opcode_allowed_under_ua(uint8_t opcode) {
  return kAllowedUnderUaIndex[opcode];
}

bool opcode_enabled(const LuState& lu, const OpcodeInfo& op) {
  if (op.served_by_transport) return (lu.options.transport_commands & op.served_by_transport) != 0;
  // Whether the unit has ALUA groups right now (the transport re-reads them).
  if (op.flags & kNeedsPort) {
    AluaDescription alua;
    if (!current_alua(lu, alua)) return false;
  }
  if ((op.flags & kNeedsUnmap) && !lu.info.thin_provisioning) return false;
  return true;
}

}  // namespace lunkit::scsi

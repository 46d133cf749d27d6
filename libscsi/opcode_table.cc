#include "libscsi/opcode_table.h"

#include <algorithm>

#include "libscsi/handlers.h"
#include "libscsi/lu_state.h"

namespace lunkit::scsi {
namespace {

namespace h = handlers;
using D = DataDir;
constexpr FieldLoc kNoField{};
constexpr uint16_t kIo = kMediumAccess | kRangeChecked;

// Usage data: byte 0 is the opcode, then the bits each byte may carry. The last byte of every
// CDB is CONTROL, where lunkit accepts no bits (no NACA, no linked commands).
constexpr OpcodeInfo kOpcodes[] = {
    {0x00, 0, false, 6, "TEST UNIT READY", D::kNone, kNoField, kNoField, kMediumAccess, 30,
     {0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, h::test_unit_ready},
    {0x03, 0, false, 6, "REQUEST SENSE", D::kIn, kNoField, kNoField, kAllowedUnderUa, 30,
     {0x03, 0x01, 0x00, 0x00, 0xFF, 0x00}, h::request_sense},
    {0x04, 0, false, 6, "FORMAT UNIT", D::kNone, kNoField, kNoField, kMediumAccess | kMutating,
     3600, {0x04, 0x0F, 0x00, 0x00, 0x00, 0x00}, h::format_unit},
    {0x08, 0, false, 6, "READ(6)", D::kIn, {1, 3}, {4, 1}, kIo | kShortForm, 30,
     {0x08, 0x1F, 0xFF, 0xFF, 0xFF, 0x00}, h::read},
    {0x0A, 0, false, 6, "WRITE(6)", D::kOut, {1, 3}, {4, 1}, kIo | kShortForm | kMutating, 30,
     {0x0A, 0x1F, 0xFF, 0xFF, 0xFF, 0x00}, h::write},
    {0x12, 0, false, 6, "INQUIRY", D::kIn, kNoField, kNoField, kAllowedUnderUa, 30,
     {0x12, 0x01, 0xFF, 0xFF, 0xFF, 0x00}, h::inquiry},
    {0x15, 0, false, 6, "MODE SELECT(6)", D::kOut, kNoField, kNoField, 0, 30,
     {0x15, 0x11, 0x00, 0x00, 0xFF, 0x00}, h::mode_select},
    {0x1A, 0, false, 6, "MODE SENSE(6)", D::kIn, kNoField, kNoField, 0, 30,
     {0x1A, 0x08, 0xFF, 0xFF, 0xFF, 0x00}, h::mode_sense},
    {0x1B, 0, false, 6, "START STOP UNIT", D::kNone, kNoField, kNoField, 0, 60,
     {0x1B, 0x01, 0x00, 0x0F, 0xF7, 0x00}, h::start_stop_unit},
    {0x1E, 0, false, 6, "PREVENT ALLOW MEDIUM REMOVAL", D::kNone, kNoField, kNoField, 0, 30,
     {0x1E, 0x00, 0x00, 0x00, 0x03, 0x00}, h::prevent_allow_medium_removal},
    {0x25, 0, false, 10, "READ CAPACITY(10)", D::kIn, kNoField, kNoField, kMediumAccess, 30,
     {0x25, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, h::read_capacity10},
    {0x28, 0, false, 10, "READ(10)", D::kIn, {2, 4}, {7, 2}, kIo, 30,
     {0x28, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0x00}, h::read},
    {0x2A, 0, false, 10, "WRITE(10)", D::kOut, {2, 4}, {7, 2}, kIo | kMutating, 30,
     {0x2A, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0x00}, h::write},
    {0x2E, 0, false, 10, "WRITE AND VERIFY(10)", D::kOut, {2, 4}, {7, 2}, kIo | kMutating, 30,
     {0x2E, 0x16, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0x00}, h::write_and_verify},
    {0x2F, 0, false, 10, "VERIFY(10)", D::kOut, {2, 4}, {7, 2}, kIo, 30,
     {0x2F, 0x16, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0x00}, h::verify},
    {0x34, 0, false, 10, "PRE-FETCH(10)", D::kNone, {2, 4}, {7, 2}, kIo, 30,
     {0x34, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0x00}, h::pre_fetch},
    {0x35, 0, false, 10, "SYNCHRONIZE CACHE(10)", D::kNone, {2, 4}, {7, 2}, kIo, 60,
     {0x35, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0x00}, h::synchronize_cache},
    {0x41, 0, false, 10, "WRITE SAME(10)", D::kOut, {2, 4}, {7, 2}, kIo | kMutating, 60,
     {0x41, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0x00}, h::write_same},
    {0x42, 0, false, 10, "UNMAP", D::kOut, kNoField, kNoField,
     kMediumAccess | kMutating | kNeedsUnmap, 60,
     {0x42, 0x01, 0x00, 0x00, 0x00, 0x00, 0x3F, 0xFF, 0xFF, 0x00}, h::unmap},
    {0x55, 0, false, 10, "MODE SELECT(10)", D::kOut, kNoField, kNoField, 0, 30,
     {0x55, 0x11, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x00}, h::mode_select},
    {0x5A, 0, false, 10, "MODE SENSE(10)", D::kIn, kNoField, kNoField, 0, 30,
     {0x5A, 0x18, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0x00}, h::mode_sense},
    {0x88, 0, false, 16, "READ(16)", D::kIn, {2, 8}, {10, 4}, kIo, 30,
     {0x88, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F,
      0x00},
     h::read},
    {0x89, 0, false, 16, "COMPARE AND WRITE", D::kOut, {2, 8}, {13, 1},
     kIo | kMutating | kExclusive, 30,
     {0x89, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0xFF, 0x3F,
      0x00},
     h::compare_and_write},
    {0x8A, 0, false, 16, "WRITE(16)", D::kOut, {2, 8}, {10, 4}, kIo | kMutating, 30,
     {0x8A, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F,
      0x00},
     h::write},
    {0x8E, 0, false, 16, "WRITE AND VERIFY(16)", D::kOut, {2, 8}, {10, 4}, kIo | kMutating, 30,
     {0x8E, 0x16, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F,
      0x00},
     h::write_and_verify},
    {0x8F, 0, false, 16, "VERIFY(16)", D::kOut, {2, 8}, {10, 4}, kIo, 30,
     {0x8F, 0x16, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F,
      0x00},
     h::verify},
    {0x90, 0, false, 16, "PRE-FETCH(16)", D::kNone, {2, 8}, {10, 4}, kIo, 30,
     {0x90, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F,
      0x00},
     h::pre_fetch},
    {0x91, 0, false, 16, "SYNCHRONIZE CACHE(16)", D::kNone, {2, 8}, {10, 4}, kIo, 60,
     {0x91, 0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F,
      0x00},
     h::synchronize_cache},
    {0x93, 0, false, 16, "WRITE SAME(16)", D::kOut, {2, 8}, {10, 4}, kIo | kMutating, 60,
     {0x93, 0x19, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F,
      0x00},
     h::write_same},
    {0x9E, 0x10, true, 16, "READ CAPACITY(16)", D::kIn, kNoField, kNoField, kMediumAccess, 30,
     {0x9E, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00,
      0x00},
     h::read_capacity16},
    {0x9E, 0x12, true, 16, "GET LBA STATUS", D::kIn, {2, 8}, kNoField, kMediumAccess, 30,
     {0x9E, 0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00,
      0x00},
     h::get_lba_status},
    {0xA3, 0x0A, true, 12, "REPORT TARGET PORT GROUPS", D::kIn, kNoField, kNoField, kNeedsPort,
     30, {0xA3, 0xEA, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00},
     h::report_target_port_groups},
    {0xA3, 0x0C, true, 12, "REPORT SUPPORTED OPERATION CODES", D::kIn, kNoField, kNoField, 0, 30,
     {0xA3, 0x0C, 0x87, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00},
     h::report_supported_opcodes},
    {0xA3, 0x0D, true, 12, "REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS", D::kIn, kNoField,
     kNoField, 0, 30, {0xA3, 0x0D, 0x80, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00},
     h::report_supported_tmfs},
    {0xA4, 0x0A, true, 12, "SET TARGET PORT GROUPS", D::kOut, kNoField, kNoField, kNeedsPort, 30,
     {0xA4, 0x0A, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00},
     h::set_target_port_groups},
    {0xA8, 0, false, 12, "READ(12)", D::kIn, {2, 4}, {6, 4}, kIo, 30,
     {0xA8, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0x00}, h::read},
    {0xAA, 0, false, 12, "WRITE(12)", D::kOut, {2, 4}, {6, 4}, kIo | kMutating, 30,
     {0xAA, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0x00}, h::write},
    {0xAE, 0, false, 12, "WRITE AND VERIFY(12)", D::kOut, {2, 4}, {6, 4}, kIo | kMutating, 30,
     {0xAE, 0x16, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0x00},
     h::write_and_verify},
    {0xAF, 0, false, 12, "VERIFY(12)", D::kOut, {2, 4}, {6, 4}, kIo, 30,
     {0xAF, 0x16, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0x00}, h::verify},
};

constexpr bool sorted_and_consistent() {
  for (size_t i = 0; i < std::size(kOpcodes); ++i) {
    const OpcodeInfo& op = kOpcodes[i];
    if (op.usage[0] != op.opcode || op.cdb_len > 16) return false;
    if (op.has_service_action && (op.usage[1] & 0x1F) != op.service_action) return false;
    if (i > 0) {
      const OpcodeInfo& prev = kOpcodes[i - 1];
      if (prev.opcode > op.opcode) return false;
      if (prev.opcode == op.opcode &&
          (!op.has_service_action || prev.service_action >= op.service_action))
        return false;
    }
  }
  return true;
}
static_assert(sorted_and_consistent(), "kOpcodes must be sorted by opcode and service action");

// opcode -> index of its first row + 1 (0: unsupported).
constexpr std::array<uint8_t, 256> make_index() {
  std::array<uint8_t, 256> index{};
  for (size_t i = std::size(kOpcodes); i-- > 0;)
    index[kOpcodes[i].opcode] = static_cast<uint8_t>(i + 1);
  return index;
}
constexpr std::array<uint8_t, 256> kIndex = make_index();
static_assert(std::size(kOpcodes) < 255);

}  // namespace

const OpcodeInfo* find_opcode(uint8_t opcode, uint16_t service_action) {
  uint8_t first = kIndex[opcode];
  if (!first) return nullptr;
  const OpcodeInfo* op = &kOpcodes[first - 1];
  if (!op->has_service_action) return op;
  for (const OpcodeInfo* end = std::end(kOpcodes); op != end && op->opcode == opcode; ++op)
    if (op->service_action == service_action) return op;
  return nullptr;
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

std::span<const OpcodeInfo> all_opcodes() { return kOpcodes; }

bool opcode_enabled(const LuState& lu, const OpcodeInfo& op) {
  if ((op.flags & kNeedsPort) && !lu.options.port) return false;
  if ((op.flags & kNeedsUnmap) && !lu.info.thin_provisioning) return false;
  return true;
}

}  // namespace lunkit::scsi

#include <gtest/gtest.h>

#include <set>

#include "libscsi/opcode_table.h"

namespace lunkit::scsi {
namespace {

TEST(OpcodeTable, EveryEntryIsComplete) {
  for (const OpcodeInfo& op : all_opcodes()) {
    SCOPED_TRACE(std::string(op.name));
    EXPECT_NE(op.handler, nullptr);
    EXPECT_FALSE(op.name.empty());
    EXPECT_EQ(op.usage[0], op.opcode);
    EXPECT_EQ(op.usage[op.cdb_len - 1], 0x00) << "CONTROL byte";
    // The group code fixes the CDB length.
    uint8_t group = op.opcode >> 5;
    size_t expected = group == 0 ? 6 : (group <= 2 ? 10 : group == 4 ? 16 : 12);
    EXPECT_EQ(op.cdb_len, expected);
    if (op.lba.width) {
      EXPECT_LE(op.lba.offset + op.lba.width, op.cdb_len);
    }
    if (op.blocks.width) {
      EXPECT_LE(op.blocks.offset + op.blocks.width, op.cdb_len);
    }
  }
}

TEST(OpcodeTable, LookupFindsEachEntryByOpcodeAndServiceAction) {
  std::set<std::pair<int, int>> seen;
  for (const OpcodeInfo& op : all_opcodes()) {
    EXPECT_TRUE(seen.insert({op.opcode, op.service_action}).second) << op.name;
    EXPECT_EQ(find_opcode(op.opcode, op.service_action), &op);
    uint8_t cdb[16] = {op.opcode, op.has_service_action ? op.service_action : uint8_t{0}};
    bool bad_sa = true;
    EXPECT_EQ(find_opcode(cdb, op.cdb_len, &bad_sa), &op);
    EXPECT_FALSE(bad_sa);
  }
}

TEST(OpcodeTable, UnknownServiceActionIsReportedAsSuch) {
  uint8_t cdb[16] = {0x9E, 0x1F};
  bool bad_sa = false;
  EXPECT_EQ(find_opcode(cdb, 16, &bad_sa), nullptr);
  EXPECT_TRUE(bad_sa);
  uint8_t unknown[16] = {0xC5};
  EXPECT_EQ(find_opcode(unknown, 16, &bad_sa), nullptr);
  EXPECT_FALSE(bad_sa);
}

TEST(OpcodeTable, CoversTheCommandsLibscsiPromises) {
  const std::pair<int, int> required[] = {
      {0x00, 0}, {0x03, 0},    {0x04, 0},    {0x08, 0},    {0x0A, 0},    {0x12, 0},    {0x15, 0},
      {0x1A, 0}, {0x1B, 0},    {0x1E, 0},    {0x25, 0},    {0x28, 0},    {0x2A, 0},    {0x2E, 0},
      {0x2F, 0}, {0x34, 0},    {0x35, 0},    {0x41, 0},    {0x42, 0},    {0x55, 0},    {0x5A, 0},
      {0x88, 0}, {0x89, 0},    {0x8A, 0},    {0x8E, 0},    {0x8F, 0},    {0x90, 0},    {0x91, 0},
      {0x93, 0}, {0x9E, 0x10}, {0x9E, 0x12}, {0xA3, 0x0A}, {0xA3, 0x0C}, {0xA3, 0x0D}, {0xA8, 0},
      {0xAA, 0}, {0xAE, 0},    {0xAF, 0}};
  for (auto [op, sa] : required)
    EXPECT_NE(find_opcode(static_cast<uint8_t>(op), static_cast<uint16_t>(sa)), nullptr)
        << std::hex << op << "/" << sa;
}

TEST(OpcodeTable, TransportRowsAreCompleteAndNeverDispatched) {
  std::set<std::pair<int, int>> seen;
  for (const OpcodeInfo& op : transport_opcodes()) {
    SCOPED_TRACE(std::string(op.name));
    EXPECT_EQ(op.handler, nullptr);
    EXPECT_NE(op.served_by_transport, 0);
    EXPECT_EQ(op.usage[0], op.opcode);
    EXPECT_EQ(op.usage[op.cdb_len - 1], 0x00) << "CONTROL byte";
    uint8_t group = op.opcode >> 5;
    EXPECT_EQ(op.cdb_len, group == 0 ? 6 : (group <= 2 ? 10 : group == 4 ? 16 : 12));
    EXPECT_TRUE(seen.insert({op.opcode, op.service_action}).second);
    EXPECT_EQ(find_transport_opcode(op.opcode, op.service_action), &op);
    EXPECT_EQ(find_opcode(op.opcode, op.service_action), nullptr);
    uint8_t cdb[16] = {op.opcode, op.service_action};
    bool bad_sa = true;
    EXPECT_EQ(find_opcode(cdb, op.cdb_len, &bad_sa), nullptr);
    EXPECT_FALSE(bad_sa) << "an unknown opcode to the dispatcher, not an unknown service action";
  }
  EXPECT_EQ(seen.size(), 17u);
  EXPECT_NE(find_transport_opcode(0xA0, 0), nullptr);
}

TEST(OpcodeTable, OnlyInquiryRequestSenseAndReportLunsAreAllowedUnderUnitAttention) {
  std::set<int> allowed;
  for (int op = 0; op < 256; ++op)
    if (opcode_allowed_under_ua(static_cast<uint8_t>(op))) allowed.insert(op);
  EXPECT_EQ(allowed, (std::set<int>{0x03, 0x12, 0xA0}));
}

TEST(OpcodeTable, WriteProtectionCoversTheCommandsThatWriteTheMedium) {
  std::set<int> writes;
  for (const OpcodeInfo& op : all_opcodes()) {
    if (!(op.flags & kWritesMedium)) continue;
    writes.insert(op.opcode);
    EXPECT_TRUE(op.flags & kMutating) << op.name;
    EXPECT_NE(op.dir, DataDir::kIn) << op.name;
  }
  // Not EXTENDED COPY: it writes the segments' destination units, which it checks itself.
  EXPECT_EQ(writes, (std::set<int>{0x04, 0x0A, 0x2A, 0x2E, 0x41, 0x42, 0x89, 0x8A, 0x8E, 0x93, 0xAA,
                                   0xAE}));
}

}  // namespace
}  // namespace lunkit::scsi

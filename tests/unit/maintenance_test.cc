// REPORT SUPPORTED OPERATION CODES, REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS (port groups:
// alua_test.cc).
#include "libscsi/opcode_table.h"
#include "tests/unit/harness.h"

namespace lunkit::test {
namespace {

using Bytes = std::vector<uint8_t>;
Bytes got(const TestCommand& tc) {
  return {tc.data_in().begin(), tc.data_in().end()};
}

Cdb rsoc(uint8_t options, uint8_t opcode = 0, uint16_t sa = 0, uint32_t alloc = 8192) {
  return Cdb(0xA3).set(1, 0x0C).set(2, options).set(3, opcode).be(4, 2, sa).be(6, 4, alloc);
}

class Maintenance : public LuTest {
 protected:
  void SetUp() override { clear_ua(); }
};

TEST_F(Maintenance, AllCommandsListIsTheEnabledTable) {
  auto& tc = run(rsoc(0), {}, 8192);
  EXPECT_GOOD(tc);
  size_t len = tc.cmd.data_in_len;
  uint32_t data_len = tc.buffer[0] << 24 | tc.buffer[1] << 16 | tc.buffer[2] << 8 | tc.buffer[3];
  EXPECT_EQ(data_len + 4, len);
  std::vector<const scsi::OpcodeInfo*> listed;
  for (size_t off = 4; off + 8 <= len; off += 8) {
    const uint8_t* d = &tc.buffer[off];
    auto* op = scsi::find_opcode(d[0], static_cast<uint16_t>(d[2] << 8 | d[3]));
    ASSERT_NE(op, nullptr);
    EXPECT_EQ(d[5], op->has_service_action ? 0x01 : 0x00);
    EXPECT_EQ(d[6] << 8 | d[7], op->cdb_len);
    listed.push_back(op);
  }
  size_t enabled = 0;
  for (const auto& op : scsi::all_opcodes())
    enabled += !(op.flags & scsi::kNeedsPort);  // no port on this unit; it is thin-provisioned
  EXPECT_EQ(listed.size(), enabled);
}

TEST_F(Maintenance, AllCommandsWithTimeoutsDescriptors) {
  auto& tc = run(rsoc(0x80), {}, 8192);
  const uint8_t* first = &tc.buffer[4];  // TEST UNIT READY
  EXPECT_EQ(Bytes(first, first + 20),
            (Bytes{0x00, 0, 0, 0, 0, 0x02, 0, 6, 0, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0, 0, 30}));
  EXPECT_EQ((tc.cmd.data_in_len - 4) % 20, 0u);
}

TEST_F(Maintenance, OneCommandUsageData) {
  auto& tc = run(rsoc(1, 0x28), {}, 64);
  EXPECT_EQ(got(tc),
            (Bytes{0, 0x03, 0, 10, 0x28, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0x00}));
  auto& sa = run(rsoc(2, 0x9E, 0x10), {}, 64);
  EXPECT_EQ(got(sa), (Bytes{0, 0x03, 0, 16, 0x9E, 0x10, 0,    0,    0, 0,
                            0, 0,    0, 0,  0xFF, 0xFF, 0xFF, 0xFF, 0, 0}));
  auto& timeouts = run(rsoc(0x81, 0x35), {}, 64);
  EXPECT_EQ(timeouts.buffer[1], 0x83);
  EXPECT_EQ(Bytes(timeouts.buffer.begin() + 14, timeouts.buffer.begin() + 26),
            (Bytes{0, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0, 0, 60}));
}

// The usage data is what the reserved-bit check enforces, so no bit is advertised that the
// handler then refuses (ANCHOR, SP, power conditions, LOEJ, NO_FLUSH, BYTCHK 1xb, options 4-7).
TEST_F(Maintenance, UsageDataLeavesOutRefusedBits) {
  auto usage = [&](uint8_t opcode) {
    auto& tc = run(rsoc(1, opcode), {}, 64);
    return Bytes(tc.buffer.begin() + 4, tc.buffer.begin() + tc.cmd.data_in_len);
  };
  EXPECT_EQ(usage(0x93), (Bytes{0x93, 0x09, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                0xFF, 0xFF, 0xFF, 0x3F, 0x00}));
  EXPECT_EQ(usage(0x41), (Bytes{0x41, 0x08, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0x00}));
  EXPECT_EQ(usage(0x42), (Bytes{0x42, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3F, 0xFF, 0xFF, 0x00}));
  EXPECT_EQ(usage(0x1B), (Bytes{0x1B, 0x01, 0x00, 0x00, 0x01, 0x00}));
  EXPECT_EQ(usage(0x1E), (Bytes{0x1E, 0x00, 0x00, 0x00, 0x01, 0x00}));
  EXPECT_EQ(usage(0x15), (Bytes{0x15, 0x10, 0x00, 0x00, 0xFF, 0x00}));
  EXPECT_EQ(usage(0x2E), (Bytes{0x2E, 0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0xFF, 0xFF, 0x00}));
  auto& rsoc_usage = run(rsoc(2, 0xA3, 0x0C), {}, 64);
  EXPECT_EQ(rsoc_usage.buffer[4 + 2], 0x83);
  // And every advertised bit of those is accepted by the command.
  EXPECT_GOOD(run(Cdb(0x1E).set(4, 0x01)));
  EXPECT_GOOD(run(Cdb(0x1B).set(1, 0x01).set(4, 0x01)));
  EXPECT_GOOD(run(Cdb(0x93).set(1, 0x09).be(10, 4, 1)));
}

TEST_F(Maintenance, OneCommandReportingOptions) {
  EXPECT_INVALID_CDB_FIELD(run(rsoc(1, 0x9E), {}, 64), 2, 2);  // has service actions
  EXPECT_INVALID_CDB_FIELD(run(rsoc(2, 0x28), {}, 64), 2, 2);  // has none
  EXPECT_INVALID_CDB_FIELD(run(rsoc(4, 0x28), {}, 64), 2, 2);  // reserved option (usage)
  auto& ignored_sa = run(rsoc(3, 0x28, 0x55), {}, 64);
  EXPECT_EQ(ignored_sa.buffer[1], 0x03);
  auto& unsupported = run(rsoc(1, 0xC5), {}, 64);
  EXPECT_EQ(got(unsupported), (Bytes{0, 0x01, 0, 0}));
  auto& no_port = run(rsoc(2, 0xA3, 0x0A), {}, 64);
  EXPECT_EQ(no_port.buffer[1], 0x01) << "REPORT TARGET PORT GROUPS needs a port identity";
}

TEST_F(Maintenance, EveryUsageBitAgreesWithCdbValidation) {
  // A bit outside the usage data is rejected with a pointer to exactly that bit.
  for (const auto& op : scsi::all_opcodes()) {
    if (op.flags & scsi::kNeedsPort) continue;
    for (size_t byte = 1; byte < op.cdb_len; ++byte) {
      uint8_t forbidden = static_cast<uint8_t>(~op.usage[byte]);
      if (op.has_service_action && byte == 1) forbidden &= 0xE0;
      for (int bit = 0; bit < 8; ++bit) {
        if (!(forbidden & (1u << bit))) continue;
        Cdb cdb(op.opcode);
        if (op.has_service_action) cdb.set(1, op.service_action);
        cdb.bytes[byte] |= static_cast<uint8_t>(1u << bit);
        auto& tc = run(cdb, Bytes(4096, 0), 0, op.cdb_len);
        SCOPED_TRACE(std::string(op.name) + " byte " + std::to_string(byte) + " bit " +
                     std::to_string(bit));
        EXPECT_INVALID_CDB_FIELD(tc, static_cast<int>(byte), bit);
      }
    }
  }
}

TEST_F(Maintenance, SupportedTaskManagementFunctions) {
  auto& tc = run(Cdb(0xA3).set(1, 0x0D).be(6, 4, 16), {}, 16);
  // Only what LIO performs for a TCMU LU: ABORT TASK and LOGICAL UNIT RESET.
  EXPECT_EQ(got(tc), (Bytes{0x88, 0x00, 0x00, 0x00}));
  auto& ext = run(Cdb(0xA3).set(1, 0x0D).set(2, 0x80).be(6, 4, 16), {}, 16);
  EXPECT_EQ(got(ext), (Bytes{0x88, 0x00, 0x00, 0x0C, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
}

TEST_F(Maintenance, PortGroupCommandsNeedAPortIdentity) {
  EXPECT_INVALID_CDB_FIELD(run(Cdb(0xA3).set(1, 0x0A).be(6, 4, 64), {}, 64), 1, 4);
}

}  // namespace
}  // namespace lunkit::test

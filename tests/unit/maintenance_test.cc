// REPORT SUPPORTED OPERATION CODES, REPORT SUPPORTED TASK MANAGEMENT FUNCTIONS (port groups:
// alua_test.cc).
#include <algorithm>

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

// ---- the commands the transport serves for the unit (LogicalUnitOptions::transport_commands) ----

struct Row {
  uint8_t opcode;
  uint8_t sa;  // 0xFF: no service action
  uint8_t cdb_len;
  uint16_t timeout = 30;  // recommended command timeout, seconds
};
// libscsi's own commands on this unit (thin-provisioned, no port: no REPORT TARGET PORT GROUPS).
const std::vector<Row> kOwn = {
    {0x00, 0xFF, 6},      {0x03, 0xFF, 6},       {0x04, 0xFF, 6, 3600}, {0x08, 0xFF, 6},
    {0x0A, 0xFF, 6},      {0x12, 0xFF, 6},       {0x15, 0xFF, 6},       {0x1A, 0xFF, 6},
    {0x1B, 0xFF, 6, 60},  {0x1E, 0xFF, 6},       {0x25, 0xFF, 10},      {0x28, 0xFF, 10},
    {0x2A, 0xFF, 10},     {0x2E, 0xFF, 10},      {0x2F, 0xFF, 10},      {0x34, 0xFF, 10},
    {0x35, 0xFF, 10, 60}, {0x41, 0xFF, 10, 60},  {0x42, 0xFF, 10, 60},  {0x55, 0xFF, 10},
    {0x5A, 0xFF, 10},     {0x83, 0x00, 16, 600}, {0x84, 0x00, 16},      {0x84, 0x03, 16},
    {0x88, 0xFF, 16},     {0x89, 0xFF, 16},      {0x8A, 0xFF, 16},      {0x8E, 0xFF, 16},
    {0x8F, 0xFF, 16},     {0x90, 0xFF, 16},      {0x91, 0xFF, 16, 60},  {0x93, 0xFF, 16, 60},
    {0x9E, 0x10, 16},     {0x9E, 0x12, 16},      {0xA3, 0x0C, 12},      {0xA3, 0x0D, 12},
    {0xA8, 0xFF, 12},     {0xAA, 0xFF, 12},      {0xAE, 0xFF, 12},      {0xAF, 0xFF, 12}};
const std::vector<Row> kReportLuns = {{0xA0, 0xFF, 12}};
const std::vector<Row> kReservations = {
    {0x16, 0xFF, 6},  {0x17, 0xFF, 6},  {0x56, 0xFF, 10}, {0x57, 0xFF, 10},
    {0x5E, 0x00, 10}, {0x5E, 0x01, 10}, {0x5E, 0x02, 10}, {0x5E, 0x03, 10},
    {0x5F, 0x00, 10}, {0x5F, 0x01, 10}, {0x5F, 0x02, 10}, {0x5F, 0x03, 10},
    {0x5F, 0x04, 10}, {0x5F, 0x05, 10}, {0x5F, 0x06, 10}, {0x5F, 0x07, 10}};

// The all-commands answer for these rows, sorted as the standard lists them (opcode, then
// service action), with timeouts descriptors when `timeouts`.
Bytes all_commands(std::vector<Row> rows, bool timeouts) {
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return a.opcode != b.opcode ? a.opcode < b.opcode : a.sa < b.sa;
  });
  Bytes out(4, 0);
  for (const Row& r : rows) {
    bool sa = r.sa != 0xFF;
    uint8_t flags = static_cast<uint8_t>((timeouts ? 0x02 : 0) | (sa ? 0x01 : 0));
    Bytes d = {r.opcode, 0, 0, sa ? r.sa : uint8_t{0}, 0, flags, 0, r.cdb_len};
    out.insert(out.end(), d.begin(), d.end());
    if (timeouts) {
      Bytes t = {0,
                 0x0A,
                 0,
                 0,
                 0,
                 0,
                 0,
                 0,
                 0,
                 0,
                 static_cast<uint8_t>(r.timeout >> 8),
                 static_cast<uint8_t>(r.timeout)};
      out.insert(out.end(), t.begin(), t.end());
    }
  }
  uint32_t len = static_cast<uint32_t>(out.size() - 4);
  out[0] = static_cast<uint8_t>(len >> 24), out[1] = static_cast<uint8_t>(len >> 16);
  out[2] = static_cast<uint8_t>(len >> 8), out[3] = static_cast<uint8_t>(len);
  return out;
}
std::vector<Row> operator+(std::vector<Row> a, const std::vector<Row>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

const Bytes kInvalidOpcodeSense = {0x70, 0, 0x05, 0,    0, 0, 0, 0x0A, 0,
                                   0,    0, 0,    0x20, 0, 0, 0, 0,    0};

class TransportServed : public Maintenance {
 protected:
  void offer(uint8_t sets) {
    options_.transport_commands = sets;
    make_lu();
    clear_ua();
  }
  Bytes sense_of(const TestCommand& tc) {
    return Bytes(tc.cmd.sense.begin(), tc.cmd.sense.begin() + tc.cmd.sense_len);
  }
};

TEST_F(TransportServed, AllCommandsWithoutTheOptionAreLibscsisOwn) {
  EXPECT_EQ(got(run(rsoc(0), {}, 8192)), all_commands(kOwn, false));
  EXPECT_EQ(got(run(rsoc(0x80), {}, 8192)), all_commands(kOwn, true));
}

TEST_F(TransportServed, AllCommandsListReportLunsWhereTheTransportServesIt) {
  offer(scsi::kTransportReportLuns);
  EXPECT_EQ(got(run(rsoc(0), {}, 8192)), all_commands(kOwn + kReportLuns, false));
  EXPECT_EQ(got(run(rsoc(0x80), {}, 8192)), all_commands(kOwn + kReportLuns, true));
}

TEST_F(TransportServed, AllCommandsListReservationsWhereTheKernelEmulatesThem) {
  offer(scsi::kTransportReportLuns | scsi::kTransportReservations);
  EXPECT_EQ(got(run(rsoc(0), {}, 8192)), all_commands(kOwn + kReportLuns + kReservations, false));
  EXPECT_EQ(got(run(rsoc(0x80), {}, 8192)), all_commands(kOwn + kReportLuns + kReservations, true));
}

TEST_F(TransportServed, OneCommandWithoutTheOption) {
  const Bytes unsupported = {0, 0x01, 0, 0};
  EXPECT_EQ(got(run(rsoc(1, 0xA0), {}, 64)), unsupported);
  EXPECT_EQ(got(run(rsoc(1, 0x16), {}, 64)), unsupported);
  EXPECT_EQ(got(run(rsoc(3, 0x5E, 1), {}, 64)), unsupported);
  // Without the transport's rows PERSISTENT RESERVE IN has no service actions here.
  EXPECT_INVALID_CDB_FIELD(run(rsoc(2, 0x5E, 1), {}, 64), 2, 2);
}

TEST_F(TransportServed, OneCommandReportLuns) {
  offer(scsi::kTransportReportLuns);
  EXPECT_EQ(got(run(rsoc(1, 0xA0), {}, 64)),
            (Bytes{0, 0x03, 0, 12, 0xA0, 0x00, 0xFF, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0}));
  EXPECT_EQ(got(run(rsoc(0x81, 0xA0), {}, 64)),
            (Bytes{0, 0x83, 0, 12,   0xA0, 0x00, 0xFF, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
                   0, 0,    0, 0x0A, 0,    0,    0,    0, 0, 0, 0,    0,    0,    30}));
  EXPECT_EQ(got(run(rsoc(1, 0x16), {}, 64)), (Bytes{0, 0x01, 0, 0})) << "no reservations offered";
  EXPECT_EQ(got(run(rsoc(3, 0x5F, 0), {}, 64)), (Bytes{0, 0x01, 0, 0}));
}

TEST_F(TransportServed, OneCommandReservations) {
  offer(scsi::kTransportReportLuns | scsi::kTransportReservations);
  EXPECT_EQ(got(run(rsoc(2, 0x5F, 0x00), {}, 64)),
            (Bytes{0, 0x03, 0, 10, 0x5F, 0x00, 0x0F, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0}));
  EXPECT_EQ(got(run(rsoc(2, 0x5E, 0x03), {}, 64)),
            (Bytes{0, 0x03, 0, 10, 0x5E, 0x03, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0}));
  EXPECT_EQ(got(run(rsoc(1, 0x16), {}, 64)), (Bytes{0, 0x03, 0, 6, 0x16, 0, 0, 0, 0, 0}));
  EXPECT_EQ(got(run(rsoc(1, 0x57), {}, 64)),
            (Bytes{0, 0x03, 0, 10, 0x57, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(got(run(rsoc(0x82, 0x5E, 0x00), {}, 64)),
            (Bytes{0, 0x83, 0,    10, 0x5E, 0x00, 0, 0, 0, 0, 0, 0xFF, 0xFF,
                   0, 0,    0x0A, 0,  0,    0,    0, 0, 0, 0, 0, 0,    30}));
  EXPECT_INVALID_CDB_FIELD(run(rsoc(1, 0x5E), {}, 64), 2, 2);  // has service actions now
  EXPECT_EQ(got(run(rsoc(2, 0x5F, 0x08), {}, 64)), (Bytes{0, 0x01, 0, 0}))
      << "REPLACE LOST RESERVATION is not one LIO performs";
}

// Never executed by libscsi, whatever the option: if the transport lets one through, it is
// INVALID COMMAND OPERATION CODE (not INVALID FIELD IN CDB for an unknown service action).
TEST_F(TransportServed, ArrivingAnywayTheyAreInvalidCommandOperationCodes) {
  offer(scsi::kTransportReportLuns | scsi::kTransportReservations);
  std::vector<Cdb> cdbs = {Cdb(0xA0).be(6, 4, 64),
                           Cdb(0x5E).set(1, 0x00).be(7, 2, 64),
                           Cdb(0x5E).set(1, 0x1F).be(7, 2, 64),
                           Cdb(0x5F).set(1, 0x00),
                           Cdb(0x16),
                           Cdb(0x17),
                           Cdb(0x56),
                           Cdb(0x57)};
  for (const Cdb& cdb : cdbs) {
    auto& tc = run(cdb, {}, 64);
    SCOPED_TRACE(int(cdb.bytes[0]));
    EXPECT_EQ(tc.cmd.status, scsi::Status::kCheckCondition);
    EXPECT_EQ(sense_of(tc), kInvalidOpcodeSense);
    EXPECT_EQ(tc.cmd.data_in_len, 0u);
    EXPECT_FALSE(tc.cmd.data_in || tc.cmd.data_out) << "nothing was written to the buffer";
    EXPECT_EQ(tc.buffer, Bytes(64, 0xEE));
  }
}

// REPORT LUNS leaves a pending unit attention for the next command (SAM-5 5.14), read from the
// table; PERSISTENT RESERVE IN does not.
TEST_F(TransportServed, UnitAttentionExemptionComesFromTheTable) {
  options_.transport_commands = scsi::kTransportReportLuns | scsi::kTransportReservations;
  make_lu();
  EXPECT_EQ(sense_of(run(Cdb(0xA0).be(6, 4, 64), {}, 64)), kInvalidOpcodeSense);
  EXPECT_SENSE(run(Cdb(0x5E).be(7, 2, 64), {}, 64), 0x06, 0x29, 0x00);
  make_lu();
  EXPECT_GOOD(run(Cdb(0x12).be(3, 2, 36), {}, 36));
  EXPECT_EQ(sense_of(run(Cdb(0xA0).be(6, 4, 64), {}, 64)), kInvalidOpcodeSense);
  EXPECT_SENSE(run(Cdb(0x00)), 0x06, 0x29, 0x00);
  EXPECT_GOOD(run(Cdb(0x00)));
}

}  // namespace
}  // namespace lunkit::test

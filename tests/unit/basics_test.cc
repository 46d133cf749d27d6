// TEST UNIT READY, unit attentions, REQUEST SENSE, START STOP UNIT, PREVENT ALLOW MEDIUM
// REMOVAL, READ CAPACITY, unsupported opcodes and CDB validation.
#include "tests/unit/harness.h"

namespace lunkit::test {
namespace {

using Bytes = std::vector<uint8_t>;
Bytes got(const TestCommand& tc) {
  return {tc.data_in().begin(), tc.data_in().end()};
}

class Basics : public LuTest {};

TEST_F(Basics, PowerOnUnitAttentionIsReportedOnceThenGood) {
  auto& first = run(Cdb(0x00));
  EXPECT_SENSE(first, 0x06, 0x29, 0x00);
  EXPECT_EQ(first.cmd.sense_len, 18u);
  auto& second = run(Cdb(0x00));
  EXPECT_GOOD(second);
}

TEST_F(Basics, UnitAttentionPrecedesUnsupportedOpcode) {
  auto& tc = run(Cdb(0xC5), {}, 0, 10);
  EXPECT_SENSE(tc, 0x06, 0x29, 0x00);
  auto& again = run(Cdb(0xC5), {}, 0, 10);
  EXPECT_SENSE(again, 0x05, 0x20, 0x00);
}

TEST_F(Basics, UnsupportedOpcodesAnswerInvalidCommandOperationCode) {
  clear_ua();
  for (int op : {0x01, 0x07, 0x1D, 0x3B, 0x3C, 0x4D, 0x7F, 0xA0, 0xB5, 0xC0, 0xFF}) {
    auto& tc = run(Cdb(static_cast<uint8_t>(op)), {}, 64, 16);
    EXPECT_SENSE(tc, 0x05, 0x20, 0x00);
  }
}

TEST_F(Basics, UnsupportedServiceActionPointsAtIt) {
  clear_ua();
  auto& tc = run(Cdb(0x9E).set(1, 0x11), {}, 32);
  EXPECT_INVALID_CDB_FIELD(tc, 1, 4);
  auto& mi = run(Cdb(0xA3).set(1, 0x05), {}, 32);
  EXPECT_INVALID_CDB_FIELD(mi, 1, 4);
}

TEST_F(Basics, ReservedBitsAreRejectedWithTheirPosition) {
  clear_ua();
  auto& tur = run(Cdb(0x00).set(3, 0x10));
  EXPECT_INVALID_CDB_FIELD(tur, 3, 4);
  auto& control = run(Cdb(0x28).set(9, 0x04), {}, 512);  // NACA
  EXPECT_INVALID_CDB_FIELD(control, 9, 2);
  auto& rdprotect = run(Cdb(0x28).set(1, 0x20).be(7, 2, 1), {}, 512);
  EXPECT_INVALID_CDB_FIELD(rdprotect, 1, 5);
}

TEST_F(Basics, ShortOrEmptyCdbIsAnsweredNotDereferenced) {
  clear_ua();
  auto& none = run(Cdb(0x28), {}, 0, 0);
  EXPECT_SENSE(none, 0x05, 0x20, 0x00);
  auto& truncated = run(Cdb(0x28).be(7, 2, 1), {}, 512, 6);
  EXPECT_SENSE(truncated, 0x05, 0x20, 0x00);
  auto& too_long = run(Cdb(0x00), {}, 0, 33);
  EXPECT_SENSE(too_long, 0x05, 0x20, 0x00);
}

TEST_F(Basics, CapacityChangeRaisesUnitAttentionAndReportsNewSize) {
  clear_ua();
  lu->set_capacity(4096);
  auto& ua = run(Cdb(0x25), {}, 8);
  EXPECT_SENSE(ua, 0x06, 0x2A, 0x09);
  auto& rc = run(Cdb(0x25), {}, 8);
  EXPECT_EQ(got(rc), (Bytes{0x00, 0x00, 0x0F, 0xFF, 0x00, 0x00, 0x02, 0x00}));
  EXPECT_EQ(lu->capacity(), 4096u);
}

TEST_F(Basics, WriteCacheChangedOutsideScsiRaisesModeParametersChanged) {
  clear_ua();
  lu->set_write_cache(false);
  auto& ua = run(Cdb(0x00));
  EXPECT_SENSE(ua, 0x06, 0x2A, 0x01);
  lu->set_write_cache(false);  // no change, no attention
  EXPECT_GOOD(run(Cdb(0x00)));
  EXPECT_FALSE(lu->write_cache_enabled());
}

TEST_F(Basics, ResetAddsNoUnitAttentionOfItsOwn) {
  // LIO reports the LUN RESET's unit attention per I_T nexus before a command reaches TCMU; a
  // second, LU-wide one from libscsi would be reported again.
  clear_ua();
  lu->set_capacity(100);
  lu->reset();
  EXPECT_SENSE(run(Cdb(0x00)), 0x06, 0x2A, 0x09);
  EXPECT_GOOD(run(Cdb(0x00)));
  lu->reset();
  EXPECT_GOOD(run(Cdb(0x00)));
}

TEST_F(Basics, RequestSenseReportsAndClearsTheUnitAttention) {
  auto& rs = run(Cdb(0x03).set(4, 252), {}, 252);
  EXPECT_GOOD(rs);
  EXPECT_EQ(got(rs), (Bytes{0x70, 0, 0x06, 0, 0, 0, 0, 0x0A, 0, 0, 0, 0, 0x29, 0, 0, 0, 0, 0}));
  EXPECT_GOOD(run(Cdb(0x00)));
}

TEST_F(Basics, RequestSenseDescriptorFormatAndNoSense) {
  auto& rs = run(Cdb(0x03).set(1, 0x01).set(4, 252), {}, 252);
  EXPECT_EQ(got(rs), (Bytes{0x72, 0x06, 0x29, 0x00, 0, 0, 0, 0}));
  auto& none = run(Cdb(0x03).set(4, 252), {}, 252);
  EXPECT_EQ(got(none), (Bytes{0x70, 0, 0, 0, 0, 0, 0, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}));
  auto& truncated = run(Cdb(0x03).set(4, 4), {}, 252);
  EXPECT_EQ(truncated.cmd.data_in_len, 4u);
}

TEST_F(Basics, StartStopFollowsLio) {
  // sbc_emulate_startstop: the unit is always ready; START=0, power conditions, LOEJ and
  // NO_FLUSH are refused, and nothing reaches the device.
  clear_ua();
  size_t before = dev.log.size();
  auto& stop = run(Cdb(0x1B).set(4, 0x00));
  EXPECT_EQ(Bytes(stop.cmd.sense.begin(), stop.cmd.sense.begin() + stop.cmd.sense_len),
            (Bytes{0x70, 0, 0x05, 0, 0, 0, 0, 0x0A, 0, 0, 0, 0, 0x24, 0x00, 0, 0xC8, 0, 4}));
  EXPECT_INVALID_CDB_FIELD(run(Cdb(0x1B).set(4, 0x04)), 4, 2);  // NO_FLUSH
  EXPECT_INVALID_CDB_FIELD(run(Cdb(0x1B).set(4, 0x21)), 4, 5);  // power condition
  EXPECT_INVALID_CDB_FIELD(run(Cdb(0x1B).set(4, 0x02)), 4, 1);  // LOEJ
  EXPECT_INVALID_CDB_FIELD(run(Cdb(0x1B).set(3, 0x01).set(4, 0x01)), 3, 0);
  EXPECT_EQ(dev.log.size(), before);
  EXPECT_GOOD(run(Cdb(0x1B).set(4, 0x01)));
  EXPECT_GOOD(run(Cdb(0x1B).set(1, 0x01).set(4, 0x01)));  // IMMED
  EXPECT_GOOD(run(Cdb(0x28).be(7, 2, 1), {}, 512)) << "still ready";
}

TEST_F(Basics, PreventAllowMediumRemoval) {
  clear_ua();
  EXPECT_GOOD(run(Cdb(0x1E).set(4, 1)));
  EXPECT_GOOD(run(Cdb(0x1E).set(4, 0)));
  EXPECT_INVALID_CDB_FIELD(run(Cdb(0x1E).set(4, 2)), 4, 1);
}

TEST_F(Basics, ReadCapacity10And16) {
  clear_ua();
  auto& rc10 = run(Cdb(0x25), {}, 8);
  EXPECT_EQ(got(rc10), (Bytes{0x00, 0x00, 0x07, 0xFF, 0x00, 0x00, 0x02, 0x00}));
  auto& rc16 = run(Cdb(0x9E).set(1, 0x10).be(10, 4, 32), {}, 32);
  Bytes want(32, 0);
  want[6] = 0x07, want[7] = 0xFF, want[10] = 0x02, want[14] = 0xC0;
  EXPECT_EQ(got(rc16), want);
  auto& short16 = run(Cdb(0x9E).set(1, 0x10).be(10, 4, 12), {}, 32);
  EXPECT_EQ(short16.cmd.data_in_len, 12u);
  EXPECT_INVALID_CDB_FIELD(run(Cdb(0x25).be(2, 4, 1), {}, 8), 5, 0);
}

// A device that only has geometry: capacity tests that need no storage.
class GeometryDevice : public BlockDevice {
 public:
  explicit GeometryDevice(DeviceInfo i) : info_(std::move(i)) {}
  const DeviceInfo& info() const override { return info_; }
  void read(BlockRequest& r) override { r.complete(-EIO); }
  void write(BlockRequest& r) override { r.complete(-EIO); }
  void flush(BlockRequest& r) override { r.complete(0); }
  void unmap(BlockRequest& r) override { r.complete(-EIO); }
  void write_zeroes(BlockRequest& r) override { r.complete(-EIO); }

 private:
  DeviceInfo info_;
};

void count(void* ctx, Command&) {
  ++*static_cast<int*>(ctx);
}

TEST(Capacity, LargeDeviceAndPhysicalBlockExponent) {
  DeviceInfo info;
  info.num_blocks = 1ull << 33;
  info.logical_block_size = 512;
  info.physical_block_size = 4096;
  GeometryDevice dev(info);
  int done = 0;
  LogicalUnit lu(dev, count, &done);
  std::vector<uint8_t> buf(32);
  iovec iov{buf.data(), buf.size()};
  Command cmd;
  cmd.iov = std::span(&iov, 1);
  cmd.data_len = buf.size();
  cmd.cdb_len = 10;
  cmd.cdb[0] = 0x00;
  lu.submit(cmd);  // clears the power-on attention
  cmd.cdb = {0x25};
  lu.submit(cmd);
  EXPECT_EQ(std::vector<uint8_t>(buf.begin(), buf.begin() + 8),
            (std::vector<uint8_t>{0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x02, 0x00}));
  cmd.cdb = {0x9E, 0x10};
  cmd.cdb[13] = 32;
  cmd.cdb_len = 16;
  lu.submit(cmd);
  EXPECT_EQ(buf[3], 0x01);  // last LBA 0x1FFFFFFFF
  EXPECT_EQ(buf[4], 0xFF);
  EXPECT_EQ(buf[13], 0x03);  // 8 logical blocks per physical block
  EXPECT_EQ(buf[14], 0x00);  // fully provisioned
  EXPECT_EQ(done, 3);
}

}  // namespace
}  // namespace lunkit::test

namespace lunkit::test {
namespace {

// A transport-supplied raw hook takes vendor opcode 0xC0 and finishes it itself, later.
scsi::Command* g_taken = nullptr;
bool take_c0(void*, scsi::Command& cmd) {
  if (cmd.cdb[0] != 0xC0) return false;
  g_taken = &cmd;
  return true;
}

class RawHook : public LuTest {
 protected:
  static scsi::LogicalUnitOptions opts() {
    scsi::LogicalUnitOptions o;
    o.raw_command = take_c0;
    return o;
  }
  RawHook() : LuTest(default_info(), opts()) {}
};

TEST_F(RawHook, TakesItsCommandsAfterUnitAttentionsAndCompletesThemOnce) {
  g_taken = nullptr;
  auto& ua = run(Cdb(0xC0), {}, 16, 10);
  EXPECT_SENSE(ua, 0x06, 0x29, 0x00);
  EXPECT_EQ(g_taken, nullptr) << "a pending unit attention is reported first";
  auto& tc = submit(Cdb(0xC0), {}, 16, 10);
  ASSERT_EQ(g_taken, &tc.cmd);
  EXPECT_EQ(tc.completions, 0);
  tc.cmd.status = scsi::Status::kGood;
  tc.cmd.data_in_len = 3;
  scsi::complete_external(tc.cmd);
  EXPECT_EQ(tc.completions, 1);
  EXPECT_GOOD(run(Cdb(0x00))) << "other commands still go to libscsi";
}

// A transport that knows the direction (Command::direction) has a command that moves data the
// other way from its CDB rejected before anything runs; unknown (TCMU) or no data fits any CDB.
TEST_F(Basics, DataDirectionIsCheckedWhenTheTransportKnowsIt) {
  clear_ua();
  using scsi::DataDirection;
  auto write1 = [] { return Cdb(0x2A).be(2, 4, 3).be(7, 2, 1); };
  direction = DataDirection::kIn;
  auto& write_as_in = run(write1(), std::vector<uint8_t>(512, 0x5A));
  EXPECT_SENSE(write_as_in, 0x05, 0x0E, 0x03);
  EXPECT_FALSE(write_as_in.cmd.data_out);
  EXPECT_EQ(dev.bytes()[3 * 512], 0x00) << "nothing written";
  direction = DataDirection::kOut;
  auto& read_as_out = run(Cdb(0x28).be(2, 4, 0).be(7, 2, 1), std::vector<uint8_t>(512, 0x11));
  EXPECT_SENSE(read_as_out, 0x05, 0x0E, 0x03);
  EXPECT_EQ(read_as_out.cmd.data_in_len, 0u);
  EXPECT_EQ(read_as_out.buffer, std::vector<uint8_t>(512, 0x11));
  auto& inquiry_as_out = run(Cdb(0x12).be(3, 2, 36), std::vector<uint8_t>(36, 0));
  EXPECT_SENSE(inquiry_as_out, 0x05, 0x0E, 0x03);

  EXPECT_GOOD(run(write1(), std::vector<uint8_t>(512, 0x5A)));
  EXPECT_EQ(dev.bytes()[3 * 512], 0x5A);
  direction = DataDirection::kIn;
  EXPECT_GOOD(run(Cdb(0x28).be(2, 4, 3).be(7, 2, 1), {}, 512));
  direction = DataDirection::kNone;
  EXPECT_GOOD(run(Cdb(0x00)));
  EXPECT_GOOD(run(Cdb(0x2A).be(2, 4, 3)));              // transfer length 0
  EXPECT_GOOD(run(Cdb(0x2F).be(2, 4, 3).be(7, 2, 1)));  // VERIFY without BYTCHK: no data
  direction = DataDirection::kUnknown;
  EXPECT_GOOD(run(write1(), std::vector<uint8_t>(512, 0x5B)));
}

}  // namespace
}  // namespace lunkit::test

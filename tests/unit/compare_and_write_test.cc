// COMPARE AND WRITE: success, miscompare offset, limits, and atomicity against racing writes.
#include "tests/unit/harness.h"

namespace lunkit::test {
namespace {

Cdb caw(uint64_t lba, uint8_t blocks, uint8_t flags = 0) {
  return Cdb(0x89).set(1, flags).be(2, 8, lba).set(13, blocks);
}
Cdb write10(uint32_t lba, uint16_t blocks) {
  return Cdb(0x2A).be(2, 4, lba).be(7, 2, blocks);
}

std::vector<uint8_t> concat(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  std::vector<uint8_t> out = a;
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

class CompareAndWrite : public LuTest {
 protected:
  void SetUp() override {
    clear_ua();
    old_data = pattern(512, 10);
    new_data = pattern(512, 20);
    dev.fill(10 * 512, old_data);
  }
  bool medium_is(uint64_t lba, const std::vector<uint8_t>& v) {
    return std::equal(v.begin(), v.end(), dev.bytes().begin() + static_cast<long>(lba * 512));
  }
  std::vector<uint8_t> old_data, new_data;
};

TEST_F(CompareAndWrite, WritesWhenTheCompareMatches) {
  EXPECT_GOOD(run(caw(10, 1, 0x08), concat(old_data, new_data)));
  EXPECT_TRUE(medium_is(10, new_data));
  EXPECT_EQ(dev.log.back().op, Op::kWrite);
  EXPECT_EQ(dev.log.back().flags & kBlockFua, kBlockFua);
}

TEST_F(CompareAndWrite, MiscompareReportsTheOffsetAndWritesNothing) {
  auto wrong = old_data;
  wrong[100] ^= 1;
  auto& tc = run(caw(10, 1), concat(wrong, new_data));
  EXPECT_SENSE(tc, 0x0E, 0x1D, 0x00);
  EXPECT_EQ(tc.information(), 100u);
  EXPECT_TRUE(medium_is(10, old_data));
}

TEST_F(CompareAndWrite, SeveralBlocks) {
  auto cmp = pattern(4 * 512, 1), wr = pattern(4 * 512, 2);
  dev.fill(50 * 512, cmp);
  EXPECT_GOOD(run(caw(50, 4), concat(cmp, wr)));
  EXPECT_TRUE(medium_is(50, wr));
  auto& again = run(caw(50, 4), concat(cmp, wr));
  EXPECT_SENSE(again, 0x0E, 0x1D, 0x00);
  EXPECT_EQ(again.information(), 0u);
}

TEST_F(CompareAndWrite, Limits) {
  size_t before = dev.log.size();
  EXPECT_GOOD(run(caw(10, 0)));
  EXPECT_EQ(dev.log.size(), before);
  EXPECT_INVALID_CDB_FIELD(run(caw(10, 33), pattern(66 * 512, 1)), 13, -1);
  // Data-Out of any length but exactly compare + write data: INVALID FIELD IN COMMAND IU.
  const std::vector<uint8_t> iu{0x70, 0, 0x05, 0,    0,    0, 0, 0x0A, 0,
                                0,    0, 0,    0x0E, 0x03, 0, 0, 0,    0};
  auto sense = [](const TestCommand& t) {
    return std::vector<uint8_t>(t.cmd.sense.begin(), t.cmd.sense.begin() + t.cmd.sense_len);
  };
  EXPECT_EQ(sense(run(caw(10, 1), old_data)), iu) << "short";
  EXPECT_EQ(sense(run(caw(10, 1), concat(concat(old_data, new_data), old_data))), iu)
      << "oversized";
  EXPECT_EQ(dev.log.size(), before);
  EXPECT_SENSE(run(caw(2048, 1), concat(old_data, new_data)), 0x05, 0x21, 0x00);
  EXPECT_INVALID_CDB_FIELD(run(caw(10, 1).set(11, 1), concat(old_data, new_data)), 11, 0);
}

TEST_F(CompareAndWrite, AWriteArrivingDuringTheCompareWaitsForIt) {
  dev.hold = true;
  auto& c = submit(caw(10, 1), concat(old_data, new_data));
  ASSERT_EQ(dev.pending(), 1u);
  EXPECT_EQ(dev.pending_op(0), Op::kRead);
  auto racing = pattern(512, 99);
  auto& w = submit(write10(10, 1), racing);
  EXPECT_EQ(dev.pending(), 1u) << "the racing WRITE must not reach the device during the CAW";
  dev.release_one();  // CAW read -> compare -> CAW write
  ASSERT_EQ(dev.pending(), 1u);
  EXPECT_EQ(dev.pending_op(0), Op::kWrite);
  dev.release_one();  // CAW write done -> racing WRITE released
  EXPECT_EQ(c.completions, 1);
  EXPECT_GOOD(c);
  ASSERT_EQ(dev.pending(), 1u);
  dev.release_one();
  EXPECT_EQ(w.completions, 1);
  EXPECT_TRUE(medium_is(10, racing)) << "serialised: CAW, then the WRITE";
}

TEST_F(CompareAndWrite, WaitsForWritesAlreadyInFlight) {
  dev.hold = true;
  auto& w = submit(write10(10, 1), new_data);
  ASSERT_EQ(dev.pending(), 1u);
  auto final_data = pattern(512, 42);
  // Compares against what the in-flight WRITE stores, so it only succeeds if it waited.
  auto& c = submit(caw(10, 1), concat(new_data, final_data));
  EXPECT_EQ(dev.pending(), 1u) << "CAW holds its read until the WRITE completes";
  dev.release_all();
  EXPECT_EQ(w.completions, 1);
  EXPECT_EQ(c.completions, 1);
  EXPECT_GOOD(c);
  EXPECT_TRUE(medium_is(10, final_data));
}

TEST_F(CompareAndWrite, ReadsAreNotHeldBack) {
  dev.hold = true;
  submit(caw(10, 1), concat(old_data, new_data));
  auto& r = submit(Cdb(0x28).be(2, 4, 10).be(7, 2, 1), {}, 512);
  EXPECT_EQ(dev.pending(), 2u);
  dev.release_all();
  EXPECT_EQ(r.completions, 1);
}

TEST_F(CompareAndWrite, ConcurrentCompareAndWritesSerialise) {
  dev.hold = true;
  auto third = pattern(512, 30);
  auto& first = submit(caw(10, 1), concat(old_data, new_data));
  auto& second = submit(caw(10, 1), concat(new_data, third));
  auto& unmap = submit(Cdb(0x42).be(7, 2, 24), {0, 22, 0, 16,  0, 0, 0, 0, 0, 0, 0, 0,
                                                0, 0,  0, 200, 0, 0, 0, 1, 0, 0, 0, 0});
  EXPECT_EQ(dev.pending(), 1u);
  dev.release_all();
  EXPECT_GOOD(first);
  EXPECT_GOOD(second) << "the second saw the first one's data";
  EXPECT_GOOD(unmap);
  EXPECT_TRUE(medium_is(10, third));
}

TEST_F(CompareAndWrite, ErrorsReleaseTheBarrier) {
  dev.fail_next[Op::kRead] = EIO;
  EXPECT_SENSE(run(caw(10, 1), concat(old_data, new_data)), 0x03, 0x11, 0x00);
  dev.fail_next[Op::kWrite] = EIO;
  EXPECT_SENSE(run(caw(10, 1), concat(old_data, new_data)), 0x03, 0x0C, 0x00);
  EXPECT_GOOD(run(write10(10, 1), new_data)) << "writes flow again";
}

// A device that takes at most 8 blocks per request: COMPARE AND WRITE is capped to that (its
// read and its write are one request each), in Block Limits and in what the command accepts.
class SmallRequests : public LuTest {
 protected:
  static DeviceInfo info() {
    DeviceInfo i = default_info();
    i.max_request_blocks = 8;
    return i;
  }
  SmallRequests() : LuTest(info()) {}
};

TEST_F(SmallRequests, CompareAndWriteIsCappedToTheLargestRequest) {
  clear_ua();
  auto& vpd = run(Cdb(0x12).set(1, 1).set(2, 0xB0).be(3, 2, 64), {}, 64);
  EXPECT_EQ(vpd.buffer[5], 8) << "MAXIMUM COMPARE AND WRITE LENGTH";
  EXPECT_INVALID_CDB_FIELD(run(caw(0, 9), pattern(18 * 512, 1)), 13, -1);
  auto cmp = pattern(8 * 512, 3);
  dev.fill(0, cmp);
  EXPECT_GOOD(run(caw(0, 8), concat(cmp, pattern(8 * 512, 4))));
  for (auto& l : dev.log) EXPECT_LE(l.length, 8u * 512);
}

class NativeCompareAndWrite : public LuTest {
 protected:
  static DeviceInfo info() {
    DeviceInfo i = default_info();
    i.native_compare_and_write = true;
    return i;
  }
  NativeCompareAndWrite() : LuTest(info()) {}
};

TEST_F(NativeCompareAndWrite, UsesTheDeviceAndItsMiscompareOffset) {
  clear_ua();
  auto a = pattern(512, 1), b = pattern(512, 2);
  dev.fill(0, a);
  EXPECT_GOOD(run(caw(0, 1), concat(a, b)));
  EXPECT_EQ(dev.log.back().op, Op::kCompareAndWrite);
  auto wrong = b;
  wrong[300] ^= 0x40;
  auto& tc = run(caw(0, 1), concat(wrong, a));
  EXPECT_SENSE(tc, 0x0E, 0x1D, 0x00);
  EXPECT_EQ(tc.information(), 300u);
}

TEST_F(NativeCompareAndWrite, NoBarrierAroundANativeCompareAndWrite) {
  clear_ua();
  dev.hold = true;
  submit(caw(0, 1), concat(pattern(512, 0), pattern(512, 1)));
  submit(write10(0, 1), pattern(512, 5));
  EXPECT_EQ(dev.pending(), 2u);
  dev.release_all();
}

}  // namespace
}  // namespace lunkit::test

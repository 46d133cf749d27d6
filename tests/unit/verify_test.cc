// VERIFY and WRITE AND VERIFY.
#include "tests/unit/harness.h"

namespace lunkit::test {
namespace {

Cdb verify10(uint32_t lba, uint16_t blocks, uint8_t bytchk) {
  return Cdb(0x2F).set(1, static_cast<uint8_t>(bytchk << 1)).be(2, 4, lba).be(7, 2, blocks);
}
Cdb verify16(uint64_t lba, uint32_t blocks, uint8_t bytchk) {
  return Cdb(0x8F).set(1, static_cast<uint8_t>(bytchk << 1)).be(2, 8, lba).be(10, 4, blocks);
}

class Verify : public LuTest {
 protected:
  void SetUp() override {
    clear_ua();
    data = pattern(8 * 512, 77);
    dev.fill(16 * 512, data);
  }
  std::vector<uint8_t> data;
};

TEST_F(Verify, ByteCheckZeroReadsTheMedium) {
  EXPECT_GOOD(run(verify10(16, 8, 0)));
  EXPECT_EQ(dev.log.back().op, Op::kRead);
  dev.fail_next[Op::kRead] = EIO;
  EXPECT_SENSE(run(verify10(16, 8, 0)), 0x03, 0x11, 0x00);
}

TEST_F(Verify, ByteCheckOneMatches) {
  EXPECT_GOOD(run(verify16(16, 8, 1), data));
}

TEST_F(Verify, ByteCheckOneReportsTheFirstMiscomparedByte) {
  auto other = data;
  other[3 * 512 + 17] ^= 0xFF;
  other[5 * 512] ^= 0xFF;
  auto& tc = run(verify10(16, 8, 1), other);
  EXPECT_SENSE(tc, 0x0E, 0x1D, 0x00);
  EXPECT_TRUE(tc.cmd.sense[0] & 0x80) << "INFORMATION valid";
  EXPECT_EQ(tc.information(), 3u * 512 + 17);
}

TEST_F(Verify, ByteCheckThreeComparesEveryBlockWithOne) {
  std::vector<uint8_t> block(512, 0x5A);
  for (int i = 0; i < 4; ++i) dev.fill((100 + i) * 512, block);
  EXPECT_GOOD(run(verify10(100, 4, 3), block));
  dev.bytes()[102 * 512 + 9] = 0;
  auto& tc = run(verify10(100, 4, 3), block);
  EXPECT_SENSE(tc, 0x0E, 0x1D, 0x00);
  EXPECT_EQ(tc.information(), 2u * 512 + 9);
}

TEST_F(Verify, InvalidByteCheckAndShortBuffer) {
  EXPECT_INVALID_CDB_FIELD(run(verify10(16, 8, 2), data), 1, 2);
  EXPECT_SENSE(run(verify10(16, 8, 1), std::vector<uint8_t>(data.begin(), data.end() - 1)), 0x05,
               0x0E, 0x03);  // LIO: INVALID FIELD IN COMMAND INFORMATION UNIT
  EXPECT_GOOD(run(verify10(16, 0, 1)));
  EXPECT_SENSE(run(verify10(2047, 2, 0)), 0x05, 0x21, 0x00);
}

TEST_F(Verify, LongVerificationRunsInChunksWithoutRecursion) {
  // 2048 blocks = 1 MiB: several chunks on a device that completes inline.
  EXPECT_GOOD(run(verify16(0, 2048, 0)));
  size_t reads = 0;
  for (auto& l : dev.log) reads += l.op == Op::kRead;
  EXPECT_GE(reads, 1u);
}

TEST_F(Verify, WriteAndVerifyWritesThenCompares) {
  auto fresh = pattern(4 * 512, 3);
  auto& tc = run(Cdb(0x2E).set(1, 0x02).be(2, 4, 200).be(7, 2, 4), fresh);
  EXPECT_GOOD(tc);
  ASSERT_GE(dev.log.size(), 2u);
  EXPECT_EQ(dev.log[dev.log.size() - 2].op, Op::kWrite);
  EXPECT_EQ(dev.log[dev.log.size() - 2].flags & kBlockFua, kBlockFua);
  EXPECT_EQ(dev.log.back().op, Op::kRead);
  EXPECT_TRUE(std::equal(fresh.begin(), fresh.end(), dev.bytes().begin() + 200 * 512));
  EXPECT_GOOD(run(Cdb(0xAE).be(2, 4, 300).be(6, 4, 1), pattern(512, 4)));
  EXPECT_GOOD(run(Cdb(0x8E).set(1, 0x02).be(2, 8, 400).be(10, 4, 1), pattern(512, 5)));
  EXPECT_INVALID_CDB_FIELD(run(Cdb(0x2E).set(1, 0x06).be(2, 4, 0).be(7, 2, 1), pattern(512, 1)), 1,
                           2);
}

TEST_F(Verify, WriteAndVerifyReportsAWriteError) {
  dev.fail_next[Op::kWrite] = EIO;
  EXPECT_SENSE(run(Cdb(0x2E).be(2, 4, 0).be(7, 2, 1), pattern(512, 1)), 0x03, 0x0C, 0x00);
}

}  // namespace
}  // namespace lunkit::test

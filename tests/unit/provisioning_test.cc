// WRITE SAME, UNMAP, GET LBA STATUS and FORMAT UNIT.
#include "tests/unit/harness.h"

namespace lunkit::test {
namespace {

using Bytes = std::vector<uint8_t>;

Cdb ws10(uint32_t lba, uint16_t blocks, uint8_t flags = 0) {
  return Cdb(0x41).set(1, flags).be(2, 4, lba).be(7, 2, blocks);
}
Cdb ws16(uint64_t lba, uint32_t blocks, uint8_t flags = 0) {
  return Cdb(0x93).set(1, flags).be(2, 8, lba).be(10, 4, blocks);
}
Cdb unmap_cdb(uint16_t len, uint8_t anchor = 0) {
  return Cdb(0x42).set(1, anchor).be(7, 2, len);
}

// An UNMAP parameter list with the given (lba, blocks) descriptors.
Bytes unmap_list(std::initializer_list<std::pair<uint64_t, uint32_t>> descs) {
  Bytes b(8, 0);
  for (auto [lba, n] : descs) {
    Bytes d(16, 0);
    for (int i = 0; i < 8; ++i) d[i] = static_cast<uint8_t>(lba >> (56 - 8 * i));
    for (int i = 0; i < 4; ++i) d[8 + i] = static_cast<uint8_t>(n >> (24 - 8 * i));
    b.insert(b.end(), d.begin(), d.end());
  }
  size_t bd = b.size() - 8;
  b[0] = static_cast<uint8_t>((bd + 6) >> 8), b[1] = static_cast<uint8_t>(bd + 6);
  b[2] = static_cast<uint8_t>(bd >> 8), b[3] = static_cast<uint8_t>(bd);
  return b;
}

class Provisioning : public LuTest {
 protected:
  void SetUp() override {
    clear_ua();
    dev.fill(0, pattern(2048 * 512, 1));  // every block mapped and non-zero
  }
  bool zeros(uint64_t lba, uint64_t blocks) {
    auto it = dev.bytes().begin() + static_cast<long>(lba * 512);
    return std::all_of(it, it + static_cast<long>(blocks * 512), [](uint8_t b) { return b == 0; });
  }
  size_t count(Op op) {
    return static_cast<size_t>(std::count_if(dev.log.begin(), dev.log.end(),
                                             [&](const LoggedRequest& l) { return l.op == op; }));
  }
};

TEST_F(Provisioning, WriteSameNdobWithUnmapDeallocates) {
  EXPECT_GOOD(run(ws16(100, 50, 0x09)));
  EXPECT_EQ(dev.log.back().op, Op::kWriteZeroes);
  EXPECT_EQ(dev.log.back().flags & kBlockMayUnmap, kBlockMayUnmap);
  EXPECT_TRUE(zeros(100, 50));
  EXPECT_TRUE(dev.block_deallocated(100));
  EXPECT_FALSE(zeros(150, 1));
}

TEST_F(Provisioning, WriteSameOfAZeroBlockWithoutUnmapWritesZeros) {
  EXPECT_GOOD(run(ws10(10, 20), Bytes(512, 0)));
  EXPECT_EQ(dev.log.back().op, Op::kWriteZeroes);
  EXPECT_EQ(dev.log.back().flags & kBlockMayUnmap, 0u);
  EXPECT_TRUE(zeros(10, 20));
  EXPECT_FALSE(dev.block_deallocated(10));
}

TEST_F(Provisioning, WriteSameReplicatesANonZeroBlock) {
  Bytes block = pattern(512, 200);
  EXPECT_GOOD(run(ws10(300, 700, 0x08), block));  // UNMAP with non-zero data: written
  for (uint64_t lba = 300; lba < 1000; ++lba)
    ASSERT_TRUE(
        std::equal(block.begin(), block.end(), dev.bytes().begin() + static_cast<long>(lba * 512)))
        << lba;
  EXPECT_EQ(count(Op::kWriteZeroes), 0u);
}

TEST_F(Provisioning, WriteSameRejections) {
  EXPECT_INVALID_CDB_FIELD(run(ws16(0, 1, 0x10), Bytes(512, 0)), 1, 4);  // ANCHOR
  EXPECT_INVALID_CDB_FIELD(run(ws10(0, 0), Bytes(512, 0)), 7, -1);       // WSNZ
  EXPECT_INVALID_CDB_FIELD(run(ws16(0, 0), Bytes(512, 0)), 10, -1);
  EXPECT_INVALID_CDB_FIELD(run(ws10(0, 1, 0x01), Bytes(512, 0)), 1, 0);  // no NDOB in WS(10)
  EXPECT_SENSE(run(ws16(2000, 49), Bytes(512, 0)), 0x05, 0x21, 0x00);
  dev.fail_next[Op::kWriteZeroes] = ENOSPC;
  EXPECT_SENSE(run(ws16(0, 8, 0x01)), 0x07, 0x27, 0x07);
}

// LIO's rule for data CDBs: exactly one block of Data-Out (none with NDOB), or INVALID FIELD IN
// COMMAND INFORMATION UNIT, fixed sense byte-exact.
TEST_F(Provisioning, WriteSameDataOutMustBeExactlyOneBlock) {
  const Bytes iu_sense{0x70, 0, 0x05, 0, 0, 0, 0, 0x0A, 0, 0, 0, 0, 0x0E, 0x03, 0, 0, 0, 0};
  auto sense = [](const TestCommand& t) {
    return Bytes(t.cmd.sense.begin(), t.cmd.sense.begin() + t.cmd.sense_len);
  };
  EXPECT_EQ(sense(run(ws10(0, 4), Bytes(100, 1))), iu_sense) << "short";
  EXPECT_EQ(sense(run(ws10(0, 4), Bytes(1024, 1))), iu_sense) << "oversized";
  EXPECT_EQ(sense(run(ws16(0, 4, 0x01), Bytes(512, 0))), iu_sense) << "NDOB with data";
  EXPECT_EQ(count(Op::kWrite) + count(Op::kWriteZeroes), 0u);
}

TEST_F(Provisioning, MaximumUnmapLbaCountLimitsTheWholeCommand) {
  // 100 blocks at most: two descriptors of 60 each pass one by one but not together; the
  // second descriptor's NUMBER OF LOGICAL BLOCKS is pointed at.
  dev.mutable_info().max_unmap_blocks = 100;
  make_lu();
  clear_ua();
  Bytes list = unmap_list({{0, 60}, {100, 60}});
  auto& tc = run(unmap_cdb(static_cast<uint16_t>(list.size())), list);
  EXPECT_EQ(Bytes(tc.cmd.sense.begin(), tc.cmd.sense.begin() + tc.cmd.sense_len),
            (Bytes{0x70, 0, 0x05, 0, 0, 0, 0, 0x0A, 0, 0, 0, 0, 0x26, 0x00, 0, 0x80, 0, 32}));
  EXPECT_EQ(count(Op::kUnmap), 0u);
}

TEST_F(Provisioning, UnmapParameterListLongerThanTheDataOutIsAnInvalidCdbField) {
  Bytes one = unmap_list({{0, 1}});
  EXPECT_INVALID_CDB_FIELD(run(unmap_cdb(24), Bytes(one.begin(), one.begin() + 20)), 7, -1);
}

TEST_F(Provisioning, UnmapDeallocatesEveryDescriptor) {
  Bytes list = unmap_list({{10, 5}, {500, 0}, {1000, 48}});
  EXPECT_GOOD(run(unmap_cdb(static_cast<uint16_t>(list.size())), list));
  EXPECT_TRUE(zeros(10, 5));
  EXPECT_TRUE(zeros(1000, 48));
  EXPECT_TRUE(dev.block_deallocated(1047));
  EXPECT_FALSE(zeros(15, 1));
  EXPECT_EQ(count(Op::kUnmap), 2u) << "empty descriptors are skipped";
}

TEST_F(Provisioning, UnmapValidatesTheWholeListFirst) {
  Bytes list = unmap_list({{10, 5}, {2040, 9}});
  EXPECT_SENSE(run(unmap_cdb(static_cast<uint16_t>(list.size())), list), 0x05, 0x21, 0x00);
  EXPECT_EQ(count(Op::kUnmap), 0u);
  EXPECT_FALSE(zeros(10, 1));
}

TEST_F(Provisioning, UnmapParameterListChecks) {
  EXPECT_GOOD(run(unmap_cdb(0)));
  EXPECT_SENSE(run(unmap_cdb(7), Bytes(7, 0)), 0x05, 0x1A, 0x00);
  Bytes one = unmap_list({{0, 1}});
  Bytes claims_more = one;
  claims_more[3] = 32;  // two descriptors claimed, one present
  EXPECT_SENSE(run(unmap_cdb(24), claims_more), 0x05, 0x1A, 0x00);
  Bytes data_claims_more = one;
  data_claims_more[1] = 40;
  EXPECT_SENSE(run(unmap_cdb(24), data_claims_more), 0x05, 0x1A, 0x00);
  EXPECT_INVALID_CDB_FIELD(run(unmap_cdb(24, 1), one), 1, 0);  // ANCHOR, outside the usage

  Bytes partial = one;
  partial[3] = 20;  // 16 + an incomplete descriptor: the fragment is ignored
  partial.resize(28, 0);
  EXPECT_GOOD(run(unmap_cdb(28), partial));

  Bytes too_big = unmap_list({{0, 0x10001}});
  auto& big = run(unmap_cdb(24), too_big);
  EXPECT_SENSE(big, 0x05, 0x26, 0x00);
  EXPECT_EQ(big.field_byte(), 16);
  EXPECT_FALSE(big.field_in_cdb());
}

TEST_F(Provisioning, UnmapTooManyDescriptors) {
  Bytes list(8 + 65 * 16, 0);
  list[0] = static_cast<uint8_t>((65 * 16 + 6) >> 8), list[1] = static_cast<uint8_t>(65 * 16 + 6);
  list[2] = static_cast<uint8_t>((65 * 16) >> 8), list[3] = static_cast<uint8_t>(65 * 16);
  auto& tc = run(unmap_cdb(static_cast<uint16_t>(list.size())), list);
  EXPECT_SENSE(tc, 0x05, 0x26, 0x00);
  EXPECT_EQ(tc.field_byte(), 2);
}

TEST_F(Provisioning, UnmapDeviceErrorIsReported) {
  dev.fail_next[Op::kUnmap] = EIO;
  Bytes list = unmap_list({{0, 1}});
  EXPECT_SENSE(run(unmap_cdb(24), list), 0x03, 0x0C, 0x00);
}

TEST_F(Provisioning, GetLbaStatusWithoutDeviceSupportReportsMapped) {
  auto& tc = run(Cdb(0x9E).set(1, 0x12).be(2, 8, 48).be(10, 4, 64), {}, 64);
  EXPECT_GOOD(tc);
  EXPECT_EQ(
      Bytes(tc.data_in().begin(), tc.data_in().end()),
      (Bytes{0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 48, 0, 0, 0x07, 0xD0, 0, 0, 0, 0}));
  EXPECT_SENSE(run(Cdb(0x9E).set(1, 0x12).be(2, 8, 2048).be(10, 4, 64), {}, 64), 0x05, 0x21, 0x00);
}

TEST_F(Provisioning, FormatUnitZeroesTheMedium) {
  EXPECT_GOOD(run(Cdb(0x04)));
  EXPECT_TRUE(zeros(0, 2048));
  EXPECT_EQ(dev.log.back().flags & kBlockMayUnmap, kBlockMayUnmap);
  EXPECT_INVALID_CDB_FIELD(run(Cdb(0x04).set(1, 0x10)), 1, 4);  // FMTDATA
}

class NativeBlockStatus : public LuTest {
 protected:
  static DeviceInfo info() {
    DeviceInfo i = default_info();
    i.native_block_status = true;
    return i;
  }
  NativeBlockStatus() : LuTest(info()) {}
};

TEST_F(NativeBlockStatus, AClampedExtentEndsTheAnswerSoNoGapFollows) {
  clear_ua();
  const uint64_t huge = (1ull << 32) + 10;  // blocks: more than one descriptor can hold
  dev.mutable_info().num_blocks = huge + 100;
  make_lu();
  clear_ua();
  dev.block_status_answer = {{0, huge * 512, false}, {huge * 512, 100 * 512, true}};
  auto& tc = run(Cdb(0x9E).set(1, 0x12).be(2, 8, 0).be(10, 4, 1024), {}, 1024);
  EXPECT_GOOD(tc);
  // One descriptor of 0xFFFFFFFF blocks; the deallocated extent at `huge` is not listed after
  // it, since blocks 0xFFFFFFFF..huge-1 would be a gap. Asking again from there reports them.
  EXPECT_EQ(
      Bytes(tc.data_in().begin(), tc.data_in().end()),
      (Bytes{0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0}));
}

TEST_F(NativeBlockStatus, ReportsMappedAndDeallocatedExtents) {
  clear_ua();
  dev.fill(0, pattern(100 * 512, 1));  // 0..99 mapped, the rest never written
  auto& tc = run(Cdb(0x9E).set(1, 0x12).be(2, 8, 90).be(10, 4, 1024), {}, 1024);
  EXPECT_GOOD(tc);
  EXPECT_EQ(Bytes(tc.data_in().begin(), tc.data_in().end()),
            (Bytes{0, 0, 0, 36, 0, 0, 0, 0, 0, 0, 0, 0,   0, 0, 0,    90,   0, 0, 0, 10,
                   0, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0x07, 0x9C, 1, 0, 0, 0}));
  auto& small = run(Cdb(0x9E).set(1, 0x12).be(2, 8, 90).be(10, 4, 24), {}, 1024);
  EXPECT_EQ(small.cmd.data_in_len, 24u);
}

class FullyProvisioned : public LuTest {
 protected:
  static DeviceInfo info() {
    DeviceInfo i = default_info();
    i.thin_provisioning = false;
    return i;
  }
  FullyProvisioned() : LuTest(info()) {}
};

TEST_F(FullyProvisioned, UnmapIsNotOfferedAndWriteSameIgnoresTheUnmapBit) {
  clear_ua();
  EXPECT_SENSE(run(unmap_cdb(24), unmap_list({{0, 1}})), 0x05, 0x20, 0x00);
  EXPECT_GOOD(run(ws16(0, 4, 0x09)));
  EXPECT_EQ(dev.log.back().flags & kBlockMayUnmap, 0u);
}

class LargeDevice : public LuTest {
 protected:
  LargeDevice() : LuTest(default_info(8192)) {}
};

TEST_F(LargeDevice, WriteSameLargerThanOneChunk) {
  clear_ua();
  Bytes block = pattern(512, 3);
  EXPECT_GOOD(run(ws16(10, 5000), block));
  size_t writes = 0;
  for (auto& l : dev.log) writes += l.op == Op::kWrite;
  EXPECT_EQ(writes, 3u);  // 1 MiB chunks
  for (uint64_t lba : {10ull, 2058ull, 5009ull})
    EXPECT_TRUE(
        std::equal(block.begin(), block.end(), dev.bytes().begin() + static_cast<long>(lba * 512)));
  EXPECT_EQ(dev.bytes()[5010 * 512], 0);
}

}  // namespace
}  // namespace lunkit::test

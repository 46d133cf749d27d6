// READ/WRITE 6/10/12/16, FUA, ranges, buffer handling and device error mapping.
#include "tests/unit/harness.h"

namespace lunkit::test {
namespace {

using Bytes = std::vector<uint8_t>;

Cdb rw(uint8_t opcode, uint64_t lba, uint32_t blocks, uint8_t flags = 0) {
  Cdb c(opcode);
  switch (opcode) {
    case 0x08:
    case 0x0A:
      return c.be(1, 3, lba).set(4, static_cast<uint8_t>(blocks));
    case 0x28:
    case 0x2A:
    case 0x2E:
    case 0x2F:
    case 0x34:
    case 0x35:
    case 0x41:
      return c.set(1, flags).be(2, 4, lba).be(7, 2, blocks);
    case 0xA8:
    case 0xAA:
    case 0xAE:
    case 0xAF:
      return c.set(1, flags).be(2, 4, lba).be(6, 4, blocks);
    default:
      return c.set(1, flags).be(2, 8, lba).be(10, 4, blocks);
  }
}

class ReadWrite : public LuTest {
 protected:
  void SetUp() override { clear_ua(); }
};

TEST_F(ReadWrite, PatternsRoundTripThroughEveryCdbSize) {
  const std::pair<uint8_t, uint8_t> pairs[] = {
      {0x0A, 0x08}, {0x2A, 0x28}, {0xAA, 0xA8}, {0x8A, 0x88}};
  uint64_t lba = 3;
  uint8_t seed = 1;
  for (auto [w, r] : pairs) {
    auto data = pattern(5 * 512, seed);
    EXPECT_GOOD(run(rw(w, lba, 5), data));
    auto& back = run(rw(r, lba, 5), {}, 5 * 512);
    EXPECT_GOOD(back);
    EXPECT_EQ(back.cmd.data_in_len, 5u * 512);
    EXPECT_EQ(back.buffer, data);
    EXPECT_TRUE(std::equal(data.begin(), data.end(), dev.bytes().begin() + lba * 512));
    lba += 100;
    seed += 40;
  }
}

TEST_F(ReadWrite, Read6LengthZeroMeans256Blocks) {
  auto& tc = run(rw(0x08, 0, 0), {}, 256 * 512);
  EXPECT_GOOD(tc);
  EXPECT_EQ(tc.cmd.data_in_len, 256u * 512);
  ASSERT_FALSE(dev.log.empty());
  EXPECT_EQ(dev.log.back().length, 256u * 512);
}

TEST_F(ReadWrite, ZeroLengthTransfersAreGoodAndTouchNothing) {
  size_t before = dev.log.size();
  EXPECT_GOOD(run(rw(0x28, 10, 0), {}, 0));
  EXPECT_GOOD(run(rw(0x8A, 10, 0), {}, 0));
  EXPECT_EQ(dev.log.size(), before);
}

TEST_F(ReadWrite, LbaOutOfRange) {
  EXPECT_SENSE(run(rw(0x28, 2047, 2), {}, 1024), 0x05, 0x21, 0x00);
  EXPECT_GOOD(run(rw(0x28, 2047, 1), {}, 512));
  EXPECT_SENSE(run(rw(0x88, ~0ull, 1), {}, 512), 0x05, 0x21, 0x00);
  EXPECT_GOOD(run(rw(0x88, 2048, 0), {}, 0)) << "LBA + length may equal the capacity";
  EXPECT_SENSE(run(rw(0x88, 2049, 0), {}, 0), 0x05, 0x21, 0x00);
  EXPECT_SENSE(run(rw(0x8A, 1, 0xFFFFFFFF), pattern(512, 1)), 0x05, 0x21, 0x00);
}

TEST_F(ReadWrite, TransferLongerThanTheAdvertisedLimitIsExecuted) {
  // max_transfer_blocks (1024 here) is what Block Limits advertises; a longer command the
  // transport delivered is still served, in one request when the device takes any length.
  auto data = pattern(1025 * 512, 3);
  EXPECT_GOOD(run(rw(0x8A, 0, 1025), data));
  EXPECT_EQ(dev.log.back().length, 1025u * 512);
  auto& back = run(rw(0x28, 0, 1025), {}, 1025 * 512);
  EXPECT_GOOD(back);
  EXPECT_EQ(back.cmd.data_in_len, 1025u * 512);
  EXPECT_EQ(back.buffer, data);
}

TEST_F(ReadWrite, ShortReadBufferRunsWithTheBlocksThatFit) {
  // LIO's target_cmd_size_check: a READ runs with the smaller length; data_in_len carries the
  // residual to the transport.
  dev.fill(0, pattern(4 * 512, 5));
  auto& rd = run(rw(0x28, 0, 4), {}, 3 * 512 + 100);
  EXPECT_GOOD(rd);
  EXPECT_EQ(rd.cmd.data_in_len, 3u * 512);
  EXPECT_EQ(dev.log.back().length, 3u * 512);
  auto want = pattern(4 * 512, 5);
  EXPECT_TRUE(std::equal(want.begin(), want.begin() + 3 * 512, rd.buffer.begin()));
  EXPECT_EQ(rd.buffer[3 * 512], 0xEE) << "the partial block is not written";
  auto& none = run(rw(0x28, 0, 4), {}, 100);
  EXPECT_GOOD(none);
  EXPECT_EQ(none.cmd.data_in_len, 0u);
}

TEST_F(ReadWrite, WriteDataOutOfAnyOtherLengthIsAnInvalidIuField) {
  const Bytes iu{0x70, 0, 0x05, 0, 0, 0, 0, 0x0A, 0, 0, 0, 0, 0x0E, 0x03, 0, 0, 0, 0};
  auto sense = [](const TestCommand& t) {
    return Bytes(t.cmd.sense.begin(), t.cmd.sense.begin() + t.cmd.sense_len);
  };
  auto data = pattern(4 * 512, 9);
  EXPECT_EQ(sense(run(rw(0x2A, 0, 4), Bytes(data.begin(), data.end() - 1))), iu) << "short";
  EXPECT_EQ(sense(run(rw(0x2A, 0, 3), data)), iu) << "oversized";
  EXPECT_EQ(sense(run(rw(0x2E, 0, 3), data)), iu) << "WRITE AND VERIFY";
  EXPECT_EQ(sense(run(rw(0x2A, 0, 0), data)), iu) << "no blocks, but data";
  EXPECT_EQ(sense(run(rw(0x2F, 0, 3).set(1, 0x02), data)), iu) << "VERIFY BYTCHK=1";
  EXPECT_EQ(sense(run(rw(0x2F, 0, 3).set(1, 0x06), data)), iu) << "VERIFY BYTCHK=3";
  for (auto& l : dev.log) EXPECT_NE(l.op, Op::kWrite);
}

TEST_F(ReadWrite, LongerReadBufferIsWindowed) {
  auto& rd = run(rw(0x28, 0, 2), {}, 4 * 512);
  EXPECT_GOOD(rd);
  EXPECT_EQ(rd.cmd.data_in_len, 2u * 512);
  EXPECT_EQ(dev.log.back().length, 2u * 512);
  EXPECT_EQ(rd.buffer[2 * 512], 0xEE) << "nothing beyond the transfer is written";
  // The transport's view is left as it was: its data_len (so it reports the residual from
  // data_in_len) and every iovec it handed in.
  EXPECT_EQ(rd.cmd.data_len, 4u * 512);
  size_t total = 0;
  for (size_t i = 0; i < rd.segments.size(); ++i) {
    EXPECT_EQ(rd.segments[i].iov_base, rd.buffer.data() + total) << "segment " << i;
    total += rd.segments[i].iov_len;
  }
  EXPECT_EQ(total, 4u * 512);
  EXPECT_EQ(rd.cmd.iov.size(), rd.segments.size());
}

// A device whose requests may be at most 8 blocks long: longer READs and WRITEs reach it as
// consecutive pieces through windows on the command's buffer.
class SplitTransfers : public LuTest, public ::testing::WithParamInterface<uint32_t> {
 protected:
  static DeviceInfo info() {
    DeviceInfo i = default_info(4096, GetParam());
    i.max_request_blocks = 8;
    i.max_transfer_blocks = 8;
    return i;
  }
  SplitTransfers() : LuTest(info()) {}
  void SetUp() override { clear_ua(); }

  // Every request since `from` is at most 8 blocks and together they cover [lba, lba+blocks)
  // in order.
  void expect_pieces(size_t from, Op op, uint64_t lba, uint64_t blocks) {
    uint32_t bs = GetParam();
    uint64_t next = lba * bs;
    for (size_t i = from; i < dev.log.size(); ++i) {
      if (dev.log[i].op != op) continue;
      EXPECT_LE(dev.log[i].length, 8u * bs);
      EXPECT_EQ(dev.log[i].offset, next);
      next += dev.log[i].length;
    }
    EXPECT_EQ(next, (lba + blocks) * bs);
  }
};

TEST_P(SplitTransfers, EveryLengthFrom1To2048BlocksRoundTrips) {
  uint32_t bs = GetParam();
  const uint32_t lengths[] = {1,   2,   7,   8,   9,   15,   16,   17,   64,   127,  128,
                              129, 255, 256, 257, 511, 1000, 1023, 1024, 1025, 2047, 2048};
  uint8_t seed = 5;
  for (uint32_t blocks : lengths) {
    for (bool async : {false, true}) {
      uint64_t lba = blocks % 13;
      auto data = pattern(size_t{blocks} * bs, seed++);
      dev.hold = async;
      size_t mark = dev.log.size();
      auto& wr = submit(rw(0xAA, lba, blocks), data);
      while (wr.completions == 0 && dev.pending()) dev.release_one();
      ASSERT_EQ(wr.completions, 1) << blocks << " blocks";
      EXPECT_GOOD(wr) << blocks << " blocks";
      expect_pieces(mark, Op::kWrite, lba, blocks);
      EXPECT_TRUE(std::equal(data.begin(), data.end(), dev.bytes().begin() + lba * bs));

      mark = dev.log.size();
      auto& rd = submit(rw(0xA8, lba, blocks), {}, size_t{blocks} * bs + 3 * bs);
      while (rd.completions == 0 && dev.pending()) dev.release_one();
      ASSERT_EQ(rd.completions, 1) << blocks << " blocks";
      EXPECT_GOOD(rd) << blocks << " blocks";
      expect_pieces(mark, Op::kRead, lba, blocks);
      EXPECT_EQ(rd.cmd.data_in_len, size_t{blocks} * bs);
      EXPECT_TRUE(std::equal(data.begin(), data.end(), rd.buffer.begin())) << blocks << " blocks";
      EXPECT_EQ(rd.buffer[size_t{blocks} * bs], 0xEE) << "nothing written past the transfer";
      dev.hold = false;
    }
  }
}

TEST_P(SplitTransfers, FuaIsOnEveryPieceOrOneFlushAfterTheLast) {
  uint32_t bs = GetParam();
  size_t mark = dev.log.size();
  EXPECT_GOOD(run(rw(0x2A, 0, 20, 0x08), pattern(20 * bs, 1)));
  expect_pieces(mark, Op::kWrite, 0, 20);
  for (size_t i = mark; i < dev.log.size(); ++i) EXPECT_EQ(dev.log[i].flags & kBlockFua, kBlockFua);

  dev.mutable_info().fua = false;
  make_lu();
  clear_ua();
  mark = dev.log.size();
  EXPECT_GOOD(run(rw(0x2A, 0, 20, 0x08), pattern(20 * bs, 2)));
  ASSERT_EQ(dev.log.size() - mark, 4u) << "three pieces and one flush";
  EXPECT_EQ(dev.log.back().op, Op::kFlush);
}

TEST_P(SplitTransfers, AFailedPieceEndsTheCommandWithItsSense) {
  uint32_t bs = GetParam();
  EXPECT_GOOD(run(rw(0x2A, 0, 20), pattern(20 * bs, 1)));
  // The second of three pieces fails: the command ends there, with no data and the read's sense.
  dev.hold = true;
  size_t mark = dev.log.size();
  auto& rd = submit(rw(0x28, 0, 20), {}, 20 * bs);
  ASSERT_EQ(dev.pending(), 1u);
  dev.fail_next[Op::kRead] = EIO;
  dev.release_one();
  dev.hold = false;
  ASSERT_EQ(rd.completions, 1);
  EXPECT_SENSE(rd, 0x03, 0x11, 0x00);
  EXPECT_EQ(rd.cmd.data_in_len, 0u);
  EXPECT_EQ(dev.log.size() - mark, 2u) << "no piece after the failed one";
  dev.fail_next[Op::kWrite] = EIO;
  EXPECT_SENSE(run(rw(0x2A, 0, 20), pattern(20 * bs, 3)), 0x03, 0x0C, 0x00);
}

// A device with a volatile cache and no native FUA: every path that writes the medium is
// durable on completion when it must be (FUA bit, or WCE off): a flush after its last write.
class Durability : public LuTest {
 protected:
  static DeviceInfo info() {
    DeviceInfo i = default_info();
    i.fua = false;
    return i;
  }
  Durability() : LuTest(info()) {}
  void SetUp() override { clear_ua(); }
  void turn_write_cache_off() {
    std::vector<uint8_t> list(24, 0);
    list[4] = 0x08, list[5] = 0x12;  // caching page, WCE 0
    size_t mark = dev.log.size();
    EXPECT_GOOD(run(Cdb(0x15).set(1, 0x10).set(4, 24), list));
    ASSERT_EQ(dev.log.size(), mark + 1) << "MODE SELECT turning WCE off flushes once";
    EXPECT_EQ(dev.log.back().op, Op::kFlush);
  }
  // Runs a command and reports whether the device saw a flush after its last write.
  bool ends_with_flush(const Cdb& cdb, std::vector<uint8_t> out = {}) {
    size_t mark = dev.log.size();
    EXPECT_GOOD(run(cdb, std::move(out)));
    bool wrote = false;
    for (size_t i = mark; i < dev.log.size(); ++i) {
      if (dev.log[i].op == Op::kFlush) return wrote;
      EXPECT_EQ(dev.log[i].flags & kBlockFua, 0u) << "no FUA to a device without it";
      if (dev.log[i].op != Op::kRead) wrote = true;
    }
    return false;
  }
  static Cdb write_same16(uint64_t lba, uint32_t blocks) {
    return Cdb(0x93).be(2, 8, lba).be(10, 4, blocks);
  }
  static Cdb caw(uint64_t lba, uint8_t blocks, bool fua) {
    return Cdb(0x89).set(1, fua ? 0x08 : 0).be(2, 8, lba).set(13, blocks);
  }
};

TEST_F(Durability, FuaOnCompareAndWriteIsAFlush) {
  auto medium = pattern(512, 1);
  EXPECT_GOOD(run(rw(0x2A, 4, 1), medium));
  auto both = medium;
  auto next = pattern(512, 2);
  both.insert(both.end(), next.begin(), next.end());
  EXPECT_TRUE(ends_with_flush(caw(4, 1, true), both));
}

TEST_F(Durability, WithTheWriteCacheOffEveryWritePathFlushes) {
  EXPECT_FALSE(ends_with_flush(write_same16(0, 8), pattern(512, 3))) << "WCE on: volatile";
  turn_write_cache_off();
  EXPECT_TRUE(ends_with_flush(rw(0x2A, 0, 4), pattern(4 * 512, 1)));
  EXPECT_TRUE(ends_with_flush(write_same16(0, 8), pattern(512, 3)));
  EXPECT_TRUE(ends_with_flush(write_same16(0, 8), std::vector<uint8_t>(512, 0)));
  auto medium = std::vector<uint8_t>(dev.bytes().begin(), dev.bytes().begin() + 512);
  auto both = medium;
  auto next = pattern(512, 9);
  both.insert(both.end(), next.begin(), next.end());
  EXPECT_TRUE(ends_with_flush(caw(0, 1, false), both));
  EXPECT_TRUE(ends_with_flush(Cdb(0x04)));  // FORMAT UNIT
}

TEST_F(Durability, SynchronizeCacheFlushesEvenWithTheWriteCacheOff) {
  EXPECT_GOOD(run(rw(0x2A, 0, 4), pattern(4 * 512, 1)));  // volatile: WCE on
  turn_write_cache_off();
  size_t mark = dev.log.size();
  EXPECT_GOOD(run(rw(0x35, 0, 0)));
  ASSERT_EQ(dev.log.size(), mark + 1);
  EXPECT_EQ(dev.log.back().op, Op::kFlush);
}

INSTANTIATE_TEST_SUITE_P(BlockSizes, SplitTransfers, ::testing::Values(512u, 4096u));

TEST_F(ReadWrite, FuaReachesTheDeviceAndPlainWritesDoNot) {
  run(rw(0x2A, 0, 1, 0x08), pattern(512, 1));
  EXPECT_EQ(dev.log.back().flags & kBlockFua, kBlockFua);
  run(rw(0x2A, 0, 1), pattern(512, 1));
  EXPECT_EQ(dev.log.back().flags & kBlockFua, 0u);
  run(rw(0x0A, 0, 1), pattern(512, 1));
  EXPECT_EQ(dev.log.back().flags & kBlockFua, 0u);
}

TEST_F(ReadWrite, WithTheWriteCacheOffEveryWriteIsFua) {
  std::vector<uint8_t> list = {0, 0, 0, 0, 0x08, 0x12, 0, 0, 0, 0, 0, 0,
                               0, 0, 0, 0, 0,    0,    0, 0, 0, 0, 0, 0};
  EXPECT_GOOD(run(Cdb(0x15).set(1, 0x10).set(4, 24), list));
  run(rw(0x2A, 0, 1), pattern(512, 1));
  EXPECT_EQ(dev.log.back().flags & kBlockFua, kBlockFua);
  size_t before = dev.log.size();
  EXPECT_GOOD(run(rw(0x35, 0, 0)));
  ASSERT_EQ(dev.log.size(), before + 1) << "writes from while WCE was on may still be volatile";
  EXPECT_EQ(dev.log.back().op, Op::kFlush);
}

TEST_F(ReadWrite, FuaIsEmulatedWithAFlushWhenTheDeviceHasNone) {
  dev.mutable_info().fua = false;
  make_lu();
  clear_ua();
  EXPECT_GOOD(run(rw(0x8A, 0, 1, 0x08), pattern(512, 1)));
  ASSERT_GE(dev.log.size(), 2u);
  EXPECT_EQ(dev.log[dev.log.size() - 2].op, Op::kWrite);
  EXPECT_EQ(dev.log[dev.log.size() - 2].flags & kBlockFua, 0u);
  EXPECT_EQ(dev.log.back().op, Op::kFlush);
}

TEST_F(ReadWrite, SynchronizeCache) {
  EXPECT_GOOD(run(rw(0x35, 0, 0)));
  EXPECT_EQ(dev.log.back().op, Op::kFlush);
  EXPECT_GOOD(run(rw(0x91, 10, 10, 0x02)));  // IMMED
  EXPECT_EQ(dev.log.back().op, Op::kFlush);
  EXPECT_SENSE(run(rw(0x35, 5000, 1)), 0x05, 0x21, 0x00);
  dev.fail_next[Op::kFlush] = EIO;
  EXPECT_SENSE(run(rw(0x35, 0, 0)), 0x03, 0x0C, 0x00);
}

TEST_F(ReadWrite, PreFetch) {
  EXPECT_GOOD(run(rw(0x34, 0, 8)));
  EXPECT_GOOD(run(rw(0x90, 0, 8)));
  EXPECT_SENSE(run(rw(0x90, 2040, 9)), 0x05, 0x21, 0x00);
}

TEST_F(ReadWrite, DeviceErrorsMapToPreciseSense) {
  struct Case {
    Op op;
    int err;
    uint8_t opcode;
    Status status;
    int key, asc, ascq;
  };
  const Case cases[] = {
      {Op::kRead, EIO, 0x28, Status::kCheckCondition, 0x03, 0x11, 0x00},
      {Op::kWrite, EIO, 0x2A, Status::kCheckCondition, 0x03, 0x0C, 0x00},
      {Op::kWrite, ENOSPC, 0x2A, Status::kCheckCondition, 0x07, 0x27, 0x07},
      {Op::kWrite, EROFS, 0x2A, Status::kCheckCondition, 0x07, 0x27, 0x00},
      {Op::kRead, ENODEV, 0x28, Status::kCheckCondition, 0x02, 0x08, 0x00},
      {Op::kRead, EPROTO, 0x28, Status::kCheckCondition, 0x03, 0x11, 0x00},
      {Op::kRead, ETIMEDOUT, 0x28, Status::kBusy, -1, 0, 0},
      {Op::kWrite, EAGAIN, 0x2A, Status::kBusy, -1, 0, 0},
      {Op::kWrite, ENOMEM, 0x2A, Status::kTaskSetFull, -1, 0, 0},
  };
  for (const Case& c : cases) {
    dev.fail_next[c.op] = c.err;
    bool writing = c.op == Op::kWrite;
    auto& tc =
        writing ? run(rw(c.opcode, 0, 1), pattern(512, 1)) : run(rw(c.opcode, 0, 1), {}, 512);
    EXPECT_EQ(tc.cmd.status, c.status) << "errno " << c.err;
    if (c.key >= 0) {
      EXPECT_SENSE(tc, c.key, c.asc, c.ascq);
    } else {
      EXPECT_EQ(tc.cmd.sense_len, 0u);
    }
    EXPECT_EQ(tc.cmd.data_in_len, 0u);
  }
}

TEST_F(ReadWrite, MediumErrorsNameTheFailingLbaInInformation) {
  dev.fail_next[Op::kRead] = EIO;
  auto& rd = run(rw(0x28, 77, 2), {}, 1024);
  EXPECT_EQ(Bytes(rd.cmd.sense.begin(), rd.cmd.sense.begin() + rd.cmd.sense_len),
            (Bytes{0xF0, 0, 0x03, 0, 0, 0, 77, 0x0A, 0, 0, 0, 0, 0x11, 0x00, 0, 0, 0, 0}));
  dev.fail_next[Op::kWrite] = EIO;
  auto& wr = run(rw(0x2A, 300, 1), pattern(512, 1));
  EXPECT_EQ(Bytes(wr.cmd.sense.begin(), wr.cmd.sense.begin() + wr.cmd.sense_len),
            (Bytes{0xF0, 0, 0x03, 0, 0, 0x01, 0x2C, 0x0A, 0, 0, 0, 0, 0x0C, 0x00, 0, 0, 0, 0}));
  dev.fail_next[Op::kFlush] = EIO;
  auto& sync = run(Cdb(0x35));
  EXPECT_SENSE(sync, 0x03, 0x0C, 0x00);
  EXPECT_EQ(sync.cmd.sense[0], 0x70) << "a flush has no LBA: INFORMATION not valid";
}

TEST_F(ReadWrite, ReadOnlyDeviceRefusesWrites) {
  dev.mutable_info().read_only = true;
  make_lu();
  clear_ua();
  EXPECT_SENSE(run(rw(0x2A, 0, 1), pattern(512, 1)), 0x07, 0x27, 0x00);
  EXPECT_GOOD(run(rw(0x28, 0, 1), {}, 512));
}

// Write protection is one check in the dispatcher for every command that writes the medium,
// ahead of the command's own range and field checks: a zero-length WRITE, a WRITE SAME of zero
// blocks (WSNZ), an empty UNMAP, an oversized COMPARE AND WRITE, a write past the end are all
// WRITE PROTECTED, and nothing reaches the device.
TEST_F(ReadWrite, ReadOnlyDeviceRefusesEveryMediumWriteFirst) {
  dev.mutable_info().read_only = true;
  make_lu();
  clear_ua();
  size_t logged = dev.log.size();
  std::vector<std::pair<Cdb, std::vector<uint8_t>>> writes = {
      {rw(0x0A, 0, 1), pattern(512, 1)},
      {rw(0x2A, 0, 0), {}},
      {rw(0xAA, 0, 1), pattern(512, 1)},
      {rw(0x8A, 4096, 1), pattern(512, 1)},  // past the end
      {rw(0x2E, 0, 1), pattern(512, 1)},
      {rw(0x8E, 0, 0), {}},
      {rw(0xAE, 0, 1), {}},  // Data-Out shorter than the CDB asks
      {rw(0x41, 0, 0), pattern(512, 1)},
      {rw(0x93, 0, 1), pattern(512, 1)},
      {Cdb(0x42), {}},
      {Cdb(0x04), {}},
      {rw(0x89, 0, 0), {}},
      {Cdb(0x89).be(2, 8, 0).set(13, 255), {}},
  };
  for (auto& [cdb, out] : writes) {
    auto& tc = run(cdb, out);
    SCOPED_TRACE(int(cdb.bytes[0]));
    EXPECT_SENSE(tc, 0x07, 0x27, 0x00);
  }
  EXPECT_EQ(dev.log.size(), logged) << "no device request";
  EXPECT_GOOD(run(rw(0x2F, 0, 1)));
  EXPECT_GOOD(run(Cdb(0x35)));
}

TEST_F(ReadWrite, AsynchronousCompletionsFromTheDevice) {
  dev.hold = true;
  auto& w = submit(rw(0x2A, 7, 2), pattern(1024, 5));
  auto& r = submit(rw(0x28, 100, 1), {}, 512);
  EXPECT_EQ(w.completions + r.completions, 0);
  EXPECT_EQ(dev.pending(), 2u);
  dev.release_all();
  EXPECT_EQ(w.completions, 1);
  EXPECT_EQ(r.completions, 1);
  EXPECT_GOOD(w);
  EXPECT_GOOD(r);
}

}  // namespace
}  // namespace lunkit::test

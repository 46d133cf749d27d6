// tcmu::Ring against the kernel-side emulator: placement, wraparound, out-of-order completion,
// id reuse, a full ring, TMR and hostile entries.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <random>

#include "tcmu/ring.h"
#include "tcmu/ring_emulator.h"

namespace lunkit::tcmu {
namespace {

using Dir = RingEmulator::Direction;

struct Seen {
  uint16_t cmd_id;
  std::vector<uint8_t> cdb;
  std::vector<iovec> data;
  std::vector<iovec> bidi;
};

class RecordingSink : public Ring::Sink {
 public:
  void on_command(const RingCommand& c) override {
    commands.push_back({c.cmd_id,
                        {c.cdb.begin(), c.cdb.end()},
                        {c.data.begin(), c.data.end()},
                        {c.bidi_in.begin(), c.bidi_in.end()}});
  }
  void on_bad_command(uint16_t cmd_id, const char* reason) override {
    bad.push_back({cmd_id, reason});
  }
  void on_tmr(uint8_t type, std::span<const uint16_t> ids) override {
    tmrs.push_back({type, {ids.begin(), ids.end()}});
  }
  std::vector<Seen> commands;
  std::vector<std::pair<uint16_t, std::string>> bad;
  std::vector<std::pair<uint8_t, std::vector<uint16_t>>> tmrs;
};

struct Done {
  std::map<uint64_t, EmulatedCompletion> by_tag;
  std::map<uint64_t, std::vector<uint8_t>> data_by_tag;
  std::map<uint64_t, std::vector<uint8_t>> sense_by_tag;
  static void record(void* ctx, const EmulatedCompletion& c) {
    auto* self = static_cast<Done*>(ctx);
    self->by_tag[c.tag] = c;
    self->data_by_tag[c.tag] = data_in_bytes(c);
    self->sense_by_tag[c.tag].assign(c.sense.begin(), c.sense.end());
  }
};

// The user side as the transport sees it: map the emulator's memfd, read its mailbox.
struct UserSide {
  explicit UserSide(RingEmulator& emu) : size(emu.map_size()) {
    base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, emu.map_fd(), 0);
    EXPECT_NE(base, MAP_FAILED);
    EXPECT_FALSE(Ring::check_mailbox(base, size).has_value());
    ring = std::make_unique<Ring>(base, size);
  }
  ~UserSide() { munmap(base, size); }
  void* base;
  size_t size;
  std::unique_ptr<Ring> ring;
};

const uint8_t kRead10[10] = {0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0};
const uint8_t kWrite10[10] = {0x2A, 0, 0, 0, 0, 0, 0, 0, 8, 0};

RingEmulator::Options small_ring(uint32_t cmdr_size = 1024, size_t data = 1 << 20) {
  RingEmulator::Options o;
  o.cmdr_size = cmdr_size;
  o.data_size = data;
  return o;
}

TEST(TcmuRing, MailboxChecks) {
  std::vector<uint8_t> m(4096, 0);
  auto put16 = [&](size_t off, uint16_t v) { std::memcpy(&m[off], &v, 2); };
  auto put32 = [&](size_t off, uint32_t v) { std::memcpy(&m[off], &v, 4); };
  put16(mailbox::kVersion, 1);
  put16(mailbox::kFlags, kCapOutOfOrder);
  put32(mailbox::kCmdrOff, 128);
  put32(mailbox::kCmdrSize, 1024);
  EXPECT_EQ(*Ring::check_mailbox(m.data(), m.size()),
            "TCMU mailbox version 1; lunkit speaks version 2");
  put16(mailbox::kVersion, 2);
  EXPECT_FALSE(Ring::check_mailbox(m.data(), m.size()).has_value());
  put32(mailbox::kCmdrSize, 8000);
  EXPECT_TRUE(Ring::check_mailbox(m.data(), m.size()).has_value());
  put32(mailbox::kCmdrSize, 1024);
  put16(mailbox::kFlags, kCapReadLen);
  EXPECT_EQ(*Ring::check_mailbox(m.data(), m.size()),
            "kernel lacks out-of-order completion (TCMU_MAILBOX_FLAG_CAP_OOOC)");
  put16(mailbox::kFlags, kCapOutOfOrder);
  put32(mailbox::kCmdHead, 2000);
  EXPECT_TRUE(Ring::check_mailbox(m.data(), m.size()).has_value());
  EXPECT_TRUE(Ring::check_mailbox(m.data(), 64).has_value());
}

TEST(TcmuRing, CommandsAreCopiedOutAndCompletedOutOfOrder) {
  Done done;
  RingEmulator emu(small_ring(4096), Done::record, &done);
  UserSide user(emu);
  RecordingSink sink;
  std::vector<uint8_t> payload(4096 * 2 + 100, 0x5A);
  auto w = emu.submit(kWrite10, Dir::kToDevice, payload, 0, 1);
  auto r = emu.submit(kRead10, Dir::kFromDevice, {}, 4096, 2);
  ASSERT_TRUE(w && r);
  EXPECT_EQ(user.ring->consume(sink), 2u);
  ASSERT_EQ(sink.commands.size(), 2u);
  EXPECT_EQ(sink.commands[0].cmd_id, *w);
  EXPECT_EQ(sink.commands[0].cdb, std::vector<uint8_t>(kWrite10, kWrite10 + 10));
  size_t total = 0;
  for (auto& v : sink.commands[0].data) {
    EXPECT_TRUE(std::all_of(static_cast<uint8_t*>(v.iov_base),
                            static_cast<uint8_t*>(v.iov_base) + v.iov_len,
                            [](uint8_t b) { return b == 0x5A; }));
    total += v.iov_len;
  }
  EXPECT_EQ(total, payload.size());
  EXPECT_EQ(sink.commands[0].data.size(), 1u) << "contiguous blocks share an iovec";
  // Fill the read buffer, then complete the READ before the WRITE.
  std::memset(sink.commands[1].data[0].iov_base, 0xC3, 4096);
  EXPECT_TRUE(user.ring->complete(*r, 0, {}, std::nullopt));
  const uint8_t sense[18] = {0x70, 0, 0x03, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x0C, 0};
  EXPECT_TRUE(user.ring->complete(*w, 2, sense, std::nullopt));
  EXPECT_FALSE(user.ring->complete(*w, 0, {}, std::nullopt)) << "nothing left to complete";
  EXPECT_EQ(emu.service(), 2u);
  EXPECT_FALSE(emu.broken()) << emu.broken_reason();
  EXPECT_EQ(done.by_tag[2].status, 0);
  EXPECT_EQ(done.data_by_tag[2], std::vector<uint8_t>(4096, 0xC3));
  EXPECT_EQ(done.by_tag[1].status, 2);
  EXPECT_EQ(done.sense_by_tag[1][2], 0x03);
  EXPECT_EQ(done.sense_by_tag[1][12], 0x0C);
  EXPECT_EQ(emu.in_flight(), 0u);
}

TEST(TcmuRing, WraparoundWithPadAndRandomCompletionOrder) {
  Done done;
  RingEmulator emu(small_ring(1000), Done::record, &done);  // not a multiple of entry sizes
  UserSide user(emu);
  RecordingSink sink;
  std::mt19937 rng(1);
  std::vector<uint16_t> open;
  uint64_t tag = 0, submitted = 0, completed = 0;
  for (int round = 0; round < 3000; ++round) {
    // Queue a few commands of varying sizes while there is room.
    for (int i = rng() % 4; i >= 0; --i) {
      uint8_t cdb16[16] = {0x88};
      bool big = rng() % 2;
      auto id = big ? emu.submit(cdb16, Dir::kFromDevice, {}, 8192 + (rng() % 3) * 4096, ++tag)
                    : emu.submit(kRead10, Dir::kFromDevice, {}, 512, ++tag);
      if (!id) break;
      ++submitted;
    }
    sink.commands.clear();
    user.ring->consume(sink);
    for (auto& c : sink.commands) open.push_back(c.cmd_id);
    std::shuffle(open.begin(), open.end(), rng);
    size_t n = rng() % (open.size() + 1);
    for (size_t i = 0; i < n; ++i) ASSERT_TRUE(user.ring->complete(open[i], 0, {}, std::nullopt));
    open.erase(open.begin(), open.begin() + static_cast<long>(n));
    completed += emu.service();
    ASSERT_FALSE(emu.broken()) << emu.broken_reason();
    ASSERT_FALSE(user.ring->broken()) << user.ring->broken_reason();
  }
  for (uint16_t id : open) ASSERT_TRUE(user.ring->complete(id, 0, {}, std::nullopt));
  completed += emu.service();
  EXPECT_EQ(completed, submitted) << "every queued command came back";
  EXPECT_GT(submitted, 3000u);
  EXPECT_EQ(emu.in_flight(), 0u);
  EXPECT_GT(user.ring->stats().pads, 10u) << "the ring wrapped with PAD entries";
  EXPECT_EQ(user.ring->stats().commands, user.ring->stats().completions);
}

TEST(TcmuRing, CmdIdsAreReusedAfter65535) {
  auto o = small_ring(4096);
  o.cyclic_ids = true;
  Done done;
  RingEmulator emu(o, Done::record, &done);
  UserSide user(emu);
  RecordingSink sink;
  uint16_t last = 0;
  bool wrapped = false;
  for (uint32_t i = 0; i < 70000; ++i) {
    auto id = emu.submit(kRead10, Dir::kNone, {}, 0, i);
    ASSERT_TRUE(id);
    if (*id < last) wrapped = true;
    last = *id;
    sink.commands.clear();
    ASSERT_EQ(user.ring->consume(sink), 1u);
    ASSERT_TRUE(user.ring->complete(*id, 0, {}, std::nullopt));
    ASSERT_EQ(emu.service(), 1u);
  }
  EXPECT_TRUE(wrapped);
  EXPECT_FALSE(emu.broken());
}

TEST(TcmuRing, FullRingThenRoomAgain) {
  Done done;
  RingEmulator emu(small_ring(1024), Done::record, &done);
  UserSide user(emu);
  RecordingSink sink;
  int queued = 0;
  while (emu.submit(kRead10, Dir::kNone, {}, 0, queued)) ++queued;
  EXPECT_EQ(queued, 7) << "1024-byte ring, 128-byte entries, one byte kept free";
  user.ring->consume(sink);
  ASSERT_EQ(sink.commands.size(), 7u);
  EXPECT_TRUE(user.ring->complete(sink.commands[3].cmd_id, 0, {}, std::nullopt));
  EXPECT_FALSE(emu.submit(kRead10, Dir::kNone, {}, 0, 100)) << "not yet cleaned";
  EXPECT_EQ(emu.service(), 1u);
  EXPECT_TRUE(emu.submit(kRead10, Dir::kNone, {}, 0, 100));
}

TEST(TcmuRing, DataAreaExhaustion) {
  RingEmulator emu(small_ring(4096, 16384));
  EXPECT_TRUE(emu.submit(kRead10, Dir::kFromDevice, {}, 12288, 1));
  EXPECT_FALSE(emu.submit(kRead10, Dir::kFromDevice, {}, 8192, 2));
  EXPECT_TRUE(emu.submit(kRead10, Dir::kFromDevice, {}, 4096, 3));
}

// Builds a CMD entry by hand: iovecs given as (offset, length) pairs.
std::vector<uint8_t> raw_cmd(uint32_t iov_cnt, uint32_t bidi, uint32_t dif,
                             std::vector<std::pair<uint64_t, uint64_t>> iovs, uint64_t cdb_off,
                             uint32_t len) {
  std::vector<uint8_t> e(len, 0);
  uint32_t len_op = make_len_op(len, kOpCmd);
  std::memcpy(&e[0], &len_op, 4);
  std::memcpy(&e[entry::kIovCnt], &iov_cnt, 4);
  std::memcpy(&e[entry::kIovBidiCnt], &bidi, 4);
  std::memcpy(&e[entry::kIovDifCnt], &dif, 4);
  std::memcpy(&e[entry::kCdbOff], &cdb_off, 8);
  for (size_t i = 0; i < iovs.size() && entry::kIov + 16 * i + 16 <= len; ++i) {
    std::memcpy(&e[entry::kIov + 16 * i], &iovs[i].first, 8);
    std::memcpy(&e[entry::kIov + 16 * i + 8], &iovs[i].second, 8);
  }
  return e;
}

class Hostile : public ::testing::Test {
 protected:
  Hostile() : emu(small_ring(4096, 1 << 16), Done::record, &done), user(emu) {}
  uint64_t data_off() const { return kMailboxSize + emu.cmdr_size(); }
  // Places an entry at the ring head; `cdb_at` is its offset inside the entry.
  std::optional<uint16_t> place(std::vector<uint8_t> e, size_t cdb_at, std::vector<uint8_t> cdb) {
    uint32_t head;
    std::memcpy(&head, emu.map() + kCmdHeadOffset, 4);
    uint64_t cdb_off = kMailboxSize + head + cdb_at;
    if (cdb_at + 8 <= e.size()) {
      std::memcpy(&e[entry::kCdbOff], &cdb_off, 8);
      std::copy(cdb.begin(), cdb.end(), e.begin() + static_cast<long>(cdb_at));
    }
    return emu.submit_raw(e, static_cast<uint32_t>(e.size()), true);
  }
  Done done;
  RingEmulator emu;
  UserSide user;
  RecordingSink sink;
};

TEST_F(Hostile, BidiAndDifCountsAreHandled) {
  auto e = raw_cmd(1, 1, 1, {{data_off(), 512}, {data_off() + 4096, 512}, {data_off() + 8192, 8}},
                   0, 112 + 48);
  auto id = place(e, 48 + 48, {0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0});
  ASSERT_TRUE(id);
  user.ring->consume(sink);
  ASSERT_EQ(sink.commands.size(), 1u);
  EXPECT_EQ(sink.commands[0].data.size(), 1u);
  EXPECT_EQ(sink.commands[0].bidi.size(), 1u);
  EXPECT_EQ(sink.commands[0].cdb.size(), 10u);
  EXPECT_TRUE(sink.bad.empty());
}

TEST_F(Hostile, IovecOutsideTheMapIsRejectedNotDereferenced) {
  auto e = raw_cmd(1, 0, 0, {{emu.map_size() - 100, 4096}}, 0, 128);
  auto id = place(e, 64, {0x28, 0, 0, 0, 0, 0, 0, 0, 8, 0});
  auto e2 = raw_cmd(1, 0, 0, {{64, 16}}, 0, 128);  // points into the mailbox
  auto id2 = place(e2, 64, {0x2A, 0, 0, 0, 0, 0, 0, 0, 8, 0});
  user.ring->consume(sink);
  EXPECT_TRUE(sink.commands.empty());
  ASSERT_EQ(sink.bad.size(), 2u);
  EXPECT_EQ(sink.bad[0].first, *id);
  EXPECT_EQ(sink.bad[1].first, *id2);
  EXPECT_EQ(sink.bad[0].second, "an iovec lies outside the data area");
  // They are still completed through the ring.
  EXPECT_TRUE(user.ring->complete(*id, 2, {}, std::nullopt));
  EXPECT_TRUE(user.ring->complete(*id2, 2, {}, std::nullopt));
  EXPECT_EQ(emu.service(), 2u);
  EXPECT_FALSE(emu.broken());
}

TEST_F(Hostile, HugeIovCountAndStrayCdbOffset) {
  auto huge = raw_cmd(0xFFFFFFFF, 0, 0, {}, 0, 128);
  auto id1 = place(huge, 64, {0x00});
  auto bidi_overflow = raw_cmd(1, 0xFFFFFFFF, 0xFFFFFFFF, {}, 0, 128);
  auto id2 = place(bidi_overflow, 64, {0x00});
  auto stray = raw_cmd(0, 0, 0, {}, 0, 128);
  std::memcpy(&stray[entry::kCdbOff], "\xff\xff\xff\xff\xff\xff\xff\x7f", 8);
  auto id3 = emu.submit_raw(stray, 128, true);
  auto past = raw_cmd(0, 0, 0, {}, 0, 112);
  auto id4 = place(past, 104, {0x88});  // a 16-byte CDB starting 8 bytes before the end
  user.ring->consume(sink);
  ASSERT_EQ(sink.bad.size(), 4u);
  EXPECT_EQ(sink.bad[0].second, "its iovec count exceeds the entry");
  EXPECT_EQ(sink.bad[1].second, "its iovec count exceeds the entry");
  EXPECT_EQ(sink.bad[2].second, "its CDB offset lies outside the entry");
  EXPECT_EQ(sink.bad[3].second, "its CDB runs past the entry");
  for (auto id : {id1, id2, id3, id4}) EXPECT_TRUE(user.ring->complete(*id, 2, {}, std::nullopt));
  EXPECT_EQ(emu.service(), 4u);
}

TEST_F(Hostile, ZeroLengthEntryBreaksTheRingWithoutHanging) {
  std::vector<uint8_t> zero(16, 0);
  uint32_t len_op = make_len_op(0, kOpCmd);
  std::memcpy(zero.data(), &len_op, 4);
  emu.submit_raw(zero, 16, false);
  EXPECT_EQ(user.ring->consume(sink), 0u);
  EXPECT_TRUE(user.ring->broken());
  EXPECT_NE(user.ring->broken_reason().find("has length 0"), std::string::npos);
  EXPECT_EQ(user.ring->consume(sink), 0u);
}

TEST_F(Hostile, ShortCmdEntryAndOverlongEntryBreakTheRing) {
  auto short_cmd = raw_cmd(0, 0, 0, {}, 0, 64);
  emu.submit_raw(short_cmd, 64, false);
  user.ring->consume(sink);
  EXPECT_TRUE(user.ring->broken());
  EXPECT_TRUE(sink.commands.empty());

  Done d2;
  RingEmulator emu2(small_ring(4096), Done::record, &d2);
  UserSide user2(emu2);
  std::vector<uint8_t> e(16, 0);
  uint32_t len_op = make_len_op(2048, kOpPad);  // claims more than was queued
  std::memcpy(e.data(), &len_op, 4);
  emu2.submit_raw(e, 16, false);
  RecordingSink s2;
  user2.ring->consume(s2);
  EXPECT_TRUE(user2.ring->broken());
}

TEST_F(Hostile, UnknownOpcodeIsFlaggedAndSkipped) {
  std::vector<uint8_t> e(16, 0);
  uint32_t len_op = make_len_op(16, 5);
  std::memcpy(e.data(), &len_op, 4);
  emu.submit_raw(e, 16, false);
  auto id = emu.submit(kRead10, Dir::kNone, {}, 0, 9);
  user.ring->consume(sink);
  EXPECT_EQ(user.ring->stats().unknown_ops, 1u);
  ASSERT_EQ(sink.commands.size(), 1u);
  EXPECT_EQ(sink.commands[0].cmd_id, *id);
  uint32_t head;
  std::memcpy(&head, emu.map() + kCmdHeadOffset, 4);
  EXPECT_EQ(emu.map()[kMailboxSize + head - 16 - 128 + entry::kUflags] & kUflagUnknownOp,
            kUflagUnknownOp);
}

TEST_F(Hostile, TmrEntriesAreReportedAndSkippedByCompletion) {
  auto a = emu.submit(kRead10, Dir::kNone, {}, 0, 1);
  auto b = emu.submit(kRead10, Dir::kNone, {}, 0, 2);
  uint16_t ids[] = {*a, *b};
  ASSERT_TRUE(emu.submit_tmr(kTmrAbortTaskSet, ids));
  auto c = emu.submit(kRead10, Dir::kNone, {}, 0, 3);
  user.ring->consume(sink);
  ASSERT_EQ(sink.tmrs.size(), 1u);
  EXPECT_EQ(sink.tmrs[0].first, kTmrAbortTaskSet);
  EXPECT_EQ(sink.tmrs[0].second, (std::vector<uint16_t>{*a, *b}));
  for (auto id : {*c, *a, *b}) EXPECT_TRUE(user.ring->complete(id, 0, {}, std::nullopt));
  EXPECT_EQ(emu.service(), 3u);
  EXPECT_FALSE(emu.broken());
}

TEST(TcmuRing, ReadLenReportsTheResidual) {
  Done done;
  RingEmulator emu(small_ring(4096), Done::record, &done);
  UserSide user(emu);
  RecordingSink sink;
  auto id = emu.submit(kRead10, Dir::kFromDevice, {}, 4096, 7);
  user.ring->consume(sink);
  std::memset(sink.commands[0].data[0].iov_base, 1, 4096);
  EXPECT_TRUE(user.ring->complete(*id, 0, {}, 36u));
  emu.service();
  EXPECT_EQ(done.by_tag[7].data_in_len, 36u);
  EXPECT_EQ(done.data_by_tag[7].size(), 36u);

  auto o = small_ring(4096);
  o.flags = kCapOutOfOrder;  // a kernel without READ_LEN
  Done d2;
  RingEmulator old_kernel(o, Done::record, &d2);
  UserSide u2(old_kernel);
  RecordingSink s2;
  auto id2 = old_kernel.submit(kRead10, Dir::kFromDevice, {}, 4096, 8);
  u2.ring->consume(s2);
  EXPECT_TRUE(u2.ring->complete(*id2, 0, {}, 36u));
  old_kernel.service();
  EXPECT_EQ(d2.by_tag[8].data_in_len, 4096u);
}

// The emulator copies back what tcmu_handle_completion() copies: the whole data length when
// READ_LEN is absent or zero, nothing for CHECK CONDITION unless READ_LEN is set.
TEST(TcmuRing, EmulatedKernelCopiesWhatTheKernelCopies) {
  Done done;
  RingEmulator emu(small_ring(4096), Done::record, &done);
  UserSide user(emu);
  RecordingSink sink;
  auto a = emu.submit(kRead10, Dir::kFromDevice, {}, 4096, 1);
  auto b = emu.submit(kRead10, Dir::kFromDevice, {}, 4096, 2);
  auto c = emu.submit(kRead10, Dir::kFromDevice, {}, 4096, 3);
  auto d = emu.submit(kRead10, Dir::kFromDevice, {}, 4096, 4);
  user.ring->consume(sink);
  std::array<uint8_t, 18> sense{0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x24};
  EXPECT_TRUE(user.ring->complete(*a, 0, {}, 0u));
  EXPECT_TRUE(user.ring->complete(*b, 2, sense, std::nullopt));
  EXPECT_TRUE(user.ring->complete(*c, 2, sense, 100u));
  EXPECT_TRUE(user.ring->complete(*d, 0, {}, 8192u));
  emu.service();
  EXPECT_EQ(done.by_tag[1].data_in_len, 4096u) << "READ_LEN 0 is ignored";
  EXPECT_FALSE(done.by_tag[1].read_len_valid);
  EXPECT_EQ(done.by_tag[2].data_in_len, 0u);
  EXPECT_EQ(done.by_tag[3].data_in_len, 100u);
  EXPECT_TRUE(done.by_tag[3].read_len_valid);
  EXPECT_EQ(done.by_tag[4].data_in_len, 4096u) << "never more than the data length";
}

TEST(TcmuRing, UnknownCmdIdBreaksTheEmulatedKernelRing) {
  RingEmulator emu(small_ring(4096));
  UserSide user(emu);
  RecordingSink sink;
  emu.submit(kRead10, Dir::kNone, {}, 0, 1);
  user.ring->consume(sink);
  EXPECT_TRUE(user.ring->complete(999, 0, {}, std::nullopt));
  emu.service();
  EXPECT_TRUE(emu.broken());
  EXPECT_EQ(emu.broken_reason(), "cmd_id 999 not found, ring is broken");
}

TEST(TcmuRing, DoorbellEventsCoalesceLikeUio) {
  RingEmulator emu(small_ring(4096));
  for (int i = 0; i < 5; ++i) emu.submit(kRead10, Dir::kNone, {}, 0, i);
  uint32_t ev;
  EXPECT_EQ(read(emu.doorbell_fd(), &ev, 4), 4);
  EXPECT_EQ(read(emu.doorbell_fd(), &ev, 4), -1) << "one event for five commands";
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_EQ(emu.notifications(), 5u) << "every event wakes pollers, as uio_event_notify does";
  EXPECT_EQ(ev, 5u) << "the event read is the latest count";
}

}  // namespace
}  // namespace lunkit::tcmu

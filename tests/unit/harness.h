// Drives a LogicalUnit the way a transport does and checks every command completes exactly once.
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <deque>
#include <memory>
#include <vector>

#include "lunkit/scsi/logical_unit.h"
#include "tests/unit/ram_device.h"

namespace lunkit::test {

using scsi::Command;
using scsi::LogicalUnit;
using scsi::Status;

// A CDB under construction: Cdb(0x28).be(2, 4, lba).be(7, 2, blocks).
struct Cdb {
  explicit Cdb(uint8_t opcode) { bytes[0] = opcode; }
  Cdb& set(size_t i, uint8_t v) {
    bytes[i] = v;
    return *this;
  }
  Cdb& be(size_t offset, size_t width, uint64_t v) {
    for (size_t i = width; i-- > 0;) {
      bytes[offset + i] = static_cast<uint8_t>(v);
      v >>= 8;
    }
    return *this;
  }
  std::array<uint8_t, 32> bytes{};
};

inline size_t cdb_length(uint8_t opcode) {
  switch (opcode >> 5) {
    case 0:
      return 6;
    case 1:
    case 2:
      return 10;
    case 4:
      return 16;
    case 5:
      return 12;
    default:
      return 10;
  }
}

// One command with its own buffer, split into uneven iovec segments to exercise gathering.
struct TestCommand {
  Command cmd;
  std::vector<uint8_t> buffer;
  std::vector<iovec> segments;
  int completions = 0;

  std::span<const uint8_t> data_in() const { return {buffer.data(), cmd.data_in_len}; }
  uint8_t sense_key() const {
    if (cmd.sense_len == 0) return 0xFF;
    return (cmd.sense[0] & 0x7F) == 0x72 ? cmd.sense[1] & 0x0F : cmd.sense[2] & 0x0F;
  }
  uint8_t asc() const { return (cmd.sense[0] & 0x7F) == 0x72 ? cmd.sense[2] : cmd.sense[12]; }
  uint8_t ascq() const { return (cmd.sense[0] & 0x7F) == 0x72 ? cmd.sense[3] : cmd.sense[13]; }
  // Sense-key specific field pointer from fixed-format sense (bytes 15..17).
  bool sksv() const { return cmd.sense[15] & 0x80; }
  uint16_t field_byte() const { return static_cast<uint16_t>(cmd.sense[16] << 8 | cmd.sense[17]); }
  int field_bit() const { return (cmd.sense[15] & 0x08) ? cmd.sense[15] & 0x07 : -1; }
  bool field_in_cdb() const { return cmd.sense[15] & 0x40; }
  uint32_t information() const {
    return static_cast<uint32_t>(cmd.sense[3]) << 24 | cmd.sense[4] << 16 | cmd.sense[5] << 8 |
           cmd.sense[6];
  }
};

inline DeviceInfo default_info(uint64_t blocks = 2048, uint32_t block_size = 512) {
  DeviceInfo info;
  info.num_blocks = blocks;
  info.logical_block_size = block_size;
  info.physical_block_size = block_size;
  info.thin_provisioning = true;
  info.unmap_reads_zero = true;
  info.write_cache = true;
  info.max_transfer_blocks = 1024;
  info.unit_serial = "0123456789abcdef0123";
  return info;
}

class LuTest : public ::testing::Test {
 protected:
  explicit LuTest(DeviceInfo info = default_info(), scsi::LogicalUnitOptions options = {})
      : dev(std::move(info)), options_(options) {
    make_lu();
  }

  void make_lu() { lu = std::make_unique<LogicalUnit>(dev, &LuTest::on_complete, this, options_); }

  static void on_complete(void*, Command& cmd) {
    static_cast<TestCommand*>(cmd.transport_context)->completions++;
  }

  // Builds and submits a command. `out` is Data-Out; otherwise a Data-In buffer of `in_len`.
  // cdb_len < 0: the length the opcode's group code implies.
  TestCommand& submit(const Cdb& cdb, std::vector<uint8_t> out = {}, size_t in_len = 0,
                      int cdb_len = -1) {
    auto& tc = *commands_.emplace_back(std::make_unique<TestCommand>());
    tc.buffer = out.empty() ? std::vector<uint8_t>(in_len, 0xEE) : std::move(out);
    // Uneven segments: 1 byte, 7 bytes, then the rest in 1000-byte pieces.
    size_t pos = 0;
    size_t sizes[] = {1, 7};
    for (size_t s : sizes) {
      if (pos >= tc.buffer.size()) break;
      size_t n = std::min(s, tc.buffer.size() - pos);
      tc.segments.push_back({tc.buffer.data() + pos, n});
      pos += n;
    }
    while (pos < tc.buffer.size()) {
      size_t n = std::min<size_t>(1000, tc.buffer.size() - pos);
      tc.segments.push_back({tc.buffer.data() + pos, n});
      pos += n;
    }
    tc.cmd.cdb = cdb.bytes;
    tc.cmd.cdb_len =
        static_cast<uint8_t>(cdb_len >= 0 ? size_t(cdb_len) : cdb_length(cdb.bytes[0]));
    tc.cmd.iov = tc.segments;
    tc.cmd.data_len = tc.buffer.size();
    tc.cmd.direction = direction;
    tc.cmd.transport_context = &tc;
    lu->submit(tc.cmd);
    return tc;
  }

  // Submits and expects exactly one completion.
  TestCommand& run(const Cdb& cdb, std::vector<uint8_t> out = {}, size_t in_len = 0,
                   int cdb_len = -1) {
    TestCommand& tc = submit(cdb, std::move(out), in_len, cdb_len);
    EXPECT_EQ(tc.completions, 1) << "opcode " << int(cdb.bytes[0]);
    return tc;
  }

  // Clears the power-on unit attention most tests do not care about.
  void clear_ua() { run(Cdb(0x00)); }

  void TearDown() override {
    dev.release_all();
    for (auto& tc : commands_) EXPECT_EQ(tc->completions, 1) << "opcode " << int(tc->cmd.cdb[0]);
  }

  RamDevice dev;
  // The transport's direction for the commands submitted next (unknown, as TCMU's).
  scsi::DataDirection direction = scsi::DataDirection::kUnknown;
  scsi::LogicalUnitOptions options_;
  std::unique_ptr<LogicalUnit> lu;
  std::deque<std::unique_ptr<TestCommand>> commands_;
};

inline std::vector<uint8_t> pattern(size_t len, uint8_t seed) {
  std::vector<uint8_t> v(len);
  for (size_t i = 0; i < len; ++i) v[i] = static_cast<uint8_t>(seed + i * 7 + (i >> 9));
  return v;
}

// Predicates for the expectation macros below; each macro evaluates its argument once, so
// `EXPECT_GOOD(run(...))` runs one command, and messages can be streamed after it.
inline ::testing::AssertionResult is_good(const TestCommand& t) {
  if (t.cmd.status == Status::kGood) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "status " << int(t.cmd.status) << ", sense key " << int(t.sense_key()) << " asc "
         << int(t.asc()) << " ascq " << int(t.ascq());
}
inline ::testing::AssertionResult has_sense(const TestCommand& t, int key, int asc, int ascq) {
  if (t.cmd.status == Status::kCheckCondition && t.sense_key() == key && t.asc() == asc &&
      t.ascq() == ascq)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "status " << int(t.cmd.status) << ", sense " << std::hex << int(t.sense_key()) << "/"
         << int(t.asc()) << "/" << int(t.ascq()) << ", wanted " << key << "/" << asc << "/" << ascq;
}
inline ::testing::AssertionResult points_at(const TestCommand& t, int byte, int bit) {
  auto r = has_sense(t, 0x05, 0x24, 0x00);
  if (!r) return r;
  if (t.sksv() && t.field_in_cdb() && t.field_byte() == byte && t.field_bit() == bit)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "field pointer: sksv " << t.sksv() << " cdb " << t.field_in_cdb() << " byte "
         << t.field_byte() << " bit " << t.field_bit() << ", wanted byte " << byte << " bit "
         << bit;
}

#define EXPECT_GOOD(tc) EXPECT_TRUE(::lunkit::test::is_good(tc))
#define EXPECT_SENSE(tc, key, asc, ascq) EXPECT_TRUE(::lunkit::test::has_sense(tc, key, asc, ascq))
#define EXPECT_INVALID_CDB_FIELD(tc, byte, bit) \
  EXPECT_TRUE(::lunkit::test::points_at(tc, byte, bit))

}  // namespace lunkit::test

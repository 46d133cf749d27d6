// Arbitrary CDBs and parameter data: every command completes exactly once, whatever it holds,
// whether the device completes inline or later and in any order.
#include <random>

#include "libscsi/opcode_table.h"
#include "tests/unit/harness.h"

namespace lunkit::test {
namespace {

class Robustness : public LuTest {};

// Random bytes, biased towards the opcodes libscsi supports so the handlers get exercised.
Cdb random_cdb(std::mt19937& rng, size_t* len) {
  auto ops = scsi::all_opcodes();
  Cdb cdb(0);
  for (auto& b : cdb.bytes) b = static_cast<uint8_t>(rng());
  if (rng() % 4) {
    const auto& op = ops[rng() % ops.size()];
    cdb.bytes[0] = op.opcode;
    if (op.has_service_action)
      cdb.bytes[1] = static_cast<uint8_t>((cdb.bytes[1] & 0xE0) | op.service_action);
    // Often keep only the allowed bits so that commands get past CDB validation.
    if (rng() % 2)
      for (size_t i = 1; i < op.cdb_len; ++i) cdb.bytes[i] &= op.usage[i];
    // Small LBAs and lengths so some commands are in range.
    if (op.lba.width && rng() % 2)
      for (size_t i = 0; i + 1 < op.lba.width; ++i) cdb.bytes[op.lba.offset + i] = 0;
    if (op.blocks.width && rng() % 2)
      for (size_t i = 0; i + 1 < op.blocks.width; ++i) cdb.bytes[op.blocks.offset + i] = 0;
    *len = rng() % 8 ? op.cdb_len : rng() % 33;
  } else {
    *len = rng() % 33;
  }
  return cdb;
}

std::vector<uint8_t> random_data(std::mt19937& rng) {
  size_t n = std::vector<size_t>{0, 1, 7, 8, 24, 512, 1024, 4096, 70000}[rng() % 9];
  std::vector<uint8_t> v(n);
  bool zeros = rng() % 3 == 0;
  for (auto& b : v) b = zeros ? 0 : static_cast<uint8_t>(rng());
  return v;
}

TEST_F(Robustness, RandomCommandsInlineDevice) {
  std::mt19937 rng(12345);
  for (int i = 0; i < 20000; ++i) {
    size_t len = 0;
    Cdb cdb = random_cdb(rng, &len);
    auto data = random_data(rng);
    if (data.empty()) data.resize(rng() % 2 ? 4096 : 0, 0xEE);
    auto& tc = submit(cdb, data, 0, static_cast<int>(len));
    ASSERT_EQ(tc.completions, 1) << "command " << i;
    ASSERT_LE(tc.cmd.data_in_len, tc.buffer.size());
    ASSERT_LE(tc.cmd.sense_len, 96u);
    if (tc.cmd.status == Status::kCheckCondition) {
      ASSERT_GT(tc.cmd.sense_len, 0u);
    }
    if (commands_.size() > 512) commands_.clear();
  }
}

TEST_F(Robustness, RandomCommandsDeferredAndReleasedOutOfOrder) {
  std::mt19937 rng(777);
  dev.hold = true;
  for (int round = 0; round < 300; ++round) {
    std::vector<TestCommand*> batch;
    for (int i = 0; i < 16; ++i) {
      size_t len = 0;
      Cdb cdb = random_cdb(rng, &len);
      auto data = random_data(rng);
      batch.push_back(&submit(cdb, data, 0, static_cast<int>(len)));
    }
    // Completing a request can issue the next one (chunks, CAW steps, released writes).
    while (dev.pending()) {
      if (rng() % 2) {
        dev.release_one();
      } else {
        dev.release_all();
      }
    }
    for (auto* tc : batch) ASSERT_EQ(tc->completions, 1) << "round " << round;
    commands_.clear();
  }
}

TEST_F(Robustness, RandomDeviceErrors) {
  std::mt19937 rng(4242);
  const Op ops[] = {Op::kRead, Op::kWrite, Op::kFlush, Op::kUnmap, Op::kWriteZeroes};
  const int errs[] = {EIO, ENOSPC, ETIMEDOUT, EINVAL, ENOMEM, EOPNOTSUPP, 1000};
  for (int i = 0; i < 5000; ++i) {
    if (rng() % 2) dev.fail_next[ops[rng() % 5]] = errs[rng() % 7];
    size_t len = 0;
    Cdb cdb = random_cdb(rng, &len);
    auto& tc = submit(cdb, random_data(rng), 0, static_cast<int>(len));
    ASSERT_EQ(tc.completions, 1);
    if (commands_.size() > 512) commands_.clear();
  }
}

}  // namespace
}  // namespace lunkit::test

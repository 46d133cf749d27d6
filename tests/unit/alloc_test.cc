// Executing a READ or WRITE allocates nothing on the heap: counted by replacing operator new in
// this test binary.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "bench/null_device.h"
#include "lunkit/scsi/logical_unit.h"

#include "tests/unit/count_allocations.h"

namespace lunkit {
namespace {

using bench::NullDevice;

void done(void* ctx, scsi::Command&) {
  ++*static_cast<int*>(ctx);
}

TEST(HotPath, ReadAndWriteAllocateNothing) {
  NullDevice dev;
  int completed = 0;
  scsi::LogicalUnit lu(dev, done, &completed);
  std::vector<uint8_t> buf(4096);
  iovec iov{buf.data(), buf.size()};
  scsi::Command cmd;
  cmd.iov = std::span(&iov, 1);
  cmd.data_len = buf.size();
  cmd.cdb_len = 10;
  cmd.cdb = {0x00};
  lu.submit(cmd);  // power-on unit attention

  long before = g_allocations.load();
  for (int i = 0; i < 1000; ++i) {
    cmd.cdb = {static_cast<uint8_t>(i % 2 ? 0x28 : 0x2A),
               static_cast<uint8_t>(i % 3 ? 0 : 0x08),
               0,
               0,
               static_cast<uint8_t>(i >> 8),
               static_cast<uint8_t>(i),
               0,
               0,
               8,
               0};
    cmd.iov = std::span(&iov, 1);
    cmd.data_len = buf.size();
    lu.submit(cmd);
    ASSERT_EQ(cmd.status, scsi::Status::kGood);
  }
  EXPECT_EQ(g_allocations.load() - before, 0);
  EXPECT_EQ(completed, 1001);
}

TEST(HotPath, TheCounterSeesAllocations) {
  long before = g_allocations.load();
  auto p = std::make_unique<int>(1);
  EXPECT_GT(g_allocations.load(), before);
}

}  // namespace
}  // namespace lunkit

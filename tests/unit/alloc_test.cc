// Executing a READ or WRITE allocates nothing on the heap: counted by replacing operator new in
// this test binary.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "lunkit/scsi/logical_unit.h"

// The replacement operators below pair malloc with free on purpose.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace {
std::atomic<long> g_allocations{0};
}

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  return operator new(n);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}

namespace lunkit {
namespace {

class NullDevice : public BlockDevice {
 public:
  NullDevice() {
    info_.num_blocks = 1 << 20;
    info_.logical_block_size = 512;
    info_.physical_block_size = 4096;
    info_.write_cache = true;
  }
  const DeviceInfo& info() const override { return info_; }
  void read(BlockRequest& r) override { r.complete(0); }
  void write(BlockRequest& r) override { r.complete(0); }
  void flush(BlockRequest& r) override { r.complete(0); }
  void unmap(BlockRequest& r) override { r.complete(0); }
  void write_zeroes(BlockRequest& r) override { r.complete(0); }

 private:
  DeviceInfo info_;
};

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

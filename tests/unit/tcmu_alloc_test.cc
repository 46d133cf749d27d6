// Steady state through the transport allocates nothing per command: READs and WRITEs queued by
// the emulator, consumed, executed and completed through the ring, with operator new counted.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "bench/null_device.h"
#include "tcmu/device.h"
#include "tcmu/ring_emulator.h"

#include "tests/unit/count_allocations.h"

namespace lunkit::tcmu {
namespace {

struct Count {
  uint64_t done = 0, bad = 0;
  static void on(void* ctx, const EmulatedCompletion& c) {
    auto* self = static_cast<Count*>(ctx);
    ++self->done;
    self->bad += c.status != 0;
  }
};

TEST(TransportHotPath, CommandsAllocateNothingOnceWarm) {
  Count count;
  RingEmulator::Options o;
  o.cmdr_size = (1u << 20) - kMailboxSize;
  o.data_size = 8u << 20;
  RingEmulator emu(o, Count::on, &count);
  bench::NullDevice null;
  auto dev = Device::attach(emu.doorbell_fd(), emu.map_fd(), emu.map_size(), null, {});
  ASSERT_TRUE(dev.ok()) << dev.error();
  const uint8_t tur[6] = {};
  emu.submit(tur, RingEmulator::Direction::kNone, {}, 0, 0);
  (*dev)->process();
  emu.service();
  std::vector<uint8_t> data(4096, 1);
  auto round = [&](int n) {
    for (int i = 0; i < 32; ++i) {
      uint8_t cdb[10] = {static_cast<uint8_t>(i % 2 ? 0x28 : 0x2A),
                         0,
                         0,
                         0,
                         0,
                         static_cast<uint8_t>(i * 8),
                         0,
                         0,
                         8,
                         0};
      if (i % 2)
        emu.submit(cdb, RingEmulator::Direction::kFromDevice, {}, 4096, n, false);
      else
        emu.submit(cdb, RingEmulator::Direction::kToDevice, data, 0, n, false);
    }
    emu.notify();
    (*dev)->process();
    emu.service();
  };
  for (int n = 0; n < 50; ++n) round(n);  // warm: slots, vectors, scratch reach their sizes
  count.bad = 0;
  long before = g_allocations.load();
  for (int n = 0; n < 200; ++n) round(n);
  EXPECT_EQ(g_allocations.load() - before, 0) << "allocations over 6400 commands";
  EXPECT_EQ(count.bad, 0u);
  EXPECT_EQ(count.done, 1u + 250u * 32u);
}

TEST(TransportHotPath, TheCounterSeesAllocations) {
  long before = g_allocations.load();
  auto p = std::make_unique<int>(1);
  EXPECT_GT(g_allocations.load(), before);
}

}  // namespace
}  // namespace lunkit::tcmu

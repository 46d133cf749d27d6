// tcmu::Device: ring + logical unit + event loop, driven through the emulator exactly as the
// kernel drives /dev/uioN.
#include <gtest/gtest.h>
#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "tcmu/device.h"
#include "tcmu/ring_emulator.h"
#include "tests/unit/ram_device.h"

namespace lunkit::tcmu {
namespace {

using Dir = RingEmulator::Direction;

DeviceInfo ram_info(uint64_t blocks = 8192) {
  DeviceInfo i;
  i.num_blocks = blocks;
  i.thin_provisioning = true;
  i.unmap_reads_zero = true;
  i.write_cache = true;
  i.unit_serial = "deadbeef";
  return i;
}

struct Completions {
  std::mutex mu;
  std::map<uint64_t, uint8_t> status;
  std::map<uint64_t, std::vector<uint8_t>> data;
  std::map<uint64_t, std::vector<uint8_t>> sense;
  std::map<uint64_t, int> count;
  static void on(void* ctx, const EmulatedCompletion& c) {
    auto* self = static_cast<Completions*>(ctx);
    std::lock_guard lock(self->mu);
    self->status[c.tag] = c.status;
    self->count[c.tag]++;
    self->data[c.tag] = data_in_bytes(c);
    self->sense[c.tag].assign(c.sense.begin(), c.sense.end());
  }
};

std::vector<uint8_t> cdb10(uint8_t op, uint32_t lba, uint16_t blocks) {
  return {op,           0, uint8_t(lba >> 24),   uint8_t(lba >> 16), uint8_t(lba >> 8),
          uint8_t(lba), 0, uint8_t(blocks >> 8), uint8_t(blocks),    0};
}

class TcmuDevice : public ::testing::Test {
 protected:
  TcmuDevice() : emu(options(), Completions::on, &done), ram(ram_info()) {}
  static RingEmulator::Options options() {
    RingEmulator::Options o;
    o.cmdr_size = (1u << 20) - kMailboxSize;
    o.data_size = 16u << 20;
    return o;
  }
  std::unique_ptr<Device> attach(BlockDevice& dev) {
    auto r = Device::attach(emu.doorbell_fd(), emu.map_fd(), emu.map_size(), dev,
                            DeviceOptions{.name = "test", .lu = {}});
    EXPECT_TRUE(r.ok()) << r.error();
    return std::move(*r);
  }
  // Single-threaded round trip: queue, let the device run a pass, let the "kernel" clean up.
  void round_trip(Device& dev) {
    dev.process();
    emu.service();
  }
  Completions done;
  RingEmulator emu;
  test::RamDevice ram;
};

TEST_F(TcmuDevice, AttachRejectsABadMapping) {
  auto r = Device::attach(emu.doorbell_fd(), emu.map_fd(), 64 * 1024, ram, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error(),
            "TCMU command ring (offset 128, size 1048448) does not fit a 65536-byte map");
  int fd = memfd_create("zero", MFD_CLOEXEC);
  ASSERT_EQ(ftruncate(fd, 8192), 0);
  auto z = Device::attach(emu.doorbell_fd(), fd, 8192, ram, {});
  ASSERT_FALSE(z.ok());
  EXPECT_EQ(z.error(), "TCMU mailbox version 0; lunkit speaks version 2");
  close(fd);
}

TEST_F(TcmuDevice, InquiryReportsItsLengthThroughReadLen) {
  auto dev = attach(ram);
  std::vector<uint8_t> tur = {0, 0, 0, 0, 0, 0};
  emu.submit(tur, Dir::kNone, {}, 0, 1);
  std::vector<uint8_t> inquiry = {0x12, 0, 0, 0x01, 0x00, 0};
  emu.submit(inquiry, Dir::kFromDevice, {}, 256, 2);
  round_trip(*dev);
  EXPECT_EQ(done.status[1], 0x02) << "power-on unit attention";
  EXPECT_EQ(done.sense[1][12], 0x29);
  EXPECT_EQ(done.status[2], 0x00);
  ASSERT_EQ(done.data[2].size(), 74u) << "READ_LEN carries the 74 bytes INQUIRY produced";
  EXPECT_EQ(std::string(done.data[2].begin() + 8, done.data[2].begin() + 16), "LIO-ORG ");
  EXPECT_EQ(dev->stats().kicks, 1u) << "one kick for the batch";
}

TEST_F(TcmuDevice, WriteThenReadThroughTheRing) {
  auto dev = attach(ram);
  std::vector<uint8_t> payload(64 * 1024);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<uint8_t>(i * 31 + 7);
  emu.submit(std::vector<uint8_t>{0, 0, 0, 0, 0, 0}, Dir::kNone, {}, 0, 0);
  emu.submit(cdb10(0x2A, 100, 128), Dir::kToDevice, payload, 0, 1);
  emu.submit(cdb10(0x28, 100, 128), Dir::kFromDevice, {}, payload.size(), 2);
  round_trip(*dev);
  EXPECT_EQ(done.status[1], 0);
  EXPECT_EQ(done.status[2], 0);
  EXPECT_EQ(done.data[2], payload);
  EXPECT_TRUE(std::equal(payload.begin(), payload.end(), ram.bytes().begin() + 100 * 512));
}

// Every byte the kernel copies to the initiator is one lunkit wrote for that command: the data
// area starts out full of what "earlier commands" left (0xAB), and each answer shorter than the
// initiator's buffer is either cut with READ_LEN or zero-filled.
TEST_F(TcmuDevice, NoStaleDataAreaByteReachesTheInitiator) {
  uint8_t* data_area = emu.map() + kMailboxSize + emu.cmdr_size();
  std::memset(data_area, 0xAB, emu.map_size() - kMailboxSize - emu.cmdr_size());
  auto dev = attach(ram);
  std::vector<uint8_t> tur = {0, 0, 0, 0, 0, 0};
  emu.submit(tur, Dir::kNone, {}, 0, 1);  // takes the power-on unit attention
  round_trip(*dev);
  std::vector<uint8_t> block(512);
  for (size_t i = 0; i < block.size(); ++i) block[i] = static_cast<uint8_t>(i * 3 + 1);
  std::vector<uint8_t> two(block);
  two.insert(two.end(), block.begin(), block.end());
  emu.submit(cdb10(0x2A, 10, 2), Dir::kToDevice, two, 0, 2);
  round_trip(*dev);
  std::memset(data_area, 0xAB, emu.map_size() - kMailboxSize - emu.cmdr_size());

  emu.submit(cdb10(0x28, 10, 2), Dir::kFromDevice, {}, 4096, 3);    // buffer longer than 2 blocks
  emu.submit(cdb10(0x28, 10, 0), Dir::kFromDevice, {}, 4096, 4);    // no blocks, GOOD
  emu.submit(tur, Dir::kFromDevice, {}, 4096, 5);                   // no data, a Data-In buffer
  emu.submit(cdb10(0x28, 9000, 1), Dir::kFromDevice, {}, 4096, 6);  // CHECK CONDITION
  std::vector<uint8_t> inquiry = {0x12, 0, 0, 0x00, 0x24, 0};       // 36 of 4096 bytes
  emu.submit(inquiry, Dir::kFromDevice, {}, 4096, 7);
  round_trip(*dev);
  EXPECT_EQ(done.status[3], 0);
  EXPECT_EQ(done.data[3], two) << "READ_LEN cuts the answer at the transfer length";
  EXPECT_EQ(done.status[4], 0);
  EXPECT_EQ(done.data[4], std::vector<uint8_t>(4096, 0));
  EXPECT_EQ(done.status[5], 0);
  EXPECT_EQ(done.data[5], std::vector<uint8_t>(4096, 0));
  EXPECT_EQ(done.status[6], 2);
  EXPECT_TRUE(done.data[6].empty()) << "CHECK CONDITION without READ_LEN returns no data";
  EXPECT_EQ(done.data[7].size(), 36u);
  EXPECT_EQ(done.data[7][0], 0x00);
}

TEST_F(TcmuDevice, HostileEntryIsAnsweredWithInternalTargetFailure) {
  auto dev = attach(ram);
  std::vector<uint8_t> e(128, 0);
  uint32_t len_op = make_len_op(128, kOpCmd), one = 1;
  uint64_t bad_off = emu.map_size() + 4096, cdb_off = kMailboxSize + 64;
  std::memcpy(&e[0], &len_op, 4);
  std::memcpy(&e[entry::kIovCnt], &one, 4);
  std::memcpy(&e[entry::kCdbOff], &cdb_off, 8);
  std::memcpy(&e[entry::kIov], &bad_off, 8);
  e[64] = 0x28;
  auto id = emu.submit_raw(e, 128, true);
  ASSERT_TRUE(id);
  dev->process();
  emu.service();
  EXPECT_EQ(dev->stats().bad_commands, 1u);
  EXPECT_EQ(emu.in_flight(), 0u) << "completed exactly once";
  EXPECT_FALSE(emu.broken());
}

// LIO itself reports the reset to every I_T nexus (29/03 per nexus); a second, LU-wide unit
// attention from lunkit would make each initiator see the reset twice.
TEST_F(TcmuDevice, LunResetTmrIsSeenButAddsNoUnitAttentionOfItsOwn) {
  auto dev = attach(ram);
  emu.submit(std::vector<uint8_t>{0, 0, 0, 0, 0, 0}, Dir::kNone, {}, 0, 1);
  round_trip(*dev);
  EXPECT_EQ(done.status[1], 0x02) << "power-on unit attention";
  emu.submit_tmr(kTmrLunReset, {});
  emu.submit(std::vector<uint8_t>{0, 0, 0, 0, 0, 0}, Dir::kNone, {}, 0, 2);
  round_trip(*dev);
  EXPECT_EQ(dev->stats().tmrs, 1u);
  EXPECT_EQ(done.status[2], 0x00);
}

// Completes every request from one of several worker threads, in random order.
class ThreadedDevice : public BlockDevice {
 public:
  ThreadedDevice(BlockDevice& inner, int threads) : inner_(inner) {
    for (int i = 0; i < threads; ++i) workers_.emplace_back([this, i] { run(i); });
  }
  ~ThreadedDevice() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  const DeviceInfo& info() const override { return inner_.info(); }
  void read(BlockRequest& r) override { queue(r, &BlockDevice::read); }
  void write(BlockRequest& r) override { queue(r, &BlockDevice::write); }
  void flush(BlockRequest& r) override { queue(r, &BlockDevice::flush); }
  void unmap(BlockRequest& r) override { queue(r, &BlockDevice::unmap); }
  void write_zeroes(BlockRequest& r) override { queue(r, &BlockDevice::write_zeroes); }

 private:
  using Op = void (BlockDevice::*)(BlockRequest&);
  void queue(BlockRequest& r, Op op) {
    {
      std::lock_guard lock(mu_);
      q_.push_back({&r, op});
    }
    cv_.notify_one();
  }
  void run(int seed) {
    std::mt19937 rng(seed);
    for (;;) {
      std::pair<BlockRequest*, Op> item;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !q_.empty(); });
        if (q_.empty()) return;
        size_t i = rng() % q_.size();  // any queued request, not the oldest
        item = q_[i];
        q_.erase(q_.begin() + static_cast<long>(i));
      }
      std::lock_guard data_lock(data_mu_);  // the RAM device itself is single-threaded
      (inner_.*item.second)(*item.first);
    }
  }
  BlockDevice& inner_;
  std::mutex mu_, data_mu_;
  std::condition_variable cv_;
  std::deque<std::pair<BlockRequest*, Op>> q_;
  bool stop_ = false;
  std::vector<std::thread> workers_;
};

TEST_F(TcmuDevice, CompletionsFromSeveralThreadsInRandomOrder) {
  ThreadedDevice threaded(ram, 4);
  auto dev = attach(threaded);
  dev->start();
  std::mt19937 rng(3);
  const uint64_t total = 6000;
  uint64_t next_tag = 1;
  std::map<uint64_t, std::pair<uint32_t, uint8_t>> writes;  // tag -> (lba, fill byte)
  emu.submit(std::vector<uint8_t>{0, 0, 0, 0, 0, 0}, Dir::kNone, {}, 0, 0);
  size_t done_count = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (done_count < total && std::chrono::steady_clock::now() < deadline) {
    while (next_tag <= total && emu.in_flight() < 64) {
      uint32_t lba = static_cast<uint32_t>(rng() % 8000);
      uint8_t fill = static_cast<uint8_t>(next_tag);
      std::vector<uint8_t> data(4096, fill);
      bool is_write = rng() % 2;
      auto id = is_write
                    ? emu.submit(cdb10(0x2A, lba, 8), Dir::kToDevice, data, 0, next_tag, false)
                    : emu.submit(cdb10(0x28, lba, 8), Dir::kFromDevice, {}, 4096, next_tag, false);
      if (!id) break;
      if (is_write) writes[next_tag] = {lba, fill};
      ++next_tag;
    }
    emu.notify();
    emu.wait_and_service(100);
    std::lock_guard lock(done.mu);
    // The TEST UNIT READY (tag 0) is not counted; until it is done there is nothing to subtract
    // from (on a loaded machine 100 ms may pass first, and the size_t would wrap and end the loop).
    done_count = done.count.empty() ? 0 : done.count.size() - 1;
  }
  dev->stop();
  emu.service();
  ASSERT_EQ(done.count.size(), total + 1);
  for (auto& [tag, n] : done.count) EXPECT_EQ(n, 1) << tag;
  for (auto& [tag, st] : done.status) {
    if (tag) {
      EXPECT_EQ(st, 0) << tag;
    }
  }
  EXPECT_FALSE(emu.broken()) << emu.broken_reason();
  auto stats = dev->stats();
  EXPECT_EQ(stats.commands, total + 1);
  EXPECT_GT(stats.remote_completions, total / 2);
  EXPECT_LT(stats.kicks, stats.completions) << "kicks are batched";
}

TEST_F(TcmuDevice, AnIdleDeviceUsesNoCpu) {
  auto dev = attach(ram);
  dev->start();
  emu.submit(std::vector<uint8_t>{0, 0, 0, 0, 0, 0}, Dir::kNone, {}, 0, 1);
  emu.wait_and_service(5000);
  ASSERT_EQ(done.count[1], 1);
  clockid_t clock;
  ASSERT_EQ(pthread_getcpuclockid(dev->loop_thread(), &clock), 0);
  timespec before{}, after{};
  clock_gettime(clock, &before);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a measurement window
  clock_gettime(clock, &after);
  double used_ms = (after.tv_sec - before.tv_sec) * 1e3 + (after.tv_nsec - before.tv_nsec) / 1e6;
  EXPECT_LT(used_ms, 2.0) << "the loop thread must block, not poll";
  dev->stop();
}

TEST_F(TcmuDevice, StopWaitsForCommandsInFlight) {
  ram.hold = true;
  auto dev = attach(ram);
  dev->start();
  emu.submit(std::vector<uint8_t>{0, 0, 0, 0, 0, 0}, Dir::kNone, {}, 0, 0);
  for (uint64_t t = 1; t <= 8; ++t) emu.submit(cdb10(0x28, 0, 8), Dir::kFromDevice, {}, 4096, t);
  // Wait until the loop has handed the READs to the device.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (dev->in_flight() < 8 && std::chrono::steady_clock::now() < deadline)
    emu.wait_and_service(10);
  ASSERT_EQ(dev->in_flight(), 8u);
  auto stopped = std::async(std::launch::async, [&] { dev->stop(); });
  EXPECT_EQ(stopped.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout)
      << "stop() waits for the commands the device still holds";
  // The RAM device completes inline on this thread: the completions take the eventfd path.
  ram.release_all();
  stopped.get();
  emu.service();
  for (uint64_t t = 1; t <= 8; ++t) EXPECT_EQ(done.count[t], 1);
}

}  // namespace
}  // namespace lunkit::tcmu

// One ublk queue against a stand-in for ublk_drv (ublk::Driver) and a device that fails on
// purpose: transient errors are retried after a back-off on the queue's ring, other errors and
// exhausted retries are committed, and a retried request allocates nothing.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/loop.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "common/fd.h"
#include "common/transient_error.h"
#include "handlers/host/plugin.h"
#include "handlers/host/plugin_device.h"
#include "ublk/queue.h"
#include "ublk/server.h"

#include "tests/unit/count_allocations.h"
#include "tests/unit/plugin_dir.h"

namespace lunkit::ublk {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint16_t kDepth = 4;
constexpr auto kPatience = std::chrono::seconds(20);  // only a broken queue makes a test wait this

// ublk_drv's part: descriptors in a memfd (the queue maps it as it maps /dev/ublkcN), one eventfd
// per tag that the test writes to when it hands the tag a request, and the commits the queue sends.
// A device of kQueues queues of kDepth tags; a tag is served by whichever Queue fetched it.
constexpr uint16_t kQueues = 2;

class FakeDriver : public Driver {
 public:
  struct Commit {
    uint16_t tag;
    int32_t result;
    uint16_t q_id = 0;
    std::thread::id thread;  // the queue thread that committed it
  };

  FakeDriver() : memfd_(memfd_create("ublk-descriptors", MFD_CLOEXEC)) {
    EXPECT_EQ(ftruncate(memfd_.get(), 1 << 20), 0);
    for (uint16_t i = 0; i < kQueues * kDepth; ++i) {
      slots_[i].driver = this;
      slots_[i].completion.slot = &slots_[i];
      slots_[i].completion.uring.done = &FakeDriver::on_poll;
      slots_[i].doorbell.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    }
    commits_.reserve(64);
  }

  int fd() const { return memfd_.get(); }

  // Puts a request in the tag's descriptor and wakes the queue for it.
  void send(uint16_t tag, const IoDesc& desc) { send(0, tag, desc); }
  void send(uint16_t q_id, uint16_t tag, const IoDesc& desc) {
    off_t at = static_cast<off_t>(descriptors_offset(q_id, page_size()) + tag * sizeof desc);
    ASSERT_EQ(pwrite(memfd_.get(), &desc, sizeof desc, at), static_cast<ssize_t>(sizeof desc));
    uint64_t one = 1;
    ASSERT_EQ(write(slot_of({q_id, tag}).doorbell.get(), &one, sizeof one), 8);
  }

  // The next commit, or nothing after kPatience.
  std::optional<Commit> wait_commit() {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, kPatience, [&] { return taken_ < commits_.size(); }))
      return std::nullopt;
    return commits_[taken_++];
  }

  // Which Queue fetched the tag (nullptr: none).
  Queue* fetched_by(TagId id) { return slot_of(id).queue; }

  // Zero copy (UBLK_F_AUTO_BUF_REG): the tag's next request has its data in `pages`, which the
  // stand-in registers as the tag's buffer of the queue's ring (its slot there) before delivering
  // it and takes back at its commit, as ublk_drv does with a block request's pages.
  void lend(uint16_t tag, std::span<uint8_t> pages) { slot_of({0, tag}).lent = pages; }

  void io_cmd(Queue& queue, uint16_t slot, uint32_t op, int32_t result) override {
    TagId id = queue.tag_of(slot);
    Slot& s = slot_of(id);
    if (op == kUIoCommitAndFetchReq) {
      if (!s.lent.empty()) {
        EXPECT_EQ(queue.lend_buffer(slot, nullptr, 0), 0);
        s.lent = {};
      }
      std::lock_guard lock(mu_);
      commits_.push_back({id.tag, result, id.q_id, std::this_thread::get_id()});
      cv_.notify_all();
    }
    // Either way the tag now waits for its next request: a poll on its doorbell, on the queue's
    // own ring, as the kernel's answer would arrive there.
    s.queue = &queue;
    s.slot = slot;
    io_uring_sqe* sqe = queue.get_sqe(&s.completion.uring);
    ASSERT_NE(sqe, nullptr);
    io_uring_prep_poll_add(sqe, s.doorbell.get(), POLLIN);
  }

 private:
  struct Slot;
  struct SlotCompletion {
    lunkit_uring_completion uring;
    Slot* slot;
  };
  struct Slot {
    FakeDriver* driver = nullptr;
    Queue* queue = nullptr;
    uint16_t slot = 0;  // in `queue`
    SlotCompletion completion;
    UniqueFd doorbell;
    std::span<uint8_t> lent;
  };

  Slot& slot_of(TagId id) { return slots_[id.q_id * kDepth + id.tag]; }

  static void on_poll(lunkit_uring_completion* c, int32_t) {
    Slot& s = *reinterpret_cast<SlotCompletion*>(c)->slot;
    uint64_t v;
    (void)!read(s.doorbell.get(), &v, sizeof v);
    if (!s.lent.empty()) {
      EXPECT_EQ(s.queue->lend_buffer(s.slot, s.lent.data(), s.lent.size()), 0);
    }
    s.queue->deliver(s.slot, kIoResOk);
  }

  UniqueFd memfd_;
  std::array<Slot, kQueues * kDepth> slots_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Commit> commits_;
  size_t taken_ = 0;
};

// Reads fail `failures` times with `error`, then succeed; on the queue's thread, or (remote) on
// a thread of the device's own, as librbd's callbacks do.
class FlakyDevice : public BlockDevice {
 public:
  FlakyDevice() {
    info_.num_blocks = 2048;
    info_.logical_block_size = 512;
  }
  ~FlakyDevice() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      cv_.notify_all();
    }
    if (worker_.joinable()) worker_.join();
  }

  void fail(int error, int failures) {
    error_ = error;
    failures_ = failures;
  }
  void complete_remotely() {
    worker_ = std::thread([this] {
      std::unique_lock lock(mu_);
      for (;;) {
        cv_.wait(lock, [&] { return stopping_ || pending_; });
        if (!pending_) return;
        BlockRequest* r = pending_;
        pending_ = nullptr;
        lock.unlock();
        answer(*r);
        lock.lock();
      }
    });
  }

  int attempts() const { return attempts_.load(); }
  void reset() { attempts_.store(0); }
  Clock::time_point attempt_at(int i) const { return times_[i]; }

  const DeviceInfo& info() const override { return info_; }
  void read(BlockRequest& r) override {
    int n = attempts_.load();
    if (n < static_cast<int>(times_.size())) times_[n] = Clock::now();
    attempts_.store(n + 1);
    if (!worker_.joinable()) return answer(r);
    std::lock_guard lock(mu_);
    pending_ = &r;
    cv_.notify_all();
  }
  void write(BlockRequest& r) override { r.complete(0); }
  void flush(BlockRequest& r) override { r.complete(0); }
  void unmap(BlockRequest& r) override { r.complete(0); }
  void write_zeroes(BlockRequest& r) override { r.complete(0); }

 private:
  void answer(BlockRequest& r) {
    if (failures_ < 0 || failures_-- > 0) return r.complete(-error_);
    std::memset(r.iov[0].iov_base, 0xab, r.iov[0].iov_len);
    r.complete(0);
  }

  DeviceInfo info_;
  int error_ = EAGAIN;
  int failures_ = 0;  // negative: always
  std::atomic<int> attempts_{0};
  std::array<Clock::time_point, 64> times_{};
  std::thread worker_;
  std::mutex mu_;
  std::condition_variable cv_;
  BlockRequest* pending_ = nullptr;
  bool stopping_ = false;
};

IoDesc read_of(uint64_t sector, uint32_t sectors) {
  return IoDesc{kOpRead, sectors, sector, 0};
}

class UblkQueue : public testing::Test {
 protected:
  void start(uint32_t retry_timeout_ms = kDefaultRetryTimeoutMs) {
    start_on(device_, retry_timeout_ms);
  }
  void start_on(BlockDevice& device, uint32_t retry_timeout_ms = kDefaultRetryTimeoutMs,
                bool zero_copy = false) {
    QueueConfig c;
    c.zero_copy = zero_copy;
    c.char_fd = driver_.fd();
    c.depth = kDepth;
    c.io_buf_bytes = 64 * 1024;
    c.retry_timeout_ms = retry_timeout_ms;
    c.name = "test/q0";
    c.driver = &driver_;
    auto q = Queue::create(c, device);
    ASSERT_TRUE(q) << q.error();
    queue_ = std::move(*q);
    queue_->start(-1);
    auto ready = queue_->wait_ready();
    ASSERT_TRUE(ready) << ready.error();
  }
  QueueStats stop() {
    queue_->stop();
    queue_->join();
    return queue_->stats();
  }
  void TearDown() override {
    if (queue_) stop();
  }

 public:  // for helpers shared by tests
  void serve_zero_copy(BlockDevice& device) { start_on(device, kDefaultRetryTimeoutMs, true); }
  QueueStats end() {
    QueueStats s = stop();
    queue_.reset();
    return s;
  }

 protected:
  struct Outcome {
    int32_t result;  // what the queue committed to the driver
    int tries;       // how many times the handler saw the read
  };
  // Makes the handler fail the next `fails` tries with `error`, sends one 4 KiB read as `tag`
  // and waits for its commit.
  Outcome read_failing(int error, int fails, uint16_t tag) {
    device_.fail(error, fails);
    int before = device_.attempts();
    driver_.send(tag, read_of(0, 8));
    auto c = driver_.wait_commit();
    EXPECT_TRUE(c) << "the read was never committed";
    return {c ? c->result : INT32_MIN, device_.attempts() - before};
  }

  FakeDriver driver_;
  FlakyDevice device_;
  std::unique_ptr<Queue> queue_;
};

TEST(UblkRetryPolicy, TransientErrorsAndBackOff) {
  for (int e : {EAGAIN, EBUSY, ETIMEDOUT, ENOTCONN, ECONNRESET, ESHUTDOWN, EINTR, ENOMEM}) {
    EXPECT_TRUE(is_transient_error(-e)) << e;
    EXPECT_TRUE(is_transient_error(e)) << e;
  }
  for (int e : {0, EIO, ENOSPC, EROFS, EINVAL, EOPNOTSUPP, ENXIO, ENODEV, EILSEQ})
    EXPECT_FALSE(is_transient_error(-e)) << e;
  EXPECT_EQ(retry_delay_ms(0), 5u);
  EXPECT_EQ(retry_delay_ms(1), 10u);
  EXPECT_EQ(retry_delay_ms(7), 640u);
  EXPECT_EQ(retry_delay_ms(8), 1000u);
  EXPECT_EQ(retry_delay_ms(1000), 1000u);
}

TEST_F(UblkQueue, TransientErrorsAreRetriedUntilTheHandlerSucceeds) {
  start();
  // Warm up: the first request of a queue and the first retry may set things up once.
  device_.fail(EAGAIN, 1);
  driver_.send(1, read_of(0, 8));
  auto warm = driver_.wait_commit();
  ASSERT_TRUE(warm);
  EXPECT_EQ(warm->result, 4096);
  device_.reset();
  device_.fail(EAGAIN, 3);
  long before = g_allocations.load();
  driver_.send(1, read_of(8, 8));
  auto c = driver_.wait_commit();
  long allocated = g_allocations.load() - before;
  ASSERT_TRUE(c);
  EXPECT_EQ(c->tag, 1);
  EXPECT_EQ(c->result, 4096) << "the read succeeded: bytes, not " << std::strerror(-c->result);
  EXPECT_EQ(device_.attempts(), 4) << "three failures, then the try that worked";
  EXPECT_EQ(allocated, 0) << "a retried request allocates nothing";
  // Each try waited for its back-off on a timer: no spinning, no try before its time.
  for (int i = 1; i < device_.attempts(); ++i)
    EXPECT_GE(device_.attempt_at(i) - device_.attempt_at(i - 1),
              std::chrono::milliseconds(retry_delay_ms(i - 1)))
        << "try " << i;
  QueueStats s = stop();
  EXPECT_EQ(s.requests, 2u);
  EXPECT_EQ(s.retries, 4u);
  EXPECT_EQ(s.errors, 0u);
  EXPECT_EQ(s.gave_up, 0u);
}

TEST_F(UblkQueue, RbdsTimeoutAndReconnectErrorsAreRetriedFromAnotherThread) {
  device_.complete_remotely();  // librbd completes on its own threads
  start();
  for (int e : {ETIMEDOUT, EBUSY, EAGAIN}) {
    Outcome o = read_failing(e, 2, 0);
    EXPECT_EQ(o.result, 4096) << std::strerror(e) << " became " << std::strerror(-o.result);
    EXPECT_EQ(o.tries, 3) << std::strerror(e);
  }
  QueueStats s = stop();
  EXPECT_EQ(s.retries, 6u);
  EXPECT_EQ(s.errors, 0u);
}

TEST_F(UblkQueue, GivesUpWithAnIoErrorAfterTheRetryTimeout) {
  device_.fail(ETIMEDOUT, -1);
  start(200);
  auto sent = Clock::now();
  driver_.send(2, read_of(16, 8));
  auto c = driver_.wait_commit();
  auto took = Clock::now() - sent;
  ASSERT_TRUE(c);
  EXPECT_EQ(c->result, -EIO);
  EXPECT_GE(took, std::chrono::milliseconds(200)) << "retried for the whole timeout";
  // Tries at 0, 5, 15, 35, 75 and 155 ms, and one when the 200 ms are up: seven at most.
  EXPECT_GE(device_.attempts(), 4) << "no fewer than the back-off allows";
  EXPECT_LE(device_.attempts(), 7) << "no more: the tries wait for their timers";
  QueueStats s = stop();
  EXPECT_EQ(s.gave_up, 1u);
  EXPECT_EQ(s.errors, 1u);
}

TEST_F(UblkQueue, OtherErrorsAreCommittedAtOnce) {
  start();
  for (int e : {EIO, ENOSPC, EINVAL}) {
    Outcome o = read_failing(e, 1, 3);
    EXPECT_EQ(o.result, -e);
    EXPECT_EQ(o.tries, 1) << std::strerror(e);
  }
  QueueStats s = stop();
  EXPECT_EQ(s.retries, 0u);
  EXPECT_EQ(s.errors, 3u);
}

TEST_F(UblkQueue, ARetryTimeoutOfZeroPassesTheErrorThrough) {
  device_.fail(EAGAIN, 1);
  start(0);
  driver_.send(0, read_of(0, 8));
  auto c = driver_.wait_commit();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->result, -EAGAIN);
  EXPECT_EQ(device_.attempts(), 1);
}

TEST_F(UblkQueue, StoppingEndsTheRetriesWithAnIoError) {
  device_.fail(EAGAIN, -1);
  start(600 * 1000);
  driver_.send(0, read_of(0, 8));
  // Once the request is being retried (bounded: a queue that does not retry fails here).
  for (auto until = Clock::now() + kPatience; device_.attempts() < 3 && Clock::now() < until;)
    std::this_thread::yield();
  ASSERT_GE(device_.attempts(), 3) << "the request is not being retried";
  auto asked = Clock::now();
  queue_->stop();
  auto c = driver_.wait_commit();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->result, -EIO);
  EXPECT_LT(Clock::now() - asked, std::chrono::seconds(5)) << "not the 10 minutes of its timeout";
  queue_->join();
  EXPECT_EQ(queue_->stats().gave_up, 1u);
}

// Work that is not a request (a handler's reconfig(), lunkit_device_post()) runs on the queue's
// thread, between requests, and once that thread has ended, on the caller's.
TEST_F(UblkQueue, PostedWorkRunsOnTheQueueThreadThenOnTheCallersOnceItEnded) {
  start();
  std::mutex mu;
  std::condition_variable cv;
  std::optional<std::thread::id> ran_on;
  IoLoop* loop_there = nullptr;
  queue_->post([&] {
    std::lock_guard lock(mu);
    ran_on = std::this_thread::get_id();
    loop_there = IoLoop::current();
    cv.notify_all();
  });
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, kPatience, [&] { return ran_on.has_value(); }))
        << "the posted task never ran";
  }
  EXPECT_NE(*ran_on, std::this_thread::get_id());
  EXPECT_EQ(loop_there, queue_.get()) << "it ran inside the queue's loop";
  // The queue still serves requests after running it.
  driver_.send(0, read_of(0, 8));
  auto c = driver_.wait_commit();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->result, 4096);
  stop();
  std::thread::id ran_after;  // no thread's id until the task runs
  queue_->post([&] { ran_after = std::this_thread::get_id(); });
  EXPECT_EQ(ran_after, std::this_thread::get_id())
      << "a task posted after the thread ended runs at once, on the caller's";
  queue_.reset();
}

// An online resize: requests past the old end fail until the queue is told the new size, and
// requests past the new end fail after a shrink.
TEST_F(UblkQueue, RequestsAreCheckedAgainstTheSizeItWasLastGiven) {
  start();
  const uint64_t old_bytes = 2048 * 512;
  driver_.send(0, read_of(2048, 8));  // the first 4 KiB past the end
  auto past = driver_.wait_commit();
  ASSERT_TRUE(past);
  EXPECT_LT(past->result, 0) << "a read past the end fails";
  queue_->set_device_bytes(old_bytes * 2);
  driver_.send(0, read_of(2048, 8));
  auto grown = driver_.wait_commit();
  ASSERT_TRUE(grown);
  EXPECT_EQ(grown->result, 4096) << "the same read after growing";
  queue_->set_device_bytes(old_bytes / 2);
  driver_.send(0, read_of(1024, 8));
  auto shrunk = driver_.wait_commit();
  ASSERT_TRUE(shrunk);
  EXPECT_LT(shrunk->result, 0) << "a read past the new end after shrinking";
}

// ---- Zero copy (UBLK_F_AUTO_BUF_REG) ----

TEST(UblkIoCmd, ZeroCopyAsksForTheRequestsPagesInTheSqesOwnAddr) {
  uint8_t buffer[16];
  io_uring_sqe sqe[2];
  IoCmd copy{3, 17, 4096, reinterpret_cast<uint64_t>(buffer)};
  prep_io_cmd(&sqe[0], kUIoCommitAndFetchReq, copy, -1);
  IoCmd in_area;
  std::memcpy(&in_area, reinterpret_cast<uint8_t*>(&sqe[0]) + 48, sizeof in_area);
  EXPECT_EQ(sqe[0].opcode, IORING_OP_URING_CMD);
  EXPECT_EQ(sqe[0].cmd_op, kUIoCommitAndFetchReq);
  EXPECT_EQ(sqe[0].flags, IOSQE_FIXED_FILE);
  EXPECT_EQ(in_area.addr, reinterpret_cast<uint64_t>(buffer)) << "the kernel copies through it";
  EXPECT_EQ(in_area.q_id, 3);
  EXPECT_EQ(in_area.tag, 17);
  EXPECT_EQ(in_area.result, 4096);
  EXPECT_EQ(sqe[0].addr, 0u);

  IoCmd zero{3, 17, 4096, 0};
  prep_io_cmd(&sqe[1], kUIoFetchReq, zero, 5);
  std::memcpy(&in_area, reinterpret_cast<uint8_t*>(&sqe[1]) + 48, sizeof in_area);
  // ublk_drv refuses a FETCH whose ublksrv_io_cmd.addr is set on a device that copies nothing.
  EXPECT_EQ(in_area.addr, 0u);
  // struct ublk_auto_buf_reg in sqe->addr: index = the tag's slot on the ring (not the tag: a
  // per-I/O daemon's ring holds tags of several queues), no fallback, reserved bits 0.
  EXPECT_EQ(sqe[1].addr, 5u);
}

// Records what reaches the device and completes it without touching any data.
class RecordingDevice : public BlockDevice {
 public:
  struct Seen {
    char op;
    uint32_t flags;
    const void* base;
    size_t length;
  };
  RecordingDevice() {
    info_.num_blocks = 2048;
    info_.logical_block_size = 512;
  }
  const DeviceInfo& info() const override { return info_; }
  void read(BlockRequest& r) override { note('r', r); }
  void write(BlockRequest& r) override { note('w', r); }
  void flush(BlockRequest& r) override { note('f', r); }
  void unmap(BlockRequest& r) override { note('u', r); }
  void write_zeroes(BlockRequest& r) override { note('z', r); }
  std::vector<Seen> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  void note(char op, BlockRequest& r) {
    {
      std::lock_guard lock(mu_);
      seen_.push_back({op, r.flags, r.iov.empty() ? nullptr : r.iov[0].iov_base,
                       r.iov.empty() ? 0 : r.iov[0].iov_len});
    }
    r.complete(0);
  }
  DeviceInfo info_;
  std::mutex mu_;
  std::vector<Seen> seen_;
};

TEST_F(UblkQueue, ZeroCopyHandsReadsAndWritesOverAsTheTagsRegisteredBuffer) {
  RecordingDevice device;
  start_on(device, kDefaultRetryTimeoutMs, true);
  std::vector<uint8_t> pages(8192);
  driver_.lend(2, pages);
  driver_.send(2, read_of(8, 16));
  ASSERT_TRUE(driver_.wait_commit());
  driver_.lend(1, pages);
  driver_.send(1, IoDesc{kOpWrite, 8, 0, 0});
  ASSERT_TRUE(driver_.wait_commit());
  driver_.send(3, IoDesc{kOpFlush, 0, 0, 0});  // no data: nothing is lent for it
  ASSERT_TRUE(driver_.wait_commit());
  QueueStats stats = stop();
  queue_.reset();
  auto seen = device.seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].op, 'r');
  EXPECT_EQ(seen[0].flags, block_fixed_buffer_flags(2));
  EXPECT_EQ(block_fixed_buffer_index(seen[0].flags), 2);
  EXPECT_EQ(seen[0].base, pages.data()) << "the start of registered buffer 2";
  EXPECT_EQ(seen[0].length, 8192u);
  EXPECT_EQ(seen[1].op, 'w');
  EXPECT_EQ(seen[1].flags, block_fixed_buffer_flags(1));
  EXPECT_EQ(seen[1].length, 4096u);
  EXPECT_EQ(seen[2].op, 'f');
  EXPECT_EQ(seen[2].flags & kBlockFixedBuffer, 0u);
  EXPECT_EQ(stats.zero_copy, 2u);
  EXPECT_EQ(stats.requests, 3u);
}

TEST_F(UblkQueue, WithoutZeroCopyRequestsCarryTheQueuesOwnBuffers) {
  RecordingDevice device;
  start_on(device);
  driver_.send(0, read_of(0, 8));
  ASSERT_TRUE(driver_.wait_commit());
  QueueStats stats = stop();
  queue_.reset();
  auto seen = device.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].flags & kBlockFixedBufferBits, 0u);
  EXPECT_NE(seen[0].base, nullptr);
  EXPECT_EQ(stats.zero_copy, 0u);
}

// The file handler through a zero-copy queue: its io_uring READ_FIXED / WRITE_FIXED move the data
// straight between `path` (1 MiB) and the lent pages (here the stand-in's memory, on a real
// ring); what it wrote is read back from `path` directly.
void file_handler_zero_copy(UblkQueue& test, FakeDriver& driver, const std::string& path) {
  auto plugin = plugins::Plugin::load(test::handler_build_dir() + "/file.so", false);
  ASSERT_TRUE(plugin) << plugin.error();
  plugins::OpenParams p;
  p.name = "ublk:file";
  p.cfgstring = path;
  p.size = 1 << 20;
  p.frontend = LUNKIT_FRONTEND_UBLK;
  p.queue_depth = kDepth;
  auto device = plugins::PluginBlockDevice::open(**plugin, p, nullptr);
  ASSERT_TRUE(device) << device.error();
  ASSERT_TRUE((*device)->takes_fixed_buffers()) << path << ": every read and write on io_uring";
  test.serve_zero_copy(**device);

  std::vector<uint8_t> written(64 * 1024);
  for (size_t i = 0; i < written.size(); ++i) written[i] = static_cast<uint8_t>(i * 7 + (i >> 9));
  driver.lend(0, written);
  driver.send(0, IoDesc{kOpWrite, 128, 256, 0});  // 64 KiB at 128 KiB
  auto w = driver.wait_commit();
  ASSERT_TRUE(w);
  EXPECT_EQ(w->result, 64 * 1024);

  std::vector<uint8_t> read_back(64 * 1024, 0xee);
  driver.lend(3, read_back);
  driver.send(3, read_of(256, 128));
  auto r = driver.wait_commit();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->result, 64 * 1024);
  EXPECT_EQ(read_back, written) << "the read landed in the lent pages";

  // A read of a buffer that was never lent fails: the handler used the slot, not some memory.
  driver.send(1, read_of(0, 8));
  auto unlent = driver.wait_commit();
  ASSERT_TRUE(unlent);
  EXPECT_LT(unlent->result, 0);

  QueueStats stats = test.end();
  EXPECT_EQ(stats.zero_copy, 3u);
  std::vector<uint8_t> in_file(64 * 1024);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_EQ(pread(fd.get(), in_file.data(), in_file.size(), 128 * 1024),
            static_cast<ssize_t>(in_file.size()));
  EXPECT_EQ(in_file, written) << "the write reached " << path;
}

std::string make_file(const std::string& dir) {
  const std::string path = dir + "/zero-copy.img";
  UniqueFd fd(::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600));
  EXPECT_TRUE(fd);
  EXPECT_EQ(ftruncate(fd.get(), 1 << 20), 0);
  return path;
}

TEST_F(UblkQueue, TheFileHandlerMovesDataWithTheLentPagesOnly) {
  test::PluginDir dir;
  file_handler_zero_copy(*this, driver_, make_file(dir.path));
}

// A loop device over a file, detached again at the end (needs root and the loop driver).
class LoopDevice {
 public:
  explicit LoopDevice(const std::string& file) {
    UniqueFd control(::open("/dev/loop-control", O_RDWR | O_CLOEXEC));
    if (!control) {
      error = std::string("/dev/loop-control: ") + std::strerror(errno);
      return;
    }
    UniqueFd backing(::open(file.c_str(), O_RDWR | O_CLOEXEC));
    for (int attempt = 0; attempt < 20; ++attempt) {  // another process may take a free one first
      int n = ioctl(control.get(), LOOP_CTL_GET_FREE);
      if (n < 0) break;
      std::string candidate = "/dev/loop" + std::to_string(n);
      UniqueFd fd(::open(candidate.c_str(), O_RDWR | O_CLOEXEC));
      if (fd && ioctl(fd.get(), LOOP_SET_FD, backing.get()) == 0) {
        path = candidate;
        fd_ = std::move(fd);
        return;
      }
    }
    error = std::string("no free loop device: ") + std::strerror(errno);
  }
  ~LoopDevice() {
    if (fd_) ioctl(fd_.get(), LOOP_CLR_FD, 0);
  }
  std::string path, error;

 private:
  UniqueFd fd_;
};

// A block device's node is on devtmpfs, a tmpfs: the file handler must still take it for a
// device (io_uring, zero copy), not for a file in memory (plain system calls on the loop).
TEST_F(UblkQueue, TheFileHandlerOnABlockDeviceIsZeroCopyToo) {
  test::PluginDir dir;
  LoopDevice loop(make_file(dir.path));
  ASSERT_TRUE(loop.error.empty()) << loop.error << " (this test needs root and the loop module)";
  file_handler_zero_copy(*this, driver_, loop.path);
}

// ---- Per-I/O daemons (UBLK_F_PER_IO_DAEMON) ----

TEST(UblkSpreadTags, EveryTagOfEveryQueueGoesToExactlyOneThread) {
  std::vector<TagId> t0 = spread_tags(2, 4, 2, 0);
  std::vector<TagId> t1 = spread_tags(2, 4, 2, 1);
  EXPECT_EQ(t0, (std::vector<TagId>{{0, 0}, {0, 2}, {1, 0}, {1, 2}}));
  EXPECT_EQ(t1, (std::vector<TagId>{{0, 1}, {0, 3}, {1, 1}, {1, 3}}));
  // Neighbouring tags, which the block layer gives one CPU's requests, go to different threads.
  std::vector<int> owners(3 * 128, -1);
  for (uint16_t thread = 0; thread < 3; ++thread)
    for (TagId id : spread_tags(3, 128, 3, thread)) {
      EXPECT_EQ(owners[id.q_id * 128 + id.tag], -1) << id.q_id << "/" << id.tag;
      owners[id.q_id * 128 + id.tag] = thread;
    }
  for (int o : owners) EXPECT_NE(o, -1);
  EXPECT_TRUE(spread_tags(1, 4, 0, 0).empty());
  EXPECT_TRUE(spread_tags(1, 4, 2, 2).empty());
}

// Two server threads serve the tags of two queues, each thread half of each queue: the requests
// that land on queue 0 alone are served on both threads, with the right queue and tag in each
// commit, and zero copy names each tag's slot on its own thread's ring.
TEST(UblkPerIoDaemons, TwoThreadsShareTheLoadOfOneQueue) {
  FakeDriver driver;
  RecordingDevice device;
  std::vector<std::unique_ptr<Queue>> threads;
  for (uint16_t t = 0; t < 2; ++t) {
    QueueConfig c;
    c.char_fd = driver.fd();
    c.depth = kDepth;
    c.tags = spread_tags(kQueues, kDepth, 2, t);
    c.io_buf_bytes = 64 * 1024;
    c.zero_copy = true;
    c.name = "test/t" + std::to_string(t);
    c.driver = &driver;
    auto q = Queue::create(c, device);
    ASSERT_TRUE(q) << q.error();
    EXPECT_EQ((*q)->slots(), kQueues * kDepth / 2);
    threads.push_back(std::move(*q));
  }
  for (auto& q : threads) q->start(-1);
  for (auto& q : threads) ASSERT_TRUE(q->wait_ready());
  for (uint16_t q = 0; q < kQueues; ++q)
    for (uint16_t tag = 0; tag < kDepth; ++tag)
      EXPECT_EQ(driver.fetched_by({q, tag}), threads[tag % 2].get()) << q << "/" << tag;

  std::vector<uint8_t> pages(4096);
  std::vector<FakeDriver::Commit> commits;
  for (uint16_t tag = 0; tag < kDepth; ++tag) {  // every tag of queue 0, one after the other
    driver.lend(tag, pages);
    driver.send(0, tag, read_of(tag * 8, 8));
    auto c = driver.wait_commit();
    ASSERT_TRUE(c) << "tag " << tag << " was never committed";
    commits.push_back(*c);
  }
  driver.send(1, 3, IoDesc{kOpFlush, 0, 0, 0});  // and one on queue 1
  auto flush = driver.wait_commit();
  ASSERT_TRUE(flush);
  EXPECT_EQ(flush->q_id, 1);
  EXPECT_EQ(flush->tag, 3);
  EXPECT_EQ(flush->result, 0);

  for (uint16_t tag = 0; tag < kDepth; ++tag) {
    EXPECT_EQ(commits[tag].q_id, 0);
    EXPECT_EQ(commits[tag].tag, tag);
    EXPECT_EQ(commits[tag].result, 4096);
  }
  EXPECT_EQ(commits[0].thread, commits[2].thread);
  EXPECT_EQ(commits[1].thread, commits[3].thread);
  EXPECT_NE(commits[0].thread, commits[1].thread) << "queue 0's load stayed on one thread";
  EXPECT_EQ(flush->thread, commits[1].thread) << "tag 3 of queue 1 is thread 1's";

  std::vector<QueueStats> stats;
  for (auto& q : threads) {
    q->stop();
    q->join();
    stats.push_back(q->stats());
  }
  EXPECT_EQ(stats[0].requests, 2u);
  EXPECT_EQ(stats[1].requests, 3u);
  EXPECT_EQ(stats[0].zero_copy + stats[1].zero_copy, 4u);
  // Tag t of queue 0 is slot t / 2 of its thread's ring: the buffer index the handler is given.
  auto seen = device.seen();
  ASSERT_EQ(seen.size(), 5u);
  for (uint16_t tag = 0; tag < kDepth; ++tag) {
    EXPECT_EQ(seen[tag].op, 'r');
    EXPECT_EQ(seen[tag].flags, block_fixed_buffer_flags(tag / 2)) << "tag " << tag;
    EXPECT_EQ(seen[tag].base, pages.data());
  }
}

TEST(UblkPerIoDaemons, ThreadCountsThatCannotServeAreRefusedUpFront) {
  EXPECT_TRUE(check_threads(2, 128, 2));
  EXPECT_TRUE(check_threads(1, 4, 4));
  auto idle = check_threads(1, 4, 8);  // threads 4-7 would have no tag
  ASSERT_FALSE(idle);
  EXPECT_NE(idle.error().find("more than the queue depth (4)"), std::string::npos) << idle.error();
  // 3 queues of 4096 over 3 threads: thread 0 has 3 x 1366 = 4098 tags, more than one ring holds.
  auto crowded = check_threads(3, 4096, 3);
  ASSERT_FALSE(crowded);
  EXPECT_NE(crowded.error().find("4098 tags for one thread"), std::string::npos) << crowded.error();
  EXPECT_TRUE(check_threads(3, 4096, 4));
}

// What Queue::create says of a thread given `tags` of queues `depth` deep (empty: it took them).
std::string create_error(uint16_t depth, std::vector<TagId> tags) {
  FakeDriver driver;
  RecordingDevice device;
  QueueConfig c;
  c.char_fd = driver.fd();
  c.depth = depth;
  c.tags = std::move(tags);
  c.name = "test/t0";
  c.driver = &driver;
  auto q = Queue::create(c, device);
  return q ? "" : q.error();
}

TEST(UblkPerIoDaemons, AThreadWithoutTagsOrWithMoreThanOneRingHoldsIsRefused) {
  EXPECT_NE(create_error(kDepth, {}).find("no tags to serve"), std::string::npos);
  EXPECT_NE(create_error(kMaxQueueDepth, spread_tags(2, kMaxQueueDepth, 1, 0))
                .find("8192 tags for one server thread"),
            std::string::npos);
  EXPECT_EQ(create_error(kDepth, spread_tags(kQueues, kDepth, 2, 1)), "");
}

}  // namespace
}  // namespace lunkit::ublk

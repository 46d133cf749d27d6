// One ublk queue against a stand-in for ublk_drv (ublk::Driver) and a device that fails on
// purpose: transient errors are retried after a back-off on the queue's ring, other errors and
// exhausted retries are committed, and a retried request allocates nothing.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/eventfd.h>
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
#include <thread>
#include <vector>

#include "common/fd.h"
#include "common/transient_error.h"
#include "ublk/queue.h"

#include "tests/unit/count_allocations.h"

namespace lunkit::ublk {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint16_t kDepth = 4;
constexpr auto kPatience = std::chrono::seconds(20);  // only a broken queue makes a test wait this

// ublk_drv's part: descriptors in a memfd (the queue maps it as it maps /dev/ublkcN), one eventfd
// per tag that the test writes to when it hands the tag a request, and the commits the queue sends.
class FakeDriver : public Driver {
 public:
  struct Commit {
    uint16_t tag;
    int32_t result;
  };

  FakeDriver() : memfd_(memfd_create("ublk-descriptors", MFD_CLOEXEC)) {
    EXPECT_EQ(ftruncate(memfd_.get(), 1 << 20), 0);
    for (uint16_t i = 0; i < kDepth; ++i) {
      slots_[i].driver = this;
      slots_[i].tag = i;
      slots_[i].completion.slot = &slots_[i];
      slots_[i].completion.uring.done = &FakeDriver::on_poll;
      slots_[i].doorbell.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    }
    commits_.reserve(64);
  }

  int fd() const { return memfd_.get(); }

  // Puts a request in the tag's descriptor and wakes the queue for it.
  void send(uint16_t tag, const IoDesc& desc) {
    ASSERT_EQ(pwrite(memfd_.get(), &desc, sizeof desc, tag * sizeof desc),
              static_cast<ssize_t>(sizeof desc));
    uint64_t one = 1;
    ASSERT_EQ(write(slots_[tag].doorbell.get(), &one, sizeof one), 8);
  }

  // The next commit, or nothing after kPatience.
  std::optional<Commit> wait_commit() {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, kPatience, [&] { return taken_ < commits_.size(); }))
      return std::nullopt;
    return commits_[taken_++];
  }

  void io_cmd(Queue& queue, uint16_t tag, uint32_t op, int32_t result) override {
    if (op == kUIoCommitAndFetchReq) {
      std::lock_guard lock(mu_);
      commits_.push_back({tag, result});
      cv_.notify_all();
    }
    // Either way the tag now waits for its next request: a poll on its doorbell, on the queue's
    // own ring, as the kernel's answer would arrive there.
    Slot& s = slots_[tag];
    s.queue = &queue;
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
    uint16_t tag = 0;
    SlotCompletion completion;
    UniqueFd doorbell;
  };

  static void on_poll(lunkit_uring_completion* c, int32_t) {
    Slot& s = *reinterpret_cast<SlotCompletion*>(c)->slot;
    uint64_t v;
    (void)!read(s.doorbell.get(), &v, sizeof v);
    s.queue->deliver(s.tag, kIoResOk);
  }

  UniqueFd memfd_;
  std::array<Slot, kDepth> slots_;
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
    QueueConfig c;
    c.char_fd = driver_.fd();
    c.depth = kDepth;
    c.io_buf_bytes = 64 * 1024;
    c.retry_timeout_ms = retry_timeout_ms;
    c.name = "test/q0";
    c.driver = &driver_;
    auto q = Queue::create(c, device_);
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

}  // namespace
}  // namespace lunkit::ublk

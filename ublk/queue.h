// One ublk server thread: one thread, one io_uring. By default it serves one hardware queue (every
// tag of it); with per-I/O daemons (UBLK_F_PER_IO_DAEMON, Linux 6.16) any set of (queue, tag)
// pairs of the device, so that several threads share the load that lands on one queue. The ring
// carries the FETCH and COMMIT_AND_FETCH commands of those tags on /dev/ublkcN and the io_uring
// I/O that nonblocking handlers queue with lunkit_get_sqe(); handlers that complete on other
// threads (the worker pool, a library's own threads) hand their results back through an eventfd
// on the same ring. Every tag has its buffer and BlockRequest preallocated: a request allocates
// nothing.
#pragma once

#include <liburing.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/completion_stack.h"
#include "common/fd.h"
#include "handlers/host/io_loop.h"
#include "lunkit/block_device.h"
#include "lunkit/handler.h"
#include "lunkit/result.h"
#include "ublk/params.h"

namespace lunkit::ublk {

class Queue;

// A stand-in for ublk_drv's side of a queue (tests): the queue hands it each tag's FETCH and
// COMMIT_AND_FETCH on its own thread instead of sending them to /dev/ublkcN, and the stand-in
// answers with Queue::deliver() on the queue's thread (from a completion on the queue's ring).
// Tags are named by their slot in the thread (Queue::tag_of(slot) says which queue's tag it is;
// serving one whole queue, the slot is the tag).
class Driver {
 public:
  virtual ~Driver() = default;
  // `op` is kUIoFetchReq or kUIoCommitAndFetchReq; `result` is what the latter commits.
  virtual void io_cmd(Queue& queue, uint16_t slot, uint32_t op, int32_t result) = 0;
};

// One tag of one of the device's hardware queues.
struct TagId {
  uint16_t q_id = 0;
  uint16_t tag = 0;
  bool operator==(const TagId&) const = default;
};

// Per-I/O daemons: the tags server thread `thread` of `threads` serves, of a device with `queues`
// queues of `depth` tags: every tag t of every queue with t % threads == thread. The block layer
// hands out neighbouring tags to the requests of one CPU, so the load of that CPU's queue is
// spread over every thread.
std::vector<TagId> spread_tags(uint16_t queues, uint16_t depth, uint16_t threads, uint16_t thread);

struct QueueConfig {
  int char_fd = -1;  // /dev/ublkcN, shared by the device's queues (the queue keeps its own dup)
  uint16_t q_id = 0;
  uint16_t depth = 0;  // of every queue of the device
  // Per-I/O daemons (the device has UBLK_F_PER_IO_DAEMON): the tags this thread serves, of any of
  // the device's queues (spread_tags(); an empty list is refused). Unset: every tag of queue
  // `q_id`, the one-thread-per-queue model every kernel takes.
  std::optional<std::vector<TagId>> tags;
  uint32_t io_buf_bytes = kDefaultIoBytes;
  bool read_only = false;
  // How long a request whose handler keeps completing it with a transient error
  // (common/transient_error.h) is issued again, from its first such error, before it fails with
  // -EIO; 0: it fails at once with the handler's error. See retry_delay_ms().
  uint32_t retry_timeout_ms = kDefaultRetryTimeoutMs;
  std::string name;  // for log lines and the thread's name, "ublk0/q0"
  // The CPUs whose I/O lands on this queue (GET_QUEUE_AFFINITY): the queue thread runs on them,
  // so a request is served where it was issued and its completion is local. Empty: not pinned.
  cpu_set_t cpus{};
  bool pin = false;
  // Zero copy (the device has UBLK_F_AUTO_BUF_REG): the kernel registers each request's pages as
  // buffer `slot` of this thread's ring (the tag's place in it) when it hands the request over,
  // and unregisters them at its commit; reads and writes reach the handler as kBlockFixedBuffer
  // requests on that buffer, and the queue has no buffers of its own to copy through.
  bool zero_copy = false;
  Driver* driver = nullptr;  // tests: ublk_drv's stand-in (char_fd is then any mappable file)
};

struct QueueStats {
  uint64_t requests = 0;
  uint64_t errors = 0;   // requests completed with an error
  uint64_t retries = 0;  // requests issued again after a transient error
  uint64_t gave_up = 0;  // requests that failed with -EIO after retry_timeout_ms of those
  uint64_t remote_completions = 0;
  uint64_t waits = 0;
  uint64_t zero_copy = 0;  // reads and writes served on the request's own pages
};

// Fills `sqe` with a tag's FETCH or COMMIT_AND_FETCH (`op`) on the registered /dev/ublkcN; with
// zero copy (`buffer` >= 0), asks the kernel to register the request's pages as buffer `buffer`
// of the ring.
void prep_io_cmd(io_uring_sqe* sqe, uint32_t op, const IoCmd& cmd, int buffer);

class Queue : public IoLoop {
 public:
  // Maps the queue's descriptors and allocates its buffers; the thread starts with start().
  static Result<std::unique_ptr<Queue>> create(const QueueConfig& config, BlockDevice& device);
  ~Queue() override;

  // Starts the queue thread. It sets up its ring, fetches every tag and then serves requests
  // until the kernel aborts every tag (STOP_DEV) or stop() is called; when it ends it writes to
  // `exit_fd` (an eventfd).
  void start(int exit_fd);
  // Waits until every tag's FETCH is submitted (START_DEV / END_USER_RECOVERY wait for that in
  // the kernel). An error means the thread could not set itself up and has ended.
  Result<bool> wait_ready();
  // Ends the thread once the requests it is serving complete, without waiting for the kernel:
  // closing the ring cancels its fetches, which the kernel treats as the server going away.
  void stop();
  void join();
  bool finished() const { return finished_.load(std::memory_order_acquire); }
  // Read after join().
  QueueStats stats() const { return stats_; }

  io_uring_sqe* get_sqe(lunkit_uring_completion* completion) override;

  // Runs `task` on the queue's thread, between requests: at once when called there; queued and
  // woken for otherwise; on the calling thread when the queue thread has ended. (The posted
  // work of handlers, reconfig(): rare, so a lock and an allocation are fine here.)
  void post(std::function<void()> task);

  // An online resize (Server::resize): requests are checked against the new size from now on.
  void set_device_bytes(uint64_t bytes) { device_bytes_.store(bytes, std::memory_order_relaxed); }

  // How many tags the thread serves, and which one is in `slot`.
  uint16_t slots() const { return slots_; }
  TagId tag_of(uint16_t slot) const { return {tags_[slot].q_id, tags_[slot].tag}; }

  // What the kernel's answer `res` to a tag's FETCH or COMMIT_AND_FETCH does (kIoResOk: a request
  // is in the tag's descriptor). For a Driver stand-in; on the queue's thread.
  void deliver(uint16_t slot, int32_t res);
  // What the kernel does for a zero-copy queue before deliver(): puts `length` bytes at `base` in
  // slot `index` of the ring's buffer table (and, with base nullptr and length 0, empties it
  // again, as a commit does). For a Driver stand-in; on the queue's thread. 0 or -errno.
  int lend_buffer(uint16_t index, void* base, size_t length);

 private:
  struct Tag;
  // What a CQE of a tag's ublk command (or of its retry timer) points to (the first member, so
  // the pointer converts).
  struct TagCompletion {
    lunkit_uring_completion uring;
    Tag* tag;
  };
  struct Tag {
    TagCompletion completion;
    TagCompletion retry;  // the back-off timer before the request is issued again
    Queue* queue = nullptr;
    uint16_t q_id = 0;
    uint16_t tag = 0;   // the kernel's tag, in queue q_id
    uint16_t slot = 0;  // its place in tags_ (and its buffer index with zero copy)
    const uint8_t* descriptor = nullptr;
    bool with_device = false;  // the request is lunkit's: with the BlockDevice or waiting to retry
    Request request;
    int status = 0;  // what the device completed it with
    uint32_t retries = 0;
    std::chrono::steady_clock::time_point first_failure;
    __kernel_timespec retry_wait{};
    Tag* next = nullptr;            // completion stack link
    uint8_t* buffer = nullptr;      // the tag's own buffer (none with zero copy)
    uint8_t* fixed_base = nullptr;  // zero copy: where registered buffer `slot` starts (0)
    iovec iov{};
    BlockRequest block;
  };

  Queue(const QueueConfig& config, BlockDevice& device) : config_(config), device_(device) {}
  void run();
  void place_thread();
  Result<bool> setup_ring();
  void set_ready(std::string error);
  io_uring_sqe* next_sqe();
  void submit_io_cmd(Tag& t, uint32_t op, int32_t result);
  static void on_tag_cqe(lunkit_uring_completion* c, int32_t res);
  void serve(Tag& t);
  void issue(Tag& t);
  static void on_block_complete(BlockRequest& r, int status);
  void complete(Tag& t);
  bool retry(Tag& t);
  static void on_retry_cqe(lunkit_uring_completion* c, int32_t res);
  void reap();
  void run_posted();
  void arm_wake();
  bool done() const;

  QueueConfig config_;
  BlockDevice& device_;
  // The device's size: requests past it fail. Changed by an online resize from another thread.
  std::atomic<uint64_t> device_bytes_{0};
  uint32_t block_size_ = 512;
  bool can_unmap_ = false;
  UniqueFd char_fd_;
  std::vector<Mapping> descriptors_;  // of each queue the thread serves tags of
  Mapping buffers_;
  uint16_t slots_ = 0;
  std::unique_ptr<Tag[]> tags_;
  std::vector<std::pair<uint64_t, int32_t>> cqes_;

  io_uring ring_{};
  bool ring_ready_ = false;
  UniqueFd wake_;
  uint64_t wake_value_ = 0;
  bool wake_armed_ = false;
  CompletionStack<Tag, &Tag::next> remote_done_;
  int exit_fd_ = -1;
  uint32_t aborted_ = 0;
  uint32_t with_device_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> finished_{false};
  QueueStats stats_;

  std::mutex posted_mu_;
  std::vector<std::function<void()>> posted_;
  bool posts_closed_ = false;  // the thread has ended: post() runs tasks itself

  std::mutex ready_mu_;
  std::condition_variable ready_cv_;
  bool ready_ = false;
  std::string ready_error_;
  std::thread thread_;
};

}  // namespace lunkit::ublk

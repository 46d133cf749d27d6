// One TCMU device: its ring, its logical unit and the event loop that connects them.
//
// One thread per device waits on one io_uring for the ring's doorbell and for an eventfd through
// which other threads hand back completed commands; an idle device is blocked in the kernel.
// Command slots are preallocated per cmd_id, so steady-state commands allocate nothing.
#pragma once

#include <liburing.h>

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/completion_stack.h"
#include "common/fd.h"
#include "handlers/host/io_loop.h"
#include "lunkit/block_device.h"
#include "lunkit/result.h"
#include "lunkit/scsi/logical_unit.h"
#include "tcmu/ring.h"

namespace lunkit::tcmu {

struct DeviceStats {
  uint64_t commands = 0;
  uint64_t completions = 0;
  uint64_t bad_commands = 0;
  uint64_t tmrs = 0;
  uint64_t doorbell_events = 0;  // ring walks (a doorbell wakeup, or process())
  uint64_t kicks = 0;
  uint64_t waits = 0;  // io_uring_enter calls that waited for events
  uint64_t remote_completions = 0;
};

struct DeviceOptions {
  std::string name;  // for log lines, e.g. "user_0/disk0"
  scsi::LogicalUnitOptions lu;
  // Called once, on the loop thread, when the ring turns out corrupt: from then on the device
  // takes no commands until its owner reattaches it (with reset_ring).
  void (*on_broken)(void* context) = nullptr;
  void* broken_context = nullptr;
  // The owner runs the event loop in a thread of its own choosing (poll_fd() and run_once())
  // instead of start()'s thread.
  bool caller_loop = false;
};

class Device : public IoLoop, private Ring::Sink {
 public:
  // Attaches to a ring: `doorbell_fd` has the UIO fd's 4-byte read/write semantics and
  // `map_fd` is mapped (`map_size` bytes, exactly). For a kernel device both are /dev/uioN.
  // The fds are duplicated; the caller keeps its own.
  static Result<std::unique_ptr<Device>> attach(int doorbell_fd, int map_fd, size_t map_size,
                                                BlockDevice& block_device, DeviceOptions options);
  ~Device() override;

  void start();  // runs the event loop on a thread of its own
  // Stops taking commands from the ring, waits for those in flight, ends the loop.
  void stop();

  // IoLoop: an SQE on this device's io_uring for a handler; its completion runs on the loop.
  io_uring_sqe* get_sqe(lunkit_uring_completion* completion) override;

  // Runs `task` on the loop thread (the logical unit belongs to it): right away when called there
  // or when no loop thread runs, otherwise soon, in order.
  void post(std::function<void()> task);

  // Work another device runs on this one's backend (EXTENDED COPY into this LU from another LU's
  // copy): stop() waits for it as for a command of its own, so the backend is never destroyed
  // under it. begin_foreign_work() is false once the device is stopping (nothing may start
  // then); end_foreign_work() may be called from any thread, after the last use of the backend.
  bool begin_foreign_work();
  void end_foreign_work();

  // Runs one pass without a thread: reads the doorbell, consumes the ring, completes what is
  // done and kicks once. For single-threaded tests and benchmarks.
  size_t process();

  // The event loop in the owner's thread (DeviceOptions::caller_loop): poll_fd() is readable
  // (POLLIN) when the device has work: commands on the ring, handler I/O done, completions or
  // tasks from other threads. run_once() does that work without waiting and returns the number
  // of commands taken. Both from one thread, which is then the loop thread; stop() from it too
  // finishes the loop there (it waits for the commands in flight).
  int poll_fd() const { return uring_.ring_fd; }
  size_t run_once();
  // Arms the loop in the owner's thread so that poll_fd() reports the first commands (the
  // owner attaching the device calls it; run_once() does it too if not).
  void begin_caller_loop();

  scsi::LogicalUnit& logical_unit() { return *lu_; }
  const Ring& ring() const { return ring_; }
  // Counters; read them from the loop thread or once the loop has stopped.
  DeviceStats stats() const { return stats_; }
  uint64_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  const std::string& name() const { return options_.name; }
  // The loop thread (for CPU accounting in tests); only valid after start().
  pthread_t loop_thread() { return thread_.native_handle(); }

 private:
  struct Slot {
    scsi::Command cmd;
    std::vector<iovec> iov;
    Device* device = nullptr;
    uint16_t cmd_id = 0;
    bool busy = false;
    Slot* next = nullptr;  // completion queue link
  };
  static constexpr size_t kSlotsPerChunk = 256;

  Device(UniqueFd doorbell, Mapping map, BlockDevice& block_device, DeviceOptions options);

  // Ring::Sink
  void on_command(const RingCommand& cmd) override;
  void on_bad_command(uint16_t cmd_id, const char* reason) override;
  void on_tmr(uint8_t type, std::span<const uint16_t> cmd_ids) override;

  static void on_scsi_complete(void* context, scsi::Command& cmd);
  Slot& slot(uint16_t cmd_id);
  void complete(Slot& s);
  void complete_error(uint16_t cmd_id);
  void drain_remote_completions();
  void run_tasks();
  void kick_if_needed();
  void loop();
  // Arms the doorbell and the wake eventfd and takes what is queued, once.
  void begin_loop();
  // One pass of the loop, waiting for an event first if `wait`; false when the loop ends.
  bool iterate(bool wait);
  void arm_doorbell();
  // Reads the doorbell, applies posted tasks, consumes the ring.
  size_t take_commands();
  // Submits handler I/O, runs ready completions until none are left, kicks once.
  void settle();
  // Collects ready CQEs: flags for the doorbell and the eventfd, handler completions aside.
  void harvest();
  void dispatch_cqes();
  void arm_wake();

  UniqueFd doorbell_;
  Mapping map_;
  Ring ring_;
  DeviceOptions options_;
  std::unique_ptr<scsi::LogicalUnit> lu_;
  std::array<std::unique_ptr<Slot[]>, 65536 / kSlotsPerChunk> chunks_;
  std::atomic<uint64_t> in_flight_{0};
  bool need_kick_ = false;
  bool broken_reported_ = false;
  DeviceStats stats_;

  UniqueFd wake_;  // eventfd: remote completions and stop requests
  CompletionStack<Slot, &Slot::next> remote_done_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint32_t> foreign_work_{0};  // begin_foreign_work() not yet ended
  std::mutex foreign_mu_;                  // held by end_foreign_work() until its wake is written
  std::mutex tasks_mu_;
  std::vector<std::function<void()>> tasks_;
  std::atomic<bool> tasks_pending_{false};
  io_uring uring_{};
  bool uring_ready_ = false;
  uint64_t wake_value_ = 0;
  std::vector<std::pair<uint64_t, int32_t>> handler_cqes_;
  bool doorbell_event_ = false;
  bool doorbell_armed_ = false;
  bool wake_event_ = false;
  bool loop_begun_ = false;
  // DeviceOptions::caller_loop: the owner's thread, which is the loop thread between passes too.
  std::atomic<std::thread::id> owner_thread_{};
  std::thread thread_;
};

}  // namespace lunkit::tcmu

// A ublk device served by lunkit: the control sequence that creates (or recovers) it and the
// queues that serve it.
//
//   add:      ADD_DEV, SET_PARAMS, open /dev/ublkcN, start the queues (each fetches all its tags
//             from its own thread), START_DEV from this thread: /dev/ublkbN appears.
//   recover:  (after the previous server died, with USER_RECOVERY) START_USER_RECOVERY, open
//             /dev/ublkcN, start the queues, END_USER_RECOVERY: queued I/O resumes.
//   remove:   STOP_DEV (the queues finish what is in flight, then the kernel aborts their tags),
//             join the queues, close /dev/ublkcN, DEL_DEV.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/fd.h"
#include "lunkit/block_device.h"
#include "lunkit/result.h"
#include "ublk/control.h"
#include "ublk/params.h"
#include "ublk/queue.h"

namespace lunkit::ublk {

struct ServeOptions {
  uint16_t queues = 1;
  // Server threads. 0 (the default): one per queue, pinned to the CPUs whose I/O lands on it, so
  // a request is served and completed where it was issued. N > 0 with per-I/O daemons
  // (UBLK_F_PER_IO_DAEMON, Linux 6.16): N unpinned threads, each serving every N-th tag of every
  // queue (spread_tags()), so that load landing on one queue's CPUs is served by all of them,
  // at the price of requests crossing CPUs. Without the feature (6.12): one per queue, logged.
  uint16_t threads = 0;
  uint16_t depth = 128;
  uint32_t io_buf_bytes = kDefaultIoBytes;
  bool read_only = false;
  // Ask for UBLK_F_USER_RECOVERY (with REISSUE) when the kernel offers it: a server that dies
  // leaves the device quiesced, its I/O waiting, until `lunkit ublk recover` serves it again.
  bool recovery = true;
  // How long a request is retried while the handler fails it with a transient error
  // (QueueConfig::retry_timeout_ms); 0: not retried.
  uint32_t retry_timeout_ms = kDefaultRetryTimeoutMs;
  // The device takes reads and writes on a registered buffer (kBlockFixedBuffer): ask for zero
  // copy (UBLK_F_AUTO_BUF_REG, Linux 6.16) when the kernel offers it.
  bool zero_copy = false;
};

// How long a hand-over waits for the requests in flight (QUIESCE_DEV's timeout).
inline constexpr uint64_t kHandOverTimeoutMs = 30000;

class Server {
 public:
  static Result<std::unique_ptr<Server>> add(Control& control, BlockDevice& device,
                                             const ServeOptions& options);
  // `takes_fixed_buffers`: as ServeOptions::zero_copy; a device created with zero copy needs it.
  // `threads` as ServeOptions::threads.
  static Result<std::unique_ptr<Server>> recover(Control& control, uint32_t dev_id,
                                                 BlockDevice& device, bool takes_fixed_buffers,
                                                 bool read_only, uint32_t retry_timeout_ms,
                                                 uint16_t threads = 0);
  ~Server();

  uint32_t id() const { return info_.dev_id; }
  const DevInfo& info() const { return info_; }
  std::string block_path() const { return "/dev/ublkb" + std::to_string(info_.dev_id); }
  // Readable (an eventfd) when a queue has ended: someone stopped the device.
  int exit_fd() const { return exit_fd_.get(); }
  bool all_queues_finished() const;
  QueueStats stats() const;  // summed over the queues, after remove()
  // The server threads: one per queue, or the per-I/O daemons' count. And the requests each has
  // served (after remove() or hand_over(): what they served in the end).
  size_t threads() const { return per_thread_requests_.size(); }
  bool per_io_daemons() const { return per_io_daemons_; }
  std::vector<uint64_t> requests_per_thread() const;

  // Stops and deletes the device. Safe to call when someone else already did either.
  Result<bool> remove();

  // The device's first queue: its loop is the device's for what is not a request (reconfig(),
  // lunkit_device_post()); `post` runs a task there.
  IoLoop& first_loop() { return *queues_.front(); }
  void post(std::function<void()> task) { queues_.front()->post(std::move(task)); }

  uint64_t size_bytes() const { return size_bytes_; }
  // Gives the disk a new size while it is in use (UBLK_F_UPDATE_SIZE: 6.18, not 6.12). The storage
  // must already have that size; requests past the end fail until the disk is larger, and the disk
  // shrinks before they do. An error names what the kernel lacks or refused.
  Result<bool> resize(uint64_t bytes);

  // Hands the device over to a server that recovers it (`lunkit ublk recover`) instead of
  // deleting it. Only with UBLK_F_QUIESCE (6.18, not 6.12; without it: an error, and this
  // server keeps the device): QUIESCE_DEV first holds new requests in the kernel and ends the
  // queues' idle fetches; the queues then finish what the handler holds, commit it, and close
  // their rings, which the kernel treats as the server going away. The device stays, quiesced once
  // this process has closed /dev/ublkcN, and the new server finds no request half-done by this one.
  Result<bool> hand_over();

 private:
  Server(Control& control, BlockDevice& device) : control_(control), device_(device) {}
  Result<bool> open_char_device();
  Result<bool> start_queues(bool read_only, uint32_t retry_timeout_ms, uint16_t threads);
  void end_queues();
  void keep_stats();

  Control& control_;
  BlockDevice& device_;
  DevInfo info_{};
  UniqueFd char_fd_;
  UniqueFd exit_fd_;
  std::vector<std::unique_ptr<Queue>> queues_;
  QueueStats ended_stats_;  // of the queues remove() has ended
  std::vector<uint64_t> per_thread_requests_;
  bool per_io_daemons_ = false;
  bool added_ = false;    // DEL_DEV is ours to send
  bool started_ = false;  // STOP_DEV is ours to send
  uint64_t size_bytes_ = 0;
};

// Whether `threads` per-I/O daemons can serve `queues` queues of `depth` tags: every thread has a
// tag, none more than one ring holds. The error names the option.
Result<bool> check_threads(uint16_t queues, uint16_t depth, uint16_t threads);

// The kernel's feature flags, or an error naming what is missing.
Result<uint64_t> kernel_features(Control& control);

}  // namespace lunkit::ublk

// The ublk control device (/dev/ublk-control): adding, starting, stopping, recovering and deleting
// devices. Each command is an IORING_OP_URING_CMD on a private ring with 128-byte SQEs (the 32-byte
// command does not fit a normal SQE) and is waited for; the kernel runs them in its own worker, so
// START_DEV and END_USER_RECOVERY block until the queues have fetched their first requests.
#pragma once

#include <liburing.h>
#include <sched.h>

#include <cstdint>
#include <memory>
#include <string>

#include "common/fd.h"
#include "lunkit/result.h"
#include "ublk/uapi.h"

namespace lunkit::ublk {

inline constexpr const char* kControlPath = "/dev/ublk-control";

class Control {
 public:
  // Opens the control device (LUNKIT_UBLK_CONTROL names another path, for tests). A missing one
  // is reported with what to do about it.
  static Result<std::unique_ptr<Control>> open();
  static Result<std::unique_ptr<Control>> open(const std::string& path);
  ~Control();
  Control(const Control&) = delete;
  Control& operator=(const Control&) = delete;

  // Each returns 0 or the kernel's negative errno.
  int get_features(uint64_t* features);
  // `info.dev_id` ~0u asks for any free id; the negotiated info (id, flags) is written back.
  int add_device(DevInfo* info);
  int set_params(uint32_t dev_id, const Params& params);
  int get_params(uint32_t dev_id, Params* params);
  int get_info(uint32_t dev_id, DevInfo* info);
  int start(uint32_t dev_id, int32_t server_pid);
  int stop(uint32_t dev_id);
  int remove(uint32_t dev_id);  // DEL_DEV: waits until the device's char device is released
  int start_recovery(uint32_t dev_id);
  int end_recovery(uint32_t dev_id, int32_t server_pid);
  // The CPUs whose I/O lands on queue `q_id` (GET_QUEUE_AFFINITY).
  int get_queue_affinity(uint32_t dev_id, uint16_t q_id, cpu_set_t* cpus);
  // Only with the device flags of the same names (6.18 has them, 6.12 not): the disk's new
  // capacity, in 512-byte sectors; and QUIESCE_DEV, which waits up to `timeout_ms` (0: for ever)
  // for the requests the server holds, then ends the server's fetches: the device waits, quiesced,
  // for a new server (START_USER_RECOVERY).
  int update_size(uint32_t dev_id, uint64_t sectors);
  int quiesce(uint32_t dev_id, uint64_t timeout_ms);

 private:
  Control() = default;
  int execute(uint32_t op, uint32_t dev_id, uint64_t addr, uint16_t len, uint64_t data = 0,
              uint16_t queue_id = 0xffff);

  UniqueFd fd_;
  io_uring ring_{};
  bool ring_ready_ = false;
};

}  // namespace lunkit::ublk

// Every TCMU device lunkit serves: attaching them at start (after a restart too), following the
// kernel's netlink events, and letting them go at shutdown.
//
// Threads: attach, detach, handle_message, repair_broken and the retries run on one control
// thread (tcmu::ControlLoop); shutdown() may run on another (the one answering SIGTERM) while the
// control thread is still inside a backend's slow open. The device table is guarded by a mutex
// that is never held across a backend's open or a device's drain, so shutdown() releases every
// attached device at once, and an open that returns after it is undone on the spot.
#pragma once

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "lunkit/block_device.h"
#include "lunkit/result.h"
#include "tcmu/configfs.h"
#include "tcmu/device.h"
#include "tcmu/netlink.h"
#include "tcmu/uio.h"

namespace lunkit::tcmu {

// Opens the storage behind a device of one subtype (the handler plugins of lunkitd).
class BackendFactory {
 public:
  virtual ~BackendFactory() = default;
  virtual Result<std::unique_ptr<BlockDevice>> open(const UioDevice& uio,
                                                    const DeviceAttributes& attributes) = 0;
  // Before the device is attached: the backend may adjust its logical unit's options.
  virtual void prepare_options(BlockDevice& backend, scsi::LogicalUnitOptions& options) {
    (void)backend;
    (void)options;
  }
  // The kernel changed the device (netlink RECONFIG_DEVICE): new size in bytes (0: unchanged),
  // new cfgstring (null: unchanged), write cache (-1: unchanged). Returns 0 or -errno; on an
  // error nothing changes. Default: size and cfgstring changes are refused.
  virtual int reconfigure(BlockDevice& backend, uint64_t new_size, const char* new_cfgstring,
                          int write_cache) {
    (void)backend;
    (void)write_cache;
    return (new_size || new_cfgstring) ? -EOPNOTSUPP : 0;
  }
  // The device is attached: `device` runs its commands (and is the handlers' event loop).
  virtual void on_attached(BlockDevice& backend, Device& device) {
    (void)backend;
    (void)device;
  }
  // The device has stopped and is about to go: nothing may reach it from the backend any more.
  virtual void on_detached(BlockDevice& backend) { (void)backend; }
};

// The fds of an attached UIO device: for the kernel both are /dev/uioN.
struct UioHandles {
  UniqueFd doorbell;
  UniqueFd map;
};
using UioOpener = std::function<Result<UioHandles>(const UioDevice&)>;

class Manager {
 public:
  // `opener` defaults to opening <dev>/uio<minor> O_RDWR|O_NONBLOCK|O_CLOEXEC.
  explicit Manager(Configfs& configfs, UioOpener opener = {});
  ~Manager();

  void add_backend(const std::string& subtype, BackendFactory* factory);
  bool serves(const std::string& subtype) const { return backends_.count(subtype) != 0; }

  // Attaches one device and starts its loop. First opens /dev/uioN and takes an exclusive flock
  // on it: a device another process holds is refused untouched. With `reset` (a ring that may
  // hold state from an earlier daemon): action/block_dev=1, reset_ring=1, attach, block_dev=0 —
  // in-flight commands come back to the initiator as BUSY and are retried.
  Result<bool> attach(const UioDevice& uio, bool reset);
  // Stops a device (waiting for its commands) and releases it. With `block`, new commands are
  // refused (BUSY) while it drains.
  void detach(uint32_t minor, bool block);
  // Start: with block_netlink held (and stale netlink waits of a previous daemon released),
  // reattaches every tcm-user device a backend serves.
  void attach_existing();
  // Handles one netlink message and answers it through `reply` (status, device id) when the
  // kernel expects an answer. Malformed messages are logged and answered with -EINVAL.
  using Replier = std::function<void(uint8_t reply_cmd, int32_t status, uint32_t device_id)>;
  void handle_message(const ParsedEvent& message, const Replier& reply);
  // Detaches every device (blocking each while it drains); the kernel devices stay. From then on
  // nothing attaches: an attach still inside its backend's open when shutdown() runs is not
  // waited for; its device is unblocked here, and whatever it opens is closed when it returns.
  void shutdown();
  // Devices whose ring broke are reattached (block_dev, reset_ring, attach, unblock) by
  // repair_broken(), on the thread that owns the manager, when repair_fd() is readable.
  int repair_fd() const { return repair_fd_.get(); }
  void repair_broken();

  // Devices whose storage could not be opened at start stay blocked and are retried with
  // back-off (1 s, doubling, at most a minute): how long until the next retry is due (none:
  // nothing to retry), and running the retries due at `now`.
  using Clock = std::chrono::steady_clock;
  std::optional<Clock::duration> next_retry(Clock::time_point now) const;
  void retry_due(Clock::time_point now);

  // Devices attached from now on run their event loops in the owner's thread (poll_fd() and
  // run_once() of each Device) instead of a thread of their own.
  void set_caller_loops(bool on) { caller_loops_ = on; }
  bool caller_loops() const { return caller_loops_; }

  Device* device(uint32_t minor);
  size_t size() const;
  // The minors of the attached devices, in order.
  std::vector<uint32_t> minors() const;
  // Devices whose attach is in progress (their backend is opening the storage).
  size_t attaching() const;

 private:
  struct Entry {
    UioDevice uio;
    BackendFactory* factory = nullptr;
    std::unique_ptr<BlockDevice> backend;
    std::unique_ptr<Device> device;
    Manager* manager = nullptr;
    std::mutex serial_mu;
    std::string serial;  // cached once the kernel has one
  };
  // Sets attrib/nl_reply_supported=1 where the kernel left it 0.
  void answer_netlink_for(const UioDevice& uio);
  int32_t handle(const NetlinkEvent& e);
  static std::string serial_of(void* entry);
  static bool alua_of(void* entry, scsi::AluaDescription& out);
  struct Retry {
    UioDevice uio;
    Clock::time_point at;
    Clock::duration next_delay;
  };
  static constexpr Clock::duration kFirstRetryDelay = std::chrono::seconds(1);
  static constexpr Clock::duration kMaxRetryDelay = std::chrono::seconds(60);
  // With `storage_failed`: set when the backend could not open the storage, and the device is
  // then left blocked.
  Result<bool> attach(const UioDevice& uio, bool reset, bool* storage_failed);
  void attach_or_retry(const UioDevice& uio, Clock::time_point now,
                       Clock::duration delay = kFirstRetryDelay);
  static void on_broken(void* entry);
  // detach() without the final block_dev=0, for a device about to be reattached.
  void detach_keep_blocked(uint32_t minor);
  void detach(uint32_t minor, bool block, bool unblock);

  // Stops and releases a device taken out of devices_ (its drain runs without mu_ held).
  void release(std::unique_ptr<Entry> entry, bool block, bool unblock);

  Configfs& configfs_;
  UioOpener opener_;
  std::map<std::string, BackendFactory*> backends_;  // set up before any thread runs
  mutable std::mutex mu_;                            // devices_, attaching_, retries_, stopping_
  std::map<uint32_t, std::unique_ptr<Entry>> devices_;
  bool caller_loops_ = false;
  std::map<uint32_t, UioDevice> attaching_;  // minors inside attach(), between lookup and insert
  std::vector<Retry> retries_;
  bool stopping_ = false;  // shutdown() has begun
  UniqueFd repair_fd_;     // eventfd: a device's loop found its ring broken
  std::mutex broken_mu_;
  std::vector<uint32_t> broken_;  // minors to reattach
};

}  // namespace lunkit::tcmu

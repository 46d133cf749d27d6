// A BlockDevice backed by a handler plugin through the C ABI, with the documented defaults for
// every optional callback.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "handlers/host/io_loop.h"
#include "handlers/host/plugin.h"
#include "handlers/host/worker_pool.h"
#include "lunkit/block_device.h"
#include "lunkit/result.h"
#include "lunkit/scsi/logical_unit.h"

// The handle a plugin sees for one device.
struct lunkit_device {
  std::string name;
  lunkit::IoLoop* loop = nullptr;
  // Who hears about lunkit_device_resized() (the transport, once the device is served); the
  // handler may call from any thread, so it is guarded.
  std::mutex resize_mu;
  std::function<void(uint64_t blocks)> on_resized;
  // How lunkit_device_post() reaches the device's loop from another thread (guarded by
  // resize_mu too); empty before the device is served and after it stopped.
  std::function<void(std::function<void()>)> post;
  bool posting_stopped = false;
  uint32_t frontend = 0;  // enum lunkit_frontend
  uint32_t block_size = 512;
  uint64_t blocks = 0;  // the size last reported, by open(), reconfig() or a resize
};

namespace lunkit::plugins {

struct OpenParams {
  std::string name;       // for log lines: "user_0/disk0"
  std::string cfgstring;  // after "<subtype>/"
  uint64_t size = 0;      // bytes, from the kernel
  uint32_t block_size = 512;
  uint32_t max_sectors = 0;   // blocks per command the kernel allows; 0: no limit
  uint32_t cmd_time_out = 0;  // seconds before the kernel aborts a command; 0: never
  uint32_t frontend = LUNKIT_FRONTEND_UNKNOWN;  // enum lunkit_frontend
  uint32_t queue_depth = 0;                     // requests in flight per queue; 0: unbounded
  uint32_t nr_queues = 1;                       // loops that may call the handler at once
};

class PluginBlockDevice : public BlockDevice {
 public:
  // Opens the handler's device. `pool` runs the I/O of handlers that may block.
  static Result<std::unique_ptr<PluginBlockDevice>> open(const Plugin& plugin,
                                                         const OpenParams& params,
                                                         WorkerPool* pool);
  ~PluginBlockDevice() override;

  // Runs a task on the device's loop thread (or right away when no loop thread runs).
  using Poster = std::function<void(std::function<void()> task)>;
  // The event loop the device's commands run on (nonblocking handlers queue io_uring I/O there),
  // and how to run a task on it: reconfigure() changes the handler and info() there, where the
  // I/O that reads them runs.
  void bind_loop(IoLoop* loop, Poster post = nullptr) {
    device_.loop = loop;
    post_ = post;
    std::lock_guard lock(device_.resize_mu);
    device_.post = std::move(post);
  }
  // The loop stops: lunkit_device_post() fails from now on (-ESHUTDOWN).
  void stop_posting() {
    std::lock_guard lock(device_.resize_mu);
    device_.post = nullptr;
    device_.posting_stopped = true;
  }
  // Who is told when the handler reports that the storage changed size (lunkit_device_resized);
  // `fn` gets the new size in blocks, on whatever thread the handler called from.
  void on_resized(std::function<void(uint64_t blocks)> fn) {
    std::lock_guard lock(device_.resize_mu);
    device_.on_resized = std::move(fn);
  }

  const DeviceInfo& info() const override { return info_; }
  void read(BlockRequest& r) override;
  void write(BlockRequest& r) override;
  void flush(BlockRequest& r) override;
  void unmap(BlockRequest& r) override;
  void write_zeroes(BlockRequest& r) override;
  void compare_and_write(BlockRequest& r) override;
  void block_status(BlockRequest& r) override;

  // Whether several event loops may call the handler for this device at once (ublk queues).
  bool multi_queue() const { return plugin_.multi_queue(); }
  // Whether reads and writes may carry their data as a registered buffer of the loop's ring
  // (kBlockFixedBuffer): a NONBLOCKING handler that reported LUNKIT_CAP_FIXED_BUFFERS.
  bool takes_fixed_buffers() const { return fixed_buffers_; }
  const std::string& subtype() const { return plugin_.subtype(); }
  const std::string& name() const { return device_.name; }

  // Lets the handler's handle_cmd() see each command first (when it has one).
  void install_raw_hook(scsi::LogicalUnitOptions& options);
  // The handler's reconfig(), or its default: size and cfgstring changes refused. Runs on the
  // device's loop (see bind_loop) and returns its result; call it from any other thread.
  int reconfigure(uint64_t new_size, const char* new_cfgstring, int write_cache);

  // Called by lunkit_io_complete(): finishes the request or continues an emulation.
  static void io_complete(BlockRequest& r, int result);

 private:
  PluginBlockDevice(const Plugin& plugin, WorkerPool* pool) : plugin_(plugin), pool_(pool) {}
  void dispatch(BlockRequest& r, uint64_t op);
  static void call(BlockRequest& r);
  // LUNKIT_THREAD_SERIALIZED: runs `r` on the pool now if no request of this device is with the
  // handler, else queues it (intrusively: no allocation) behind the others.
  void serial_submit(BlockRequest& r);
  // The request with the handler completed: starts the next queued one, if any.
  void serial_release();
  static bool raw_command(void* context, scsi::Command& cmd);
  void next_zero_chunk(BlockRequest& r);
  int reconfigure_here(uint64_t new_size, const char* new_cfgstring, int write_cache);

  const Plugin& plugin_;
  WorkerPool* pool_;
  WorkerPool::Tally pool_jobs_;  // this device's jobs on the pool, waited for at close
  Poster post_;
  void* handle_ = nullptr;
  lunkit_device device_;
  DeviceInfo info_;
  bool fast_zero_ = false;      // LUNKIT_CAP_FAST_ZERO (ABI 2)
  bool fixed_buffers_ = false;  // LUNKIT_CAP_FIXED_BUFFERS (ABI 2), see takes_fixed_buffers()
  // LUNKIT_THREAD_SERIALIZED: whether a request is with the handler, and those waiting for it.
  std::mutex serial_mu_;
  bool serial_busy_ = false;
  BlockRequest* serial_head_ = nullptr;
  BlockRequest* serial_tail_ = nullptr;
};

}  // namespace lunkit::plugins

#include "ublk/server.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

namespace lunkit::ublk {
namespace {

std::string errno_text(int negative) {
  return std::strerror(-negative);
}

}  // namespace

Result<bool> check_threads(uint16_t queues, uint16_t depth, uint16_t threads) {
  if (threads > depth)
    return Error{"--threads " + std::to_string(threads) + " is more than the queue depth (" +
                 std::to_string(depth) + "): a thread would have no tag to serve"};
  // One ring holds every tag a thread serves (Queue::create); thread 0 has the most.
  uint32_t busiest = uint32_t{queues} * ((depth + threads - 1u) / threads);
  if (busiest > kMaxQueueDepth)
    return Error{"--threads " + std::to_string(threads) + " cannot serve " +
                 std::to_string(queues) + " queues of depth " + std::to_string(depth) + " (" +
                 std::to_string(busiest) + " tags for one thread; at most " +
                 std::to_string(kMaxQueueDepth) + "): use more threads"};
  return true;
}

Result<uint64_t> kernel_features(Control& control) {
  uint64_t features = 0;
  int rc = control.get_features(&features);
  if (rc < 0)
    return Error{"the ublk driver does not answer GET_FEATURES (" + errno_text(rc) +
                 "); lunkit needs Linux 6.1 or later"};
  return features;
}

Server::~Server() {
  end_queues();
}

Result<bool> Server::open_char_device() {
  std::string path = "/dev/ublkc" + std::to_string(info_.dev_id);
  // The node appears when devtmpfs or udev creates it; give that a moment.
  for (int attempt = 0;; ++attempt) {
    char_fd_.reset(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    if (char_fd_) return true;
    if (errno != ENOENT || attempt >= 300) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Error{path + ": " + std::strerror(errno)};
}

Result<bool> Server::start_queues(bool read_only, uint32_t retry_timeout_ms, uint16_t threads) {
  exit_fd_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!exit_fd_) return Error{std::string("eventfd: ") + std::strerror(errno)};
  const std::string device = "ublk" + std::to_string(info_.dev_id);
  if (threads && !(info_.flags & kFlagPerIoDaemon)) {
    spdlog::warn(
        "{}: this kernel's ublk lacks UBLK_F_PER_IO_DAEMON (Linux 6.12 does, 6.16 has it), so "
        "each queue is served by its own thread: {} thread(s), not {}",
        device, info_.nr_hw_queues, threads);
    threads = 0;
  }
  if (threads)  // recover: the record's thread count against the device it finds
    if (auto ok = check_threads(info_.nr_hw_queues, info_.queue_depth, threads); !ok) return ok;
  per_io_daemons_ = threads > 0;
  const uint16_t count = per_io_daemons_ ? threads : info_.nr_hw_queues;
  for (uint16_t i = 0; i < count; ++i) {
    QueueConfig c;
    c.char_fd = char_fd_.get();
    c.q_id = i;
    c.depth = info_.queue_depth;
    c.io_buf_bytes = info_.max_io_buf_bytes;
    c.read_only = read_only;
    c.retry_timeout_ms = retry_timeout_ms;
    c.zero_copy = info_.flags & kFlagAutoBufReg;
    if (per_io_daemons_) {
      // Every thread serves tags of every queue: pinning one to a queue's CPUs would undo that.
      c.tags = spread_tags(info_.nr_hw_queues, info_.queue_depth, threads, i);
      c.name = device + "/t" + std::to_string(i);
    } else {
      c.name = device + "/q" + std::to_string(i);
      if (int rc = control_.get_queue_affinity(info_.dev_id, i, &c.cpus); rc == 0)
        c.pin = true;
      else
        spdlog::debug("{}: GET_QUEUE_AFFINITY: {}; the queue thread is not pinned", c.name,
                      errno_text(rc));
    }
    auto queue = Queue::create(c, device_);
    if (!queue) return Error{queue.error()};
    queues_.push_back(std::move(*queue));
  }
  per_thread_requests_.assign(count, 0);
  for (auto& q : queues_) q->start(exit_fd_.get());
  for (auto& q : queues_)
    if (auto ok = q->wait_ready(); !ok) return ok;
  return true;
}

void Server::end_queues() {
  for (auto& q : queues_) q->stop();
  for (auto& q : queues_) q->join();
}

bool Server::all_queues_finished() const {
  for (const auto& q : queues_)
    if (!q->finished()) return false;
  return true;
}

std::vector<uint64_t> Server::requests_per_thread() const {
  if (queues_.empty()) return per_thread_requests_;
  std::vector<uint64_t> out;
  for (const auto& q : queues_) out.push_back(q->stats().requests);
  return out;
}

// Before the queues go: what they served stays readable.
void Server::keep_stats() {
  ended_stats_ = stats();
  per_thread_requests_ = requests_per_thread();
}

QueueStats Server::stats() const {
  QueueStats s = ended_stats_;
  for (const auto& q : queues_) {
    QueueStats t = q->stats();
    s.requests += t.requests;
    s.errors += t.errors;
    s.retries += t.retries;
    s.gave_up += t.gave_up;
    s.remote_completions += t.remote_completions;
    s.waits += t.waits;
    s.zero_copy += t.zero_copy;
  }
  return s;
}

Result<std::unique_ptr<Server>> Server::add(Control& control, BlockDevice& device,
                                            const ServeOptions& options) {
  auto params = make_params(device.info(), options.io_buf_bytes, options.read_only);
  if (!params) return Error{params.error()};
  if (options.queues == 0 || options.queues > 32)
    return Error{"--queues must be 1 to 32 (got " + std::to_string(options.queues) + ")"};
  if (options.depth == 0 || options.depth > kMaxQueueDepth)
    return Error{"--depth must be 1 to 4096 (got " + std::to_string(options.depth) + ")"};
  if (options.threads > 32)
    return Error{"--threads must be 1 to 32 (got " + std::to_string(options.threads) + ")"};
  auto features = kernel_features(control);
  if (!features) return Error{features.error()};
  if (options.threads && (*features & kFlagPerIoDaemon))
    if (auto ok = check_threads(options.queues, options.depth, options.threads); !ok)
      return Error{ok.error()};

  std::unique_ptr<Server> s(new Server(control, device));
  DevInfo& info = s->info_;
  info.nr_hw_queues = options.queues;
  info.queue_depth = options.depth;
  info.max_io_buf_bytes = options.io_buf_bytes;
  info.dev_id = ~0u;
  // Each optional feature is asked for only when GET_FEATURES offers it; without it lunkit does
  // what it did on 6.12 (resize: refused; hand-over: the queues close their rings).
  info.flags = kFlagCmdIoctlEncode | (*features & kFlagUpdateSize);
  if (options.recovery && (*features & kFlagUserRecovery))
    info.flags |= kFlagUserRecovery | (*features & (kFlagUserRecoveryReissue | kFlagQuiesce));
  // Zero copy as UBLK_F_AUTO_BUF_REG alone: the kernel registers each request's pages on the
  // queue's ring as it hands the request over and unregisters them at the commit, with no
  // REGISTER_IO_BUF command per request (which SUPPORT_ZERO_COPY would need).
  if (options.zero_copy && (*features & kFlagAutoBufReg)) info.flags |= kFlagAutoBufReg;
  // Per-I/O daemons are asked for where they are used (6.18 reports the flag on every device).
  if (options.threads) info.flags |= *features & kFlagPerIoDaemon;
  int rc = control.add_device(&info);
  if (rc < 0) return Error{"ADD_DEV: " + errno_text(rc)};
  s->added_ = true;
  // From here on a failure deletes the device again (the destructor of the caller's Server
  // does not: remove() does, so do it here).
  auto fail = [&](std::string why) -> Result<std::unique_ptr<Server>> {
    (void)s->remove();
    return Error{std::move(why)};
  };
  rc = control.set_params(info.dev_id, *params);
  if (rc < 0) return fail("SET_PARAMS: " + errno_text(rc));
  if (auto ok = s->open_char_device(); !ok) return fail(ok.error());
  if (auto ok = s->start_queues(options.read_only, options.retry_timeout_ms, options.threads); !ok)
    return fail(ok.error());
  // START_DEV adds the disk, and the kernel reads its partition table: the queues serve that.
  rc = control.start(info.dev_id, getpid());
  if (rc < 0) return fail("START_DEV: " + errno_text(rc));
  s->started_ = true;
  control.get_info(info.dev_id, &info);
  s->size_bytes_ = params->basic.dev_sectors * 512;
  return s;
}

Result<std::unique_ptr<Server>> Server::recover(Control& control, uint32_t dev_id,
                                                BlockDevice& device, bool takes_fixed_buffers,
                                                bool read_only, uint32_t retry_timeout_ms,
                                                uint16_t threads) {
  std::unique_ptr<Server> s(new Server(control, device));
  DevInfo& info = s->info_;
  int rc = control.get_info(dev_id, &info);
  if (rc == -ENODEV) return Error{"there is no ublk device " + std::to_string(dev_id)};
  if (rc < 0) return Error{"GET_DEV_INFO: " + errno_text(rc)};
  if (!(info.flags & kFlagUserRecovery))
    return Error{"ublk" + std::to_string(dev_id) +
                 " was created without user recovery; it cannot be served again"};
  if ((info.flags & kFlagAutoBufReg) && !takes_fixed_buffers)
    return Error{"ublk" + std::to_string(dev_id) +
                 " was created with zero copy, which this handler cannot serve (it does not report "
                 "LUNKIT_CAP_FIXED_BUFFERS here)"};
  Params params;
  rc = control.get_params(dev_id, &params);
  if (rc < 0) return Error{"GET_PARAMS: " + errno_text(rc)};
  const DeviceInfo& di = device.info();
  uint64_t bytes = di.num_blocks * di.logical_block_size;
  if (bytes != params.basic.dev_sectors * 512 ||
      di.logical_block_size != (1u << params.basic.logical_bs_shift))
    return Error{"the handler's device (" + std::to_string(bytes) + " bytes, blocks of " +
                 std::to_string(di.logical_block_size) + ") is not the one ublk" +
                 std::to_string(dev_id) + " had (" +
                 std::to_string(params.basic.dev_sectors * 512) + " bytes)"};
  // The dying server must have released the char device and the kernel quiesced the device;
  // both take a moment after the process is gone.
  for (int attempt = 0;; ++attempt) {
    rc = control.start_recovery(dev_id);
    if (rc != -EBUSY || attempt >= 500) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (rc == -EBUSY)
    return Error{"ublk" + std::to_string(dev_id) + " is still served by a running process"};
  if (rc < 0) return Error{"START_USER_RECOVERY: " + errno_text(rc)};
  s->started_ = true;  // from now on STOP_DEV is what takes the device down
  if (auto ok = s->open_char_device(); !ok) return Error{ok.error()};
  if (auto ok = s->start_queues(read_only || (params.basic.attrs & kAttrReadOnly), retry_timeout_ms,
                                threads);
      !ok)
    return Error{ok.error()};
  rc = control.end_recovery(dev_id, getpid());
  if (rc < 0) return Error{"END_USER_RECOVERY: " + errno_text(rc)};
  s->added_ = true;
  control.get_info(dev_id, &info);
  s->size_bytes_ = bytes;
  return s;
}

Result<bool> Server::remove() {
  std::string problem;
  if (started_) {
    int rc = control_.stop(info_.dev_id);  // the queues keep serving until del_gendisk is done
    if (rc < 0 && rc != -ENODEV) problem = "STOP_DEV: " + errno_text(rc);
    started_ = false;
  }
  end_queues();  // they end by themselves once every tag is aborted
  keep_stats();
  queues_.clear();  // unmaps the descriptors: DEL_DEV waits for every reference to the char device
  char_fd_.reset();
  if (added_) {
    int rc = control_.remove(info_.dev_id);
    if (rc < 0 && rc != -ENODEV && problem.empty()) problem = "DEL_DEV: " + errno_text(rc);
    added_ = false;
  }
  if (!problem.empty()) return Error{problem};
  return true;
}

Result<bool> Server::resize(uint64_t bytes) {
  if (!(info_.flags & kFlagUpdateSize))
    return Error{block_path() +
                 " was created without UBLK_F_UPDATE_SIZE, which ublk needs to resize a device "
                 "in use (Linux 6.12 lacks it, 6.18 has it); delete it and add it again with "
                 "the new size"};
  if (bytes == 0 || bytes % 512)
    return Error{"a ublk device's size is a non-zero multiple of 512 bytes (got " +
                 std::to_string(bytes) + ")"};
  if (bytes == size_bytes_) return true;
  auto set_queues = [&](uint64_t b) {
    for (auto& q : queues_) q->set_device_bytes(b);
  };
  // Growing: the queues accept the new blocks before the kernel can send them; shrinking: the
  // kernel stops sending the old ones first.
  if (bytes > size_bytes_) set_queues(bytes);
  int rc = control_.update_size(info_.dev_id, bytes / 512);
  if (rc < 0) {
    set_queues(size_bytes_);
    return Error{"UPDATE_SIZE: " + errno_text(rc)};
  }
  set_queues(bytes);
  size_bytes_ = bytes;
  return true;
}

Result<bool> Server::hand_over() {
  if (!(info_.flags & kFlagUserRecovery))
    return Error{block_path() +
                 " was created without user recovery; no other server can take it over"};
  // Without QUIESCE_DEV (Linux 6.12) a server that lets go under I/O was seen to leave the next
  // one stuck in the kernel for good (a hung task in the VM), so there is no hand-over there:
  // the running server keeps the device. (A killed server's device is still recovered.)
  if (!(info_.flags & kFlagQuiesce))
    return Error{block_path() +
                 " was created without UBLK_F_QUIESCE (this kernel's ublk lacks it: Linux 6.12 "
                 "does, 6.18 has it), so it cannot be handed over while in use; it keeps being "
                 "served here"};
  // QUIESCE_DEV holds new requests in the kernel and ends the queues' idle fetches (they come
  // back aborted); what the handler already holds is finished and committed by end_queues(). A
  // request the kernel handed over just before is requeued for the next server
  // (USER_RECOVERY_REISSUE) when the rings close.
  int rc = control_.quiesce(info_.dev_id, kHandOverTimeoutMs);
  if (rc < 0) return Error{"QUIESCE_DEV: " + errno_text(rc)};
  end_queues();
  keep_stats();
  queues_.clear();
  char_fd_.reset();
  // The device is the next server's now: neither STOP_DEV nor DEL_DEV is ours to send.
  started_ = false;
  added_ = false;
  return true;
}

}  // namespace lunkit::ublk

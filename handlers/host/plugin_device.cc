#include "handlers/host/plugin_device.h"

#include <liburing.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>

namespace lunkit::plugins {
namespace {

static_assert(LUNKIT_IO_FUA == kBlockFua && LUNKIT_IO_MAY_UNMAP == kBlockMayUnmap &&
              LUNKIT_IO_FAST_ZERO == kBlockFastZero);
static_assert(sizeof(BlockRequest::device_private) >= LUNKIT_IO_PRIVATE_MAX);

// device_scratch layout while the plugin host owns a request.
enum Scratch {
  kOp = 0,
  kDevice = 1,
  kPoolNext = 2,
  kPoolJob = 3,
  kCursor = 4,
  kSerialNext = 5,  // LUNKIT_THREAD_SERIALIZED's queue of requests waiting for the handler
  kIovBase = 6,
  kIovLen = 7
};
enum Op : uint64_t {
  kRead = 1,
  kWrite,
  kFlush,
  kUnmap,
  kWriteZeroes,
  kCompareAndWrite,
  kBlockStatus,
  kZeroFill
};

constexpr size_t kZeroChunk = 1u << 20;

// One shared, never-written buffer of zeros (aligned for O_DIRECT handlers).
const uint8_t* zeros() {
  static const uint8_t* buf = [] {
    void* p = nullptr;
    if (posix_memalign(&p, 4096, kZeroChunk) != 0) std::abort();
    std::memset(p, 0, kZeroChunk);
    return static_cast<const uint8_t*>(p);
  }();
  return buf;
}

lunkit_io* token(BlockRequest& r) {
  return reinterpret_cast<lunkit_io*>(&r);
}
// The registered buffer holding a read's or write's data, or -1 (lunkit_io_fixed_buffer).
int fixed_buffer_of(const BlockRequest& r) {
  uint64_t op = r.device_scratch[kOp];
  if ((op != kRead && op != kWrite) || !(r.flags & kBlockFixedBuffer)) return -1;
  return block_fixed_buffer_index(r.flags);
}
PluginBlockDevice& device_of(BlockRequest& r) {
  return *reinterpret_cast<PluginBlockDevice*>(r.device_scratch[kDevice]);
}

// The handler calls in progress on this thread, innermost first: the request (or command) each
// one is for, and whether it was completed during the call. A second completion of it during the
// same call is dropped (a C++ method that completed and then threw: its thunk completes with
// -EIO). Nested frames come from completions that submit the next request on the same thread.
struct CallFrame {
  const void* what;
  bool is_cmd;
  bool completed = false;
  CallFrame* up;
};
thread_local CallFrame* t_calls = nullptr;

class CallScope {
 public:
  CallScope(const void* what, bool is_cmd) : frame_{what, is_cmd, false, t_calls} {
    t_calls = &frame_;
  }
  ~CallScope() { t_calls = frame_.up; }
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;

 private:
  CallFrame frame_;
};

}  // namespace

// Whether this completion of `what` is the first during the call that handed it to the handler
// on this thread (or comes from elsewhere): false for a second one, which is to be ignored.
static bool first_completion(const void* what, bool is_cmd) {
  for (CallFrame* f = t_calls; f; f = f->up) {
    if (f->what != what || f->is_cmd != is_cmd) continue;
    if (f->completed) return false;
    f->completed = true;
    return true;
  }
  return true;
}

namespace {

void copy_name(char* dst, size_t n, const char* src) {
  size_t len = strnlen(src, n - 1);
  std::memcpy(dst, src, len);
  dst[len] = 0;
}

}  // namespace

Result<std::unique_ptr<PluginBlockDevice>> PluginBlockDevice::open(const Plugin& plugin,
                                                                   const OpenParams& params,
                                                                   WorkerPool* pool) {
  std::unique_ptr<PluginBlockDevice> dev(new PluginBlockDevice(plugin, pool));
  dev->device_.name = params.name;
  dev->device_.frontend = params.frontend;
  lunkit_device_info ci{};
  ci.size = params.size;
  ci.block_size = params.block_size;
  ci.cmd_time_out = params.cmd_time_out;
  ci.struct_size = sizeof ci;
  ci.host_abi_version = LUNKIT_HANDLER_ABI_VERSION;
  ci.frontend = params.frontend;
  ci.queue_depth = params.queue_depth;
  ci.nr_queues = plugin.multi_queue() ? std::max<uint32_t>(params.nr_queues, 1) : 1;
  char reason[512] = {};
  dev->handle_ =
      plugin.handler().open(&dev->device_, params.cfgstring.c_str(), &ci, reason, sizeof reason);
  if (!dev->handle_) {
    reason[sizeof reason - 1] = 0;
    return Error{reason[0] ? reason : "the handler could not open the device"};
  }
  auto fail = [&](std::string why) -> Result<std::unique_ptr<PluginBlockDevice>> {
    plugin.handler().close(dev->handle_);
    dev->handle_ = nullptr;
    return Error{std::move(why)};
  };
  if (ci.block_size < 512 || ci.block_size > 65536 || (ci.block_size & (ci.block_size - 1)))
    return fail("the handler reported block size " + std::to_string(ci.block_size));
  if (ci.size % ci.block_size)
    return fail("size " + std::to_string(ci.size) + " is not a multiple of the block size");
  uint32_t pbs = ci.physical_block_size ? ci.physical_block_size : ci.block_size;
  if (pbs < ci.block_size || pbs % ci.block_size ||
      ((pbs / ci.block_size) & (pbs / ci.block_size - 1)))
    return fail("physical block size " + std::to_string(pbs) + " does not fit the block size");

  DeviceInfo& info = dev->info_;
  dev->device_.block_size = ci.block_size;
  info.num_blocks = ci.size / ci.block_size;
  dev->device_.blocks = info.num_blocks;
  info.logical_block_size = ci.block_size;
  info.physical_block_size = pbs;
  uint32_t caps = ci.capabilities;
  info.thin_provisioning = (caps & LUNKIT_CAP_THIN) && plugin.callback(&lunkit_handler::unmap);
  info.unmap_reads_zero = info.thin_provisioning && (caps & LUNKIT_CAP_UNMAP_ZEROES);
  info.write_cache = caps & LUNKIT_CAP_WRITE_CACHE;
  info.fua = caps & LUNKIT_CAP_FUA;
  info.rotational = caps & LUNKIT_CAP_ROTATIONAL;
  info.read_only = caps & LUNKIT_CAP_READ_ONLY;
  info.native_compare_and_write = plugin.callback(&lunkit_handler::compare_and_write) != nullptr;
  if (info.native_compare_and_write && ci.max_compare_and_write) {
    info.max_compare_and_write_blocks = ci.max_compare_and_write / ci.block_size;
    if (!info.max_compare_and_write_blocks) info.native_compare_and_write = false;
  }
  info.native_block_status = plugin.callback(&lunkit_handler::block_status) != nullptr;
  // Output fields of ABI version 2: a version-1 plugin never wrote them (they keep their
  // defaults whatever the struct holds).
  if (plugin.abi_version() >= 2) {
    dev->fast_zero_ =
        (caps & LUNKIT_CAP_FAST_ZERO) && plugin.callback(&lunkit_handler::write_zeroes);
    // A handler on the pool's threads has no ring of the loop to use a fixed buffer with.
    dev->fixed_buffers_ = (caps & LUNKIT_CAP_FIXED_BUFFERS) && !plugin.uses_pool();
    if (info.thin_provisioning) {
      uint32_t bs = ci.block_size;
      if (ci.unmap_granularity % bs || ci.unmap_alignment % bs ||
          (ci.unmap_granularity && ci.unmap_alignment >= ci.unmap_granularity) ||
          (!ci.unmap_granularity && ci.unmap_alignment) || ci.max_unmap % bs)
        return fail("unmap granularity " + std::to_string(ci.unmap_granularity) + ", alignment " +
                    std::to_string(ci.unmap_alignment) + " and maximum " +
                    std::to_string(ci.max_unmap) + " must be multiples of the block size " +
                    std::to_string(bs) + ", the alignment below the granularity");
      info.unmap_granularity_blocks = std::max<uint32_t>(ci.unmap_granularity / bs, 1);
      info.unmap_alignment_blocks = ci.unmap_alignment / bs;
      info.max_unmap_blocks = ci.max_unmap / bs;
    }
  }
  uint32_t max_blocks = ci.max_transfer ? ci.max_transfer / ci.block_size : 0;
  // The handler's own limit is a hard one (libscsi splits longer commands); the kernel's
  // hw_max_sectors only lowers what Block Limits advertises, as LIO's own backstores do.
  info.max_request_blocks = max_blocks ? max_blocks : (ci.max_transfer ? 1 : 0);
  if (params.max_sectors && (!max_blocks || params.max_sectors < max_blocks))
    max_blocks = params.max_sectors;
  info.max_transfer_blocks = max_blocks;
  info.optimal_granularity_blocks = ci.optimal_transfer / ci.block_size;
  char text[66];
  copy_name(text, 9, ci.vendor);
  info.vendor = text;
  copy_name(text, 17, ci.product);
  info.product = text;
  copy_name(text, 5, ci.revision);
  info.revision = text;
  copy_name(text, 65, ci.unit_serial);
  info.unit_serial = text;
  return dev;
}

PluginBlockDevice::~PluginBlockDevice() {
  // No worker is still inside the handler for this device (another device's work may go on).
  if (pool_) pool_->wait_idle(pool_jobs_);
  if (handle_) plugin_.handler().close(handle_);
}

void PluginBlockDevice::dispatch(BlockRequest& r, uint64_t op) {
  r.device_scratch[kOp] = op;
  r.device_scratch[kDevice] = reinterpret_cast<uint64_t>(this);
  if (plugin_.serialized())
    serial_submit(r);
  else if (pool_ && plugin_.uses_pool())
    pool_->run(r, &PluginBlockDevice::call, &pool_jobs_);
  else
    call(r);
}

void PluginBlockDevice::serial_submit(BlockRequest& r) {
  {
    std::lock_guard lock(serial_mu_);
    if (serial_busy_) {
      r.device_scratch[kSerialNext] = 0;
      if (serial_tail_)
        serial_tail_->device_scratch[kSerialNext] = reinterpret_cast<uint64_t>(&r);
      else
        serial_head_ = &r;
      serial_tail_ = &r;
      return;
    }
    serial_busy_ = true;
  }
  if (pool_)
    pool_->run(r, &PluginBlockDevice::call, &pool_jobs_);
  else
    call(r);
}

void PluginBlockDevice::serial_release() {
  BlockRequest* next;
  {
    std::lock_guard lock(serial_mu_);
    next = serial_head_;
    if (!next) {
      serial_busy_ = false;
      return;
    }
    serial_head_ = reinterpret_cast<BlockRequest*>(next->device_scratch[kSerialNext]);
    if (!serial_head_) serial_tail_ = nullptr;
  }
  // serial_busy_ stays set: the slot passes to `next`.
  if (pool_)
    pool_->run(*next, &PluginBlockDevice::call, &pool_jobs_);
  else
    call(*next);
}

// Calls the handler for the request's operation (on the loop thread or a worker).
void PluginBlockDevice::call(BlockRequest& r) {
  PluginBlockDevice& d = device_of(r);
  const lunkit_handler& h = d.plugin_.handler();
  lunkit_io* io = token(r);
  CallScope scope(&r, false);
  int iovcnt = static_cast<int>(r.iov.size());
  switch (r.device_scratch[kOp]) {
    case kRead:
      return h.read(d.handle_, io, r.iov.data(), iovcnt, r.offset, r.length);
    case kWrite:
      return h.write(d.handle_, io, r.iov.data(), iovcnt, r.offset, r.length,
                     r.flags & ~kBlockFixedBufferBits);
    case kFlush:
      if (auto f = d.plugin_.callback(&lunkit_handler::flush)) return f(d.handle_, io);
      return io_complete(r, 0);
    case kUnmap:
      if (auto f = d.plugin_.callback(&lunkit_handler::unmap))
        return f(d.handle_, io, r.offset, r.length);
      return io_complete(r, -EOPNOTSUPP);
    case kWriteZeroes:
      // Fast zero: only a handler that said it honours the flag sees it.
      if (auto f = d.plugin_.callback(&lunkit_handler::write_zeroes);
          f && (d.fast_zero_ || !(r.flags & kBlockFastZero)))
        return f(d.handle_, io, r.offset, r.length, r.flags);
      return io_complete(r, -EOPNOTSUPP);
    case kCompareAndWrite:
      return d.plugin_.callback(&lunkit_handler::compare_and_write)(d.handle_, io, r.iov.data(),
                                                                    iovcnt, r.offset, r.length);
    case kBlockStatus:
      return d.plugin_.callback(&lunkit_handler::block_status)(d.handle_, io, r.offset, r.length);
    case kZeroFill: {
      uint64_t done = r.device_scratch[kCursor];
      return h.write(d.handle_, io, &r.device_iov, 1, r.offset + done, r.device_iov.iov_len,
                     r.flags & kBlockFua);
    }
  }
  io_complete(r, -EINVAL);
}

// Default write_zeroes: zero buffers written in chunks through the handler's write().
void PluginBlockDevice::next_zero_chunk(BlockRequest& r) {
  if (r.device_scratch[kOp] != kZeroFill) {
    r.device_scratch[kOp] = kZeroFill;
    r.device_scratch[kCursor] = 0;
  }
  uint64_t done = r.device_scratch[kCursor];
  if (done >= r.length) return r.complete(0);
  r.device_iov.iov_base = const_cast<uint8_t*>(zeros());
  r.device_iov.iov_len = std::min<uint64_t>(kZeroChunk, r.length - done);
  dispatch(r, kZeroFill);
}

void PluginBlockDevice::io_complete(BlockRequest& r, int result) {
  uint64_t op = r.device_scratch[kOp];
  PluginBlockDevice& d = device_of(r);
  // The handler is done with this call: the next serialized request may go (before the
  // completion below, which may submit more requests from inside it).
  if (d.plugin_.serialized()) d.serial_release();
  // A fast zero that is not fast is the caller's to handle: no zeros are written for it.
  if (op == kWriteZeroes && result == -EOPNOTSUPP && !(r.flags & kBlockFastZero))
    return d.next_zero_chunk(r);
  if (op == kZeroFill && result >= 0) {
    r.device_scratch[kCursor] += r.device_iov.iov_len;
    return d.next_zero_chunk(r);
  }
  r.complete(result < 0 ? result : 0);
}

void PluginBlockDevice::install_raw_hook(scsi::LogicalUnitOptions& options) {
  if (!plugin_.callback(&lunkit_handler::handle_cmd)) return;
  options.raw_command = &PluginBlockDevice::raw_command;
  options.raw_context = this;
}

bool PluginBlockDevice::raw_command(void* context, scsi::Command& cmd) {
  auto* d = static_cast<PluginBlockDevice*>(context);
  auto fn = d->plugin_.callback(&lunkit_handler::handle_cmd);
  CallScope scope(&cmd, true);
  return fn(d->handle_, reinterpret_cast<lunkit_cmd*>(&cmd)) == LUNKIT_CMD_ACCEPTED;
}

int PluginBlockDevice::reconfigure(uint64_t new_size, const char* new_cfgstring, int write_cache) {
  if (!post_) return reconfigure_here(new_size, new_cfgstring, write_cache);
  // The loop reads the handler's state and info_ with every command it runs: change them there.
  std::string cfg = new_cfgstring ? new_cfgstring : "";
  std::promise<int> result;
  post_([&] {
    result.set_value(
        reconfigure_here(new_size, new_cfgstring ? cfg.c_str() : nullptr, write_cache));
  });
  return result.get_future().get();
}

int PluginBlockDevice::reconfigure_here(uint64_t new_size, const char* new_cfgstring,
                                        int write_cache) {
  if (auto fn = plugin_.callback(&lunkit_handler::reconfig)) {
    int rc = fn(handle_, new_size, new_cfgstring, write_cache);
    if (rc == 0 && new_size) {
      info_.num_blocks = new_size / info_.logical_block_size;
      std::lock_guard lock(device_.resize_mu);
      device_.blocks = info_.num_blocks;
    }
    return rc;
  }
  return (new_size || new_cfgstring) ? -EOPNOTSUPP : 0;
}

void PluginBlockDevice::read(BlockRequest& r) {
  dispatch(r, kRead);
}
void PluginBlockDevice::write(BlockRequest& r) {
  dispatch(r, kWrite);
}
void PluginBlockDevice::flush(BlockRequest& r) {
  dispatch(r, kFlush);
}
void PluginBlockDevice::unmap(BlockRequest& r) {
  dispatch(r, kUnmap);
}
void PluginBlockDevice::write_zeroes(BlockRequest& r) {
  dispatch(r, kWriteZeroes);
}
void PluginBlockDevice::compare_and_write(BlockRequest& r) {
  if (!info_.native_compare_and_write) return BlockDevice::compare_and_write(r);
  dispatch(r, kCompareAndWrite);
}
void PluginBlockDevice::block_status(BlockRequest& r) {
  if (!info_.native_block_status) return BlockDevice::block_status(r);
  dispatch(r, kBlockStatus);
}

}  // namespace lunkit::plugins

// ---- The functions handlers call ----
using lunkit::BlockRequest;

extern "C" {

__attribute__((visibility("default"))) void lunkit_io_complete(lunkit_io* io, int result) {
  if (!lunkit::plugins::first_completion(io, false)) {
    spdlog::error("{}: the handler completed an I/O twice; the second completion ({}) is ignored",
                  lunkit::plugins::device_of(*reinterpret_cast<BlockRequest*>(io)).name(), result);
    return;
  }
  lunkit::plugins::PluginBlockDevice::io_complete(*reinterpret_cast<BlockRequest*>(io), result);
}

__attribute__((visibility("default"))) void* lunkit_io_private(lunkit_io* io) {
  return reinterpret_cast<BlockRequest*>(io)->device_private;
}

__attribute__((visibility("default"))) int lunkit_io_fixed_buffer(lunkit_io* io) {
  return lunkit::plugins::fixed_buffer_of(*reinterpret_cast<BlockRequest*>(io));
}

__attribute__((visibility("default"))) void lunkit_io_set_miscompare(lunkit_io* io,
                                                                     uint64_t offset) {
  reinterpret_cast<BlockRequest*>(io)->miscompare_offset = offset;
}

__attribute__((visibility("default"))) int lunkit_io_add_extent(lunkit_io* io, uint64_t offset,
                                                                uint64_t length, int type) {
  auto& r = *reinterpret_cast<BlockRequest*>(io);
  if (r.extent_count >= r.extents.size()) return -1;
  auto& d = lunkit::plugins::device_of(r);
  bool hole = type & LUNKIT_EXTENT_HOLE;
  bool zero = (type & LUNKIT_EXTENT_ZERO) || (hole && d.info().unmap_reads_zero);
  r.extents[r.extent_count++] = lunkit::BlockExtent{offset, length, hole, zero};
  return 0;
}

__attribute__((visibility("default"))) const uint8_t* lunkit_cmd_cdb(lunkit_cmd* cmd,
                                                                     size_t* cdb_len) {
  auto& c = *reinterpret_cast<lunkit::scsi::Command*>(cmd);
  if (cdb_len) *cdb_len = std::min<size_t>(c.cdb_len, c.cdb.size());
  return c.cdb.data();
}

__attribute__((visibility("default"))) const iovec* lunkit_cmd_data(lunkit_cmd* cmd, int* iovcnt,
                                                                    size_t* length) {
  auto& c = *reinterpret_cast<lunkit::scsi::Command*>(cmd);
  if (iovcnt) *iovcnt = static_cast<int>(c.iov.size());
  if (length) *length = c.data_len;
  return c.iov.data();
}

__attribute__((visibility("default"))) void lunkit_cmd_complete(lunkit_cmd* cmd, uint8_t status,
                                                                const uint8_t* sense,
                                                                size_t sense_len,
                                                                size_t data_in_len) {
  auto& c = *reinterpret_cast<lunkit::scsi::Command*>(cmd);
  if (!lunkit::plugins::first_completion(&c, true)) {
    spdlog::error("the handler answered a command twice; the second answer is ignored");
    return;
  }
  c.status = static_cast<lunkit::scsi::Status>(status);
  c.sense_len = 0;
  if (sense && sense_len) {
    c.sense_len = static_cast<uint8_t>(std::min(sense_len, c.sense.size()));
    std::memcpy(c.sense.data(), sense, c.sense_len);
  }
  c.data_in_len = static_cast<uint32_t>(std::min(data_in_len, c.data_len));
  c.data_in = c.data_in_len > 0;
  lunkit::scsi::complete_external(c);
}

__attribute__((visibility("default"))) io_uring_sqe* lunkit_get_sqe(
    lunkit_device* dev, lunkit_uring_completion* completion) {
  // The ring of the loop this thread runs (with several ublk queues, the queue's own). A loop's
  // ring has a single issuer, so any other thread (a worker, a library's callback thread, the
  // main thread) gets none: handing it one would race the loop's own submissions.
  (void)dev;
  lunkit::IoLoop* loop = lunkit::IoLoop::current();
  return loop ? loop->get_sqe(completion) : nullptr;
}

__attribute__((visibility("default"))) void lunkit_device_resized(lunkit_device* dev,
                                                                  uint64_t size) {
  std::lock_guard lock(dev->resize_mu);
  if (size % dev->block_size) {
    spdlog::error("{}: the handler reported a size of {} bytes, not a multiple of the block size",
                  dev->name, size);
    return;
  }
  if (size / dev->block_size == dev->blocks) return;
  dev->blocks = size / dev->block_size;
  spdlog::info("{}: the storage is now {} bytes", dev->name, size);
  if (dev->on_resized) dev->on_resized(dev->blocks);
}

namespace {
// lunkit_device_post() on the loop itself: a NOP on the loop's ring whose completion runs the
// work in a later iteration (not from inside the caller).
struct PostedWork {
  lunkit_uring_completion completion;
  void (*fn)(void*);
  void* arg;
  static void done(lunkit_uring_completion* c, int32_t) {
    auto* w = reinterpret_cast<PostedWork*>(c);
    auto fn = w->fn;
    auto arg = w->arg;
    delete w;
    fn(arg);
  }
};
static_assert(offsetof(PostedWork, completion) == 0);
}  // namespace

LUNKIT_API int lunkit_device_post(lunkit_device* dev, void (*fn)(void* arg), void* arg) {
  if (!dev || !fn) return -EINVAL;
  lunkit::IoLoop* here = lunkit::IoLoop::current();
  if (here && here == dev->loop) {
    auto* w = new (std::nothrow) PostedWork{{&PostedWork::done}, fn, arg};
    if (!w) return -ENOMEM;
    io_uring_sqe* sqe = here->get_sqe(&w->completion);
    if (!sqe) {
      delete w;
      return -EAGAIN;
    }
    io_uring_prep_nop(sqe);
    return 0;
  }
  std::lock_guard lock(dev->resize_mu);
  if (!dev->post) return dev->posting_stopped ? -ESHUTDOWN : -ENOTCONN;
  // Only ever on the loop: a device that stopped before its on_detached() runs a task at once on
  // the posting thread instead, and that one is dropped.
  dev->post([dev, fn, arg] {
    if (lunkit::IoLoop::current() == dev->loop) fn(arg);
  });
  return 0;
}

__attribute__((visibility("default"))) void lunkit_log(lunkit_device* dev, int level,
                                                       const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  static constexpr spdlog::level::level_enum kLevels[] = {
      spdlog::level::err, spdlog::level::warn, spdlog::level::info, spdlog::level::debug};
  spdlog::log(kLevels[level < 0 ? 0 : level > 3 ? 3 : level], "{}: {}", dev->name, buf);
}

}  // extern "C"

// The C API of libscsi (lunkit/scsi.h): the caller's callbacks as a BlockDevice, a LogicalUnit
// over it, and Commands the caller allocates once and reuses. Built into liblunkit-scsi only.
#include "lunkit/scsi.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>

#include "lunkit/scsi/logical_unit.h"

namespace {

using lunkit::BlockRequest;
using lunkit::DeviceInfo;
using lunkit::scsi::Command;
using lunkit::scsi::DataDirection;
using lunkit::scsi::LogicalUnit;

thread_local std::string last_error;

int fail(int rc, std::string why) {
  last_error = std::move(why);
  return rc;
}

// A request is handed to the caller as the opaque lunkit_scsi_io: no wrapper, no allocation.
lunkit_scsi_io* io_of(BlockRequest& r) {
  return reinterpret_cast<lunkit_scsi_io*>(&r);
}

static_assert(LUNKIT_SCSI_IO_FUA == lunkit::kBlockFua &&
                  LUNKIT_SCSI_IO_MAY_UNMAP == lunkit::kBlockMayUnmap,
              "scsi.h's request flags are libscsi's");

class CallbackDevice final : public lunkit::BlockDevice {
 public:
  CallbackDevice(const lunkit_scsi_device& d, DeviceInfo info) : d_(d), info_(std::move(info)) {}
  const DeviceInfo& info() const override { return info_; }
  void read(BlockRequest& r) override {
    d_.read(d_.context, io_of(r), r.offset, r.length, r.iov.data(), static_cast<int>(r.iov.size()));
  }
  void write(BlockRequest& r) override {
    d_.write(d_.context, io_of(r), r.offset, r.length, r.iov.data(), static_cast<int>(r.iov.size()),
             r.flags & LUNKIT_SCSI_IO_FUA);
  }
  void flush(BlockRequest& r) override {
    if (!d_.flush) return r.complete(0);  // no volatile cache: nothing to make durable
    d_.flush(d_.context, io_of(r));
  }
  void unmap(BlockRequest& r) override {
    if (!d_.unmap) return r.complete(-EOPNOTSUPP);  // not reached: THIN requires unmap()
    d_.unmap(d_.context, io_of(r), r.offset, r.length);
  }
  void write_zeroes(BlockRequest& r) override {
    // A fast-zero request has no SCSI source and no flag in this API: decline it.
    if (r.flags & lunkit::kBlockFastZero) return r.complete(-EOPNOTSUPP);
    d_.write_zeroes(d_.context, io_of(r), r.offset, r.length,
                    r.flags & (LUNKIT_SCSI_IO_FUA | LUNKIT_SCSI_IO_MAY_UNMAP));
  }

 private:
  lunkit_scsi_device d_;
  DeviceInfo info_;
};

bool power_of_two(uint32_t v) {
  return v && !(v & (v - 1));
}

// The DeviceInfo `d` describes, or an errno with last_error set.
int device_info(const lunkit_scsi_device& d, DeviceInfo* info) {
  if (!d.read || !d.write || !d.write_zeroes)
    return fail(-EINVAL, "lunkit_scsi_lu_new: read, write and write_zeroes are required");
  if ((d.capabilities & LUNKIT_SCSI_CAP_THIN) && !d.unmap)
    return fail(-EINVAL, "lunkit_scsi_lu_new: LUNKIT_SCSI_CAP_THIN needs unmap()");
  if ((d.capabilities & LUNKIT_SCSI_CAP_WRITE_CACHE) && !d.flush)
    return fail(-EINVAL, "lunkit_scsi_lu_new: LUNKIT_SCSI_CAP_WRITE_CACHE needs flush()");
  uint32_t lbs = d.logical_block_size ? d.logical_block_size : 512;
  uint32_t pbs = d.physical_block_size ? d.physical_block_size : lbs;
  if (!power_of_two(lbs) || lbs < 512 || lbs > 65536)
    return fail(-EINVAL, "lunkit_scsi_lu_new: logical_block_size " + std::to_string(lbs) +
                             " is not a power of two from 512 to 65536");
  if (!power_of_two(pbs) || pbs < lbs)
    return fail(-EINVAL, "lunkit_scsi_lu_new: physical_block_size " + std::to_string(pbs) +
                             " is not a power-of-two multiple of the logical block size");
  if (d.num_blocks == 0) return fail(-EINVAL, "lunkit_scsi_lu_new: num_blocks is 0");
  info->num_blocks = d.num_blocks;
  info->logical_block_size = lbs;
  info->physical_block_size = pbs;
  info->thin_provisioning = d.capabilities & LUNKIT_SCSI_CAP_THIN;
  info->unmap_reads_zero = d.capabilities & LUNKIT_SCSI_CAP_UNMAP_ZEROES;
  info->write_cache = d.capabilities & LUNKIT_SCSI_CAP_WRITE_CACHE;
  info->fua = d.capabilities & LUNKIT_SCSI_CAP_FUA;
  info->rotational = d.capabilities & LUNKIT_SCSI_CAP_ROTATIONAL;
  info->read_only = d.capabilities & LUNKIT_SCSI_CAP_READ_ONLY;
  info->max_transfer_blocks = d.max_transfer_blocks;
  info->max_request_blocks = d.max_request_blocks;
  info->unmap_granularity_blocks = d.unmap_granularity_blocks ? d.unmap_granularity_blocks : 1;
  info->unmap_alignment_blocks = d.unmap_alignment_blocks;
  if (d.vendor) info->vendor = d.vendor;
  if (d.product) info->product = d.product;
  if (d.revision) info->revision = d.revision;
  if (d.unit_serial) info->unit_serial = d.unit_serial;
  info->naa_wwn = d.naa_wwn;
  return 0;
}

}  // namespace

struct lunkit_scsi_cmd {
  Command command;
  void* user = nullptr;
  std::atomic<bool> in_flight{false};
};

struct lunkit_scsi_lu {
  lunkit_scsi_lu(const lunkit_scsi_device& d, DeviceInfo info, lunkit_scsi_done_fn fn, void* ctx)
      : device(d, std::move(info)), done(fn), done_context(ctx), unit(device, &completed, this) {}

  static void completed(void* context, Command& command) {
    auto* lu = static_cast<lunkit_scsi_lu*>(context);
    auto* cmd = static_cast<lunkit_scsi_cmd*>(command.transport_context);
    cmd->in_flight.store(false, std::memory_order_release);  // it may be submitted again now
    lu->done(lu->done_context, cmd);
    // Counted until the done function returned: then lunkit_scsi_lu_free() cannot free the unit
    // under a completion still running here.
    lu->in_flight.fetch_sub(1, std::memory_order_release);
  }

  CallbackDevice device;
  lunkit_scsi_done_fn done;
  void* done_context;
  std::atomic<uint64_t> in_flight{0};  // submitted, not yet completed
  LogicalUnit unit;                    // last: it refers to the device
};

extern "C" {

LUNKIT_API const char* lunkit_scsi_last_error(void) {
  return last_error.c_str();
}

LUNKIT_API void lunkit_scsi_io_complete(lunkit_scsi_io* io, int result) {
  // What runs next (the command's next step, its completion) is libscsi's and the caller's own
  // done function; an exception there has nowhere to go in a C caller.
  try {
    reinterpret_cast<BlockRequest*>(io)->complete(result);
  } catch (...) {
    std::terminate();
  }
}

LUNKIT_API int lunkit_scsi_lu_new(const lunkit_scsi_device* device, lunkit_scsi_done_fn done,
                                  void* done_context, lunkit_scsi_lu** out) {
  if (!out) return fail(-EINVAL, "lunkit_scsi_lu_new: out is NULL");
  *out = nullptr;
  if (!device || device->size < sizeof(lunkit_scsi_device))
    return fail(-EINVAL, "lunkit_scsi_lu_new: device is NULL or its size is not set");
  if (!done) return fail(-EINVAL, "lunkit_scsi_lu_new: no done function");
  DeviceInfo info;
  if (int rc = device_info(*device, &info); rc < 0) return rc;
  try {
    *out = new lunkit_scsi_lu(*device, std::move(info), done, done_context);
  } catch (const std::bad_alloc&) {
    return fail(-ENOMEM, "lunkit_scsi_lu_new: out of memory");
  }
  return 0;
}

LUNKIT_API int lunkit_scsi_lu_free(lunkit_scsi_lu* lu) {
  if (!lu) return 0;
  if (uint64_t n = lu->in_flight.load(std::memory_order_acquire))
    return fail(-EBUSY, "lunkit_scsi_lu_free: " + std::to_string(n) + " commands in flight");
  delete lu;
  return 0;
}

LUNKIT_API int lunkit_scsi_cmd_new(lunkit_scsi_cmd** out) {
  if (!out) return fail(-EINVAL, "lunkit_scsi_cmd_new: out is NULL");
  *out = new (std::nothrow) lunkit_scsi_cmd;
  return *out ? 0 : fail(-ENOMEM, "lunkit_scsi_cmd_new: out of memory");
}

LUNKIT_API void lunkit_scsi_cmd_free(lunkit_scsi_cmd* cmd) {
  delete cmd;
}

LUNKIT_API int lunkit_scsi_submit(lunkit_scsi_lu* lu, lunkit_scsi_cmd* cmd, const uint8_t* cdb,
                                  size_t cdb_len, struct iovec* iov, int iovcnt, int direction,
                                  void* user) {
  if (!lu || !cmd || !cdb) return fail(-EINVAL, "lunkit_scsi_submit: a NULL argument");
  if (cdb_len == 0 || cdb_len > cmd->command.cdb.size())
    return fail(-EINVAL,
                "lunkit_scsi_submit: a CDB of " + std::to_string(cdb_len) + " bytes (1 to 32)");
  if (iovcnt < 0 || (iovcnt > 0 && !iov))
    return fail(-EINVAL, "lunkit_scsi_submit: iovcnt " + std::to_string(iovcnt));
  if (direction < LUNKIT_SCSI_DIR_UNKNOWN || direction > LUNKIT_SCSI_DIR_OUT)
    return fail(-EINVAL, "lunkit_scsi_submit: direction " + std::to_string(direction));
  if (cmd->in_flight.exchange(true, std::memory_order_acq_rel))
    return fail(-EINVAL, "lunkit_scsi_submit: the command is in flight");
  Command& c = cmd->command;
  std::memcpy(c.cdb.data(), cdb, cdb_len);
  c.cdb_len = static_cast<uint8_t>(cdb_len);
  c.iov = std::span<iovec>(iov, static_cast<size_t>(iovcnt));
  c.data_len = 0;
  for (int i = 0; i < iovcnt; ++i) c.data_len += iov[i].iov_len;
  static constexpr DataDirection kDirections[] = {DataDirection::kUnknown, DataDirection::kNone,
                                                  DataDirection::kIn, DataDirection::kOut};
  c.direction = kDirections[direction];
  c.transport_context = cmd;
  cmd->user = user;
  lu->in_flight.fetch_add(1, std::memory_order_relaxed);
  try {
    lu->unit.submit(c);
  } catch (const std::bad_alloc&) {
    // Only a bounce buffer is allocated, before the command's first request: nothing ran.
    lu->in_flight.fetch_sub(1, std::memory_order_relaxed);
    cmd->in_flight.store(false, std::memory_order_release);
    return fail(-ENOMEM, "lunkit_scsi_submit: out of memory");
  }
  return 0;
}

LUNKIT_API uint8_t lunkit_scsi_cmd_status(const lunkit_scsi_cmd* cmd) {
  return static_cast<uint8_t>(cmd->command.status);
}

LUNKIT_API const uint8_t* lunkit_scsi_cmd_sense(const lunkit_scsi_cmd* cmd, size_t* len) {
  if (len) *len = cmd->command.sense_len;
  return cmd->command.sense.data();
}

LUNKIT_API size_t lunkit_scsi_cmd_data_in(const lunkit_scsi_cmd* cmd) {
  return cmd->command.data_in_len;
}

LUNKIT_API void* lunkit_scsi_cmd_user(const lunkit_scsi_cmd* cmd) {
  return cmd->user;
}

LUNKIT_API void lunkit_scsi_lu_set_capacity(lunkit_scsi_lu* lu, uint64_t num_blocks) {
  lu->unit.set_capacity(num_blocks);
}

LUNKIT_API void lunkit_scsi_lu_set_write_cache(lunkit_scsi_lu* lu, int enabled) {
  lu->unit.set_write_cache(enabled != 0);
}

LUNKIT_API void lunkit_scsi_lu_reset(lunkit_scsi_lu* lu) {
  lu->unit.reset();
}

LUNKIT_API uint64_t lunkit_scsi_lu_capacity(const lunkit_scsi_lu* lu) {
  return lu->unit.capacity();
}

LUNKIT_API uint64_t lunkit_scsi_lu_in_flight(const lunkit_scsi_lu* lu) {
  return lu->in_flight.load(std::memory_order_relaxed);
}

}  // extern "C"

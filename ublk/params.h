// What the kernel is told about a device, and what each request asks of it: the two translations
// between a lunkit BlockDevice and the ublk interface, kept free of I/O so they can be tested
// alone.
#pragma once

#include <cstdint>

#include "lunkit/block_device.h"
#include "lunkit/result.h"
#include "ublk/uapi.h"

namespace lunkit::ublk {

// The smallest request size limit the kernel accepts (one page), and lunkit's default per-request
// buffer.
inline constexpr uint32_t kMinIoBytes = 4096;
inline constexpr uint32_t kDefaultIoBytes = 512 * 1024;

// SET_PARAMS for a device: size, block sizes, request size limit, discard and write-zeroes limits
// (discard only when the device can unmap), volatile cache and FUA when it has a write cache,
// rotational and read-only attributes. `io_buf_bytes` is the per-request buffer the queues have.
Result<Params> make_params(const DeviceInfo& info, uint32_t io_buf_bytes, bool read_only);

// One request, decoded.
enum class Op : uint8_t { kRead, kWrite, kFlush, kDiscard, kWriteZeroes };
struct Request {
  Op op = Op::kRead;
  uint64_t offset = 0;  // bytes
  uint64_t length = 0;  // bytes
  uint32_t flags = 0;   // kBlockFua, kBlockMayUnmap
};

// Decodes a descriptor for a device of `device_bytes` with `block_size` logical blocks, whose
// request buffers hold `io_buf_bytes`. Returns 0, or the negative errno the request completes
// with: -EOPNOTSUPP for an operation lunkit does not serve (or a discard on a device that cannot
// unmap), -EROFS for a write to a read-only device, -EINVAL for a request that is empty, not
// block-aligned, larger than the buffer or past the end of the device.
int decode(const IoDesc& desc, uint64_t device_bytes, uint32_t block_size, uint32_t io_buf_bytes,
           bool can_unmap, bool read_only, Request* out);

// The result to commit for a request the device completed with `status` (0 or -errno): bytes
// transferred for reads and writes, 0 for the others, the error otherwise.
inline int32_t commit_result(const Request& r, int status) {
  if (status < 0) return status;
  return (r.op == Op::kRead || r.op == Op::kWrite) ? static_cast<int32_t>(r.length) : 0;
}

}  // namespace lunkit::ublk

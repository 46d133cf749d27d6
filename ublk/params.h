// What the kernel is told about a device, and what each request asks of it: the two translations
// between a lunkit BlockDevice and the ublk interface, kept free of I/O so they can be tested
// alone.
#pragma once

#include <algorithm>
#include <cstdint>

#include "lunkit/block_device.h"
#include "lunkit/result.h"
#include "ublk/uapi.h"

namespace lunkit::ublk {

// lunkit's default per-request buffer (a multiple of every page size Linux has).
inline constexpr uint32_t kDefaultIoBytes = 512 * 1024;

// The system's page size, sysconf(_SC_PAGESIZE): 4 KiB on x86-64, 16 or 64 KiB on some arm64 and
// ppc64 kernels. The kernel takes nothing smaller than a page as a request size limit, rounds
// request buffers down to pages, and lays the queues' descriptor arrays out in whole pages.
uint32_t page_size();

// Where queue `q_id`'s descriptor array is in /dev/ublkcN (the mmap offset), and how many bytes of
// it a queue of `depth` tags maps, with pages of `page_bytes`.
uint64_t descriptors_offset(uint16_t q_id, uint32_t page_bytes);
uint64_t descriptors_bytes(uint16_t depth, uint32_t page_bytes);

// SET_PARAMS for a device: size, block sizes, request size limit, discard and write-zeroes limits
// (discard only when the device can unmap), volatile cache and FUA when it has a write cache,
// rotational and read-only attributes. `io_buf_bytes` is the per-request buffer the queues have,
// a multiple of the page size `page_bytes`.
Result<Params> make_params(const DeviceInfo& info, uint32_t io_buf_bytes, bool read_only,
                           uint32_t page_bytes = page_size());

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

// Requests that the device completes with a transient error (common/transient_error.h) are issued
// again after a back-off of retry_delay_ms(n) before the n-th retry (counting from 0): 5 ms,
// doubling up to 1 s; until retry_timeout_ms (default 30 s, the SCSI disk's default command
// timeout) has passed since the first of those errors: then the request fails with -EIO.
inline constexpr uint32_t kDefaultRetryTimeoutMs = 30000;
inline constexpr uint32_t kMaxRetryTimeoutMs = 3600 * 1000;
inline constexpr uint32_t retry_delay_ms(uint32_t retries) {
  return retries >= 8 ? 1000 : std::min<uint32_t>(5u << retries, 1000);
}

// The result to commit for a request the device completed with `status` (0 or -errno): bytes
// transferred for reads and writes, 0 for the others, the error otherwise.
inline int32_t commit_result(const Request& r, int status) {
  if (status < 0) return status;
  return (r.op == Op::kRead || r.op == Op::kWrite) ? static_cast<int32_t>(r.length) : 0;
}

}  // namespace lunkit::ublk

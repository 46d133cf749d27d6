// The asynchronous block device interface that libscsi executes SCSI commands against.
//
// A BlockDevice knows nothing of SCSI, TCMU or ublk: it reads and writes byte ranges. Handler
// plugins implement it (through the C ABI), and so do the test and benchmark devices.
//
// Contract:
//  * Every operation receives a BlockRequest owned by the caller; the device must call
//    `request.complete(result)` exactly once, from any thread, with 0 or a negative errno.
//    The request (and the buffers its iovecs point to) stay valid until then.
//  * Operations are submitted from the owner's thread, or from inside the completion of an
//    earlier request of the same device.
//  * Offsets and lengths are in bytes and always multiples of the logical block size.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "lunkit/visibility.h"

namespace lunkit {

// Flags on a BlockRequest.
inline constexpr uint32_t kBlockFua = 1u << 0;       // write, write_zeroes: durable on completion
inline constexpr uint32_t kBlockMayUnmap = 1u << 1;  // write_zeroes: may deallocate the range
// write_zeroes: only if it is fast; else complete with -EOPNOTSUPP and write nothing.
inline constexpr uint32_t kBlockFastZero = 1u << 2;
// read, write: the data is not in the memory `iov` points to but in a buffer registered with the
// io_uring of the loop the request was submitted on (ublk zero copy: the kernel lends the block
// request's own pages, UBLK_F_AUTO_BUF_REG). `iov` then holds addresses within that buffer as
// io_uring counts them (the pages the kernel lends start at 0, so they are offsets), and
// block_fixed_buffer_index(flags) is its index, for IORING_OP_READ_FIXED and WRITE_FIXED on that
// ring; the memory `iov` names is never touched. Only lunkit's ublk frontend sets it, for a handler
// that asked for it (LUNKIT_CAP_FIXED_BUFFERS): a BlockDevice of your own never sees it.
inline constexpr uint32_t kBlockFixedBuffer = 1u << 15;
inline constexpr uint32_t kBlockFixedBufferBits = 0xffff8000u;  // the flag and the index
inline constexpr uint32_t block_fixed_buffer_flags(uint16_t index) {
  return kBlockFixedBuffer | uint32_t{index} << 16;
}
inline constexpr uint16_t block_fixed_buffer_index(uint32_t flags) {
  return static_cast<uint16_t>(flags >> 16);
}

// One contiguous range in a block status answer.
struct BlockExtent {
  uint64_t offset = 0;  // bytes
  uint64_t length = 0;  // bytes
  bool deallocated = false;
  bool zeroes = false;  // reads as zeros (a hole that reads zeros, or zeroed but allocated)
};

struct BlockRequest;
using BlockCompletionFn = void (*)(BlockRequest& request, int result);

struct BlockRequest {
  uint64_t offset = 0;         // bytes from the start of the device
  uint64_t length = 0;         // bytes to transfer or affect
  uint32_t flags = 0;          // kBlock* flags
  std::span<const iovec> iov;  // read: destination; write: source; compare_and_write:
                               // `length` bytes of compare data followed by `length`
                               // bytes of write data. Never shorter than needed.
  // compare_and_write output: byte offset (from the start of the compare data) of the first
  // byte that differed, valid when the result is -EILSEQ.
  uint64_t miscompare_offset = 0;
  // block_status: the device fills up to extents.size() entries from `offset`, covering at
  // least one block, and stores how many it wrote in extent_count.
  std::span<BlockExtent> extents;
  size_t extent_count = 0;

  // Completion, set by the submitter.
  BlockCompletionFn on_complete = nullptr;
  void* context = nullptr;

  // Scratch space of the BlockDevice implementation, valid while it owns the request (lunkit's
  // plugin host queues requests and keeps a handler's per-I/O state here: no allocation).
  uint64_t device_scratch[8] = {};
  iovec device_iov{};
  alignas(16) unsigned char device_private[128];

  void complete(int result) { on_complete(*this, result); }
};

// Capabilities and identity a device reports when it is opened.
struct DeviceInfo {
  uint64_t num_blocks = 0;
  uint32_t logical_block_size = 512;
  uint32_t physical_block_size = 512;  // a power-of-two multiple of the logical block size

  bool thin_provisioning = false;  // unmap deallocates; LBPME is reported
  bool unmap_reads_zero = false;   // deallocated blocks read as zeros (LBPRZ)
  bool write_cache = false;        // the device has a volatile cache (WCE on by default)
  bool fua = true;                 // honours kBlockFua natively
  bool rotational = false;
  bool native_compare_and_write = false;  // compare_and_write() is implemented and atomic
  bool native_block_status = false;       // block_status() is implemented
  bool read_only = false;

  // What Block Limits reports as MAXIMUM and OPTIMAL TRANSFER LENGTH: what the device prefers
  // initiators to send in one command. 0: no preference. Longer commands are still executed.
  uint32_t max_transfer_blocks = 0;
  // The longest single request the device accepts; libscsi splits longer transfers into
  // requests of at most this many blocks. 0: no limit.
  uint32_t max_request_blocks = 0;
  uint32_t optimal_granularity_blocks = 0;
  uint32_t max_unmap_blocks = 0;              // per UNMAP command; 0: as max write same
  uint32_t max_compare_and_write_blocks = 0;  // native compare_and_write's limit; 0: none
  uint32_t unmap_granularity_blocks = 1;
  uint32_t unmap_alignment_blocks = 0;  // first LBA of a whole granule (below the granularity)

  // Identity; empty strings take lunkit's defaults.
  std::string vendor;       // up to 8 ASCII characters
  std::string product;      // up to 16
  std::string revision;     // up to 4
  std::string unit_serial;  // VPD 0x80 and the base of the NAA designator
  uint64_t naa_wwn = 0;     // an NAA designator to use instead of the one derived from serial
};

class LUNKIT_API BlockDevice {
 public:
  // Defined in liblunkit-scsi (the class's key function): its vtable, type info and layout are
  // then the library's, and the ABI check (abidiff) sees the class whole, not as a declaration.
  virtual ~BlockDevice();

  virtual const DeviceInfo& info() const = 0;

  virtual void read(BlockRequest& request) = 0;
  // kBlockFua may be set.
  virtual void write(BlockRequest& request) = 0;
  // Makes every completed write durable.
  virtual void flush(BlockRequest& request) = 0;
  // Deallocates the range (only called when info().thin_provisioning).
  virtual void unmap(BlockRequest& request) = 0;
  // The range reads as zeros afterwards; kBlockMayUnmap allows deallocation.
  virtual void write_zeroes(BlockRequest& request) = 0;

  // Optional. Default: completes with -EOPNOTSUPP, and libscsi emulates COMPARE AND WRITE with
  // read, compare and write while holding back other writes to the logical unit. A native
  // implementation completes with -EILSEQ and sets miscompare_offset on a mismatch.
  virtual void compare_and_write(BlockRequest& request) { request.complete(-95 /*EOPNOTSUPP*/); }

  // Optional. Default: completes with -EOPNOTSUPP, and GET LBA STATUS reports every block mapped.
  virtual void block_status(BlockRequest& request) { request.complete(-95 /*EOPNOTSUPP*/); }
};

}  // namespace lunkit

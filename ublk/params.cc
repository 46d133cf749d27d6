#include "ublk/params.h"

#include <unistd.h>

#include <bit>
#include <cerrno>
#include <string>

namespace lunkit::ublk {
namespace {

constexpr uint32_t kSector = 512;
// Discards and write-zeroes are cut into pieces of at most this many sectors (1 GiB) unless the
// device says less: large enough that mkfs's whole-device discard is a few requests.
constexpr uint32_t kMaxZeroingSectors = 1u << 21;

uint8_t log2_of(uint64_t v) {
  return static_cast<uint8_t>(std::bit_width(v) - 1);
}

uint64_t round_up(uint64_t v, uint64_t to) {
  return (v + to - 1) / to * to;
}

}  // namespace

uint32_t page_size() {
  static const uint32_t bytes = [] {
    long v = sysconf(_SC_PAGESIZE);
    return v > 0 ? static_cast<uint32_t>(v) : 4096u;
  }();
  return bytes;
}

// The kernel's layout (ublk_ch_mmap): every queue's array takes the room of the largest one,
// kMaxQueueDepth descriptors rounded up to a page.
uint64_t descriptors_offset(uint16_t q_id, uint32_t page_bytes) {
  return kCmdBufOffset + q_id * round_up(uint64_t{kMaxQueueDepth} * sizeof(IoDesc), page_bytes);
}

uint64_t descriptors_bytes(uint16_t depth, uint32_t page_bytes) {
  return round_up(uint64_t{depth} * sizeof(IoDesc), page_bytes);
}

Result<Params> make_params(const DeviceInfo& info, uint32_t io_buf_bytes, bool read_only,
                           uint32_t page_bytes) {
  const std::string page = std::to_string(page_bytes);
  const uint32_t lbs = info.logical_block_size;
  if (lbs < kSector || lbs > 4096 || !std::has_single_bit(lbs))
    return Error{"ublk serves logical block sizes of 512 to 4096 bytes; the handler reported " +
                 std::to_string(lbs)};
  const uint32_t pbs = info.physical_block_size ? info.physical_block_size : lbs;
  if (pbs < lbs || !std::has_single_bit(pbs))
    return Error{"physical block size " + std::to_string(pbs) +
                 " does not fit logical block size " + std::to_string(lbs)};
  if (info.num_blocks == 0) return Error{"the device has no blocks (give it a size)"};
  if (io_buf_bytes < page_bytes || io_buf_bytes > kMaxIoBufBytes || io_buf_bytes % page_bytes)
    return Error{"the request buffer must be a multiple of the page size, " + page +
                 " bytes, up to 32 MiB (got " + std::to_string(io_buf_bytes) + ")"};

  uint64_t max_bytes = io_buf_bytes;
  if (info.max_transfer_blocks)
    max_bytes = std::min<uint64_t>(max_bytes, uint64_t{info.max_transfer_blocks} * lbs);
  if (max_bytes < page_bytes)
    return Error{"the handler's largest transfer (" + std::to_string(max_bytes) +
                 " bytes) is below one page, " + page + " bytes, which ublk sends at least"};

  Params p{};
  p.len = sizeof p;
  p.types = kParamBasic | kParamDiscard;
  ParamBasic& b = p.basic;
  b.logical_bs_shift = log2_of(lbs);
  b.physical_bs_shift = log2_of(pbs);
  b.io_min_shift = b.physical_bs_shift;
  uint64_t opt = uint64_t{info.optimal_granularity_blocks} * lbs;
  b.io_opt_shift = opt && std::has_single_bit(opt) ? log2_of(opt) : b.physical_bs_shift;
  b.max_sectors = static_cast<uint32_t>(max_bytes / kSector);
  b.dev_sectors = info.num_blocks * (lbs / kSector);
  if (read_only || info.read_only) b.attrs |= kAttrReadOnly;
  if (info.rotational) b.attrs |= kAttrRotational;
  if (info.write_cache) {
    b.attrs |= kAttrVolatileCache;      // the kernel sends FLUSH
    if (info.fua) b.attrs |= kAttrFua;  // and FUA writes; without it, it flushes after them
  }

  // Write-zeroes always works (lunkit writes zeros when the handler has nothing better); discard
  // only when the device deallocates.
  ParamDiscard& d = p.discard;
  uint32_t granularity = std::max<uint32_t>(info.unmap_granularity_blocks, 1) * lbs;
  d.discard_granularity = std::max(granularity, pbs);
  d.discard_alignment = info.unmap_alignment_blocks * lbs;
  uint64_t zeroing = kMaxZeroingSectors;
  if (info.max_unmap_blocks)
    zeroing = std::min<uint64_t>(zeroing, uint64_t{info.max_unmap_blocks} * lbs / kSector);
  d.max_write_zeroes_sectors = static_cast<uint32_t>(zeroing);
  if (info.thin_provisioning) {
    d.max_discard_sectors = static_cast<uint32_t>(zeroing);
    d.max_discard_segments = 1;
  }
  return p;
}

int decode(const IoDesc& desc, uint64_t device_bytes, uint32_t block_size, uint32_t io_buf_bytes,
           bool can_unmap, bool read_only, Request* out) {
  const uint8_t op = static_cast<uint8_t>(desc.op_flags & 0xff);
  Request r;
  switch (op) {
    case kOpRead:
      r.op = Op::kRead;
      break;
    case kOpWrite:
      r.op = Op::kWrite;
      break;
    case kOpFlush:
      r.op = Op::kFlush;
      break;
    case kOpDiscard:
      if (!can_unmap) return -EOPNOTSUPP;
      r.op = Op::kDiscard;
      break;
    case kOpWriteZeroes:
      r.op = Op::kWriteZeroes;
      break;
    default:
      return -EOPNOTSUPP;
  }
  if (read_only && r.op != Op::kRead && r.op != Op::kFlush) return -EROFS;
  if (desc.op_flags & kIoFFua) r.flags |= kBlockFua;
  if (r.op == Op::kWriteZeroes && !(desc.op_flags & kIoFNoUnmap) && can_unmap)
    r.flags |= kBlockMayUnmap;
  if (r.op == Op::kFlush) {
    *out = r;
    return 0;
  }
  r.offset = desc.start_sector * kSector;
  r.length = uint64_t{desc.nr_sectors} * kSector;
  if (r.length == 0 || r.offset % block_size || r.length % block_size) return -EINVAL;
  if (desc.start_sector > device_bytes / kSector || r.length > device_bytes - r.offset)
    return -EINVAL;
  if ((r.op == Op::kRead || r.op == Op::kWrite) && r.length > io_buf_bytes) return -EINVAL;
  *out = r;
  return 0;
}

}  // namespace lunkit::ublk

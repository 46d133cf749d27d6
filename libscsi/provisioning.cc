// WRITE SAME(10/16), UNMAP, GET LBA STATUS and FORMAT UNIT.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "libscsi/bytes.h"
#include "libscsi/handlers.h"
#include "libscsi/iov.h"

namespace lunkit::scsi::handlers {
namespace {

constexpr size_t kWriteSameChunk = 1u << 20;

// WRITE SAME and FORMAT UNIT have no FUA bit: durable when the write cache is off.
uint32_t durable(const LuState& lu) {
  return durable_flags(lu, false);
}

void written_done(BlockRequest& r, int result) {
  Command& cmd = *static_cast<Command*>(r.context);
  LuState& lu = *cmd.exec.lu;
  if (result < 0) return complete_errno(lu, cmd, result, true);
  complete_written(lu, cmd, false);
}

// ---- WRITE SAME with a non-zero block: the block replicated into a bounce buffer, written in
// chunks. ----
bool write_same_start_chunk(LuState& lu, Command& cmd) {
  uint64_t total = lu.blocks_to_bytes(cmd.exec.blocks);
  if (cmd.exec.cursor == total) {
    complete_written(lu, cmd, false);
    return false;
  }
  size_t n = static_cast<size_t>(std::min<uint64_t>(cmd.exec.bounce_len, total - cmd.exec.cursor));
  cmd.exec.bounce_iov[0] = iovec{cmd.exec.bounce.get(), n};
  submit_request(lu, cmd, &BlockDevice::write, lu.blocks_to_bytes(cmd.exec.lba) + cmd.exec.cursor,
                 n, cmd.exec.bounce_iov, durable(lu), chunk_completion);
  return true;
}

bool write_same_chunk_done(LuState& lu, Command& cmd, int result) {
  if (result < 0) {
    complete_errno(lu, cmd, result, true);
    return false;
  }
  cmd.exec.cursor += cmd.exec.request.length;
  return true;
}

// ---- UNMAP: the validated parameter list stays in the bounce buffer; one request per
// descriptor. ----
constexpr size_t kUnmapHeader = 8;
constexpr size_t kUnmapDescriptor = 16;

bool unmap_start_chunk(LuState& lu, Command& cmd) {
  const uint8_t* list = cmd.exec.bounce.get();
  while (cmd.exec.cursor < cmd.exec.blocks) {  // blocks holds the descriptor count here
    const uint8_t* d = list + kUnmapHeader + cmd.exec.cursor * kUnmapDescriptor;
    uint64_t lba = get_be64(d);
    uint32_t count = get_be32(d + 8);
    if (count == 0) {
      ++cmd.exec.cursor;
      continue;
    }
    submit_request(lu, cmd, &BlockDevice::unmap, lu.blocks_to_bytes(lba), lu.blocks_to_bytes(count),
                   {}, 0, chunk_completion);
    return true;
  }
  complete_good(lu, cmd);
  return false;
}

bool unmap_chunk_done(LuState& lu, Command& cmd, int result) {
  if (result < 0) {
    complete_errno(lu, cmd, result, true);
    return false;
  }
  ++cmd.exec.cursor;
  return true;
}

// ---- GET LBA STATUS ----
constexpr size_t kMaxLbaStatusDescriptors = 64;

void put_lba_status(LuState& lu, Command& cmd, std::span<const BlockExtent> extents) {
  uint32_t allocation_length = get_be32(&cmd.cdb[10]);
  uint8_t buf[8 + kMaxLbaStatusDescriptors * 16] = {};
  size_t off = 8;
  uint64_t capacity = lu.capacity.load(std::memory_order_relaxed);
  for (const BlockExtent& e : extents) {
    uint64_t lba = e.offset >> lu.block_shift;
    uint64_t blocks = e.length >> lu.block_shift;
    if (blocks == 0 || lba >= capacity) break;
    uint64_t clamped = std::min({blocks, capacity - lba, uint64_t{0xFFFFFFFF}});
    put_be64(&buf[off], lba);
    put_be32(&buf[off + 8], static_cast<uint32_t>(clamped));
    buf[off + 12] = e.deallocated ? 0x01 : 0x00;
    off += 16;
    // The next extent starts where this one ended on the device: after a clamped descriptor it
    // would leave a gap, so the answer ends here (the initiator asks again from its end).
    if (clamped != blocks) break;
  }
  put_be32(&buf[0], static_cast<uint32_t>(off - 4));
  put_data_in(cmd, std::span<const uint8_t>(buf, off), allocation_length);
  complete_good(lu, cmd);
}

void block_status_done(BlockRequest& r, int result) {
  Command& cmd = *static_cast<Command*>(r.context);
  LuState& lu = *cmd.exec.lu;
  std::span<const BlockExtent> extents =
      r.extents.first(std::min(r.extent_count, r.extents.size()));
  BlockExtent mapped{r.offset, r.length, false};
  if (result == -EOPNOTSUPP || (result == 0 && extents.empty()))
    extents = std::span(&mapped, 1);
  else if (result < 0)
    return complete_errno(lu, cmd, result, false);
  // The first descriptor must start at the requested LBA.
  if (extents.front().offset != r.offset)
    return complete_condition(lu, cmd, Condition::kInternalTargetFailure);
  put_lba_status(lu, cmd, extents);
}

}  // namespace

void write_same(LuState& lu, Command& cmd) {
  const bool sixteen = cmd.exec.op->cdb_len == 16;
  const bool unmap_bit = cmd.cdb[1] & 0x08;
  const bool ndob = sixteen && (cmd.cdb[1] & 0x01);
  const uint16_t count_field = cmd.exec.op->blocks.offset;
  // One block of Data-Out, or none with NDOB: anything else is rejected as LIO does.
  if (!data_out_length_matches(lu, cmd, ndob ? 0 : lu.block_size)) return;
  if (cmd.exec.blocks == 0) return complete_invalid_cdb(lu, cmd, count_field);  // WSNZ
  if (cmd.exec.blocks > lu.options.max_write_same_blocks)
    return complete_invalid_cdb(lu, cmd, count_field);

  uint64_t offset = lu.blocks_to_bytes(cmd.exec.lba);
  uint64_t total = lu.blocks_to_bytes(cmd.exec.blocks);
  if (ndob || iov_is_zero(cmd.iov, 0, lu.block_size)) {
    uint32_t flags = durable(lu);
    if (unmap_bit && lu.info.thin_provisioning) flags |= kBlockMayUnmap;
    return submit_request(lu, cmd, &BlockDevice::write_zeroes, offset, total, {}, flags,
                          written_done);
  }
  size_t chunk =
      static_cast<size_t>(std::min({total, uint64_t{kWriteSameChunk}, lu.max_request_bytes()}));
  uint8_t* buf = bounce(cmd, chunk);
  copy_from_iov(cmd.iov, 0, buf, lu.block_size);
  for (size_t off = lu.block_size; off < chunk; off += lu.block_size)
    std::memcpy(buf + off, buf, lu.block_size);
  cmd.exec.cursor = 0;
  run_chunks(lu, cmd, write_same_start_chunk, write_same_chunk_done);
}

void unmap(LuState& lu, Command& cmd) {
  size_t length = get_be16(&cmd.cdb[7]);
  if (length == 0) return complete_good(lu, cmd);
  // A parameter list longer than the Data-Out delivered is an overflow LIO rejects.
  if (cmd.data_len < length) return complete_invalid_cdb(lu, cmd, 7);
  if (length < kUnmapHeader)
    return complete_condition(lu, cmd, Condition::kParameterListLengthError);
  uint8_t* list = bounce(cmd, length);
  get_data_out(cmd, list, length);

  size_t data_length = get_be16(list);
  size_t descriptor_bytes = get_be16(list + 2);
  // A list shorter than its own header claims is rejected whole.
  if (data_length + 2 > length || descriptor_bytes + kUnmapHeader > length)
    return complete_condition(lu, cmd, Condition::kParameterListLengthError);
  // An incomplete trailing descriptor is ignored (SBC-4 5.32.2).
  size_t count = descriptor_bytes / kUnmapDescriptor;
  if (count > lu.options.max_unmap_descriptors) return complete_invalid_param(lu, cmd, 2);

  uint64_t capacity = lu.capacity.load(std::memory_order_relaxed);
  uint32_t max_blocks =
      lu.info.max_unmap_blocks ? lu.info.max_unmap_blocks : lu.options.max_write_same_blocks;
  // Validate every descriptor before deallocating anything. MAXIMUM UNMAP LBA COUNT limits the
  // whole command (SBC-4 6.6.4): the descriptor that takes the sum past it is pointed at.
  uint64_t sum = 0;
  for (size_t i = 0; i < count; ++i) {
    size_t at = kUnmapHeader + i * kUnmapDescriptor;
    uint64_t lba = get_be64(list + at);
    uint32_t blocks = get_be32(list + at + 8);
    sum += blocks;
    if (sum > max_blocks) return complete_invalid_param(lu, cmd, static_cast<uint16_t>(at + 8));
    if (lba > capacity || blocks > capacity - lba)
      return complete_condition(lu, cmd, Condition::kLbaOutOfRange);
  }
  cmd.exec.blocks = count;
  cmd.exec.cursor = 0;
  run_chunks(lu, cmd, unmap_start_chunk, unmap_chunk_done);
}

void get_lba_status(LuState& lu, Command& cmd) {
  uint64_t capacity = lu.capacity.load(std::memory_order_relaxed);
  uint64_t lba = get_be64(&cmd.cdb[2]);
  if (lba >= capacity) return complete_condition(lu, cmd, Condition::kLbaOutOfRange);
  uint64_t offset = lu.blocks_to_bytes(lba);
  uint64_t length = lu.blocks_to_bytes(capacity - lba);
  if (!lu.info.native_block_status) {
    BlockExtent all{offset, length, false};
    return put_lba_status(lu, cmd, std::span(&all, 1));
  }
  uint32_t allocation_length = get_be32(&cmd.cdb[10]);
  size_t want = std::clamp<size_t>(allocation_length > 8 ? (allocation_length - 8) / 16 : 1, 1,
                                   kMaxLbaStatusDescriptors);
  auto* extents = reinterpret_cast<BlockExtent*>(bounce(cmd, want * sizeof(BlockExtent)));
  std::uninitialized_default_construct_n(extents, want);
  BlockRequest& r = cmd.exec.request;
  r.extents = std::span(extents, want);
  submit_request(lu, cmd, &BlockDevice::block_status, offset, length, {}, 0, block_status_done);
}

void format_unit(LuState& lu, Command& cmd) {
  // No parameter data (FMTDATA is 0, enforced by the usage mask): the medium is initialised to
  // zeros, deallocating where the device can.
  uint64_t total = lu.blocks_to_bytes(lu.capacity.load(std::memory_order_relaxed));
  uint32_t flags = durable(lu) | (lu.info.thin_provisioning ? kBlockMayUnmap : 0);
  submit_request(lu, cmd, &BlockDevice::write_zeroes, 0, total, {}, flags, written_done);
}

}  // namespace lunkit::scsi::handlers

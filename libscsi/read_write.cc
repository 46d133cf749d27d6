// READ, WRITE, VERIFY, WRITE AND VERIFY (6/10/12/16 as they exist), SYNCHRONIZE CACHE, PRE-FETCH.
// READ and WRITE are the hot path: decoded by the table, handed to the device, no allocation.
#include <algorithm>

#include "libscsi/bytes.h"
#include "libscsi/handlers.h"
#include "libscsi/iov.h"

namespace lunkit::scsi::handlers {
namespace {

constexpr size_t kVerifyChunk = 1u << 20;

// Common checks for commands that move `bytes` of data through the buffer: the device's
// transfer limit and a buffer at least as long as the CDB says (shortened to fit).
bool prepare_transfer(LuState& lu, Command& cmd, uint64_t bytes) {
  uint16_t length_field = cmd.exec.op->blocks.offset;
  uint32_t max = lu.info.max_transfer_blocks;
  if (max && cmd.exec.blocks > max) {
    complete_invalid_cdb(lu, cmd, length_field);
    return false;
  }
  if (cmd.data_len < bytes) {
    complete_invalid_cdb(lu, cmd, length_field);
    return false;
  }
  if (cmd.data_len > bytes) {
    trim_iov(cmd.iov, bytes);
    cmd.data_len = bytes;
  }
  return true;
}

// Write flags: FUA when the initiator asked for it or the write cache is off, and only when the
// device has a volatile cache at all (otherwise every write is already durable).
uint32_t durability_flags(const LuState& lu, bool fua_bit) {
  if (!lu.info.write_cache) return 0;
  return (fua_bit || !lu.write_cache) ? kBlockFua : 0;
}

// ---- READ ----
void read_done(BlockRequest& r, int result) {
  Command& cmd = *static_cast<Command*>(r.context);
  LuState& lu = *cmd.exec.lu;
  if (result < 0) return complete_errno(lu, cmd, result, false);
  cmd.data_in_len = static_cast<uint32_t>(r.length);
  complete_good(lu, cmd);
}

// ---- WRITE (and the write half of WRITE AND VERIFY) ----
enum WriteStep : uint32_t { kWriteOnly, kWriteThenFlush, kWriteThenVerify, kWriteFlushVerify };
void start_verify(LuState& lu, Command& cmd, uint8_t bytchk);

void write_flushed(BlockRequest& r, int result) {
  Command& cmd = *static_cast<Command*>(r.context);
  LuState& lu = *cmd.exec.lu;
  if (result < 0) return complete_errno(lu, cmd, result, true);
  if (cmd.exec.step == kWriteFlushVerify) return start_verify(lu, cmd, (cmd.cdb[1] >> 1) & 0x3);
  complete_good(lu, cmd);
}

void write_done(BlockRequest& r, int result) {
  Command& cmd = *static_cast<Command*>(r.context);
  LuState& lu = *cmd.exec.lu;
  if (result < 0) return complete_errno(lu, cmd, result, true);
  if (cmd.exec.step == kWriteThenFlush || cmd.exec.step == kWriteFlushVerify)
    return submit_request(lu, cmd, &BlockDevice::flush, 0, 0, {}, 0, write_flushed);
  if (cmd.exec.step == kWriteThenVerify) return start_verify(lu, cmd, (cmd.cdb[1] >> 1) & 0x3);
  complete_good(lu, cmd);
}

void submit_write(LuState& lu, Command& cmd, uint64_t bytes, bool fua_bit, uint32_t next_step) {
  uint32_t flags = durability_flags(lu, fua_bit);
  cmd.exec.step = next_step;
  if ((flags & kBlockFua) && !lu.info.fua) {  // emulate FUA with a flush afterwards
    flags &= ~kBlockFua;
    cmd.exec.step = next_step == kWriteOnly ? kWriteThenFlush : kWriteFlushVerify;
  }
  submit_request(lu, cmd, &BlockDevice::write, lu.blocks_to_bytes(cmd.exec.lba), bytes, cmd.iov,
                 flags, write_done);
}

// ---- VERIFY (BYTCHK 00b: read back; 01b: compare with Data-Out; 11b: compare every block with
// the single Data-Out block) ----
bool verify_start_chunk(LuState& lu, Command& cmd) {
  uint64_t total = lu.blocks_to_bytes(cmd.exec.blocks);
  if (cmd.exec.cursor == total) {
    complete_good(lu, cmd);
    return false;
  }
  size_t n = static_cast<size_t>(std::min<uint64_t>(kVerifyChunk, total - cmd.exec.cursor));
  submit_request(lu, cmd, &BlockDevice::read, lu.blocks_to_bytes(cmd.exec.lba) + cmd.exec.cursor, n,
                 bounce_iov(cmd, n), 0, chunk_completion);
  return true;
}

bool verify_chunk_done(LuState& lu, Command& cmd, int result) {
  if (result < 0) {
    complete_errno(lu, cmd, result, false);
    return false;
  }
  const uint8_t* medium = cmd.exec.bounce.get();
  size_t n = cmd.exec.request.length;
  uint8_t bytchk = static_cast<uint8_t>(cmd.exec.step);
  std::optional<size_t> diff;
  if (bytchk == 1) {
    diff = compare_iov(cmd.iov, cmd.exec.cursor, medium, n);
  } else if (bytchk == 3) {
    for (size_t b = 0; b < n && !diff; b += lu.block_size) {
      if (auto d = compare_iov(cmd.iov, 0, medium + b, lu.block_size)) diff = b + *d;
    }
  }
  if (diff) {
    complete_condition(lu, cmd, Condition::kMiscompareDuringVerify,
                       SenseDetail::info(cmd.exec.cursor + *diff));
    return false;
  }
  cmd.exec.cursor += n;
  return true;
}

void start_verify(LuState& lu, Command& cmd, uint8_t bytchk) {
  cmd.exec.step = bytchk;
  cmd.exec.cursor = 0;
  run_chunks(lu, cmd, verify_start_chunk, verify_chunk_done);
}

// ---- SYNCHRONIZE CACHE ----
void flush_done(BlockRequest& r, int result) {
  Command& cmd = *static_cast<Command*>(r.context);
  LuState& lu = *cmd.exec.lu;
  if (result < 0) return complete_errno(lu, cmd, result, true);
  complete_good(lu, cmd);
}

}  // namespace

void read(LuState& lu, Command& cmd) {
  uint64_t bytes = lu.blocks_to_bytes(cmd.exec.blocks);
  if (bytes == 0) return complete_good(lu, cmd);
  if (!prepare_transfer(lu, cmd, bytes)) return;
  submit_request(lu, cmd, &BlockDevice::read, lu.blocks_to_bytes(cmd.exec.lba), bytes, cmd.iov, 0,
                 read_done);
}

void write(LuState& lu, Command& cmd) {
  uint64_t bytes = lu.blocks_to_bytes(cmd.exec.blocks);
  if (bytes == 0) return complete_good(lu, cmd);
  if (lu.info.read_only) return complete_condition(lu, cmd, Condition::kWriteProtected);
  if (!prepare_transfer(lu, cmd, bytes)) return;
  bool fua = cmd.exec.op->cdb_len > 6 && (cmd.cdb[1] & 0x08);
  submit_write(lu, cmd, bytes, fua, kWriteOnly);
}

void verify(LuState& lu, Command& cmd) {
  uint8_t bytchk = (cmd.cdb[1] >> 1) & 0x3;
  if (bytchk == 2) return complete_invalid_cdb(lu, cmd, 1, 2);
  uint64_t bytes = lu.blocks_to_bytes(cmd.exec.blocks);
  if (bytes == 0) return complete_good(lu, cmd);
  size_t needed = bytchk == 1 ? bytes : bytchk == 3 ? lu.block_size : 0;
  if (cmd.data_len < needed) return complete_invalid_cdb(lu, cmd, cmd.exec.op->blocks.offset);
  start_verify(lu, cmd, bytchk);
}

void write_and_verify(LuState& lu, Command& cmd) {
  uint8_t bytchk = (cmd.cdb[1] >> 1) & 0x3;
  if (bytchk > 1) return complete_invalid_cdb(lu, cmd, 1, 2);
  uint64_t bytes = lu.blocks_to_bytes(cmd.exec.blocks);
  if (bytes == 0) return complete_good(lu, cmd);
  if (lu.info.read_only) return complete_condition(lu, cmd, Condition::kWriteProtected);
  if (!prepare_transfer(lu, cmd, bytes)) return;
  // The data must be on the medium before it is read back for verification.
  submit_write(lu, cmd, bytes, true, kWriteThenVerify);
}

void synchronize_cache(LuState& lu, Command& cmd) {
  // IMMED is accepted and the flush still completes before status is returned: the initiator
  // learns about a failed flush instead of losing it.
  if (!lu.info.write_cache || !lu.write_cache) return complete_good(lu, cmd);
  submit_request(lu, cmd, &BlockDevice::flush, 0, 0, {}, 0, flush_done);
}

void pre_fetch(LuState& lu, Command& cmd) {
  // No cache to load: GOOD (not CONDITION MET) tells the initiator the blocks were not cached.
  complete_good(lu, cmd);
}

}  // namespace lunkit::scsi::handlers

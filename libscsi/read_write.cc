// READ, WRITE, VERIFY, WRITE AND VERIFY (6/10/12/16 as they exist), SYNCHRONIZE CACHE, PRE-FETCH.
// READ and WRITE are the hot path: decoded by the table, handed to the device, no allocation.
#include <algorithm>

#include "libscsi/bytes.h"
#include "libscsi/handlers.h"
#include "libscsi/iov.h"

namespace lunkit::scsi::handlers {
namespace {

constexpr size_t kVerifyChunk = 1u << 20;

// The first `bytes` of the buffer: the whole list, or a window on it when the buffer is longer
// (the transport's data_len stays what it delivered, so it can report the residual).
std::span<const iovec> transfer_iov(Command& cmd, uint64_t bytes) {
  if (cmd.data_len == bytes) return cmd.iov;
  return open_window(cmd.exec.window, cmd.iov, 0, static_cast<size_t>(bytes));
}

// ---- READ and WRITE longer than the device's largest request: one piece after another, each
// through a window on the command's own buffer (no allocation, one request in flight) ----
enum WriteStep : uint32_t { kWriteOnly, kWriteThenFlush, kWriteThenVerify, kWriteFlushVerify };
constexpr uint32_t kSplitRead = 0x100;  // exec.step of a split READ (write steps are below)

void after_write(LuState& lu, Command& cmd);

bool split_start(LuState& lu, Command& cmd) {
  uint64_t total = lu.blocks_to_bytes(cmd.exec.blocks);
  if (cmd.exec.cursor == total) {
    if (cmd.exec.step != kSplitRead) {
      after_write(lu, cmd);
      return false;
    }
    cmd.data_in_len = static_cast<uint32_t>(total);
    complete_good(lu, cmd);
    return false;
  }
  size_t n = static_cast<size_t>(std::min(lu.max_request_bytes(), total - cmd.exec.cursor));
  auto piece = open_window(cmd.exec.window, cmd.iov, static_cast<size_t>(cmd.exec.cursor), n);
  uint64_t offset = lu.blocks_to_bytes(cmd.exec.lba) + cmd.exec.cursor;
  if (cmd.exec.step == kSplitRead)
    submit_request(lu, cmd, &BlockDevice::read, offset, n, piece, 0, chunk_completion);
  else
    submit_request(lu, cmd, &BlockDevice::write, offset, n, piece, cmd.exec.request_flags,
                   chunk_completion);
  return true;
}

bool split_done(LuState& lu, Command& cmd, int result) {
  close_window(cmd.exec.window);
  if (result < 0) {
    complete_errno(lu, cmd, result, cmd.exec.step != kSplitRead);
    return false;
  }
  cmd.exec.cursor += cmd.exec.request.length;
  return true;
}

void start_split(LuState& lu, Command& cmd) {
  cmd.exec.cursor = 0;
  run_chunks(lu, cmd, split_start, split_done);
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
void start_verify(LuState& lu, Command& cmd, uint8_t bytchk);

void write_flushed(BlockRequest& r, int result) {
  Command& cmd = *static_cast<Command*>(r.context);
  LuState& lu = *cmd.exec.lu;
  if (result < 0) return complete_errno(lu, cmd, result, true);
  if (cmd.exec.step == kWriteFlushVerify) return start_verify(lu, cmd, (cmd.cdb[1] >> 1) & 0x3);
  complete_good(lu, cmd);
}

// The data is written: flush (emulated FUA), verify (WRITE AND VERIFY), or done.
void after_write(LuState& lu, Command& cmd) {
  if (cmd.exec.step == kWriteThenFlush || cmd.exec.step == kWriteFlushVerify)
    return submit_request(lu, cmd, &BlockDevice::flush, 0, 0, {}, 0, write_flushed);
  if (cmd.exec.step == kWriteThenVerify) return start_verify(lu, cmd, (cmd.cdb[1] >> 1) & 0x3);
  complete_good(lu, cmd);
}

void write_done(BlockRequest& r, int result) {
  Command& cmd = *static_cast<Command*>(r.context);
  LuState& lu = *cmd.exec.lu;
  close_window(cmd.exec.window);
  if (result < 0) return complete_errno(lu, cmd, result, true);
  after_write(lu, cmd);
}

void submit_write(LuState& lu, Command& cmd, uint64_t bytes, bool fua_bit, uint32_t next_step) {
  uint32_t flags = durable_flags(lu, fua_bit);
  cmd.exec.step = next_step;
  if (write_must_be_durable(lu, fua_bit) && !lu.info.fua)  // FUA emulated: a flush afterwards
    cmd.exec.step = next_step == kWriteOnly ? kWriteThenFlush : kWriteFlushVerify;
  if (bytes > lu.max_request_bytes()) {
    cmd.exec.request_flags = flags;
    return start_split(lu, cmd);
  }
  submit_request(lu, cmd, &BlockDevice::write, lu.blocks_to_bytes(cmd.exec.lba), bytes,
                 transfer_iov(cmd, bytes), flags, write_done);
}

// ---- VERIFY (BYTCHK 00b: read back; 01b: compare with Data-Out; 11b: compare every block with
// the single Data-Out block) ----
bool verify_start_chunk(LuState& lu, Command& cmd) {
  uint64_t total = lu.blocks_to_bytes(cmd.exec.blocks);
  if (cmd.exec.cursor == total) {
    complete_good(lu, cmd);
    return false;
  }
  uint64_t chunk = std::min<uint64_t>(kVerifyChunk, lu.max_request_bytes());
  size_t n = static_cast<size_t>(std::min<uint64_t>(chunk, total - cmd.exec.cursor));
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

}  // namespace

void read(LuState& lu, Command& cmd) {
  // A Data-In buffer shorter than the CDB asks for runs with the blocks that fit, as LIO does
  // (target_cmd_size_check): data_in_len tells the transport the residual. Whatever length the
  // transport delivered is executed: Block Limits' transfer length is advice to the initiator.
  if (lu.blocks_to_bytes(cmd.exec.blocks) > cmd.data_len)
    cmd.exec.blocks = cmd.data_len >> lu.block_shift;
  uint64_t bytes = lu.blocks_to_bytes(cmd.exec.blocks);
  if (bytes == 0) return complete_good(lu, cmd);
  if (bytes > lu.max_request_bytes()) {
    cmd.exec.step = kSplitRead;
    return start_split(lu, cmd);
  }
  submit_request(lu, cmd, &BlockDevice::read, lu.blocks_to_bytes(cmd.exec.lba), bytes,
                 transfer_iov(cmd, bytes), 0, read_done);
}

void write(LuState& lu, Command& cmd) {
  uint64_t bytes = lu.blocks_to_bytes(cmd.exec.blocks);
  if (!data_out_length_matches(lu, cmd, bytes)) return;
  if (bytes == 0) return complete_good(lu, cmd);
  bool fua = cmd.exec.op->cdb_len > 6 && (cmd.cdb[1] & 0x08);
  submit_write(lu, cmd, bytes, fua, kWriteOnly);
}

void verify(LuState& lu, Command& cmd) {
  uint8_t bytchk = (cmd.cdb[1] >> 1) & 0x3;
  if (bytchk == 2) return complete_invalid_cdb(lu, cmd, 1, 2);
  uint64_t bytes = lu.blocks_to_bytes(cmd.exec.blocks);
  uint64_t expected = bytchk == 1 ? bytes : bytchk == 3 && bytes ? lu.block_size : 0;
  if (!data_out_length_matches(lu, cmd, expected)) return;
  if (bytes == 0) return complete_good(lu, cmd);
  start_verify(lu, cmd, bytchk);
}

void write_and_verify(LuState& lu, Command& cmd) {
  uint8_t bytchk = (cmd.cdb[1] >> 1) & 0x3;
  if (bytchk > 1) return complete_invalid_cdb(lu, cmd, 1, 2);
  uint64_t bytes = lu.blocks_to_bytes(cmd.exec.blocks);
  if (!data_out_length_matches(lu, cmd, bytes)) return;
  if (bytes == 0) return complete_good(lu, cmd);
  // The data must be on the medium before it is read back for verification.
  submit_write(lu, cmd, bytes, true, kWriteThenVerify);
}

void synchronize_cache(LuState& lu, Command& cmd) {
  // IMMED is accepted and the flush still completes before status is returned: the initiator
  // learns about a failed flush instead of losing it. With the write cache off now, data written
  // while it was on may still be volatile: every device with a volatile cache is flushed.
  if (!lu.info.write_cache) return complete_good(lu, cmd);
  complete_after_flush(lu, cmd);
}

void pre_fetch(LuState& lu, Command& cmd) {
  // No cache to load: GOOD (not CONDITION MET) tells the initiator the blocks were not cached.
  complete_good(lu, cmd);
}

}  // namespace lunkit::scsi::handlers

// COMPARE AND WRITE (SBC-4 5.3). The Data-Out buffer holds N blocks to compare followed by N
// blocks to write. Native device support is used when offered; otherwise read, compare and
// write run under the logical unit's write barrier (write_barrier.cc), which makes the
// sequence atomic against every other write.
#include <cerrno>
#include <cstring>

#include "libscsi/bytes.h"
#include "libscsi/handlers.h"
#include "libscsi/iov.h"

namespace lunkit::scsi::handlers {
namespace {

enum CawStep : uint32_t { kCawRead, kCawWrite };

bool fua_bit(const Command& cmd) {
  return cmd.cdb[1] & 0x08;
}

uint32_t caw_flags(const LuState& lu, const Command& cmd) {
  return durable_flags(lu, fua_bit(cmd));
}

void native_done(BlockRequest& r, int result) {
  Command& cmd = *static_cast<Command*>(r.context);
  LuState& lu = *cmd.exec.lu;
  if (result == -EILSEQ)
    return complete_condition(lu, cmd, Condition::kMiscompareDuringVerify,
                              SenseDetail::info(r.miscompare_offset));
  if (result < 0) return complete_errno(lu, cmd, result, true);
  complete_written(lu, cmd, fua_bit(cmd));
}

void emulated_step_done(BlockRequest& r, int result) {
  Command& cmd = *static_cast<Command*>(r.context);
  LuState& lu = *cmd.exec.lu;
  if (result < 0) return complete_errno(lu, cmd, result, cmd.exec.step == kCawWrite);
  if (cmd.exec.step == kCawWrite) return complete_written(lu, cmd, fua_bit(cmd));

  size_t len = r.length;
  uint8_t* medium = cmd.exec.bounce.get();
  if (auto diff = compare_iov(cmd.iov, 0, medium, len))
    return complete_condition(lu, cmd, Condition::kMiscompareDuringVerify,
                              SenseDetail::info(*diff));
  // Equal: write the second half of the Data-Out buffer, staged in the same bounce buffer.
  copy_from_iov(cmd.iov, len, medium, len);
  cmd.exec.step = kCawWrite;
  submit_request(lu, cmd, &BlockDevice::write, r.offset, len, bounce_iov(cmd, len),
                 caw_flags(lu, cmd), emulated_step_done);
}

}  // namespace

void compare_and_write(LuState& lu, Command& cmd) {
  uint64_t blocks = cmd.exec.blocks;
  if (blocks > lu.options.max_compare_and_write_blocks) return complete_invalid_cdb(lu, cmd, 13);
  uint64_t len = lu.blocks_to_bytes(blocks);
  // Exactly the compare and the write data, nothing more or less (LIO's rule for data CDBs).
  if (!data_out_length_matches(lu, cmd, 2 * len)) return;
  if (blocks == 0) return complete_good(lu, cmd);
  uint64_t offset = lu.blocks_to_bytes(cmd.exec.lba);
  if (lu.info.native_compare_and_write) {
    return submit_request(lu, cmd, &BlockDevice::compare_and_write, offset, len, cmd.iov,
                          caw_flags(lu, cmd), native_done);
  }
  cmd.exec.step = kCawRead;
  submit_request(lu, cmd, &BlockDevice::read, offset, len, bounce_iov(cmd, len), 0,
                 emulated_step_done);
}

}  // namespace lunkit::scsi::handlers

// TEST UNIT READY, REQUEST SENSE, START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL, READ CAPACITY.
#include <array>
#include <bit>

#include "libscsi/bytes.h"
#include "libscsi/handlers.h"

namespace lunkit::scsi::handlers {

void test_unit_ready(LuState& lu, Command& cmd) {
  complete_good(lu, cmd);
}

void request_sense(LuState& lu, Command& cmd) {
  // Reports, with GOOD status, what the next command would otherwise have been told.
  Condition c = take_unit_attention(lu);
  if (c == Condition::kNoSense && lu.stopped) c = Condition::kNotReadyInitializingCommandRequired;
  std::array<uint8_t, kMaxSenseLength> sense{};
  SenseFormat fmt = (cmd.cdb[1] & 0x01) ? SenseFormat::kDescriptor : SenseFormat::kFixed;
  size_t len = build_sense(sense, fmt, c);
  put_data_in(cmd, std::span(sense).first(len), cmd.cdb[4]);
  complete_good(lu, cmd);
}

void start_stop_unit(LuState& lu, Command& cmd) {
  // Power conditions, LOEJ and NO_FLUSH are outside the usage mask (rejected before dispatch).
  // As LIO (sbc_emulate_startstop): the unit is always ready; stopping it is refused.
  if (!(cmd.cdb[4] & 0x01)) return complete_invalid_cdb(lu, cmd, 4, 0);
  lu.stopped = false;
  complete_good(lu, cmd);
}

void prevent_allow_medium_removal(LuState& lu, Command& cmd) {
  uint8_t prevent = cmd.cdb[4] & 0x03;
  if (prevent > 1) return complete_invalid_cdb(lu, cmd, 4, 1);
  lu.removal_prevented = prevent == 1;
  complete_good(lu, cmd);
}

void read_capacity10(LuState& lu, Command& cmd) {
  uint64_t cap = lu.capacity.load(std::memory_order_relaxed);
  uint64_t last = cap ? cap - 1 : 0;
  std::array<uint8_t, 8> data{};
  put_be32(&data[0], last > 0xFFFFFFFEull ? 0xFFFFFFFFu : static_cast<uint32_t>(last));
  put_be32(&data[4], lu.block_size);
  put_data_in(cmd, data, data.size());
  complete_good(lu, cmd);
}

void read_capacity16(LuState& lu, Command& cmd) {
  uint64_t cap = lu.capacity.load(std::memory_order_relaxed);
  std::array<uint8_t, 32> data{};
  put_be64(&data[0], cap ? cap - 1 : 0);
  put_be32(&data[8], lu.block_size);
  uint32_t ratio = lu.info.physical_block_size / lu.block_size;
  data[13] = static_cast<uint8_t>(ratio > 1 ? std::countr_zero(ratio) & 0x0F : 0);
  if (lu.info.thin_provisioning) {
    data[14] |= 0x80;                                // LBPME
    if (lu.info.unmap_reads_zero) data[14] |= 0x40;  // LBPRZ
  }
  put_data_in(cmd, data, get_be32(&cmd.cdb[10]));
  complete_good(lu, cmd);
}

}  // namespace lunkit::scsi::handlers

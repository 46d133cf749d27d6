// Moving response data to Data-In and parameter data out of Data-Out.
#include <algorithm>

#include "libscsi/iov.h"
#include "libscsi/lu_state.h"

namespace lunkit::scsi {

void put_data_in(Command& cmd, std::span<const uint8_t> data, size_t allocation_length) {
  size_t n = std::min({data.size(), allocation_length, cmd.data_len});
  cmd.data_in_len = static_cast<uint32_t>(copy_to_iov(cmd.iov, 0, data.data(), n));
}

bool data_out_length_matches(LuState& lu, Command& cmd, uint64_t expected) {
  if (cmd.data_len == expected) return true;
  complete_condition(lu, cmd, Condition::kInvalidFieldInCommandIu);
  return false;
}

bool get_data_out(const Command& cmd, uint8_t* dst, size_t len) {
  if (cmd.data_len < len) return false;
  return copy_from_iov(cmd.iov, 0, dst, len) == len;
}

}  // namespace lunkit::scsi

// EXTENDED COPY (LID1) and RECEIVE COPY RESULTS: the copy manager of one logical unit.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lunkit::scsi {

struct LuState;

// The per-unit copy manager: its one copy buffer, the copy that runs, those waiting behind it
// and the status of recent copies. Created with the unit; the buffer comes with the first copy.
struct CopyManager;
struct CopyManagerDeleter {
  void operator()(CopyManager* manager) const;
};
CopyManager* make_copy_manager();

// VPD 0x8F (Third-party Copy): writes the page body from byte 4 and returns its length.
size_t vpd_third_party_copy(const LuState& lu, uint8_t* page);

}  // namespace lunkit::scsi

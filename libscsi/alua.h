// ALUA answers built from the transport's description (include/lunkit/scsi/alua.h): INQUIRY
// TPGS, the VPD 0x83 port designators and REPORT TARGET PORT GROUPS.
#pragma once

#include <cstddef>
#include <cstdint>

#include "libscsi/lu_state.h"
#include "lunkit/scsi/alua.h"

namespace lunkit::scsi {

// The unit's ALUA description now; false when it has none (no source, or no groups).
bool current_alua(const LuState& lu, AluaDescription& out);
// Standard INQUIRY byte 5 TPGS bits: implicit ALUA (01b) with a description, else 00b.
// Explicit ALUA (SET TARGET PORT GROUPS) is not offered: lunkit cannot carry out a transition
// the kernel's target port groups would follow.
uint8_t tpgs_bits(const AluaDescription& alua);
// Appends the relative target port and target port group designators to a VPD 0x83 page;
// returns the bytes written (16).
size_t put_port_designators(const AluaDescription& alua, uint8_t* p);

}  // namespace lunkit::scsi

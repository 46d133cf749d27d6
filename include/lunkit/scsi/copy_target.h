// How EXTENDED COPY finds the block devices a copy names (SPC-5 6.6, CSCD descriptors).
//
// An initiator names the source and destination of a copy by the NAA designator of a logical
// unit (VPD 0x83). libscsi knows only the unit that received the command; any other unit is
// resolved by whoever owns the logical units (the daemon), and only the units it allows are
// reachable: TCMU does not say which initiator sent a command, so an initiator must not be able
// to read or overwrite a unit it was never given by naming its designator.
#pragma once

#include <cstdint>
#include <span>

#include "lunkit/block_device.h"

namespace lunkit::scsi {

// The longest NAA designator (IEEE Registered Extended, type 6).
inline constexpr size_t kMaxDesignatorLength = 16;

struct CopyTargetResolver {
  // Returns the device behind `designator` (the designator bytes of an NAA designation
  // descriptor: 8 or 16 bytes), or null when the copy may not reach it: the command then ends
  // with COPY ABORTED / COPY TARGET DEVICE NOT REACHABLE. Called on the thread that submits the
  // receiving unit's commands. A designator of the receiving unit itself never gets here.
  //
  // The returned device must stay valid until every request submitted to it has completed. It
  // takes requests from the receiving unit's submitting thread and from completions of that
  // unit's own device or of itself, and completes them on any thread from which the receiving
  // unit's device may be submitted to again (its own loop): the owner relays as needed.
  BlockDevice* (*resolve)(void* context, std::span<const uint8_t> designator) = nullptr;
  void* context = nullptr;
};

}  // namespace lunkit::scsi

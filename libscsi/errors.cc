// How device errors become SCSI status and sense: one table keyed by errno.
#include <cerrno>

#include "common/transient_error.h"
#include "libscsi/lu_state.h"

namespace lunkit::scsi {
namespace {

struct ErrnoRow {
  int err;
  Status status;  // kCheckCondition: use the conditions below
  Condition reading;
  Condition writing;
};

constexpr ErrnoRow kErrnoTable[] = {
    // Transient errors (common/transient_error.h) are answered before this table.
    // Out of space on a thin device.
    {ENOSPC, Status::kCheckCondition, Condition::kSpaceAllocationFailedWriteProtect,
     Condition::kSpaceAllocationFailedWriteProtect},
    {EDQUOT, Status::kCheckCondition, Condition::kSpaceAllocationFailedWriteProtect,
     Condition::kSpaceAllocationFailedWriteProtect},
    {EROFS, Status::kCheckCondition, Condition::kWriteProtected, Condition::kWriteProtected},
    {EIO, Status::kCheckCondition, Condition::kUnrecoveredReadError, Condition::kWriteError},
    {ENXIO, Status::kCheckCondition, Condition::kLogicalUnitCommunicationFailure,
     Condition::kLogicalUnitCommunicationFailure},
    {ENODEV, Status::kCheckCondition, Condition::kLogicalUnitCommunicationFailure,
     Condition::kLogicalUnitCommunicationFailure},
};

// A MEDIUM ERROR names the failing LBA in INFORMATION (SBC-4 4.18.1): the first block of the
// device request that failed, the most precise address the device reports. Requests without a
// range (flush) carry none.
void complete_medium_aware(LuState& lu, Command& cmd, Condition c, const SenseDetail& detail) {
  const BlockRequest& r = cmd.exec.request;
  if (condition_info(c).key == SenseKey::kMediumError && r.length && !detail.information &&
      !detail.copy_aborted) {
    SenseDetail with_lba = detail;
    with_lba.information = r.offset >> lu.block_shift;
    return complete_condition(lu, cmd, c, with_lba);
  }
  complete_condition(lu, cmd, c, detail);
}

}  // namespace

void complete_errno(LuState& lu, Command& cmd, int err, bool writing, const SenseDetail& detail) {
  if (err < 0) err = -err;
  // Transient: the initiator retries (a storage outage must not look like a bad medium).
  if (is_transient_error(err))
    return complete_status(lu, cmd, err == ENOMEM ? Status::kTaskSetFull : Status::kBusy);
  for (const ErrnoRow& row : kErrnoTable) {
    if (row.err != err) continue;
    if (row.status != Status::kCheckCondition) return complete_status(lu, cmd, row.status);
    return complete_medium_aware(lu, cmd, writing ? row.writing : row.reading, detail);
  }
  // Anything else is a fault of the backing store, reported by direction.
  complete_medium_aware(
      lu, cmd, writing ? Condition::kWriteError : Condition::kUnrecoveredReadError, detail);
}

}  // namespace lunkit::scsi

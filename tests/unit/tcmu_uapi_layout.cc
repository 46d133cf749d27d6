// lunkit's TCMU layout by name, for tests/unit/tcmu_uapi_test.c (which checks it against the
// kernel header).
#include <cstring>
#include <string_view>

#include "tcmu/protocol.h"

using namespace lunkit::tcmu;

extern "C" long lunkit_tcmu_layout(const char* name) {
  struct Row {
    std::string_view name;
    long value;
  };
  static constexpr Row kRows[] = {
      {"mailbox.size", mailbox::kSize},
      {"mailbox.version", mailbox::kVersion},
      {"mailbox.flags", mailbox::kFlags},
      {"mailbox.cmdr_off", mailbox::kCmdrOff},
      {"mailbox.cmdr_size", mailbox::kCmdrSize},
      {"mailbox.cmd_head", mailbox::kCmdHead},
      {"mailbox.cmd_tail", mailbox::kCmdTail},
      {"version", kMailboxVersion},
      {"cap.ooooc", kCapOutOfOrder},
      {"cap.read_len", kCapReadLen},
      {"cap.tmr", kCapTmr},
      {"cap.keep_buf", kCapKeepBuf},
      {"op.pad", kOpPad},
      {"op.cmd", kOpCmd},
      {"op.tmr", kOpTmr},
      {"op.mask", kOpMask},
      {"uflag.unknown_op", kUflagUnknownOp},
      {"uflag.read_len", kUflagReadLen},
      {"uflag.keep_buf", kUflagKeepBuf},
      {"sense.size", kSenseBufferSize},
      {"entry.size", entry::kMinSize},
      {"entry.header", entry::kHeaderSize},
      {"entry.len_op", entry::kLenOp},
      {"entry.cmd_id", entry::kCmdId},
      {"entry.kflags", entry::kKflags},
      {"entry.uflags", entry::kUflags},
      {"entry.iov_cnt", entry::kIovCnt},
      {"entry.iov_bidi_cnt", entry::kIovBidiCnt},
      {"entry.iov_dif_cnt", entry::kIovDifCnt},
      {"entry.cdb_off", entry::kCdbOff},
      {"entry.iov", entry::kIov},
      {"entry.iov_size", entry::kIovSize},
      {"entry.scsi_status", entry::kScsiStatus},
      {"entry.read_len", entry::kReadLen},
      {"entry.sense", entry::kSense},
      {"tmr.size", tmr::kHeaderSize},
      {"tmr.type", tmr::kType},
      {"tmr.cmd_cnt", tmr::kCmdCnt},
      {"tmr.cmd_ids", tmr::kCmdIds},
      {"tmr.abort_task", kTmrAbortTask},
      {"tmr.abort_task_set", kTmrAbortTaskSet},
      {"tmr.clear_aca", kTmrClearAca},
      {"tmr.clear_task_set", kTmrClearTaskSet},
      {"tmr.lun_reset", kTmrLunReset},
      {"tmr.target_warm_reset", kTmrTargetWarmReset},
      {"tmr.target_cold_reset", kTmrTargetColdReset},
      {"tmr.lun_reset_pr", kTmrLunResetPr},
      {"genl.added", genl::kAddedDevice},
      {"genl.removed", genl::kRemovedDevice},
      {"genl.reconfig", genl::kReconfigDevice},
      {"genl.added_done", genl::kAddedDeviceDone},
      {"genl.removed_done", genl::kRemovedDeviceDone},
      {"genl.reconfig_done", genl::kReconfigDeviceDone},
      {"genl.set_features", genl::kSetFeatures},
      {"attr.device", genl::kAttrDevice},
      {"attr.minor", genl::kAttrMinor},
      {"attr.pad", genl::kAttrPad},
      {"attr.dev_cfg", genl::kAttrDevCfg},
      {"attr.dev_size", genl::kAttrDevSize},
      {"attr.writecache", genl::kAttrWriteCache},
      {"attr.cmd_status", genl::kAttrCmdStatus},
      {"attr.device_id", genl::kAttrDeviceId},
      {"attr.supp_kern_cmd_reply", genl::kAttrSuppKernCmdReply},
      {"attr.max", genl::kAttrMax},
  };
  for (const Row& r : kRows)
    if (r.name == name) return r.value;
  return -1;
}

/* Checks lunkit's TCMU layout (tcmu/protocol.h) against the installed kernel UAPI header, which
 * only compiles as C. lunkit_tcmu_layout() reports lunkit's numbers by name. */
#include <linux/target_core_user.h>
#include <stddef.h>
#include <stdio.h>

long lunkit_tcmu_layout(const char* name);

#include "tests/unit/layout_check.h"

int main(void) {
  layout_lookup = lunkit_tcmu_layout;
  check("mailbox.size", sizeof(struct tcmu_mailbox));
  check("mailbox.version", offsetof(struct tcmu_mailbox, version));
  check("mailbox.flags", offsetof(struct tcmu_mailbox, flags));
  check("mailbox.cmdr_off", offsetof(struct tcmu_mailbox, cmdr_off));
  check("mailbox.cmdr_size", offsetof(struct tcmu_mailbox, cmdr_size));
  check("mailbox.cmd_head", offsetof(struct tcmu_mailbox, cmd_head));
  check("mailbox.cmd_tail", offsetof(struct tcmu_mailbox, cmd_tail));
  check("version", TCMU_MAILBOX_VERSION);
  check("cap.ooooc", TCMU_MAILBOX_FLAG_CAP_OOOC);
  check("cap.read_len", TCMU_MAILBOX_FLAG_CAP_READ_LEN);
  check("cap.tmr", TCMU_MAILBOX_FLAG_CAP_TMR);
  check("cap.keep_buf", TCMU_MAILBOX_FLAG_CAP_KEEP_BUF);
  check("op.pad", TCMU_OP_PAD);
  check("op.cmd", TCMU_OP_CMD);
  check("op.tmr", TCMU_OP_TMR);
  check("op.mask", TCMU_OP_MASK);
  check("uflag.unknown_op", TCMU_UFLAG_UNKNOWN_OP);
  check("uflag.read_len", TCMU_UFLAG_READ_LEN);
  check("uflag.keep_buf", TCMU_UFLAG_KEEP_BUF);
  check("sense.size", TCMU_SENSE_BUFFERSIZE);
  check("entry.size", sizeof(struct tcmu_cmd_entry));
  check("entry.header", sizeof(struct tcmu_cmd_entry_hdr));
  check("entry.len_op", offsetof(struct tcmu_cmd_entry, hdr.len_op));
  check("entry.cmd_id", offsetof(struct tcmu_cmd_entry, hdr.cmd_id));
  check("entry.kflags", offsetof(struct tcmu_cmd_entry, hdr.kflags));
  check("entry.uflags", offsetof(struct tcmu_cmd_entry, hdr.uflags));
  check("entry.iov_cnt", offsetof(struct tcmu_cmd_entry, req.iov_cnt));
  check("entry.iov_bidi_cnt", offsetof(struct tcmu_cmd_entry, req.iov_bidi_cnt));
  check("entry.iov_dif_cnt", offsetof(struct tcmu_cmd_entry, req.iov_dif_cnt));
  check("entry.cdb_off", offsetof(struct tcmu_cmd_entry, req.cdb_off));
  check("entry.iov", offsetof(struct tcmu_cmd_entry, req.iov));
  check("entry.iov_size", sizeof(struct iovec));
  check("entry.scsi_status", offsetof(struct tcmu_cmd_entry, rsp.scsi_status));
  check("entry.read_len", offsetof(struct tcmu_cmd_entry, rsp.read_len));
  check("entry.sense", offsetof(struct tcmu_cmd_entry, rsp.sense_buffer));
  check("tmr.size", sizeof(struct tcmu_tmr_entry));
  check("tmr.type", offsetof(struct tcmu_tmr_entry, tmr_type));
  check("tmr.cmd_cnt", offsetof(struct tcmu_tmr_entry, cmd_cnt));
  check("tmr.cmd_ids", offsetof(struct tcmu_tmr_entry, cmd_ids));
  check("tmr.abort_task", TCMU_TMR_ABORT_TASK);
  check("tmr.abort_task_set", TCMU_TMR_ABORT_TASK_SET);
  check("tmr.clear_aca", TCMU_TMR_CLEAR_ACA);
  check("tmr.clear_task_set", TCMU_TMR_CLEAR_TASK_SET);
  check("tmr.lun_reset", TCMU_TMR_LUN_RESET);
  check("tmr.target_warm_reset", TCMU_TMR_TARGET_WARM_RESET);
  check("tmr.target_cold_reset", TCMU_TMR_TARGET_COLD_RESET);
  check("tmr.lun_reset_pr", TCMU_TMR_LUN_RESET_PRO);
  check("genl.added", TCMU_CMD_ADDED_DEVICE);
  check("genl.removed", TCMU_CMD_REMOVED_DEVICE);
  check("genl.reconfig", TCMU_CMD_RECONFIG_DEVICE);
  check("genl.added_done", TCMU_CMD_ADDED_DEVICE_DONE);
  check("genl.removed_done", TCMU_CMD_REMOVED_DEVICE_DONE);
  check("genl.reconfig_done", TCMU_CMD_RECONFIG_DEVICE_DONE);
  check("genl.set_features", TCMU_CMD_SET_FEATURES);
  check("attr.device", TCMU_ATTR_DEVICE);
  check("attr.minor", TCMU_ATTR_MINOR);
  check("attr.pad", TCMU_ATTR_PAD);
  check("attr.dev_cfg", TCMU_ATTR_DEV_CFG);
  check("attr.dev_size", TCMU_ATTR_DEV_SIZE);
  check("attr.writecache", TCMU_ATTR_WRITECACHE);
  check("attr.cmd_status", TCMU_ATTR_CMD_STATUS);
  check("attr.device_id", TCMU_ATTR_DEVICE_ID);
  check("attr.supp_kern_cmd_reply", TCMU_ATTR_SUPP_KERN_CMD_REPLY);
  check("attr.max", TCMU_ATTR_MAX);
  return layout_report();
}

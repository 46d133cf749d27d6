/* Checks lunkit's ublk definitions (ublk/uapi.h) against the installed kernel UAPI header. Debian
 * 12 installs the 6.1 header: everything it has must agree (the ioctl-encoded opcodes and
 * GET_FEATURES are 6.12 additions checked by static_asserts in ublk/uapi.h). */
#include <errno.h>
#include <linux/ublk_cmd.h>
#include <stddef.h>
#include <stdio.h>

long lunkit_ublk_layout(const char* name);

#include "tests/unit/layout_check.h"

int main(void) {
  layout_lookup = lunkit_ublk_layout;
  check("cmd.get_dev_info", UBLK_CMD_GET_DEV_INFO);
  check("cmd.add_dev", UBLK_CMD_ADD_DEV);
  check("cmd.del_dev", UBLK_CMD_DEL_DEV);
  check("cmd.start_dev", UBLK_CMD_START_DEV);
  check("cmd.stop_dev", UBLK_CMD_STOP_DEV);
  check("cmd.set_params", UBLK_CMD_SET_PARAMS);
  check("cmd.get_params", UBLK_CMD_GET_PARAMS);
  check("cmd.start_user_recovery", UBLK_CMD_START_USER_RECOVERY);
  check("cmd.end_user_recovery", UBLK_CMD_END_USER_RECOVERY);
  check("io.fetch_req", UBLK_IO_FETCH_REQ);
  check("io.commit_and_fetch_req", UBLK_IO_COMMIT_AND_FETCH_REQ);
  check("io.res_ok", UBLK_IO_RES_OK);
  check("io.res_need_get_data", UBLK_IO_RES_NEED_GET_DATA);
  check("io.res_abort", UBLK_IO_RES_ABORT);
  check("buf.cmd_offset", UBLKSRV_CMD_BUF_OFFSET);
  check("buf.io_offset", UBLKSRV_IO_BUF_OFFSET);
  check("max_queue_depth", UBLK_MAX_QUEUE_DEPTH);
  check("f.zero_copy", (long)UBLK_F_SUPPORT_ZERO_COPY);
  check("f.comp_in_task", (long)UBLK_F_URING_CMD_COMP_IN_TASK);
  check("f.need_get_data", (long)UBLK_F_NEED_GET_DATA);
  check("f.user_recovery", (long)UBLK_F_USER_RECOVERY);
  check("f.user_recovery_reissue", (long)UBLK_F_USER_RECOVERY_REISSUE);
  check("state.dead", UBLK_S_DEV_DEAD);
  check("state.live", UBLK_S_DEV_LIVE);
  check("state.quiesced", UBLK_S_DEV_QUIESCED);
  check("ctrl_cmd.size", sizeof(struct ublksrv_ctrl_cmd));
  check("ctrl_cmd.dev_id", offsetof(struct ublksrv_ctrl_cmd, dev_id));
  check("ctrl_cmd.queue_id", offsetof(struct ublksrv_ctrl_cmd, queue_id));
  check("ctrl_cmd.len", offsetof(struct ublksrv_ctrl_cmd, len));
  check("ctrl_cmd.addr", offsetof(struct ublksrv_ctrl_cmd, addr));
  check("ctrl_cmd.data", offsetof(struct ublksrv_ctrl_cmd, data));
  check("dev_info.size", sizeof(struct ublksrv_ctrl_dev_info));
  check("dev_info.nr_hw_queues", offsetof(struct ublksrv_ctrl_dev_info, nr_hw_queues));
  check("dev_info.queue_depth", offsetof(struct ublksrv_ctrl_dev_info, queue_depth));
  check("dev_info.state", offsetof(struct ublksrv_ctrl_dev_info, state));
  check("dev_info.max_io_buf_bytes", offsetof(struct ublksrv_ctrl_dev_info, max_io_buf_bytes));
  check("dev_info.dev_id", offsetof(struct ublksrv_ctrl_dev_info, dev_id));
  check("dev_info.ublksrv_pid", offsetof(struct ublksrv_ctrl_dev_info, ublksrv_pid));
  check("dev_info.flags", offsetof(struct ublksrv_ctrl_dev_info, flags));
  check("dev_info.ublksrv_flags", offsetof(struct ublksrv_ctrl_dev_info, ublksrv_flags));
  check("op.read", UBLK_IO_OP_READ);
  check("op.write", UBLK_IO_OP_WRITE);
  check("op.flush", UBLK_IO_OP_FLUSH);
  check("op.discard", UBLK_IO_OP_DISCARD);
  check("op.write_same", UBLK_IO_OP_WRITE_SAME);
  check("op.write_zeroes", UBLK_IO_OP_WRITE_ZEROES);
  check("iof.failfast_dev", UBLK_IO_F_FAILFAST_DEV);
  check("iof.failfast_transport", UBLK_IO_F_FAILFAST_TRANSPORT);
  check("iof.failfast_driver", UBLK_IO_F_FAILFAST_DRIVER);
  check("iof.meta", UBLK_IO_F_META);
  check("iof.fua", UBLK_IO_F_FUA);
  check("iof.nounmap", UBLK_IO_F_NOUNMAP);
  check("iof.swap", UBLK_IO_F_SWAP);
  check("io_desc.size", sizeof(struct ublksrv_io_desc));
  check("io_desc.op_flags", offsetof(struct ublksrv_io_desc, op_flags));
  check("io_desc.nr_sectors", offsetof(struct ublksrv_io_desc, nr_sectors));
  check("io_desc.start_sector", offsetof(struct ublksrv_io_desc, start_sector));
  check("io_desc.addr", offsetof(struct ublksrv_io_desc, addr));
  check("io_cmd.size", sizeof(struct ublksrv_io_cmd));
  check("io_cmd.q_id", offsetof(struct ublksrv_io_cmd, q_id));
  check("io_cmd.tag", offsetof(struct ublksrv_io_cmd, tag));
  check("io_cmd.result", offsetof(struct ublksrv_io_cmd, result));
  check("io_cmd.addr", offsetof(struct ublksrv_io_cmd, addr));
  check("attr.read_only", UBLK_ATTR_READ_ONLY);
  check("attr.rotational", UBLK_ATTR_ROTATIONAL);
  check("attr.volatile_cache", UBLK_ATTR_VOLATILE_CACHE);
  check("attr.fua", UBLK_ATTR_FUA);
  check("basic.size", sizeof(struct ublk_param_basic));
  check("basic.attrs", offsetof(struct ublk_param_basic, attrs));
  check("basic.logical_bs_shift", offsetof(struct ublk_param_basic, logical_bs_shift));
  check("basic.physical_bs_shift", offsetof(struct ublk_param_basic, physical_bs_shift));
  check("basic.io_opt_shift", offsetof(struct ublk_param_basic, io_opt_shift));
  check("basic.io_min_shift", offsetof(struct ublk_param_basic, io_min_shift));
  check("basic.max_sectors", offsetof(struct ublk_param_basic, max_sectors));
  check("basic.chunk_sectors", offsetof(struct ublk_param_basic, chunk_sectors));
  check("basic.dev_sectors", offsetof(struct ublk_param_basic, dev_sectors));
  check("basic.virt_boundary_mask", offsetof(struct ublk_param_basic, virt_boundary_mask));
  check("discard.size", sizeof(struct ublk_param_discard));
  check("discard.alignment", offsetof(struct ublk_param_discard, discard_alignment));
  check("discard.granularity", offsetof(struct ublk_param_discard, discard_granularity));
  check("discard.max_discard_sectors", offsetof(struct ublk_param_discard, max_discard_sectors));
  check("discard.max_write_zeroes_sectors",
        offsetof(struct ublk_param_discard, max_write_zeroes_sectors));
  check("discard.max_discard_segments", offsetof(struct ublk_param_discard, max_discard_segments));
  check("params.len", offsetof(struct ublk_params, len));
  check("params.types", offsetof(struct ublk_params, types));
  check("params.basic", offsetof(struct ublk_params, basic));
  check("params.discard", offsetof(struct ublk_params, discard));
  check("param.basic", UBLK_PARAM_TYPE_BASIC);
  check("param.discard", UBLK_PARAM_TYPE_DISCARD);
  return layout_report();
}

// lunkit's own definition of the Linux 6.12 ublk interface (include/uapi/linux/ublk_cmd.h) that the
// frontend uses. Debian 12's installed header is the 6.1 version (no ioctl-encoded opcodes, no
// GET_FEATURES), so the values live here; tests/unit/ublk_uapi_test.c checks every layout and value
// that the installed header also has.
#pragma once

#include <sys/ioctl.h>

#include <cerrno>
#include <cstdint>

namespace lunkit::ublk {

// ---- Control commands (IORING_OP_URING_CMD on /dev/ublk-control, a ring with 128-byte SQEs) ----
struct CtrlCmd {  // struct ublksrv_ctrl_cmd, in the SQE's command area
  uint32_t dev_id;
  uint16_t queue_id;
  uint16_t len;
  uint64_t addr;
  uint64_t data[1];
  uint16_t dev_path_len;
  uint16_t pad;
  uint32_t reserved;
};
static_assert(sizeof(CtrlCmd) == 32);

struct DevInfo {  // struct ublksrv_ctrl_dev_info
  uint16_t nr_hw_queues;
  uint16_t queue_depth;
  uint16_t state;
  uint16_t pad0;
  uint32_t max_io_buf_bytes;
  uint32_t dev_id;
  int32_t ublksrv_pid;
  uint32_t pad1;
  uint64_t flags;
  uint64_t ublksrv_flags;
  uint32_t owner_uid;
  uint32_t owner_gid;
  uint64_t reserved1;
  uint64_t reserved2;
};
static_assert(sizeof(DevInfo) == 64);

// Command numbers (the _IOC_NR part); the kernel wants them ioctl-encoded.
inline constexpr uint32_t kCmdGetQueueAffinity = 0x01;
inline constexpr uint32_t kCmdGetDevInfo = 0x02;
inline constexpr uint32_t kCmdAddDev = 0x04;
inline constexpr uint32_t kCmdDelDev = 0x05;
inline constexpr uint32_t kCmdStartDev = 0x06;
inline constexpr uint32_t kCmdStopDev = 0x07;
inline constexpr uint32_t kCmdSetParams = 0x08;
inline constexpr uint32_t kCmdGetParams = 0x09;
inline constexpr uint32_t kCmdStartUserRecovery = 0x10;
inline constexpr uint32_t kCmdEndUserRecovery = 0x11;
inline constexpr uint32_t kCmdGetDevInfo2 = 0x12;
inline constexpr uint32_t kCmdGetFeatures = 0x13;
// Later kernels (Linux 6.16): only sent when GET_FEATURES offers the matching device flag.
inline constexpr uint32_t kCmdUpdateSize = 0x15;
inline constexpr uint32_t kCmdQuiesceDev = 0x16;

inline constexpr uint32_t ctrl_read(uint32_t nr) {
  return _IOR('u', nr, CtrlCmd);
}
inline constexpr uint32_t ctrl_readwrite(uint32_t nr) {
  return _IOWR('u', nr, CtrlCmd);
}
inline constexpr uint32_t kUCmdGetQueueAffinity = ctrl_read(kCmdGetQueueAffinity);
inline constexpr uint32_t kUCmdGetDevInfo = ctrl_read(kCmdGetDevInfo);
inline constexpr uint32_t kUCmdAddDev = ctrl_readwrite(kCmdAddDev);
inline constexpr uint32_t kUCmdDelDev = ctrl_readwrite(kCmdDelDev);
inline constexpr uint32_t kUCmdStartDev = ctrl_readwrite(kCmdStartDev);
inline constexpr uint32_t kUCmdStopDev = ctrl_readwrite(kCmdStopDev);
inline constexpr uint32_t kUCmdSetParams = ctrl_readwrite(kCmdSetParams);
inline constexpr uint32_t kUCmdGetParams = ctrl_read(kCmdGetParams);
inline constexpr uint32_t kUCmdStartUserRecovery = ctrl_readwrite(kCmdStartUserRecovery);
inline constexpr uint32_t kUCmdEndUserRecovery = ctrl_readwrite(kCmdEndUserRecovery);
inline constexpr uint32_t kUCmdGetFeatures = ctrl_read(kCmdGetFeatures);
inline constexpr uint32_t kUCmdUpdateSize = ctrl_readwrite(kCmdUpdateSize);
inline constexpr uint32_t kUCmdQuiesceDev = ctrl_readwrite(kCmdQuiesceDev);
static_assert(kUCmdAddDev == 0xc0207504 && kUCmdGetFeatures == 0x80207513);
static_assert(kUCmdGetQueueAffinity == 0x80207501);
static_assert(kUCmdUpdateSize == 0xc0207515 && kUCmdQuiesceDev == 0xc0207516);

inline constexpr uint32_t kFeaturesLen = 8;

// Device flags (negotiated at ADD_DEV).
inline constexpr uint64_t kFlagSupportZeroCopy = 1ull << 0;
inline constexpr uint64_t kFlagCompInTask = 1ull << 1;
inline constexpr uint64_t kFlagNeedGetData = 1ull << 2;
inline constexpr uint64_t kFlagUserRecovery = 1ull << 3;
inline constexpr uint64_t kFlagUserRecoveryReissue = 1ull << 4;
inline constexpr uint64_t kFlagUnprivileged = 1ull << 5;
inline constexpr uint64_t kFlagCmdIoctlEncode = 1ull << 6;
inline constexpr uint64_t kFlagUserCopy = 1ull << 7;
inline constexpr uint64_t kFlagZoned = 1ull << 8;
// Later kernels: GET_FEATURES reports which of these the running one has.
inline constexpr uint64_t kFlagUserRecoveryFailIo = 1ull << 9;  // 6.13
inline constexpr uint64_t kFlagUpdateSize = 1ull << 10;         // 6.16: UPDATE_SIZE
inline constexpr uint64_t kFlagAutoBufReg = 1ull << 11;         // 6.16
inline constexpr uint64_t kFlagQuiesce = 1ull << 12;            // 6.16: QUIESCE_DEV
inline constexpr uint64_t kFlagPerIoDaemon = 1ull << 13;        // 6.16
inline constexpr uint64_t kFlagBufRegOffDaemon = 1ull << 14;    // 6.17

// Device states (DevInfo::state).
inline constexpr uint16_t kStateDead = 0;
inline constexpr uint16_t kStateLive = 1;
inline constexpr uint16_t kStateQuiesced = 2;

// ---- Parameters (SET_PARAMS / GET_PARAMS) ----
inline constexpr uint32_t kAttrReadOnly = 1u << 0;
inline constexpr uint32_t kAttrRotational = 1u << 1;
inline constexpr uint32_t kAttrVolatileCache = 1u << 2;
inline constexpr uint32_t kAttrFua = 1u << 3;

struct ParamBasic {  // struct ublk_param_basic
  uint32_t attrs;
  uint8_t logical_bs_shift;
  uint8_t physical_bs_shift;
  uint8_t io_opt_shift;
  uint8_t io_min_shift;
  uint32_t max_sectors;
  uint32_t chunk_sectors;
  uint64_t dev_sectors;
  uint64_t virt_boundary_mask;
};
static_assert(sizeof(ParamBasic) == 32);

struct ParamDiscard {  // struct ublk_param_discard
  uint32_t discard_alignment;
  uint32_t discard_granularity;
  uint32_t max_discard_sectors;
  uint32_t max_write_zeroes_sectors;
  uint16_t max_discard_segments;
  uint16_t reserved0;
};
static_assert(sizeof(ParamDiscard) == 20);

struct ParamDevt {  // struct ublk_param_devt (read-only: GET_PARAMS fills it)
  uint32_t char_major;
  uint32_t char_minor;
  uint32_t disk_major;
  uint32_t disk_minor;
};

struct ParamZoned {  // struct ublk_param_zoned
  uint32_t max_open_zones;
  uint32_t max_active_zones;
  uint32_t max_zone_append_sectors;
  uint8_t reserved[20];
};

inline constexpr uint32_t kParamBasic = 1u << 0;
inline constexpr uint32_t kParamDiscard = 1u << 1;
inline constexpr uint32_t kParamDevt = 1u << 2;
inline constexpr uint32_t kParamZoned = 1u << 3;

struct Params {  // struct ublk_params
  uint32_t len;
  uint32_t types;
  ParamBasic basic;
  ParamDiscard discard;
  ParamDevt devt;
  ParamZoned zoned;
};
static_assert(sizeof(Params) == 112);

// ---- I/O commands (IORING_OP_URING_CMD on /dev/ublkcN, 64-byte SQEs) ----
struct IoCmd {  // struct ublksrv_io_cmd
  uint16_t q_id;
  uint16_t tag;
  int32_t result;
  uint64_t addr;
};
static_assert(sizeof(IoCmd) == 16);

inline constexpr uint32_t kIoFetchReq = 0x20;
inline constexpr uint32_t kIoCommitAndFetchReq = 0x21;
inline constexpr uint32_t kUIoFetchReq = _IOWR('u', kIoFetchReq, IoCmd);
inline constexpr uint32_t kUIoCommitAndFetchReq = _IOWR('u', kIoCommitAndFetchReq, IoCmd);
static_assert(kUIoFetchReq == 0xc0107520 && kUIoCommitAndFetchReq == 0xc0107521);

// UBLK_F_AUTO_BUF_REG (6.16): where the kernel registers a request's pages on the ring that
// fetched it, in the FETCH / COMMIT_AND_FETCH SQE's own `addr` field (not IoCmd::addr, which must
// then be 0): struct ublk_auto_buf_reg, the buffer index in bits 0-15 and its flags in 16-23
// (UBLK_AUTO_BUF_REG_FALLBACK: deliver the request unregistered, rather than fail it, when the
// slot cannot take it); bits 24-63 are reserved and must be 0. The kernel unregisters the buffer
// itself when the commit comes on the same ring.
inline constexpr uint8_t kAutoBufRegFallback = 1u << 0;
inline constexpr uint64_t auto_buf_reg_sqe_addr(uint16_t index, uint8_t flags = 0) {
  return uint64_t{index} | uint64_t{flags} << 16;
}
static_assert(auto_buf_reg_sqe_addr(0x1234, kAutoBufRegFallback) == 0x11234);

inline constexpr int32_t kIoResOk = 0;
inline constexpr int32_t kIoResNeedGetData = 1;
inline constexpr int32_t kIoResAbort = -ENODEV;

// One request, in the queue's read-only descriptor array (struct ublksrv_io_desc).
struct IoDesc {
  uint32_t op_flags;  // op in bits 0-7, kIoF* flags above
  uint32_t nr_sectors;
  uint64_t start_sector;
  uint64_t addr;
};
static_assert(sizeof(IoDesc) == 24);

inline constexpr uint8_t kOpRead = 0;
inline constexpr uint8_t kOpWrite = 1;
inline constexpr uint8_t kOpFlush = 2;
inline constexpr uint8_t kOpDiscard = 3;
inline constexpr uint8_t kOpWriteSame = 4;
inline constexpr uint8_t kOpWriteZeroes = 5;

inline constexpr uint32_t kIoFFailfastDev = 1u << 8;
inline constexpr uint32_t kIoFFailfastTransport = 1u << 9;
inline constexpr uint32_t kIoFFailfastDriver = 1u << 10;
inline constexpr uint32_t kIoFMeta = 1u << 11;
inline constexpr uint32_t kIoFFua = 1u << 13;
inline constexpr uint32_t kIoFNoUnmap = 1u << 15;
inline constexpr uint32_t kIoFSwap = 1u << 16;

// Where queue q's descriptors are mapped from /dev/ublkcN: each queue has room for the maximum
// depth, rounded up to pages.
inline constexpr uint32_t kMaxQueueDepth = 4096;
inline constexpr uint32_t kMaxQueues = 4096;
inline constexpr uint64_t kCmdBufOffset = 0;
inline constexpr uint64_t kIoBufOffset = 0x80000000;
inline constexpr uint32_t kMaxIoBufBytes = 1u << 25;  // 32 MiB per request

}  // namespace lunkit::ublk

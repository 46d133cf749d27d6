// The target_core_user shared-memory protocol of Linux 6.12, as lunkit's own definitions.
//
// <linux/target_core_user.h> cannot be used from C++ next to <sys/uio.h> (it brings its own
// struct iovec and a C-only inline function), so the layout is written down here by offset;
// tests/unit/tcmu_uapi_test.c checks every number against the installed kernel header.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace lunkit::tcmu {

constexpr uint16_t kMailboxVersion = 2;
// Mailbox capability flags.
constexpr uint16_t kCapOutOfOrder = 1u << 0;
constexpr uint16_t kCapReadLen = 1u << 1;
constexpr uint16_t kCapTmr = 1u << 2;
constexpr uint16_t kCapKeepBuf = 1u << 3;

// struct tcmu_mailbox (packed; cmd_tail on its own cache line).
namespace mailbox {
constexpr size_t kVersion = 0;   // u16
constexpr size_t kFlags = 2;     // u16
constexpr size_t kCmdrOff = 4;   // u32
constexpr size_t kCmdrSize = 8;  // u32
constexpr size_t kCmdHead = 12;  // u32, written by the kernel
constexpr size_t kCmdTail = 64;  // u32, written by userspace
constexpr size_t kSize = 128;
}  // namespace mailbox

// Entry opcodes, in the low bits of len_op; the length (8-byte aligned) is in the rest.
constexpr uint32_t kOpPad = 0;
constexpr uint32_t kOpCmd = 1;
constexpr uint32_t kOpTmr = 2;
constexpr uint32_t kOpMask = 0x7;

// Flags userspace sets in a completed entry.
constexpr uint8_t kUflagUnknownOp = 0x1;
constexpr uint8_t kUflagReadLen = 0x2;
constexpr uint8_t kUflagKeepBuf = 0x4;

constexpr size_t kSenseBufferSize = 96;

// struct tcmu_cmd_entry: an 8-byte header, then the request (iovecs follow at 48) or, once
// completed, the response in the same bytes.
namespace entry {
constexpr size_t kLenOp = 0;        // u32
constexpr size_t kCmdId = 4;        // u16
constexpr size_t kKflags = 6;       // u8
constexpr size_t kUflags = 7;       // u8
constexpr size_t kIovCnt = 8;       // u32
constexpr size_t kIovBidiCnt = 12;  // u32
constexpr size_t kIovDifCnt = 16;   // u32
constexpr size_t kCdbOff = 24;      // u64, from the start of the mapping
constexpr size_t kIov = 48;         // struct iovec[]: u64 offset, u64 length
constexpr size_t kIovSize = 16;
constexpr size_t kScsiStatus = 8;  // u8
constexpr size_t kReadLen = 12;    // u32
constexpr size_t kSense = 16;      // 96 bytes
constexpr size_t kMinSize = 112;   // sizeof(struct tcmu_cmd_entry)
constexpr size_t kHeaderSize = 8;
}  // namespace entry

// struct tcmu_tmr_entry.
namespace tmr {
constexpr size_t kType = 8;     // u8
constexpr size_t kCmdCnt = 12;  // u32
constexpr size_t kCmdIds = 32;  // u16[]
constexpr size_t kHeaderSize = 32;
}  // namespace tmr

// TMR types.
constexpr uint8_t kTmrAbortTask = 1;
constexpr uint8_t kTmrAbortTaskSet = 2;
constexpr uint8_t kTmrClearAca = 3;
constexpr uint8_t kTmrClearTaskSet = 4;
constexpr uint8_t kTmrLunReset = 5;
constexpr uint8_t kTmrTargetWarmReset = 6;
constexpr uint8_t kTmrTargetColdReset = 7;
constexpr uint8_t kTmrLunResetPr = 128;

// Generic netlink family "TCM-USER", version 2, multicast group "config".
namespace genl {
constexpr const char* kFamily = "TCM-USER";
constexpr int kVersion = 2;
constexpr const char* kConfigGroup = "config";
// Commands.
constexpr uint8_t kAddedDevice = 1;
constexpr uint8_t kRemovedDevice = 2;
constexpr uint8_t kReconfigDevice = 3;
constexpr uint8_t kAddedDeviceDone = 4;
constexpr uint8_t kRemovedDeviceDone = 5;
constexpr uint8_t kReconfigDeviceDone = 6;
constexpr uint8_t kSetFeatures = 7;
// Attributes.
constexpr int kAttrDevice = 1;  // string: the UIO name
constexpr int kAttrMinor = 2;   // u32: the UIO minor
constexpr int kAttrPad = 3;
constexpr int kAttrDevCfg = 4;            // string
constexpr int kAttrDevSize = 5;           // u64
constexpr int kAttrWriteCache = 6;        // u8
constexpr int kAttrCmdStatus = 7;         // s32
constexpr int kAttrDeviceId = 8;          // u32
constexpr int kAttrSuppKernCmdReply = 9;  // u8
constexpr int kAttrMax = 9;
}  // namespace genl

constexpr uint32_t kEntryAlign = 8;
constexpr size_t kDataBlockSize = 4096;
// Aliases used throughout the transport.
constexpr uint32_t kMailboxSize = mailbox::kSize;
constexpr uint32_t kCmdEntrySize = entry::kMinSize;
constexpr uint32_t kCmdIovOffset = entry::kIov;
constexpr uint32_t kIovSize = entry::kIovSize;
constexpr uint32_t kTmrHeaderSize = tmr::kHeaderSize;

inline uint32_t entry_op(uint32_t len_op) {
  return len_op & kOpMask;
}
inline uint32_t entry_len(uint32_t len_op) {
  return len_op & ~kOpMask;
}
inline uint32_t make_len_op(uint32_t len, uint32_t op) {
  return len | (op & kOpMask);
}

// The CDB length the kernel copies into the ring (scsi_command_size()).
inline size_t cdb_size(const uint8_t* cdb) {
  static constexpr uint8_t kGroupSize[8] = {6, 10, 10, 12, 16, 12, 10, 10};
  if (cdb[0] == 0x7F) return 8u + cdb[7];  // variable length CDB
  return kGroupSize[cdb[0] >> 5];
}

// Mailbox words, addressed by offset.
constexpr size_t kCmdHeadOffset = mailbox::kCmdHead;
constexpr size_t kCmdTailOffset = mailbox::kCmdTail;
inline uint32_t* mailbox_word(uint8_t* base, size_t offset) {
  return reinterpret_cast<uint32_t*>(base + offset);
}
// Shared-memory words the other side writes concurrently.
inline uint32_t load_acquire(uint32_t* p) {
  return std::atomic_ref<uint32_t>(*p).load(std::memory_order_acquire);
}
inline void store_release(uint32_t* p, uint32_t v) {
  std::atomic_ref<uint32_t>(*p).store(v, std::memory_order_release);
}

}  // namespace lunkit::tcmu

// The ublk device flags by name: what `lunkit ublk list` shows of each device and what the log
// says a new device got. Flags every device has are left out (kFlagsOfEveryDevice).
#pragma once

#include <cstdint>
#include <string>

#include "ublk/uapi.h"

namespace lunkit::ublk {

// Ioctl-encoded commands and completion in task context; and what 6.18 sets on every device
// whether asked or not (any task may commit any I/O, buffers may be registered off the daemon):
// these describe the kernel, not how the device is served.
inline constexpr uint64_t kFlagsOfEveryDevice =
    kFlagCmdIoctlEncode | kFlagCompInTask | kFlagPerIoDaemon | kFlagBufRegOffDaemon;

struct FeatureName {
  uint64_t flag;
  const char* name;
};

inline constexpr FeatureName kFeatureNames[] = {
    {.flag = kFlagUserRecovery, .name = "recovery"},
    {.flag = kFlagUserRecoveryReissue, .name = "reissue"},
    {.flag = kFlagUserRecoveryFailIo, .name = "fail-io"},
    {.flag = kFlagSupportZeroCopy, .name = "zero-copy"},
    {.flag = kFlagAutoBufReg, .name = "auto-buf-reg"},
    {.flag = kFlagUserCopy, .name = "user-copy"},
    {.flag = kFlagNeedGetData, .name = "get-data"},
    {.flag = kFlagUpdateSize, .name = "resize"},
    {.flag = kFlagQuiesce, .name = "quiesce"},
    {.flag = kFlagUnprivileged, .name = "unprivileged"},
    {.flag = kFlagZoned, .name = "zoned"},
};

// "recovery,reissue,resize"; "-" when none of the named flags is set. Unnamed bits are shown
// as one hex value at the end ("recovery,0x100000"), so a newer kernel's flag is not hidden.
std::string feature_list(uint64_t flags);

}  // namespace lunkit::ublk

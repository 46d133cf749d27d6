// Named SCSI conditions and the sense data built from them (SPC-5 4.4).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "lunkit/visibility.h"

namespace lunkit::scsi {

// SAM status codes.
enum class Status : uint8_t {
  kGood = 0x00,
  kCheckCondition = 0x02,
  kConditionMet = 0x04,
  kBusy = 0x08,
  kReservationConflict = 0x18,
  kTaskSetFull = 0x28,
  kAborted = 0x40,
};

enum class SenseKey : uint8_t {
  kNoSense = 0x0,
  kRecoveredError = 0x1,
  kNotReady = 0x2,
  kMediumError = 0x3,
  kHardwareError = 0x4,
  kIllegalRequest = 0x5,
  kUnitAttention = 0x6,
  kDataProtect = 0x7,
  kCopyAborted = 0xA,
  kAbortedCommand = 0xB,
  kMiscompare = 0xE,
};

// Every condition libscsi reports; the key/ASC/ASCQ of each is in one table (sense.cc).
enum class Condition : uint8_t {
  kNoSense,
  kInvalidCommandOperationCode,
  kInvalidFieldInCdb,
  kInvalidFieldInParameterList,
  kParameterListLengthError,
  kLbaOutOfRange,
  kSavingParametersNotSupported,
  kMiscompareDuringVerify,
  kPowerOnReset,
  kBusDeviceReset,
  kCapacityDataChanged,
  kModeParametersChanged,
  kNotReadyInitializingCommandRequired,
  kNotReadyFormatInProgress,
  kUnrecoveredReadError,
  kWriteError,
  kInternalTargetFailure,
  kWriteProtected,
  kSpaceAllocationFailedWriteProtect,
  kLogicalUnitCommunicationFailure,
  // EXTENDED COPY (SPC-5 6.6).
  kCopyTargetDeviceNotReachable,
  kTooManyTargetDescriptors,
  kUnsupportedTargetDescriptorTypeCode,
  kTooManySegmentDescriptors,
  kUnsupportedSegmentDescriptorTypeCode,
  kInlineDataLengthExceeded,
  kInvalidFieldInCommandIu,
  kCount,
};

struct ConditionInfo {
  SenseKey key;
  uint8_t asc;
  uint8_t ascq;
  std::string_view name;
};

LUNKIT_API const ConditionInfo& condition_info(Condition c);

// Where in the CDB or parameter list an ILLEGAL REQUEST points (sense-key specific field).
struct FieldPointer {
  bool in_cdb = true;  // C/D bit
  uint16_t byte = 0;
  int8_t bit = -1;  // -1: no bit pointer
};

struct SenseDetail {
  std::optional<uint64_t> information;  // INFORMATION field (e.g. a miscompare offset)
  std::optional<FieldPointer> field;    // sense-key specific field pointer
  // COMMAND-SPECIFIC INFORMATION (EXTENDED COPY: the segment descriptor being processed).
  std::optional<uint32_t> command_specific;
  // The condition's ASC/ASCQ under sense key COPY ABORTED: an EXTENDED COPY failed part way
  // because its source or destination did (SPC-5 6.6.4.3).
  bool copy_aborted = false;

  static SenseDetail info(uint64_t value) {
    SenseDetail d;
    d.information = value;
    return d;
  }
  static SenseDetail at(FieldPointer where) {
    SenseDetail d;
    d.field = where;
    return d;
  }
};

enum class SenseFormat : uint8_t { kFixed, kDescriptor };

constexpr size_t kMaxSenseLength = 96;

// Writes sense data for `c` into `out` (at most kMaxSenseLength bytes) and returns its length.
LUNKIT_API size_t build_sense(std::span<uint8_t> out, SenseFormat format, Condition c,
                              const SenseDetail& detail = {});

}  // namespace lunkit::scsi

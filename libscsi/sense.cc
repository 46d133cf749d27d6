#include "lunkit/scsi/sense.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "libscsi/bytes.h"

namespace lunkit::scsi {
namespace {

struct SenseRow {
  Condition condition;
  ConditionInfo info;
};

using K = SenseKey;
constexpr std::array<SenseRow, static_cast<size_t>(Condition::kCount)> kSenseTable{{
    {Condition::kNoSense, {K::kNoSense, 0x00, 0x00, "NO ADDITIONAL SENSE INFORMATION"}},
    {Condition::kInvalidCommandOperationCode,
     {K::kIllegalRequest, 0x20, 0x00, "INVALID COMMAND OPERATION CODE"}},
    {Condition::kInvalidFieldInCdb, {K::kIllegalRequest, 0x24, 0x00, "INVALID FIELD IN CDB"}},
    {Condition::kInvalidFieldInParameterList,
     {K::kIllegalRequest, 0x26, 0x00, "INVALID FIELD IN PARAMETER LIST"}},
    {Condition::kParameterListLengthError,
     {K::kIllegalRequest, 0x1A, 0x00, "PARAMETER LIST LENGTH ERROR"}},
    {Condition::kLbaOutOfRange,
     {K::kIllegalRequest, 0x21, 0x00, "LOGICAL BLOCK ADDRESS OUT OF RANGE"}},
    {Condition::kSavingParametersNotSupported,
     {K::kIllegalRequest, 0x39, 0x00, "SAVING PARAMETERS NOT SUPPORTED"}},
    {Condition::kMiscompareDuringVerify,
     {K::kMiscompare, 0x1D, 0x00, "MISCOMPARE DURING VERIFY OPERATION"}},
    {Condition::kPowerOnReset,
     {K::kUnitAttention, 0x29, 0x00, "POWER ON, RESET, OR BUS DEVICE RESET OCCURRED"}},
    {Condition::kBusDeviceReset,
     {K::kUnitAttention, 0x29, 0x03, "BUS DEVICE RESET FUNCTION OCCURRED"}},
    {Condition::kCapacityDataChanged, {K::kUnitAttention, 0x2A, 0x09, "CAPACITY DATA HAS CHANGED"}},
    {Condition::kModeParametersChanged, {K::kUnitAttention, 0x2A, 0x01, "MODE PARAMETERS CHANGED"}},
    {Condition::kNotReadyInitializingCommandRequired,
     {K::kNotReady, 0x04, 0x02, "LOGICAL UNIT NOT READY, INITIALIZING COMMAND REQUIRED"}},
    {Condition::kNotReadyFormatInProgress,
     {K::kNotReady, 0x04, 0x04, "LOGICAL UNIT NOT READY, FORMAT IN PROGRESS"}},
    {Condition::kUnrecoveredReadError, {K::kMediumError, 0x11, 0x00, "UNRECOVERED READ ERROR"}},
    {Condition::kWriteError, {K::kMediumError, 0x0C, 0x00, "WRITE ERROR"}},
    {Condition::kInternalTargetFailure, {K::kHardwareError, 0x44, 0x00, "INTERNAL TARGET FAILURE"}},
    {Condition::kWriteProtected, {K::kDataProtect, 0x27, 0x00, "WRITE PROTECTED"}},
    {Condition::kSpaceAllocationFailedWriteProtect,
     {K::kDataProtect, 0x27, 0x07, "SPACE ALLOCATION FAILED WRITE PROTECT"}},
    {Condition::kLogicalUnitCommunicationFailure,
     {K::kNotReady, 0x08, 0x00, "LOGICAL UNIT COMMUNICATION FAILURE"}},
    {Condition::kCopyTargetDeviceNotReachable,
     {K::kCopyAborted, 0x0D, 0x02, "COPY TARGET DEVICE NOT REACHABLE"}},
    {Condition::kTooManyTargetDescriptors,
     {K::kIllegalRequest, 0x26, 0x06, "TOO MANY TARGET DESCRIPTORS"}},
    {Condition::kUnsupportedTargetDescriptorTypeCode,
     {K::kIllegalRequest, 0x26, 0x07, "UNSUPPORTED TARGET DESCRIPTOR TYPE CODE"}},
    {Condition::kTooManySegmentDescriptors,
     {K::kIllegalRequest, 0x26, 0x08, "TOO MANY SEGMENT DESCRIPTORS"}},
    {Condition::kUnsupportedSegmentDescriptorTypeCode,
     {K::kIllegalRequest, 0x26, 0x09, "UNSUPPORTED SEGMENT DESCRIPTOR TYPE CODE"}},
    {Condition::kInlineDataLengthExceeded,
     {K::kIllegalRequest, 0x26, 0x0B, "INLINE DATA LENGTH EXCEEDED"}},
    {Condition::kInvalidFieldInCommandIu,
     {K::kIllegalRequest, 0x0E, 0x03, "INVALID FIELD IN COMMAND INFORMATION UNIT"}},
}};

// The table is indexed by the enum; this proves the rows are in enum order.
constexpr bool table_in_order() {
  for (size_t i = 0; i < kSenseTable.size(); ++i)
    if (static_cast<size_t>(kSenseTable[i].condition) != i) return false;
  return true;
}
static_assert(table_in_order(), "kSenseTable rows must follow the Condition enum");

// Sense-key specific bytes for a field pointer (SPC-5 4.4.2.3).
void put_field_pointer(uint8_t* p, const FieldPointer& f) {
  p[0] = 0x80;  // SKSV
  if (f.in_cdb) p[0] |= 0x40;
  if (f.bit >= 0) p[0] |= 0x08 | (f.bit & 0x7);
  put_be16(p + 1, f.byte);
}

}  // namespace

const ConditionInfo& condition_info(Condition c) {
  return kSenseTable[static_cast<size_t>(c)].info;
}

size_t build_sense(std::span<uint8_t> out, SenseFormat format, Condition c,
                   const SenseDetail& detail) {
  std::array<uint8_t, kMaxSenseLength> buf{};
  const ConditionInfo& info = condition_info(c);
  uint8_t key = static_cast<uint8_t>(detail.copy_aborted ? SenseKey::kCopyAborted : info.key);
  size_t len;
  if (format == SenseFormat::kFixed) {
    buf[0] = 0x70;
    buf[2] = key;
    // INFORMATION is four bytes here; a larger value is only representable in descriptor format.
    if (detail.information && *detail.information <= UINT32_MAX) {
      buf[0] |= 0x80;  // VALID
      put_be32(&buf[3], static_cast<uint32_t>(*detail.information));
    }
    buf[7] = 10;  // additional sense length
    if (detail.command_specific) put_be32(&buf[8], *detail.command_specific);
    buf[12] = info.asc;
    buf[13] = info.ascq;
    if (detail.field) put_field_pointer(&buf[15], *detail.field);
    len = 18;
  } else {
    buf[0] = 0x72;
    buf[1] = key;
    buf[2] = info.asc;
    buf[3] = info.ascq;
    size_t off = 8;
    if (detail.information) {
      buf[off + 0] = 0x00;  // information descriptor
      buf[off + 1] = 0x0A;
      buf[off + 2] = 0x80;  // VALID
      put_be64(&buf[off + 4], *detail.information);
      off += 12;
    }
    if (detail.command_specific) {
      buf[off + 0] = 0x01;  // command-specific information descriptor
      buf[off + 1] = 0x0A;
      put_be64(&buf[off + 4], *detail.command_specific);
      off += 12;
    }
    if (detail.field) {
      buf[off + 0] = 0x02;  // sense key specific descriptor
      buf[off + 1] = 0x06;
      put_field_pointer(&buf[off + 4], *detail.field);
      off += 8;
    }
    buf[7] = static_cast<uint8_t>(off - 8);
    len = off;
  }
  len = std::min(len, out.size());
  std::memcpy(out.data(), buf.data(), len);
  return len;
}

}  // namespace lunkit::scsi

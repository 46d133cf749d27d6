// A SCSI logical unit (SPC-5 / SBC-4 direct-access block device) over a BlockDevice.
//
// Threading: submit(), set_capacity(), set_write_cache() and reset() are called from one thread
// at a time (the transport's event loop). Commands complete through the CompletionFn, which may
// run on that thread or on whatever thread the BlockDevice completes on.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "lunkit/block_device.h"
#include "lunkit/scsi/alua.h"
#include "lunkit/scsi/command.h"
#include "lunkit/scsi/copy_target.h"
#include "lunkit/visibility.h"

namespace lunkit::scsi {

using CompletionFn = void (*)(void* context, Command& command);

// Commands the transport's target answers for the unit itself, so they never reach it; REPORT
// SUPPORTED OPERATION CODES lists the sets a transport offers beside the unit's own commands.
enum TransportCommands : uint8_t {
  kTransportReportLuns = 1u << 0,    // REPORT LUNS
  kTransportReservations = 1u << 1,  // PERSISTENT RESERVE IN/OUT, RESERVE/RELEASE(6) and (10)
};

struct LogicalUnitOptions {
  // ALUA target port groups (include/lunkit/scsi/alua.h), read on each INQUIRY and REPORT
  // TARGET PORT GROUPS. Without a source the unit has no ALUA: TPGS 00b, no RTPG.
  AluaSource alua_source = nullptr;
  void* alua_context = nullptr;
  // Called on every INQUIRY that needs the unit serial, so transports can read it lazily (TCMU
  // learns it only after the device is enabled). Empty result: the device's serial is used.
  std::string (*serial_source)(void* context) = nullptr;
  void* serial_context = nullptr;
  // Sees each command first (after a pending unit attention is reported): returns true when it
  // takes the command, which it then finishes with complete_external().
  bool (*raw_command)(void* context, Command& command) = nullptr;
  void* raw_context = nullptr;
  // TransportCommands bits. Such a command that reaches the unit anyway is answered INVALID
  // COMMAND OPERATION CODE.
  uint8_t transport_commands = 0;
  uint8_t max_compare_and_write_blocks = 32;
  uint32_t max_write_same_blocks = 0x10000;
  uint32_t max_unmap_descriptors = 64;
  // EXTENDED COPY: other units a copy may name (default: none, only this unit), and the size of
  // the one buffer this unit copies through, allocated on its first copy and kept (bytes, a
  // multiple of the block size; copies of any length go through it in pieces).
  CopyTargetResolver copy_targets;
  uint32_t copy_buffer_bytes = 1u << 20;
};

struct LuState;

// Finishes a command taken by LogicalUnitOptions::raw_command, whose status, sense and data_in_len
// the taker has set: the transport's completion runs, exactly as for commands libscsi executes.
LUNKIT_API void complete_external(Command& command);

class LUNKIT_API LogicalUnit {
 public:
  LogicalUnit(BlockDevice& device, CompletionFn on_complete, void* completion_context,
              LogicalUnitOptions options = {});
  ~LogicalUnit();
  LogicalUnit(const LogicalUnit&) = delete;
  LogicalUnit& operator=(const LogicalUnit&) = delete;

  // Executes one command; it completes exactly once through the CompletionFn.
  void submit(Command& command);

  // The device changed size: READ CAPACITY reports it and a CAPACITY DATA HAS CHANGED unit
  // attention is established.
  void set_capacity(uint64_t num_blocks);
  // The write cache was switched outside SCSI (e.g. configfs): MODE PARAMETERS CHANGED.
  void set_write_cache(bool enabled);
  // A logical unit reset (task management). The transport's target reports the unit attention
  // per I_T nexus (LIO does), so none is added here.
  void reset();

  uint64_t capacity() const;
  bool write_cache_enabled() const;
  // The NAA designator VPD 0x83 reports for this unit (the name EXTENDED COPY uses for it);
  // returns its length (8 or 16), 0 when there is none yet (no serial known).
  size_t naa_designator(std::span<uint8_t, kMaxDesignatorLength> out) const;

 private:
  std::unique_ptr<LuState> state_;
};

}  // namespace lunkit::scsi

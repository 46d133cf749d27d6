// One SCSI command as a transport hands it to a LogicalUnit.
//
// Transports preallocate Commands (the TCMU transport keeps one per cmd_id) and reuse them, so
// executing a READ or WRITE allocates nothing. A Command must stay alive and untouched from
// LogicalUnit::submit() until the LogicalUnit calls the transport's completion function.
#pragma once

#include <sys/uio.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "lunkit/block_device.h"
#include "lunkit/scsi/sense.h"

namespace lunkit::scsi {

struct LuState;
struct OpcodeInfo;
struct Command;

namespace detail {
// A byte range of a command's buffer exposed as an iovec list by adjusting at most two entries
// of the transport's list in place; libscsi restores them before the command completes.
struct IovWindow {
  iovec* first = nullptr;  // adjusted entries and what they held
  iovec first_saved{};
  iovec* last = nullptr;
  size_t last_saved_len = 0;
};

// libscsi's private per-command execution state; transports do not touch it.
struct ExecState {
  const OpcodeInfo* op = nullptr;
  LuState* lu = nullptr;
  uint64_t lba = 0;
  uint64_t blocks = 0;
  uint32_t step = 0;           // progress of multi-step commands
  uint64_t cursor = 0;         // progress of chunked commands
  uint32_t request_flags = 0;  // kBlock* flags of each piece of a split READ or WRITE
  IovWindow window;            // the piece of the buffer the current request uses
  // Role in the COMPARE AND WRITE barrier: a write counted in flight, or the CAW holding it.
  enum Barrier : uint8_t { kNoBarrier, kCountedWrite, kBarrierOwner } barrier = kNoBarrier;
  BlockRequest request;
  std::unique_ptr<uint8_t[]> bounce;  // slow-path commands only (verify, CAW, write same)
  size_t bounce_len = 0;
  std::array<iovec, 1> bounce_iov{};
  void* next = nullptr;  // intrusive link while deferred behind COMPARE AND WRITE
  // Chunked commands (run_chunks): the step functions and the inline-completion handshake.
  bool (*chunk_start)(LuState&, Command&) = nullptr;
  bool (*chunk_done)(LuState&, Command&, int) = nullptr;
  std::atomic<uint8_t> chunk_phase{0};
  int chunk_result = 0;
};
}  // namespace detail

// The way a command's data moves, as the transport saw the initiator ask for it.
enum class DataDirection : uint8_t { kUnknown, kNone, kIn, kOut };

struct Command {
  // ---- Set by the transport before submit() ----
  std::array<uint8_t, 32> cdb{};
  uint8_t cdb_len = 0;
  // The data buffer: Data-Out for commands that send data, Data-In for those that return it.
  // libscsi may adjust entries in place while the command runs (to hand a device part of the
  // buffer) and restores them before it completes the command.
  std::span<iovec> iov;
  size_t data_len = 0;  // total bytes described by iov
  // A transport that knows the direction (not TCMU: its ring entries carry none) sets it; a
  // command whose CDB moves data the other way is then rejected before it runs.
  DataDirection direction = DataDirection::kUnknown;
  void* transport_context = nullptr;

  // ---- Set by libscsi before completion ----
  Status status = Status::kGood;
  uint8_t sense_len = 0;
  std::array<uint8_t, kMaxSenseLength> sense{};
  // Bytes of Data-In actually produced (<= data_len). Transports report the residual from it.
  uint32_t data_in_len = 0;
  // The command transfers Data-In (so a short data_in_len is a residual, not a Data-Out count).
  bool data_in = false;
  // The command consumes the buffer as Data-Out. When neither flag is set (a command without
  // data, or one rejected before it was decoded) nothing was written to the buffer either.
  bool data_out = false;

  detail::ExecState exec;
};

}  // namespace lunkit::scsi

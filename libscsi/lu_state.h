// The private state of a LogicalUnit and the helpers command handlers use to finish commands.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>

#include "libscsi/opcode_table.h"
#include "libscsi/xcopy.h"
#include "lunkit/scsi/logical_unit.h"

namespace lunkit::scsi {

// Pending unit attentions, reported one at a time in this order of precedence.
enum UnitAttention : uint8_t {
  kUaPowerOn = 1u << 0,
  kUaBusDeviceReset = 1u << 1,
  kUaCapacityChanged = 1u << 2,
  kUaModeParametersChanged = 1u << 3,
};

struct LuState {
  LuState(BlockDevice& device, CompletionFn fn, void* ctx, LogicalUnitOptions opts);

  LogicalUnit* self = nullptr;
  BlockDevice& dev;
  DeviceInfo info;
  CompletionFn on_complete;
  void* completion_context;
  LogicalUnitOptions options;

  uint32_t block_size;
  uint8_t block_shift;
  std::atomic<uint64_t> capacity;  // blocks

  // Mode parameters and unit state (event-loop thread only).
  bool write_cache;
  bool descriptor_sense = false;  // control mode page D_SENSE
  bool stopped = false;
  bool removal_prevented = false;
  uint8_t pending_ua = kUaPowerOn;

  // COMPARE AND WRITE barrier (emulated CAW only). Writes count themselves in
  // writes_in_flight unless a barrier is active, in which case they queue behind it.
  std::atomic<bool> barrier_active{false};
  std::atomic<uint32_t> writes_in_flight{0};
  std::mutex barrier_mu;
  Command* barrier_owner = nullptr;    // the CAW holding the barrier
  bool barrier_owner_waiting = false;  // it waits for writes_in_flight to reach zero
  Command* deferred_head = nullptr;    // commands held back, in arrival order
  Command* deferred_tail = nullptr;

  // EXTENDED COPY (xcopy.cc).
  std::unique_ptr<CopyManager, CopyManagerDeleter> copy{make_copy_manager()};

  SenseFormat sense_format() const {
    return descriptor_sense ? SenseFormat::kDescriptor : SenseFormat::kFixed;
  }
  uint64_t blocks_to_bytes(uint64_t blocks) const { return blocks << block_shift; }
  // The longest request the device takes in one piece (bytes; UINT64_MAX: any).
  uint64_t max_request_bytes() const {
    return info.max_request_blocks ? blocks_to_bytes(info.max_request_blocks) : UINT64_MAX;
  }
};

// Reports (and clears) the highest-precedence pending unit attention; kNoSense when none.
Condition take_unit_attention(LuState& lu);

// ---- finishing commands (each ends the command: exactly one of them per command) ----
void complete_good(LuState& lu, Command& cmd);
void complete_status(LuState& lu, Command& cmd, Status status);
void complete_condition(LuState& lu, Command& cmd, Condition c, const SenseDetail& detail = {});
void complete_invalid_cdb(LuState& lu, Command& cmd, uint16_t byte, int8_t bit = -1);
void complete_invalid_param(LuState& lu, Command& cmd, uint16_t byte, int8_t bit = -1);
// Maps a negative errno from the device to a status/sense (table in errors.cc); `detail` goes
// into the sense data of a CHECK CONDITION.
void complete_errno(LuState& lu, Command& cmd, int err, bool writing,
                    const SenseDetail& detail = {});

// ---- durable writes (every path that changes the medium) ----
// A write must be durable on completion when the initiator set FUA or the write cache is off,
// and the device has a volatile cache at all.
bool write_must_be_durable(const LuState& lu, bool fua_bit);
// The flags for such a request: kBlockFua where the device honours it natively, else none (and
// complete_written() flushes instead).
uint32_t durable_flags(const LuState& lu, bool fua_bit);
// Completes a command whose data the device has written: GOOD, after a flush when the write had
// to be durable and the device has no native FUA.
void complete_written(LuState& lu, Command& cmd, bool fua_bit);
// Flushes the device, then completes the command: GOOD, or the flush's error as a write error.
void complete_after_flush(LuState& lu, Command& cmd);

// The NAA designator VPD 0x83 reports (inquiry.cc): its length, 8 or 16; 0 when there is none.
size_t naa_designator(const LuState& lu, uint8_t out[16]);

// ---- data helpers ----
// Copies response data to Data-In, truncated to the allocation length and the buffer.
void put_data_in(Command& cmd, std::span<const uint8_t> data, size_t allocation_length);
// Copies `len` bytes of Data-Out; false (and nothing copied) when the buffer is shorter.
bool get_data_out(const Command& cmd, uint8_t* dst, size_t len);
// LIO's rule for data CDBs that send Data-Out (target_cmd_size_check, which TCMU passthrough
// does not run in the kernel): the transport must have delivered exactly the bytes the CDB
// describes, else INVALID FIELD IN COMMAND INFORMATION UNIT. True when it did.
bool data_out_length_matches(LuState& lu, Command& cmd, uint64_t expected);

// ---- device requests ----
using DeviceOp = void (BlockDevice::*)(BlockRequest&);
// Fills cmd.exec.request and submits it; `done` runs with the result.
void submit_request(LuState& lu, Command& cmd, DeviceOp op, uint64_t offset, uint64_t length,
                    std::span<const iovec> iov, uint32_t flags, BlockCompletionFn done);
// The same on another unit's device (EXTENDED COPY between the LUs of a copy group).
void submit_request_to(BlockDevice& dev, Command& cmd, DeviceOp op, uint64_t offset,
                       uint64_t length, std::span<const iovec> iov, uint32_t flags,
                       BlockCompletionFn done);
// Allocates the command's bounce buffer (slow-path commands only).
uint8_t* bounce(Command& cmd, size_t len);
std::span<const iovec> bounce_iov(Command& cmd, size_t len);

// ---- chunked commands ----
// `start` submits the next request with chunk_completion as its completion, or finishes the
// command and returns false. `done` consumes a request's result, or finishes the command and
// returns false. Requests that complete inline are iterated, not recursed into.
using ChunkStart = bool (*)(LuState& lu, Command& cmd);
using ChunkDone = bool (*)(LuState& lu, Command& cmd, int result);
void run_chunks(LuState& lu, Command& cmd, ChunkStart start, ChunkDone done);
void chunk_completion(BlockRequest& request, int result);

// ---- write barrier (COMPARE AND WRITE emulation) ----
// Called after the command has finished its work; restarts whatever waits on the barrier.
void barrier_on_finish(LuState& lu, Command& cmd);
// Runs the command's handler, or holds it back behind an active barrier.
void dispatch(LuState& lu, Command& cmd);

}  // namespace lunkit::scsi

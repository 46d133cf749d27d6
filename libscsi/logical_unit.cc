// Command entry point: unit attentions, opcode lookup, CDB checks, dispatch and completion.
#include "lunkit/scsi/logical_unit.h"

#include <bit>
#include <cerrno>

#include "libscsi/bytes.h"
#include "libscsi/iov.h"
#include "libscsi/lu_state.h"

// The key function of BlockDevice (block_device.h).
lunkit::BlockDevice::~BlockDevice() = default;

namespace lunkit::scsi {
namespace {

// Data the transport moves one way while the CDB moves it the other. A command without data
// fits any CDB (a zero transfer length), and a transport that does not know never conflicts.
bool direction_conflicts(const OpcodeInfo& op, const Command& cmd) {
  switch (cmd.direction) {
    case DataDirection::kIn:
      return op.dir == DataDir::kOut;
    case DataDirection::kOut:
      return op.dir == DataDir::kIn;
    case DataDirection::kUnknown:
    case DataDirection::kNone:
      break;
  }
  return false;
}

// The first CDB bit that the opcode's usage data does not allow, if any.
bool check_reserved_bits(const OpcodeInfo& op, const Command& cmd, FieldPointer* where) {
  for (size_t i = 1; i < op.cdb_len; ++i) {
    uint8_t bad = cmd.cdb[i] & static_cast<uint8_t>(~op.usage[i]);
    if (bad) {
      where->byte = static_cast<uint16_t>(i);
      where->bit = static_cast<int8_t>(std::bit_width(bad) - 1);
      return false;
    }
  }
  return true;
}

// LBA and transfer length from the table's field locations, then the capacity check.
bool decode_range(LuState& lu, const OpcodeInfo& op, Command& cmd) {
  const uint8_t* cdb = cmd.cdb.data();
  uint64_t lba = get_be(cdb + op.lba.offset, op.lba.width);
  uint64_t blocks = get_be(cdb + op.blocks.offset, op.blocks.width);
  if (op.flags & kShortForm) {
    lba &= 0x1FFFFF;
    if (blocks == 0) blocks = 256;
  }
  cmd.exec.lba = lba;
  cmd.exec.blocks = blocks;
  uint64_t capacity = lu.capacity.load(std::memory_order_relaxed);
  if (lba > capacity || blocks > capacity - lba) {
    complete_condition(lu, cmd, Condition::kLbaOutOfRange);
    return false;
  }
  return true;
}

}  // namespace

// Reports (and clears) the highest-precedence pending unit attention.
Condition take_unit_attention(LuState& lu) {
  struct Row {
    UnitAttention bit;
    Condition condition;
  };
  static constexpr Row kOrder[] = {
      {kUaPowerOn, Condition::kPowerOnReset},
      {kUaBusDeviceReset, Condition::kBusDeviceReset},
      {kUaCapacityChanged, Condition::kCapacityDataChanged},
      {kUaModeParametersChanged, Condition::kModeParametersChanged},
  };
  for (const Row& r : kOrder) {
    if (lu.pending_ua & r.bit) {
      // A power-on report also covers a later reset of the same kind.
      lu.pending_ua &=
          static_cast<uint8_t>(~(r.bit == kUaPowerOn ? (kUaPowerOn | kUaBusDeviceReset) : r.bit));
      return r.condition;
    }
  }
  return Condition::kNoSense;
}

LuState::LuState(BlockDevice& device, CompletionFn fn, void* ctx, LogicalUnitOptions opts)
    : dev(device),
      info(device.info()),
      on_complete(fn),
      completion_context(ctx),
      options(opts),
      block_size(info.logical_block_size),
      block_shift(static_cast<uint8_t>(std::countr_zero(info.logical_block_size))),
      capacity(info.num_blocks),
      write_cache(info.write_cache) {
  // A device's own COMPARE AND WRITE limit lowers what the unit accepts (and reports in VPD B0).
  if (info.max_compare_and_write_blocks &&
      info.max_compare_and_write_blocks < options.max_compare_and_write_blocks)
    options.max_compare_and_write_blocks = static_cast<uint8_t>(info.max_compare_and_write_blocks);
  // Emulated or native, COMPARE AND WRITE reads and writes its range in one device request each
  // (splitting would stretch the window the write barrier holds): cap it to the largest request.
  if (info.max_request_blocks && info.max_request_blocks < options.max_compare_and_write_blocks)
    options.max_compare_and_write_blocks = static_cast<uint8_t>(info.max_request_blocks);
}

LogicalUnit::LogicalUnit(BlockDevice& device, CompletionFn on_complete, void* completion_context,
                         LogicalUnitOptions options)
    : state_(std::make_unique<LuState>(device, on_complete, completion_context, options)) {
  state_->self = this;
}

LogicalUnit::~LogicalUnit() = default;

void LogicalUnit::submit(Command& cmd) {
  LuState& lu = *state_;
  cmd.status = Status::kGood;
  cmd.sense_len = 0;
  cmd.data_in_len = 0;
  cmd.data_in = false;
  cmd.data_out = false;
  cmd.exec.op = nullptr;
  cmd.exec.lu = &lu;
  cmd.exec.step = 0;
  cmd.exec.cursor = 0;
  cmd.exec.barrier = detail::ExecState::kNoBarrier;
  cmd.exec.request.extents = {};

  if (cmd.cdb_len == 0 || cmd.cdb_len > cmd.cdb.size()) {
    complete_condition(lu, cmd, Condition::kInvalidCommandOperationCode);
    return;
  }
  // SAM-5 5.14: INQUIRY, REQUEST SENSE and REPORT LUNS leave a unit attention pending.
  if (lu.pending_ua && !opcode_allowed_under_ua(cmd.cdb[0])) {
    complete_condition(lu, cmd, take_unit_attention(lu));
    return;
  }
  if (lu.options.raw_command && lu.options.raw_command(lu.options.raw_context, cmd)) return;
  // Only libscsi's own commands are found: one the transport serves (transport_opcodes()) that
  // arrives anyway is INVALID COMMAND OPERATION CODE, as any unknown opcode.
  bool unsupported_sa = false;
  const OpcodeInfo* op = find_opcode(cmd.cdb.data(), cmd.cdb_len, &unsupported_sa);
  if (op && !opcode_enabled(lu, *op)) {
    unsupported_sa = op->has_service_action;
    op = nullptr;
  }
  if (!op) {
    if (unsupported_sa)
      complete_invalid_cdb(lu, cmd, 1, 4);
    else
      complete_condition(lu, cmd, Condition::kInvalidCommandOperationCode);
    return;
  }
  if (direction_conflicts(*op, cmd)) {
    complete_condition(lu, cmd, Condition::kInvalidFieldInCommandIu);
    return;
  }
  cmd.exec.op = op;
  cmd.data_in = op->dir == DataDir::kIn;
  cmd.data_out = op->dir == DataDir::kOut;
  if (cmd.cdb_len < op->cdb_len) {
    complete_condition(lu, cmd, Condition::kInvalidCommandOperationCode);
    return;
  }
  FieldPointer bad;
  if (!check_reserved_bits(*op, cmd, &bad)) {
    complete_condition(lu, cmd, Condition::kInvalidFieldInCdb, SenseDetail::at(bad));
    return;
  }
  if (lu.stopped && (op->flags & kMediumAccess)) {
    complete_condition(lu, cmd, Condition::kNotReadyInitializingCommandRequired);
    return;
  }
  // Once for every command that writes this unit's medium, before its range and parameters
  // are looked at (LIO refuses writes to a read-only LUN before it parses the CDB). EXTENDED
  // COPY checks each segment's destination unit itself.
  if ((op->flags & kWritesMedium) && lu.info.read_only) {
    complete_condition(lu, cmd, Condition::kWriteProtected);
    return;
  }
  if ((op->flags & kRangeChecked) && !decode_range(lu, *op, cmd)) return;
  dispatch(lu, cmd);
}

void LogicalUnit::set_capacity(uint64_t num_blocks) {
  state_->capacity.store(num_blocks, std::memory_order_relaxed);
  state_->pending_ua |= kUaCapacityChanged;
}

void LogicalUnit::set_write_cache(bool enabled) {
  if (state_->write_cache == enabled) return;
  state_->write_cache = enabled;
  state_->pending_ua |= kUaModeParametersChanged;
}

void LogicalUnit::reset() {
  // The kernel target (LIO) establishes the reset's unit attention for each I_T nexus itself; a
  // LU-wide one here would be reported a second time.
  state_->stopped = false;
}

uint64_t LogicalUnit::capacity() const {
  return state_->capacity.load(std::memory_order_relaxed);
}
bool LogicalUnit::write_cache_enabled() const {
  return state_->write_cache;
}

// ---- finishing ----

namespace {
void finish(LuState& lu, Command& cmd) {
  close_window(cmd.exec.window);
  if (cmd.exec.barrier != detail::ExecState::kNoBarrier) barrier_on_finish(lu, cmd);
  cmd.exec.bounce.reset();
  cmd.exec.bounce_len = 0;
  lu.on_complete(lu.completion_context, cmd);
}
}  // namespace

void complete_external(Command& cmd) {
  finish(*cmd.exec.lu, cmd);
}

bool write_must_be_durable(const LuState& lu, bool fua_bit) {
  return lu.info.write_cache && (fua_bit || !lu.write_cache);
}

uint32_t durable_flags(const LuState& lu, bool fua_bit) {
  return write_must_be_durable(lu, fua_bit) && lu.info.fua ? kBlockFua : 0;
}

namespace {
void flushed(BlockRequest& r, int result) {
  Command& cmd = *static_cast<Command*>(r.context);
  LuState& lu = *cmd.exec.lu;
  if (result < 0) return complete_errno(lu, cmd, result, true);
  complete_good(lu, cmd);
}
}  // namespace

void complete_after_flush(LuState& lu, Command& cmd) {
  submit_request(lu, cmd, &BlockDevice::flush, 0, 0, {}, 0, flushed);
}

void complete_written(LuState& lu, Command& cmd, bool fua_bit) {
  if (write_must_be_durable(lu, fua_bit) && !lu.info.fua) return complete_after_flush(lu, cmd);
  complete_good(lu, cmd);
}

void complete_good(LuState& lu, Command& cmd) {
  cmd.status = Status::kGood;
  finish(lu, cmd);
}

void complete_status(LuState& lu, Command& cmd, Status status) {
  cmd.status = status;
  finish(lu, cmd);
}

void complete_condition(LuState& lu, Command& cmd, Condition c, const SenseDetail& detail) {
  cmd.status = Status::kCheckCondition;
  cmd.sense_len = static_cast<uint8_t>(build_sense(cmd.sense, lu.sense_format(), c, detail));
  finish(lu, cmd);
}

void complete_invalid_cdb(LuState& lu, Command& cmd, uint16_t byte, int8_t bit) {
  complete_condition(lu, cmd, Condition::kInvalidFieldInCdb,
                     SenseDetail::at(FieldPointer{.in_cdb = true, .byte = byte, .bit = bit}));
}

void complete_invalid_param(LuState& lu, Command& cmd, uint16_t byte, int8_t bit) {
  complete_condition(lu, cmd, Condition::kInvalidFieldInParameterList,
                     SenseDetail::at(FieldPointer{.in_cdb = false, .byte = byte, .bit = bit}));
}

// ---- device requests ----

void submit_request(LuState& lu, Command& cmd, DeviceOp op, uint64_t offset, uint64_t length,
                    std::span<const iovec> iov, uint32_t flags, BlockCompletionFn done) {
  submit_request_to(lu.dev, cmd, op, offset, length, iov, flags, done);
}

void submit_request_to(BlockDevice& dev, Command& cmd, DeviceOp op, uint64_t offset,
                       uint64_t length, std::span<const iovec> iov, uint32_t flags,
                       BlockCompletionFn done) {
  BlockRequest& r = cmd.exec.request;
  r.offset = offset;
  r.length = length;
  r.flags = flags;
  r.iov = iov;
  r.miscompare_offset = 0;
  r.extent_count = 0;
  r.on_complete = done;
  r.context = &cmd;
  (dev.*op)(r);
}

uint8_t* bounce(Command& cmd, size_t len) {
  if (cmd.exec.bounce_len < len) {
    cmd.exec.bounce = std::make_unique<uint8_t[]>(len);
    cmd.exec.bounce_len = len;
  }
  return cmd.exec.bounce.get();
}

std::span<const iovec> bounce_iov(Command& cmd, size_t len) {
  cmd.exec.bounce_iov[0] = iovec{bounce(cmd, len), len};
  return cmd.exec.bounce_iov;
}

}  // namespace lunkit::scsi

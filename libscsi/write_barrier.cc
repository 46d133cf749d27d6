// Emulated COMPARE AND WRITE must be atomic against other writes to the logical unit. It runs as
// a barrier: it waits for the writes already in flight and holds back mutating commands that
// arrive while it runs. CAW is rare (ATS heartbeats), so this is cheaper than tracking LBA
// ranges on every write; devices with a native compare_and_write skip the barrier entirely.
//
// barrier_active turns on only on the submitting thread (dispatch), so a write that sees it off
// there may proceed; it turns off on whichever thread finishes the last barrier holder.
#include "libscsi/lu_state.h"

namespace lunkit::scsi {
namespace {

using Barrier = detail::ExecState::Barrier;

Command* next_of(const Command& c) {
  return static_cast<Command*>(c.exec.next);
}
void set_next(Command& c, Command* next) {
  c.exec.next = next;
}

void append_deferred(LuState& lu, Command& cmd) {
  set_next(cmd, nullptr);
  if (lu.deferred_tail)
    set_next(*lu.deferred_tail, &cmd);
  else
    lu.deferred_head = &cmd;
  lu.deferred_tail = &cmd;
}

bool is_barrier_command(const LuState& lu, const Command& cmd) {
  return (cmd.exec.op->flags & kExclusive) && !lu.info.native_compare_and_write;
}

// With barrier_mu held: makes `cmd` the barrier owner; true when it may run right away.
bool take_barrier_locked(LuState& lu, Command& cmd) {
  cmd.exec.barrier = Barrier::kBarrierOwner;
  lu.barrier_owner = &cmd;
  lu.barrier_active.store(true, std::memory_order_seq_cst);
  lu.barrier_owner_waiting = lu.writes_in_flight.load(std::memory_order_seq_cst) != 0;
  return !lu.barrier_owner_waiting;
}

}  // namespace

void dispatch(LuState& lu, Command& cmd) {
  const OpcodeInfo& op = *cmd.exec.op;
  if (!(op.flags & (kMutating | kExclusive))) return op.handler(lu, cmd);

  if (is_barrier_command(lu, cmd)) {
    bool run_now = false;
    {
      std::lock_guard lock(lu.barrier_mu);
      if (lu.barrier_active.load(std::memory_order_relaxed))
        append_deferred(lu, cmd);
      else
        run_now = take_barrier_locked(lu, cmd);
    }
    if (run_now) op.handler(lu, cmd);
    return;
  }

  if (lu.barrier_active.load(std::memory_order_seq_cst)) {
    std::unique_lock lock(lu.barrier_mu);
    if (lu.barrier_active.load(std::memory_order_relaxed)) {
      append_deferred(lu, cmd);
      return;
    }
  }
  cmd.exec.barrier = Barrier::kCountedWrite;
  lu.writes_in_flight.fetch_add(1, std::memory_order_seq_cst);
  op.handler(lu, cmd);
}

void barrier_on_finish(LuState& lu, Command& cmd) {
  Barrier role = cmd.exec.barrier;
  cmd.exec.barrier = Barrier::kNoBarrier;

  if (role == Barrier::kCountedWrite) {
    if (lu.writes_in_flight.fetch_sub(1, std::memory_order_seq_cst) != 1) return;
    if (!lu.barrier_active.load(std::memory_order_seq_cst)) return;
    Command* owner = nullptr;
    {
      std::lock_guard lock(lu.barrier_mu);
      if (lu.barrier_owner_waiting && lu.writes_in_flight.load() == 0) {
        lu.barrier_owner_waiting = false;
        owner = lu.barrier_owner;
      }
    }
    if (owner) owner->exec.op->handler(lu, *owner);
    return;
  }

  // The barrier owner finished: release what queued behind it, up to the next barrier command.
  Command* released = nullptr;
  Command* next_owner = nullptr;
  {
    std::lock_guard lock(lu.barrier_mu);
    lu.barrier_owner = nullptr;
    Command* released_tail = nullptr;
    while (Command* c = lu.deferred_head) {
      lu.deferred_head = next_of(*c);
      if (!lu.deferred_head) lu.deferred_tail = nullptr;
      if (is_barrier_command(lu, *c)) {
        if (take_barrier_locked(lu, *c)) next_owner = c;
        break;
      }
      c->exec.barrier = Barrier::kCountedWrite;
      lu.writes_in_flight.fetch_add(1, std::memory_order_seq_cst);
      set_next(*c, nullptr);
      if (released_tail)
        set_next(*released_tail, c);
      else
        released = c;
      released_tail = c;
    }
    if (!lu.barrier_owner) lu.barrier_active.store(false, std::memory_order_seq_cst);
  }
  while (released) {
    Command* c = released;
    released = next_of(*c);
    c->exec.op->handler(lu, *c);
  }
  if (next_owner) next_owner->exec.op->handler(lu, *next_owner);
}

}  // namespace lunkit::scsi

// Commands that issue a series of device requests (VERIFY, WRITE SAME, UNMAP, ...) run as a loop
// here. When a device completes a request inline, the completion only records the result and
// the loop continues, so the stack does not grow with the number of chunks.
#include "libscsi/lu_state.h"

namespace lunkit::scsi {
namespace {
enum Phase : uint8_t { kIdle, kSubmitting, kCompletedInline };
}

void run_chunks(LuState& lu, Command& cmd, ChunkStart start, ChunkDone done) {
  detail::ExecState& ex = cmd.exec;
  ex.chunk_start = start;
  ex.chunk_done = done;
  for (;;) {
    ex.chunk_phase.store(kSubmitting, std::memory_order_relaxed);
    if (!start(lu, cmd)) return;
    uint8_t expected = kSubmitting;
    if (ex.chunk_phase.compare_exchange_strong(expected, kIdle, std::memory_order_acq_rel))
      return;  // the request is in flight; chunk_completion continues the loop
    if (!done(lu, cmd, ex.chunk_result)) return;
  }
}

void chunk_completion(BlockRequest& request, int result) {
  Command& cmd = *static_cast<Command*>(request.context);
  detail::ExecState& ex = cmd.exec;
  ex.chunk_result = result;
  uint8_t expected = kSubmitting;
  if (ex.chunk_phase.compare_exchange_strong(expected, kCompletedInline, std::memory_order_acq_rel))
    return;  // run_chunks is still inside start() and picks the result up
  LuState& lu = *ex.lu;
  if (ex.chunk_done(lu, cmd, result)) run_chunks(lu, cmd, ex.chunk_start, ex.chunk_done);
}

}  // namespace lunkit::scsi

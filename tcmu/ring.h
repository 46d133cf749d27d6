// The user side of a TCMU command ring: consumes entries the kernel queued and completes
// commands with the out-of-order protocol. Pure shared-memory logic, no system calls; the
// caller owns the doorbell. Single-threaded: consume() and complete() run on one thread.
#pragma once

#include <sys/uio.h>

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tcmu/protocol.h"

namespace lunkit::tcmu {

// A command copied out of its ring entry, with iovec offsets turned into checked pointers.
struct RingCommand {
  uint16_t cmd_id = 0;
  std::span<const uint8_t> cdb;    // valid until the next entry is read
  std::span<const iovec> data;     // Data-Out or Data-In buffer
  std::span<const iovec> bidi_in;  // Data-In of a bidirectional command
};

struct RingStats {
  uint64_t commands = 0;
  uint64_t pads = 0;
  uint64_t tmrs = 0;
  uint64_t unknown_ops = 0;
  uint64_t bad_commands = 0;
  uint64_t completions = 0;
};

class Ring {
 public:
  // Validates the mailbox of a mapping of `size` bytes: version 2, a command ring inside the
  // mapping, and out-of-order completion (lunkit requires it). Returns an error message.
  static std::optional<std::string> check_mailbox(const void* base, size_t size);

  Ring(void* base, size_t size);

  // Receives what consume() finds.
  class Sink {
   public:
    virtual ~Sink() = default;
    virtual void on_command(const RingCommand& cmd) = 0;
    // A CMD entry whose fields point outside the mapping or its entry; it must still be
    // completed (with an error) by cmd_id.
    virtual void on_bad_command(uint16_t cmd_id, const char* reason) = 0;
    virtual void on_tmr(uint8_t type, std::span<const uint16_t> cmd_ids) = 0;
  };

  // Walks the entries queued since the last call. Returns how many were read. Stops for good
  // (broken()) if the ring itself is corrupt: an entry length that cannot be walked.
  size_t consume(Sink& sink);

  // Completes command `cmd_id` in the slot at the tail (out-of-order completion). Sense is
  // written for CHECK CONDITION; read_len (with kUflagReadLen) when set and the kernel
  // offers it. Returns false if there is no consumed command left to complete.
  bool complete(uint16_t cmd_id, uint8_t scsi_status, std::span<const uint8_t> sense,
                std::optional<uint32_t> read_len);

  bool broken() const { return !broken_reason_.empty(); }
  const std::string& broken_reason() const { return broken_reason_; }
  uint16_t flags() const { return flags_; }
  bool has_read_len() const { return flags_ & kCapReadLen; }
  uint32_t outstanding() const { return outstanding_; }
  const RingStats& stats() const { return stats_; }
  bool has_new_entries() { return read_pos_ != load_acquire(mailbox_word(base_, kCmdHeadOffset)); }

 private:
  void mark_broken(std::string reason);
  bool read_iovecs(const uint8_t* at, uint32_t count, std::vector<iovec>& out, const char** why);

  uint8_t* base_;
  size_t size_;
  uint8_t* ring_;
  uint32_t cmdr_size_;
  size_t data_off_;
  uint16_t flags_;
  uint32_t read_pos_;         // next entry to consume (private; the kernel never sees it)
  uint32_t tail_;             // our copy of mb->cmd_tail (we are its only writer)
  uint32_t outstanding_ = 0;  // CMD entries consumed and not completed yet
  std::string broken_reason_;
  std::array<uint8_t, 264> cdb_{};
  std::vector<iovec> data_iov_, bidi_iov_;
  std::vector<uint16_t> tmr_ids_;
  RingStats stats_;
};

}  // namespace lunkit::tcmu

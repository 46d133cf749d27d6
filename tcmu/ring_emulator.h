// A kernel-side implementation of the TCMU ring protocol, for tests and benchmarks.
//
// It lays out a mapping exactly as Linux 6.12's target_core_user does (128-byte mailbox, command
// ring at offset 128, data area after it in 4 KiB blocks), places entries the same way (a PAD to
// the ring end when an entry does not fit, one byte kept free, cmd_ids 1..65535 reused), and
// processes completions with the kernel's walk (by cmd_id from the last cleaned entry to
// cmd_tail; an unknown id breaks the ring). The transport sees a memfd to map and a doorbell fd
// with the UIO fd's semantics: 4-byte reads return an event, coalesced until read; 4-byte writes
// ask for completion processing. The transport cannot tell it from the kernel.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tcmu/protocol.h"

namespace lunkit::tcmu {

struct EmulatedCompletion {
  uint64_t tag = 0;
  uint16_t cmd_id = 0;
  uint8_t status = 0;
  bool unknown_op = false;
  std::span<const uint8_t> sense;  // 96 bytes when status is CHECK CONDITION
  std::span<const iovec> data_in;  // the command's data blocks, valid during the callback
  size_t data_in_len = 0;          // bytes the kernel would copy back (READ_LEN applied)
  // The kernel would complete with target_complete_cmd_with_length(data_in_len), reporting
  // the residual to the initiator.
  bool read_len_valid = false;
};

// The Data-In the kernel would copy to the initiator: data_in_len bytes of the command's blocks.
std::vector<uint8_t> data_in_bytes(const EmulatedCompletion& completion);

class RingEmulator {
 public:
  struct Options {
    uint32_t cmdr_size = (8u << 20) - kMailboxSize;  // the 6.12 default
    size_t data_size = 64u << 20;
    uint16_t flags = kCapOutOfOrder | kCapReadLen | kCapTmr | kCapKeepBuf;
    bool cyclic_ids = false;  // allocate ids round-robin (6.12 takes the lowest free one)
  };
  enum class Direction { kNone, kToDevice, kFromDevice };
  using CompletionFn = void (*)(void* context, const EmulatedCompletion& completion);

  explicit RingEmulator(Options options, CompletionFn on_complete = nullptr,
                        void* context = nullptr);
  ~RingEmulator();
  RingEmulator(const RingEmulator&) = delete;
  RingEmulator& operator=(const RingEmulator&) = delete;

  // What the transport opens: the fd to mmap, its size, and the doorbell fd.
  int map_fd() const { return memfd_; }
  size_t map_size() const { return map_size_; }
  int doorbell_fd() const { return user_fd_; }
  uint8_t* map() const { return map_; }
  uint32_t cmdr_size() const { return options_.cmdr_size; }

  // Queues a command as the kernel would. Data-Out is copied into data blocks; a Data-In buffer
  // of data_in_len bytes is allocated. Returns the cmd_id, or nothing when the ring or the data
  // area has no room (the kernel would hold the command in its qfull queue).
  std::optional<uint16_t> submit(std::span<const uint8_t> cdb, Direction dir,
                                 std::span<const uint8_t> data_out, size_t data_in_len,
                                 uint64_t tag, bool notify = true);
  // Queues a TMR notification listing in-ring commands.
  bool submit_tmr(uint8_t type, std::span<const uint16_t> cmd_ids, bool notify = true);
  // Writes `entry` (whose len_op the caller crafted) at the head and advances the head by
  // `advance` bytes (hostile-input tests). With as_command, a cmd_id is allocated, written into
  // the header and expected back in a completion. Returns the cmd_id (0 without as_command).
  std::optional<uint16_t> submit_raw(std::span<const uint8_t> entry, uint32_t advance,
                                     bool as_command, bool notify = true);
  // Signals the doorbell (coalesced like uio_event_notify: at most one unread event).
  void notify();

  // Reads pending kicks and runs the completion walk; returns how many commands completed.
  size_t service();
  // Blocks until the user side kicks (or timeout_ms passes), then services.
  size_t wait_and_service(int timeout_ms);

  // Emulates action/reset_ring: every in-ring command is completed with `status`, head and tail
  // go back to 0.
  void reset_ring(uint8_t status);

  bool broken() const { return !broken_.empty(); }
  const std::string& broken_reason() const { return broken_; }
  size_t in_flight() const { return in_flight_; }
  uint64_t notifications() const { return notifications_; }
  uint64_t kicks() const { return kicks_; }

 private:
  struct Record {
    bool active = false;
    uint64_t tag = 0;
    Direction dir = Direction::kNone;
    size_t length = 0;
    std::vector<uint32_t> blocks;
    std::vector<iovec> iov;
  };

  bool reserve_entry(uint32_t size);
  std::optional<uint16_t> alloc_id();
  bool alloc_blocks(size_t bytes, Record& rec);
  void free_blocks(Record& rec);
  void finish(uint16_t id, uint8_t status, bool unknown_op, const uint8_t* sense,
              std::optional<uint32_t> read_len);
  uint32_t free_space() const;

  Options options_;
  CompletionFn on_complete_;
  void* context_;
  int memfd_ = -1;
  int user_fd_ = -1;    // handed to the transport
  int kernel_fd_ = -1;  // our end of the doorbell
  uint8_t* map_ = nullptr;
  size_t map_size_ = 0;
  size_t data_off_ = 0;
  uint32_t head_ = 0;          // our cmd_head
  uint32_t last_cleaned_ = 0;  // cmdr_last_cleaned
  uint16_t next_id_ = 1;
  std::vector<Record> records_;       // indexed by cmd_id
  std::vector<uint64_t> id_used_;     // bitmap over cmd_ids (id 0 is never used)
  std::vector<uint64_t> block_used_;  // bitmap over data blocks
  size_t block_count_ = 0;
  size_t in_flight_ = 0;
  uint64_t notifications_ = 0;
  uint64_t kicks_ = 0;
  std::string broken_;
};

}  // namespace lunkit::tcmu

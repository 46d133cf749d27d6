#include "tcmu/ring.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace lunkit::tcmu {
namespace {

template <typename T>
T read_at(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename T>
void write_at(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof v);
}

}  // namespace

std::optional<std::string> Ring::check_mailbox(const void* base, size_t size) {
  char msg[160];
  if (size < kMailboxSize) return std::string("mapping is smaller than the TCMU mailbox");
  const auto* b = static_cast<const uint8_t*>(base);
  auto version = read_at<uint16_t>(b + mailbox::kVersion);
  auto flags = read_at<uint16_t>(b + mailbox::kFlags);
  auto cmdr_off = read_at<uint32_t>(b + mailbox::kCmdrOff);
  auto cmdr_size = read_at<uint32_t>(b + mailbox::kCmdrSize);
  auto head = read_at<uint32_t>(b + kCmdHeadOffset);
  auto tail = read_at<uint32_t>(b + kCmdTailOffset);
  if (version != kMailboxVersion) {
    std::snprintf(msg, sizeof msg, "TCMU mailbox version %u; lunkit speaks version %d", version,
                  kMailboxVersion);
    return std::string(msg);
  }
  if (cmdr_off != kMailboxSize || cmdr_size < 2 * kCmdEntrySize || cmdr_size % kEntryAlign ||
      cmdr_off + static_cast<uint64_t>(cmdr_size) > size) {
    std::snprintf(msg, sizeof msg,
                  "TCMU command ring (offset %u, size %u) does not fit a %zu-byte map", cmdr_off,
                  cmdr_size, size);
    return std::string(msg);
  }
  if (head >= cmdr_size || tail >= cmdr_size || head % kEntryAlign || tail % kEntryAlign)
    return std::string("TCMU mailbox head/tail lie outside the command ring");
  if (!(flags & kCapOutOfOrder))
    return std::string("kernel lacks out-of-order completion (TCMU_MAILBOX_FLAG_CAP_OOOC)");
  return std::nullopt;
}

Ring::Ring(void* base, size_t size)
    : base_(static_cast<uint8_t*>(base)),
      size_(size),
      ring_(base_ + kMailboxSize),
      cmdr_size_(read_at<uint32_t>(base_ + mailbox::kCmdrSize)),
      data_off_(kMailboxSize + static_cast<size_t>(cmdr_size_)),
      flags_(read_at<uint16_t>(base_ + mailbox::kFlags)),
      read_pos_(load_acquire(mailbox_word(base_, kCmdTailOffset))),
      tail_(read_pos_) {
  data_iov_.reserve(64);
  bidi_iov_.reserve(16);
  tmr_ids_.reserve(64);
}

void Ring::mark_broken(std::string reason) {
  if (broken_reason_.empty()) broken_reason_ = std::move(reason);
}

bool Ring::read_iovecs(const uint8_t* at, uint32_t count, std::vector<iovec>& out,
                       const char** why) {
  out.clear();
  for (uint32_t i = 0; i < count; ++i) {
    auto off = read_at<uint64_t>(at + i * kIovSize);
    auto len = read_at<uint64_t>(at + i * kIovSize + 8);
    if (off < data_off_ || off > size_ || len > size_ - off) {
      *why = "an iovec lies outside the data area";
      return false;
    }
    out.push_back(iovec{base_ + off, static_cast<size_t>(len)});
  }
  return true;
}

size_t Ring::consume(Sink& sink) {
  if (broken()) return 0;
  uint32_t head = load_acquire(mailbox_word(base_, kCmdHeadOffset));
  if (head >= cmdr_size_ || head % kEntryAlign) {
    mark_broken("cmd_head " + std::to_string(head) + " lies outside the command ring");
    return 0;
  }
  size_t count = 0;
  while (read_pos_ != head) {
    const uint32_t pos = read_pos_;
    uint8_t* e = ring_ + pos;
    uint32_t len_op = read_at<uint32_t>(e);
    uint32_t len = entry_len(len_op);
    uint32_t ahead = (head + cmdr_size_ - pos) % cmdr_size_;
    if (len < entry::kHeaderSize || len > ahead) {
      mark_broken("entry at ring offset " + std::to_string(pos) + " has length " +
                  std::to_string(len) + " (" + std::to_string(ahead) + " bytes queued)");
      return count;
    }
    // Step past the entry before the sink sees it: a command completed inline (inside the sink)
    // must find its own entry between the tail and the read position.
    read_pos_ = pos + len >= cmdr_size_ ? pos + len - cmdr_size_ : pos + len;
    ++count;
    switch (entry_op(len_op)) {
      case kOpPad:
        ++stats_.pads;
        break;
      case kOpTmr: {
        uint32_t n = len >= kTmrHeaderSize ? read_at<uint32_t>(e + tmr::kCmdCnt) : 0;
        if (len < kTmrHeaderSize || n > (len - kTmrHeaderSize) / 2) {
          mark_broken("TMR entry at ring offset " + std::to_string(pos) + " is truncated");
          return count;
        }
        tmr_ids_.resize(n);
        for (uint32_t i = 0; i < n; ++i)
          tmr_ids_[i] = read_at<uint16_t>(e + kTmrHeaderSize + 2 * i);
        ++stats_.tmrs;
        sink.on_tmr(e[tmr::kType], tmr_ids_);
        break;
      }
      case kOpCmd: {
        if (len < kCmdEntrySize) {
          // Too short to hold a response: completing it would overwrite the next entry.
          mark_broken("CMD entry at ring offset " + std::to_string(pos) + " is " +
                      std::to_string(len) + " bytes");
          return count;
        }
        ++outstanding_;
        ++stats_.commands;
        uint16_t cmd_id = read_at<uint16_t>(e + entry::kCmdId);
        uint64_t iovs = uint64_t{read_at<uint32_t>(e + entry::kIovCnt)} +
                        read_at<uint32_t>(e + entry::kIovBidiCnt) +
                        read_at<uint32_t>(e + entry::kIovDifCnt);
        uint64_t entry_off = kMailboxSize + pos;
        uint64_t cdb_off = read_at<uint64_t>(e + entry::kCdbOff);
        uint64_t iov_end = entry_off + kCmdIovOffset + iovs * kIovSize;
        const char* why = nullptr;
        size_t cdb_len = 0;
        if (iov_end > entry_off + len) {
          why = "its iovec count exceeds the entry";
        } else if (cdb_off < iov_end || cdb_off >= entry_off + len ||
                   (base_[cdb_off] == 0x7F && cdb_off + 8 > entry_off + len)) {
          why = "its CDB offset lies outside the entry";
        } else {
          cdb_len = cdb_size(base_ + cdb_off);
          if (cdb_off + cdb_len > entry_off + len) why = "its CDB runs past the entry";
        }
        if (!why) {
          const uint8_t* iov = e + kCmdIovOffset;
          uint32_t n_data = read_at<uint32_t>(e + entry::kIovCnt);
          uint32_t n_bidi = read_at<uint32_t>(e + entry::kIovBidiCnt);
          uint32_t n_dif = read_at<uint32_t>(e + entry::kIovDifCnt);
          if (read_iovecs(iov, n_data, data_iov_, &why) &&
              read_iovecs(iov + n_data * kIovSize, n_bidi, bidi_iov_, &why)) {
            // DIF iovecs are never set by 6.12; they are checked and otherwise ignored.
            for (uint32_t i = 0; i < n_dif && !why; ++i) {
              const uint8_t* d = iov + (n_data + n_bidi + i) * kIovSize;
              auto off = read_at<uint64_t>(d);
              auto l = read_at<uint64_t>(d + 8);
              if (off < data_off_ || off > size_ || l > size_ - off)
                why = "a DIF iovec lies outside the data area";
            }
          }
        }
        if (why) {
          ++stats_.bad_commands;
          sink.on_bad_command(cmd_id, why);
          break;
        }
        std::memcpy(cdb_.data(), base_ + cdb_off, cdb_len);
        RingCommand cmd;
        cmd.cmd_id = cmd_id;
        cmd.cdb = std::span<const uint8_t>(cdb_.data(), cdb_len);
        cmd.data = data_iov_;
        cmd.bidi_in = bidi_iov_;
        sink.on_command(cmd);
        break;
      }
      default:
        e[entry::kUflags] |= kUflagUnknownOp;
        ++stats_.unknown_ops;
        break;
    }
  }
  return count;
}

bool Ring::complete(uint16_t cmd_id, uint8_t scsi_status, std::span<const uint8_t> sense,
                    std::optional<uint32_t> read_len) {
  if (broken() || outstanding_ == 0) return false;
  uint32_t pos = tail_;
  uint8_t* e = nullptr;
  uint32_t len = 0;
  while (pos != read_pos_) {
    e = ring_ + pos;
    uint32_t len_op = read_at<uint32_t>(e);
    len = entry_len(len_op);
    if (entry_op(len_op) == kOpCmd) break;
    pos += len;
    if (pos >= cmdr_size_) pos -= cmdr_size_;
    e = nullptr;
  }
  if (!e) return false;
  write_at<uint16_t>(e + entry::kCmdId, cmd_id);
  uint8_t uflags = 0;
  if (read_len && has_read_len()) {
    uflags |= kUflagReadLen;
    write_at<uint32_t>(e + entry::kReadLen, *read_len);
  } else {
    write_at<uint32_t>(e + entry::kReadLen, 0);
  }
  e[entry::kUflags] = uflags;
  e[entry::kScsiStatus] = scsi_status;
  if (scsi_status == 0x02 /* CHECK CONDITION */) {
    size_t n = std::min<size_t>(sense.size(), kSenseBufferSize);
    if (n) std::memcpy(e + entry::kSense, sense.data(), n);
    std::memset(e + entry::kSense + n, 0, kSenseBufferSize - n);
  }
  pos += len;
  if (pos >= cmdr_size_) pos -= cmdr_size_;
  tail_ = pos;
  store_release(mailbox_word(base_, kCmdTailOffset), tail_);
  --outstanding_;
  ++stats_.completions;
  return true;
}

}  // namespace lunkit::tcmu

#include "tcmu/ring_emulator.h"

#include <poll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace lunkit::tcmu {
namespace {

template <typename T>
void put(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof v);
}
template <typename T>
T get(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
uint32_t round_up8(size_t v) {
  return static_cast<uint32_t>((v + 7) & ~size_t{7});
}

[[noreturn]] void fail(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

std::vector<uint8_t> data_in_bytes(const EmulatedCompletion& c) {
  std::vector<uint8_t> out;
  out.reserve(c.data_in_len);
  size_t left = c.data_in_len;
  for (const iovec& v : c.data_in) {
    size_t n = std::min(left, v.iov_len);
    auto* p = static_cast<const uint8_t*>(v.iov_base);
    out.insert(out.end(), p, p + n);
    left -= n;
  }
  return out;
}

RingEmulator::RingEmulator(Options options, CompletionFn on_complete, void* context)
    : options_(options), on_complete_(on_complete), context_(context) {
  data_off_ = kMailboxSize + options_.cmdr_size;
  map_size_ = data_off_ + options_.data_size;
  memfd_ = memfd_create("lunkit-tcmu-emulator", MFD_CLOEXEC);
  if (memfd_ < 0) fail("memfd_create");
  if (ftruncate(memfd_, static_cast<off_t>(map_size_)) < 0) fail("ftruncate");
  void* m = mmap(nullptr, map_size_, PROT_READ | PROT_WRITE, MAP_SHARED, memfd_, 0);
  if (m == MAP_FAILED) fail("mmap");
  map_ = static_cast<uint8_t*>(m);
  put<uint16_t>(map_ + mailbox::kVersion, kMailboxVersion);
  put<uint16_t>(map_ + mailbox::kFlags, options_.flags);
  put<uint32_t>(map_ + mailbox::kCmdrOff, kMailboxSize);
  put<uint32_t>(map_ + mailbox::kCmdrSize, options_.cmdr_size);
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, fds) < 0)
    fail("socketpair");
  user_fd_ = fds[0];
  kernel_fd_ = fds[1];
  records_.resize(65536);
  id_used_.assign(65536 / 64, 0);
  id_used_[0] = 1;  // cmd_id 0 does not exist
  block_count_ = options_.data_size / kDataBlockSize;
  block_used_.assign((block_count_ + 63) / 64, 0);
  for (size_t b = block_count_; b < block_used_.size() * 64; ++b)
    block_used_[b / 64] |= 1ull << (b % 64);
}

RingEmulator::~RingEmulator() {
  if (map_) munmap(map_, map_size_);
  for (int fd : {memfd_, user_fd_, kernel_fd_})
    if (fd >= 0) close(fd);
}

uint32_t RingEmulator::free_space() const {
  return (options_.cmdr_size + last_cleaned_ - head_ - 1) % options_.cmdr_size;
}

bool RingEmulator::reserve_entry(uint32_t size) {
  if (size > options_.cmdr_size / 2) return false;
  uint32_t pad = head_ + size > options_.cmdr_size ? options_.cmdr_size - head_ : 0;
  if (size + pad > free_space()) return false;
  if (pad) {
    uint8_t* e = map_ + kMailboxSize + head_;
    std::memset(e, 0, entry::kHeaderSize);
    put<uint32_t>(e, make_len_op(pad, kOpPad));
    head_ = 0;
  }
  return true;
}

namespace {
// Lowest clear bit at or after `from`, or `limit` when there is none.
size_t find_clear(const std::vector<uint64_t>& bits, size_t from, size_t limit) {
  for (size_t w = from / 64; w < bits.size(); ++w) {
    uint64_t free = ~bits[w];
    if (w == from / 64) free &= ~0ull << (from % 64);
    if (free) {
      size_t b = w * 64 + static_cast<size_t>(__builtin_ctzll(free));
      return b < limit ? b : limit;
    }
  }
  return limit;
}
void set_bit(std::vector<uint64_t>& bits, size_t b, bool on) {
  if (on)
    bits[b / 64] |= 1ull << (b % 64);
  else
    bits[b / 64] &= ~(1ull << (b % 64));
}
}  // namespace

std::optional<uint16_t> RingEmulator::alloc_id() {
  // 6.12 takes the lowest free id (xa_alloc); the cyclic option starts after the last one.
  size_t id = find_clear(id_used_, options_.cyclic_ids ? next_id_ : 1, 65536);
  if (id == 65536 && options_.cyclic_ids) id = find_clear(id_used_, 1, 65536);
  if (id == 65536) return std::nullopt;
  next_id_ = static_cast<uint16_t>(id == 65535 ? 1 : id + 1);
  return static_cast<uint16_t>(id);
}

bool RingEmulator::alloc_blocks(size_t bytes, Record& rec) {
  rec.blocks.clear();
  rec.iov.clear();
  size_t need = (bytes + kDataBlockSize - 1) / kDataBlockSize;
  for (size_t b = find_clear(block_used_, 0, block_count_);
       b < block_count_ && rec.blocks.size() < need;
       b = find_clear(block_used_, b + 1, block_count_))
    rec.blocks.push_back(static_cast<uint32_t>(b));
  if (rec.blocks.size() < need) {
    rec.blocks.clear();
    return false;
  }
  size_t left = bytes;
  for (size_t i = 0; i < rec.blocks.size(); ++i) {
    set_bit(block_used_, rec.blocks[i], true);
    size_t n = std::min(left, kDataBlockSize);
    uint8_t* p = map_ + data_off_ + size_t{rec.blocks[i]} * kDataBlockSize;
    if (i > 0 && rec.blocks[i] == rec.blocks[i - 1] + 1)
      rec.iov.back().iov_len += n;  // contiguous blocks share one iovec, as in the kernel
    else
      rec.iov.push_back(iovec{p, n});
    left -= n;
  }
  return true;
}

void RingEmulator::free_blocks(Record& rec) {
  for (uint32_t b : rec.blocks) set_bit(block_used_, b, false);
  rec.blocks.clear();
}

std::optional<uint16_t> RingEmulator::submit(std::span<const uint8_t> cdb, Direction dir,
                                             std::span<const uint8_t> data_out, size_t data_in_len,
                                             uint64_t tag, bool do_notify) {
  if (broken() || cdb.empty()) return std::nullopt;
  uint8_t cdb_buf[264] = {};
  std::memcpy(cdb_buf, cdb.data(), std::min(cdb.size(), sizeof cdb_buf));
  size_t cdb_len = cdb_size(cdb_buf);
  size_t bytes = dir == Direction::kToDevice     ? data_out.size()
                 : dir == Direction::kFromDevice ? data_in_len
                                                 : 0;
  auto id = alloc_id();
  if (!id) return std::nullopt;
  Record& rec = records_[*id];
  if (!alloc_blocks(bytes, rec)) return std::nullopt;
  uint32_t base = std::max<uint32_t>(
      kCmdIovOffset + kIovSize * static_cast<uint32_t>(rec.iov.size()), kCmdEntrySize);
  uint32_t size = base + round_up8(cdb_len);
  if (!reserve_entry(size)) {
    free_blocks(rec);
    return std::nullopt;
  }
  uint8_t* e = map_ + kMailboxSize + head_;
  std::memset(e, 0, size);
  put<uint32_t>(e, make_len_op(size, kOpCmd));
  put<uint16_t>(e + entry::kCmdId, *id);
  put<uint32_t>(e + entry::kIovCnt, static_cast<uint32_t>(rec.iov.size()));
  put<uint64_t>(e + entry::kCdbOff, uint64_t{kMailboxSize} + head_ + base);
  for (size_t i = 0; i < rec.iov.size(); ++i) {
    put<uint64_t>(e + kCmdIovOffset + i * kIovSize,
                  static_cast<uint64_t>(static_cast<uint8_t*>(rec.iov[i].iov_base) - map_));
    put<uint64_t>(e + kCmdIovOffset + i * kIovSize + 8, rec.iov[i].iov_len);
  }
  std::memcpy(e + base, cdb_buf, cdb_len);
  if (dir == Direction::kToDevice) {
    size_t off = 0;
    for (const iovec& v : rec.iov) {
      std::memcpy(v.iov_base, data_out.data() + off, v.iov_len);
      off += v.iov_len;
    }
  }
  rec.active = true;
  set_bit(id_used_, *id, true);
  rec.tag = tag;
  rec.dir = dir;
  rec.length = bytes;
  ++in_flight_;
  head_ = (head_ + size) % options_.cmdr_size;
  store_release(mailbox_word(map_, kCmdHeadOffset), head_);
  if (do_notify) notify();
  return id;
}

bool RingEmulator::submit_tmr(uint8_t type, std::span<const uint16_t> cmd_ids, bool do_notify) {
  uint32_t size = round_up8(kTmrHeaderSize + 2 * cmd_ids.size());
  if (broken() || !reserve_entry(size)) return false;
  uint8_t* e = map_ + kMailboxSize + head_;
  std::memset(e, 0, size);
  put<uint32_t>(e, make_len_op(size, kOpTmr));
  e[tmr::kType] = type;
  put<uint32_t>(e + tmr::kCmdCnt, static_cast<uint32_t>(cmd_ids.size()));
  for (size_t i = 0; i < cmd_ids.size(); ++i) put<uint16_t>(e + kTmrHeaderSize + 2 * i, cmd_ids[i]);
  head_ = (head_ + size) % options_.cmdr_size;
  store_release(mailbox_word(map_, kCmdHeadOffset), head_);
  if (do_notify) notify();
  return true;
}

std::optional<uint16_t> RingEmulator::submit_raw(std::span<const uint8_t> entry, uint32_t advance,
                                                 bool as_command, bool do_notify) {
  if (broken() || advance % 8 || advance == 0 ||
      !reserve_entry(std::max<uint32_t>(advance, round_up8(entry.size())))) {
    return std::nullopt;
  }
  uint8_t* e = map_ + kMailboxSize + head_;
  size_t n = std::min<size_t>(entry.size(), options_.cmdr_size - head_);
  std::memcpy(e, entry.data(), n);
  uint16_t id = 0;
  if (as_command) {
    auto got = alloc_id();
    if (!got) return std::nullopt;
    id = *got;
    put<uint16_t>(e + entry::kCmdId, id);
    Record& rec = records_[id];
    rec = Record{};
    rec.active = true;
    set_bit(id_used_, id, true);
    ++in_flight_;
  }
  head_ = (head_ + advance) % options_.cmdr_size;
  store_release(mailbox_word(map_, kCmdHeadOffset), head_);
  if (do_notify) notify();
  return id;
}

void RingEmulator::notify() {
  // Like uio_event_notify(): every event wakes the pollers, and a reader sees one event however
  // many were raised before it read (an unread one is replaced, not queued behind).
  uint32_t stale;
  while (recv(user_fd_, &stale, sizeof stale, MSG_DONTWAIT) > 0) {
  }
  uint32_t count = static_cast<uint32_t>(++notifications_);
  (void)!send(kernel_fd_, &count, sizeof count, MSG_DONTWAIT | MSG_NOSIGNAL);
}

void RingEmulator::finish(uint16_t id, uint8_t status, bool unknown_op, const uint8_t* sense,
                          std::optional<uint32_t> read_len) {
  Record& rec = records_[id];
  EmulatedCompletion c;
  c.tag = rec.tag;
  c.cmd_id = id;
  c.status = unknown_op ? 0x02 : status;
  c.unknown_op = unknown_op;
  if (sense && c.status == 0x02) c.sense = std::span<const uint8_t>(sense, kSenseBufferSize);
  c.data_in = rec.iov;
  // As tcmu_handle_completion(): READ_LEN counts only when non-zero and only for Data-In; CHECK
  // CONDITION returns data only with a valid READ_LEN; otherwise the whole data length is
  // copied, whatever the blocks hold.
  bool read_len_valid = rec.dir == Direction::kFromDevice && read_len && *read_len > 0;
  if (rec.dir == Direction::kFromDevice && !unknown_op && (c.status != 0x02 || read_len_valid))
    c.data_in_len = read_len_valid ? std::min<size_t>(*read_len, rec.length) : rec.length;
  c.read_len_valid = read_len_valid && !unknown_op;
  if (on_complete_) on_complete_(context_, c);
  free_blocks(rec);
  rec.active = false;
  set_bit(id_used_, id, false);
  --in_flight_;
}

size_t RingEmulator::service() {
  uint32_t kick;
  while (recv(kernel_fd_, &kick, sizeof kick, MSG_DONTWAIT) > 0) ++kicks_;
  if (broken()) return 0;
  size_t done = 0;
  uint32_t tail = load_acquire(mailbox_word(map_, kCmdTailOffset));
  if (tail >= options_.cmdr_size || tail % 8) {
    broken_ = "cmd_tail " + std::to_string(tail) + " outside the ring";
    return 0;
  }
  while (last_cleaned_ != tail) {
    uint8_t* e = map_ + kMailboxSize + last_cleaned_;
    uint32_t len_op = get<uint32_t>(e);
    uint32_t len = entry_len(len_op);
    uint32_t span = (tail + options_.cmdr_size - last_cleaned_) % options_.cmdr_size;
    if (len < 8 || len > span) {
      broken_ = "entry at " + std::to_string(last_cleaned_) + " has a bad length";
      return done;
    }
    uint32_t op = entry_op(len_op);
    if (op != kOpPad && op != kOpTmr) {
      uint16_t id = get<uint16_t>(e + entry::kCmdId);
      if (!records_[id].active) {
        broken_ = "cmd_id " + std::to_string(id) + " not found, ring is broken";
        return done;
      }
      uint8_t uflags = e[entry::kUflags];
      std::optional<uint32_t> read_len;
      if (uflags & kUflagReadLen) read_len = get<uint32_t>(e + entry::kReadLen);
      finish(id, e[entry::kScsiStatus], uflags & kUflagUnknownOp, e + entry::kSense, read_len);
      ++done;
    }
    last_cleaned_ = (last_cleaned_ + len) % options_.cmdr_size;
  }
  return done;
}

size_t RingEmulator::wait_and_service(int timeout_ms) {
  pollfd p{kernel_fd_, POLLIN, 0};
  poll(&p, 1, timeout_ms);
  return service();
}

void RingEmulator::reset_ring(uint8_t status) {
  for (uint32_t id = 1; id <= 65535; ++id)
    if (records_[id].active)
      finish(static_cast<uint16_t>(id), status, false, nullptr, std::nullopt);
  head_ = last_cleaned_ = 0;
  store_release(mailbox_word(map_, kCmdHeadOffset), 0);
  store_release(mailbox_word(map_, kCmdTailOffset), 0);
  broken_.clear();
}

}  // namespace lunkit::tcmu

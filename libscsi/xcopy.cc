// EXTENDED COPY (LID1, SPC-5 6.6) with block-to-block segment descriptors (02h) between units
// named by identification CSCD descriptors (E4h, NAA designators), and RECEIVE COPY RESULTS
// (COPY STATUS, OPERATING PARAMETERS).
//
// The whole parameter list is checked before any block moves. A unit runs one copy at a time
// through one buffer allocated on its first copy and kept, in pieces of at most that size, so
// memory does not grow with the copy; further copies wait in arrival order (linked through
// their Commands, no allocation). Units other than the receiving one are reached only through
// LogicalUnitOptions::copy_targets.
#include "libscsi/xcopy.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>

#include "libscsi/bytes.h"
#include "libscsi/handlers.h"
#include "libscsi/iov.h"

namespace lunkit::scsi {
namespace {

constexpr size_t kHeaderLength = 16;
constexpr size_t kCscdLength = 32;
constexpr size_t kBlockSegmentLength = 28;  // segment descriptor 02h: 4-byte header + 0x18
constexpr uint16_t kMaxCscds = 8;
constexpr uint16_t kMaxSegments = 8;
constexpr uint32_t kMaxDescriptorListLength = kMaxCscds * kCscdLength + kMaxSegments * 28;
constexpr uint8_t kCscdIdentification = 0xE4;
constexpr uint8_t kSegmentBlockToBlock = 0x02;
constexpr size_t kStatusRecords = 8;

// COPY STATUS: COPY MANAGER STATUS values.
enum CopyState : uint8_t { kInProgress = 0x00, kCompleted = 0x01, kCompletedWithErrors = 0x02 };

struct Endpoint {
  BlockDevice* dev = nullptr;  // null: not referenced by any segment
  bool self = false;           // the receiving unit (its write cache and barrier rules apply)
  uint32_t block_size = 0;
};

struct Segment {
  uint16_t src = 0, dst = 0;  // CSCD indexes
  uint64_t src_lba = 0, dst_lba = 0;
  uint64_t blocks = 0;
  bool backwards = false;  // overlapping ranges on one device, destination after source
};

struct StatusRecord {
  bool used = false;
  uint8_t list_id = 0;
  uint8_t state = kInProgress;
  uint16_t segments = 0;
  uint64_t bytes = 0;
  uint64_t age = 0;
};

enum Phase : uint8_t { kRead, kWrite, kFlush };

}  // namespace

struct CopyManager {
  std::mutex mu;  // running, the queue and the records (submitting vs completing threads)
  Command* running = nullptr;
  Command* queue_head = nullptr;
  Command* queue_tail = nullptr;
  std::array<StatusRecord, kStatusRecords> records{};
  uint64_t record_clock = 0;

  std::unique_ptr<uint8_t[]> buffer;
  size_t buffer_len = 0;
  std::array<iovec, 1> buffer_iov{};

  // The running copy (only its own command's thread of execution touches these).
  std::array<uint8_t, kHeaderLength + kMaxDescriptorListLength> list{};
  std::array<Endpoint, kMaxCscds> cscds{};
  std::array<Segment, kMaxSegments> segments{};
  uint16_t segment_count = 0;
  uint16_t segment = 0;  // being processed
  uint64_t cursor = 0;   // blocks of it done
  uint64_t chunk = 0;    // blocks of the piece in flight
  uint64_t bytes_done = 0;
  Phase phase = kRead;
  StatusRecord* record = nullptr;
};

void CopyManagerDeleter::operator()(CopyManager* manager) const {
  delete manager;  // NOLINT: the owner is a unique_ptr with this deleter
}

CopyManager* make_copy_manager() {
  return new CopyManager();  // NOLINT: owned by LuState::copy
}

namespace {

// ---- the status of recent copies (COPY STATUS) ----

StatusRecord* find_record(CopyManager& cm, uint8_t list_id) {
  for (StatusRecord& r : cm.records)
    if (r.used && r.list_id == list_id) return &r;
  return nullptr;
}

// With cm.mu held: the record for a new copy, replacing one with the same list identifier or
// else the oldest.
StatusRecord* start_record(CopyManager& cm, uint8_t list_id) {
  StatusRecord* r = find_record(cm, list_id);
  if (!r)
    r = &*std::min_element(cm.records.begin(), cm.records.end(),
                           [](const StatusRecord& a, const StatusRecord& b) {
                             if (a.used != b.used) return !a.used;
                             return a.age < b.age;
                           });
  *r = StatusRecord{.used = true, .list_id = list_id, .age = ++cm.record_clock};
  return r;
}

// ---- running one copy at a time ----

void start_copy(LuState& lu, Command& cmd);

// Ends the running copy: records its outcome, completes its command through `complete`, then
// starts the next waiting copy, if any.
template <typename Complete>
void end_copy(LuState& lu, bool ok, Complete complete) {
  CopyManager& cm = *lu.copy;
  Command* next;
  {
    std::lock_guard lock(cm.mu);
    if (cm.record) {
      cm.record->state = ok ? kCompleted : kCompletedWithErrors;
      cm.record->segments = cm.segment;
      cm.record->bytes = cm.bytes_done;
      cm.record = nullptr;
    }
    next = cm.queue_head;
    if (next) {
      cm.queue_head = static_cast<Command*>(next->exec.next);
      if (!cm.queue_head) cm.queue_tail = nullptr;
    }
    cm.running = next;
  }
  complete();
  if (next) start_copy(lu, *next);
}

void fail_condition(LuState& lu, Command& cmd, Condition c, const SenseDetail& detail = {}) {
  end_copy(lu, false, [&] { complete_condition(lu, cmd, c, detail); });
}
void fail_param(LuState& lu, Command& cmd, size_t byte, int8_t bit = -1) {
  FieldPointer f{.in_cdb = false, .byte = static_cast<uint16_t>(byte), .bit = bit};
  fail_condition(lu, cmd, Condition::kInvalidFieldInParameterList, SenseDetail::at(f));
}
// A pointer to the first byte of a descriptor that has the wrong type code.
void fail_type(LuState& lu, Command& cmd, Condition c, size_t byte) {
  fail_condition(
      lu, cmd, c,
      SenseDetail::at(FieldPointer{.in_cdb = false, .byte = static_cast<uint16_t>(byte)}));
}

// ---- parameter list checks (SPC-5 6.6.3 and 6.6.5.3, 6.6.6.5) ----

// Checks one identification CSCD descriptor at list offset `at`; false when the command ended.
bool check_cscd(LuState& lu, Command& cmd, size_t at) {
  const uint8_t* d = lu.copy->list.data() + at;
  if (d[0] != kCscdIdentification) {
    fail_type(lu, cmd, Condition::kUnsupportedTargetDescriptorTypeCode, at);
    return false;
  }
  if (d[1] & 0x20) {  // NUL: a null device, which block-to-block segments cannot use
    fail_param(lu, cmd, at + 1, 5);
    return false;
  }
  if ((d[1] & 0x1F) != 0x00) {  // peripheral device type: direct access block device only
    fail_param(lu, cmd, at + 1, 4);
    return false;
  }
  if ((d[4] & 0x0F) != 0x01) {  // code set: binary
    fail_param(lu, cmd, at + 4, 3);
    return false;
  }
  if ((d[5] & 0x30) != 0x00) {  // association: logical unit
    fail_param(lu, cmd, at + 5, 5);
    return false;
  }
  if ((d[5] & 0x0F) != 0x03) {  // designator type: NAA
    fail_param(lu, cmd, at + 5, 3);
    return false;
  }
  if (d[7] != 8 && d[7] != 16) {
    fail_param(lu, cmd, at + 7);
    return false;
  }
  return true;
}

// Resolves the CSCD descriptor at index `i` to a device; false when the command ended.
bool resolve_cscd(LuState& lu, Command& cmd, uint16_t i) {
  CopyManager& cm = *lu.copy;
  Endpoint& e = cm.cscds[i];
  if (e.dev) return true;
  size_t at = kHeaderLength + size_t{i} * kCscdLength;
  const uint8_t* d = cm.list.data() + at;
  std::span<const uint8_t> designator(d + 8, d[7]);
  uint8_t own[16];
  size_t own_len = naa_designator(lu, own);
  if (own_len == designator.size() && std::memcmp(own, designator.data(), own_len) == 0) {
    e = Endpoint{.dev = &lu.dev, .self = true, .block_size = lu.block_size};
  } else {
    const CopyTargetResolver& r = lu.options.copy_targets;
    BlockDevice* dev = r.resolve ? r.resolve(r.context, designator) : nullptr;
    if (!dev || dev == &lu.dev) {
      fail_condition(lu, cmd, Condition::kCopyTargetDeviceNotReachable);
      return false;
    }
    e = Endpoint{.dev = dev, .self = false, .block_size = dev->info().logical_block_size};
  }
  // DISK BLOCK LENGTH (block device parameters) must be the unit's logical block size.
  if (get_be(d + 29, 3) != e.block_size) {
    fail_param(lu, cmd, at + 29);
    return false;
  }
  return true;
}

uint64_t capacity_of(const LuState& lu, const Endpoint& e) {
  return e.self ? lu.capacity.load(std::memory_order_relaxed) : e.dev->info().num_blocks;
}

// Parses the segment descriptors that start at list offset `first` (`length` bytes), resolving
// the CSCDs they name; false when the command ended.
bool parse_segments(LuState& lu, Command& cmd, size_t first, size_t length, uint16_t cscd_count) {
  CopyManager& cm = *lu.copy;
  cm.segment_count = 0;
  for (size_t off = 0; off < length;) {
    size_t at = first + off;
    const uint8_t* s = cm.list.data() + at;
    if (length - off < 4) {
      fail_condition(lu, cmd, Condition::kParameterListLengthError);
      return false;
    }
    if (s[0] != kSegmentBlockToBlock) {
      fail_type(lu, cmd, Condition::kUnsupportedSegmentDescriptorTypeCode, at);
      return false;
    }
    if (get_be16(s + 2) != kBlockSegmentLength - 4) {
      fail_param(lu, cmd, at + 2);
      return false;
    }
    if (length - off < kBlockSegmentLength) {
      fail_condition(lu, cmd, Condition::kParameterListLengthError);
      return false;
    }
    if (cm.segment_count == kMaxSegments) {
      fail_condition(lu, cmd, Condition::kTooManySegmentDescriptors);
      return false;
    }
    Segment& seg = cm.segments[cm.segment_count];
    seg.src = get_be16(s + 4);
    seg.dst = get_be16(s + 6);
    if (seg.src >= cscd_count) {
      fail_param(lu, cmd, at + 4);
      return false;
    }
    if (seg.dst >= cscd_count) {
      fail_param(lu, cmd, at + 6);
      return false;
    }
    seg.blocks = get_be16(s + 10);
    seg.src_lba = get_be64(s + 12);
    seg.dst_lba = get_be64(s + 20);
    if (!resolve_cscd(lu, cmd, seg.src) || !resolve_cscd(lu, cmd, seg.dst)) return false;
    const Endpoint& src = cm.cscds[seg.src];
    const Endpoint& dst = cm.cscds[seg.dst];
    if (src.block_size != dst.block_size ||  // the count would mean different lengths
        src.block_size > cm.buffer_len) {    // a block must fit the copy buffer
      fail_param(lu, cmd, kHeaderLength + size_t{seg.dst} * kCscdLength + 29);
      return false;
    }
    uint64_t src_cap = capacity_of(lu, src), dst_cap = capacity_of(lu, dst);
    if (seg.src_lba > src_cap || seg.blocks > src_cap - seg.src_lba || seg.dst_lba > dst_cap ||
        seg.blocks > dst_cap - seg.dst_lba) {
      fail_condition(lu, cmd, Condition::kLbaOutOfRange);
      return false;
    }
    if (seg.blocks && (dst.self ? lu.info.read_only : dst.dev->info().read_only)) {
      fail_condition(lu, cmd, Condition::kWriteProtected);
      return false;
    }
    seg.backwards =
        src.dev == dst.dev && seg.dst_lba > seg.src_lba && seg.dst_lba < seg.src_lba + seg.blocks;
    ++cm.segment_count;
    off += kBlockSegmentLength;
  }
  return true;
}

// Checks the parameter list and prepares the copy; false when the command ended.
bool parse(LuState& lu, Command& cmd) {
  CopyManager& cm = *lu.copy;
  uint32_t list_length = get_be32(&cmd.cdb[10]);
  if (list_length < kHeaderLength || cmd.data_len < list_length) {
    fail_condition(lu, cmd, Condition::kParameterListLengthError);
    return false;
  }
  uint8_t* p = cm.list.data();
  if (!get_data_out(cmd, p, kHeaderLength)) {
    fail_condition(lu, cmd, Condition::kParameterListLengthError);
    return false;
  }
  uint8_t list_id_usage = (p[1] >> 3) & 0x3;
  if (list_id_usage == 0x1) {
    fail_param(lu, cmd, 1, 4);
    return false;
  }
  if (list_id_usage == 0x3 && p[0] != 0) {  // "no list identifier" with one
    fail_param(lu, cmd, 0);
    return false;
  }
  uint16_t cscd_length = get_be16(p + 2);
  uint32_t segment_length = get_be32(p + 8);
  uint32_t inline_length = get_be32(p + 12);
  if (cscd_length % kCscdLength) {
    fail_param(lu, cmd, 2);
    return false;
  }
  uint16_t cscd_count = static_cast<uint16_t>(cscd_length / kCscdLength);
  if (cscd_count > kMaxCscds) {
    fail_condition(lu, cmd, Condition::kTooManyTargetDescriptors);
    return false;
  }
  if (segment_length > kMaxSegments * kBlockSegmentLength) {
    fail_condition(lu, cmd, Condition::kTooManySegmentDescriptors);
    return false;
  }
  if (inline_length != 0) {  // MAXIMUM INLINE DATA LENGTH is 0
    fail_condition(lu, cmd, Condition::kInlineDataLengthExceeded);
    return false;
  }
  size_t used = kHeaderLength + cscd_length + segment_length;
  if (used > list_length) {
    fail_condition(lu, cmd, Condition::kParameterListLengthError);
    return false;
  }
  copy_from_iov(cmd.iov, kHeaderLength, p + kHeaderLength, used - kHeaderLength);
  cm.cscds.fill(Endpoint{});
  for (uint16_t i = 0; i < cscd_count; ++i)
    if (!check_cscd(lu, cmd, kHeaderLength + size_t{i} * kCscdLength)) return false;
  if (!parse_segments(lu, cmd, kHeaderLength + cscd_length, segment_length, cscd_count))
    return false;
  if (list_id_usage != 0x3) {
    std::lock_guard lock(cm.mu);
    cm.record = start_record(cm, p[0]);
  }
  return true;
}

// ---- moving the data ----

void submit_to(BlockDevice& dev, Command& cmd, DeviceOp op, uint64_t offset, uint64_t length,
               std::span<const iovec> iov, uint32_t flags) {
  submit_request_to(dev, cmd, op, offset, length, iov, flags, chunk_completion);
}

// The destination needs a flush once the segment is written: the receiving unit when its write
// must be durable and FUA is emulated; another unit whenever it has a volatile cache (its write
// cache setting is not known here).
bool needs_flush(const LuState& lu, const Endpoint& dst) {
  if (dst.self) return write_must_be_durable(lu, false) && !lu.info.fua;
  return dst.dev->info().write_cache;
}

bool copy_start(LuState& lu, Command& cmd) {
  CopyManager& cm = *lu.copy;
  for (;;) {
    if (cm.segment == cm.segment_count) {
      end_copy(lu, true, [&] { complete_good(lu, cmd); });
      return false;
    }
    const Segment& seg = cm.segments[cm.segment];
    const Endpoint& src = cm.cscds[seg.src];
    const Endpoint& dst = cm.cscds[seg.dst];
    uint64_t bs = src.block_size;
    if (cm.phase == kFlush) {
      submit_to(*dst.dev, cmd, &BlockDevice::flush, 0, 0, {}, 0);
      return true;
    }
    if (cm.cursor == seg.blocks) {
      if (seg.blocks && needs_flush(lu, dst)) {
        cm.phase = kFlush;
        continue;
      }
      ++cm.segment;
      cm.cursor = 0;
      continue;
    }
    if (cm.phase == kRead)
      cm.chunk = std::min<uint64_t>(cm.buffer_len / bs, seg.blocks - cm.cursor);
    uint64_t at = seg.backwards ? seg.blocks - cm.cursor - cm.chunk : cm.cursor;
    uint64_t len = cm.chunk * bs;
    cm.buffer_iov[0] = iovec{cm.buffer.get(), static_cast<size_t>(len)};
    if (cm.phase == kRead) {
      submit_to(*src.dev, cmd, &BlockDevice::read, (seg.src_lba + at) * bs, len, cm.buffer_iov, 0);
    } else {
      uint32_t flags = dst.self ? durable_flags(lu, false) : 0;
      submit_to(*dst.dev, cmd, &BlockDevice::write, (seg.dst_lba + at) * bs, len, cm.buffer_iov,
                flags);
    }
    return true;
  }
}

bool copy_done(LuState& lu, Command& cmd, int result) {
  CopyManager& cm = *lu.copy;
  if (result < 0) {
    // COPY ABORTED with the device's own additional sense code, and the segment that failed in
    // COMMAND-SPECIFIC INFORMATION (SPC-5 6.6.4.3). BUSY and TASK SET FULL stay what they are.
    SenseDetail detail;
    detail.copy_aborted = true;
    detail.command_specific = cm.segment;
    bool writing = cm.phase != kRead;
    end_copy(lu, false, [&] { complete_errno(lu, cmd, result, writing, detail); });
    return false;
  }
  switch (cm.phase) {
    case kRead:
      cm.phase = kWrite;
      break;
    case kWrite:
      cm.cursor += cm.chunk;
      cm.bytes_done += cm.chunk * cm.cscds[cm.segments[cm.segment].src].block_size;
      cm.phase = kRead;
      break;
    case kFlush:
      ++cm.segment;
      cm.cursor = 0;
      cm.phase = kRead;
      break;
  }
  return true;
}

void start_copy(LuState& lu, Command& cmd) {
  CopyManager& cm = *lu.copy;
  cm.segment = 0;
  cm.cursor = 0;
  cm.bytes_done = 0;
  cm.phase = kRead;
  if (!parse(lu, cmd)) return;
  run_chunks(lu, cmd, copy_start, copy_done);
}

// ---- RECEIVE COPY RESULTS ----

void copy_status(LuState& lu, Command& cmd) {
  CopyManager& cm = *lu.copy;
  uint8_t data[12] = {};
  {
    std::lock_guard lock(cm.mu);
    const StatusRecord* r = find_record(cm, cmd.cdb[2]);
    if (!r) return complete_invalid_cdb(lu, cmd, 2);
    put_be32(data, 8);   // AVAILABLE DATA
    data[4] = r->state;  // HDD 0: no data is held
    put_be16(data + 5, r->segments);
    // TRANSFER COUNT in the smallest unit it fits in: bytes, KiB, MiB, ...
    uint64_t count = r->bytes;
    uint8_t units = 0;
    while (count > UINT32_MAX) {
      count >>= 10;
      ++units;
    }
    data[7] = units;
    put_be32(data + 8, static_cast<uint32_t>(count));
  }
  put_data_in(cmd, data, get_be32(&cmd.cdb[10]));
  complete_good(lu, cmd);
}

uint32_t max_segment_bytes(const LuState& lu) {
  return static_cast<uint32_t>(std::min<uint64_t>(uint64_t{0xFFFF} * lu.block_size, UINT32_MAX));
}

void operating_parameters(LuState& lu, Command& cmd) {
  uint8_t data[46] = {};
  put_be32(data, sizeof data - 4);  // AVAILABLE DATA
  data[4] = 0x01;                   // SNLID: LIST ID USAGE 11b (no list identifier) accepted
  put_be16(data + 8, kMaxCscds);
  put_be16(data + 10, kMaxSegments);
  put_be32(data + 12, kMaxDescriptorListLength);
  put_be32(data + 16, max_segment_bytes(lu));
  // MAXIMUM INLINE DATA LENGTH, HELD DATA LIMIT, MAXIMUM STREAM DEVICE TRANSFER SIZE: 0.
  put_be16(data + 34, 1);     // TOTAL CONCURRENT COPIES (more wait their turn)
  data[36] = 1;               // MAXIMUM CONCURRENT COPIES
  data[37] = lu.block_shift;  // DATA SEGMENT GRANULARITY (log2)
  // INLINE DATA GRANULARITY, HELD DATA GRANULARITY: 0.
  data[43] = 2;  // IMPLEMENTED DESCRIPTOR LIST LENGTH
  data[44] = kSegmentBlockToBlock;
  data[45] = kCscdIdentification;
  put_data_in(cmd, data, get_be32(&cmd.cdb[10]));
  complete_good(lu, cmd);
}

}  // namespace

size_t vpd_third_party_copy(const LuState& lu, uint8_t* page) {
  uint8_t* p = page + 4;
  // Supported Commands (0001h): EXTENDED COPY(LID1); RECEIVE COPY STATUS(LID1) and RECEIVE COPY
  // OPERATING PARAMETERS.
  static constexpr uint8_t kCommands[] = {0x83, 1, 0x00, 0x84, 2, 0x00, 0x03};
  put_be16(p, 0x0001);
  put_be16(p + 2, 8);
  p[4] = sizeof kCommands;
  std::memcpy(p + 5, kCommands, sizeof kCommands);
  p += 12;
  // Parameter Data (0004h).
  put_be16(p, 0x0004);
  put_be16(p + 2, 0x1C);
  put_be16(p + 8, kMaxCscds);
  put_be16(p + 10, kMaxSegments);
  put_be32(p + 12, kMaxDescriptorListLength);
  p += 32;  // MAXIMUM INLINE DATA LENGTH (16..19) is 0
  // Supported Descriptors (0008h).
  put_be16(p, 0x0008);
  put_be16(p + 2, 4);
  p[4] = 2;
  p[5] = kSegmentBlockToBlock;
  p[6] = kCscdIdentification;
  p += 8;
  // Supported CSCD Descriptor IDs (000Ch): none beyond the list indexes.
  put_be16(p, 0x000C);
  put_be16(p + 2, 4);
  p += 8;
  // General Copy Operations (8001h).
  put_be16(p, 0x8001);
  put_be16(p + 2, 0x20);
  put_be32(p + 4, 1);  // TOTAL CONCURRENT COPIES
  put_be32(p + 8, 1);  // MAXIMUM IDENTIFIED CONCURRENT COPIES
  put_be32(p + 12, max_segment_bytes(lu));
  p[16] = lu.block_shift;  // DATA SEGMENT GRANULARITY (log2)
  p += 36;
  return static_cast<size_t>(p - (page + 4));
}

namespace handlers {

void extended_copy(LuState& lu, Command& cmd) {
  // A parameter list length of zero copies nothing and is not an error.
  if (get_be32(&cmd.cdb[10]) == 0) return complete_good(lu, cmd);
  CopyManager& cm = *lu.copy;
  {
    std::lock_guard lock(cm.mu);
    if (cm.running) {
      cmd.exec.next = nullptr;
      if (cm.queue_tail)
        cm.queue_tail->exec.next = &cmd;
      else
        cm.queue_head = &cmd;
      cm.queue_tail = &cmd;
      return;
    }
    cm.running = &cmd;
    if (!cm.buffer) {
      // Whole blocks of any size a copy may meet (other units may have up to 4096-byte blocks).
      size_t unit = std::max<size_t>(4096, lu.block_size);
      size_t len = std::max<size_t>(lu.options.copy_buffer_bytes, unit);
      len -= len % unit;
      cm.buffer = std::make_unique<uint8_t[]>(len);
      cm.buffer_len = len;
    }
  }
  start_copy(lu, cmd);
}

void receive_copy_status(LuState& lu, Command& cmd) {
  copy_status(lu, cmd);
}

void receive_copy_operating_parameters(LuState& lu, Command& cmd) {
  operating_parameters(lu, cmd);
}

}  // namespace handlers
}  // namespace lunkit::scsi

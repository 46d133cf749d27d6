// MODE SENSE(6/10) and MODE SELECT(6/10) over a table of mode pages. Each page is produced in
// three variants (current, changeable, default); MODE SELECT accepts a page only when every bit
// it changes is changeable, then applies the whole parameter list at once.
#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

#include "libscsi/bytes.h"
#include "libscsi/handlers.h"
#include "libscsi/iov.h"

namespace lunkit::scsi::handlers {
namespace {

enum class PageControl : uint8_t { kCurrent = 0, kChangeable = 1, kDefault = 2, kSaved = 3 };

// The mode parameters MODE SELECT may change.
struct ModeValues {
  bool write_cache;
  bool descriptor_sense;
};

ModeValues current_values(const LuState& lu) {
  return {lu.write_cache, lu.descriptor_sense};
}
ModeValues default_values(const LuState& lu) {
  return {lu.info.write_cache, false};
}

// Fills page bytes 2.. (the page code and length bytes are written by the caller).
using PageFill = void (*)(const LuState& lu, PageControl pc, const ModeValues& v, uint8_t* page);

void fill_read_write_error_recovery(const LuState&, PageControl, const ModeValues&, uint8_t*) {}

void fill_caching(const LuState& lu, PageControl pc, const ModeValues& v, uint8_t* page) {
  if (pc == PageControl::kChangeable) {
    if (lu.info.write_cache) page[2] = 0x04;  // WCE can be switched when there is a cache
    return;
  }
  if (v.write_cache) page[2] |= 0x04;  // WCE
}

void fill_control(const LuState&, PageControl pc, const ModeValues& v, uint8_t* page) {
  if (pc == PageControl::kChangeable) {
    page[2] = 0x04;  // D_SENSE
    return;
  }
  if (v.descriptor_sense) page[2] |= 0x04;
  page[3] = 0x10;              // QUEUE ALGORITHM MODIFIER 1: unrestricted reordering
  page[5] = 0x40;              // TAS: aborted commands are reported with TASK ABORTED
  put_be16(page + 8, 0xFFFF);  // BUSY TIMEOUT PERIOD: unlimited
}

void fill_informational_exceptions(const LuState&, PageControl pc, const ModeValues&,
                                   uint8_t* page) {
  if (pc != PageControl::kChangeable) page[2] = 0x08;  // DEXCPT: no exception reporting
}

struct ModePage {
  uint8_t code;
  uint8_t length;  // bytes after the two header bytes
  PageFill fill;
};
constexpr ModePage kModePages[] = {
    {0x01, 0x0A, fill_read_write_error_recovery},
    {0x08, 0x12, fill_caching},
    {0x0A, 0x0A, fill_control},
    {0x1C, 0x0A, fill_informational_exceptions},
};
constexpr uint8_t kAllPages = 0x3F;

const ModePage* find_page(uint8_t code) {
  for (const ModePage& p : kModePages)
    if (p.code == code) return &p;
  return nullptr;
}

size_t put_page(const LuState& lu, const ModePage& p, PageControl pc, const ModeValues& v,
                uint8_t* out) {
  std::memset(out, 0, 2 + p.length);
  out[0] = p.code;
  out[1] = p.length;
  p.fill(lu, pc, v, out);
  return 2 + p.length;
}

}  // namespace

void mode_sense(LuState& lu, Command& cmd) {
  const bool ten = cmd.exec.op->cdb_len == 10;
  const bool dbd = cmd.cdb[1] & 0x08;
  const bool llbaa = ten && (cmd.cdb[1] & 0x10);
  const auto pc = static_cast<PageControl>(cmd.cdb[2] >> 6);
  const uint8_t page_code = cmd.cdb[2] & 0x3F;
  const uint8_t subpage = cmd.cdb[3];
  const size_t allocation_length = ten ? get_be16(&cmd.cdb[7]) : cmd.cdb[4];

  if (pc == PageControl::kSaved)
    return complete_condition(lu, cmd, Condition::kSavingParametersNotSupported,
                              SenseDetail::at(FieldPointer{.in_cdb = true, .byte = 2, .bit = 7}));
  const ModePage* only = nullptr;
  if (page_code == kAllPages) {
    if (subpage != 0x00 && subpage != 0xFF) return complete_invalid_cdb(lu, cmd, 3, 7);
  } else {
    only = find_page(page_code);
    if (!only) return complete_invalid_cdb(lu, cmd, 2, 5);
    if (subpage != 0) return complete_invalid_cdb(lu, cmd, 3, 7);
  }

  std::array<uint8_t, 256> buf{};
  const size_t header = ten ? 8 : 4;
  size_t off = header;
  // Block descriptor.
  size_t bd_len = dbd ? 0 : (llbaa ? 16 : 8);
  uint64_t cap = lu.capacity.load(std::memory_order_relaxed);
  if (bd_len == 8) {
    put_be32(&buf[off], cap > 0xFFFFFFFFull ? 0xFFFFFFFFu : static_cast<uint32_t>(cap));
    put_be32(&buf[off + 4], lu.block_size & 0x00FFFFFF);
  } else if (bd_len == 16) {
    put_be64(&buf[off], cap);
    put_be32(&buf[off + 12], lu.block_size);
  }
  off += bd_len;
  // Pages.
  ModeValues v = pc == PageControl::kDefault ? default_values(lu) : current_values(lu);
  for (const ModePage& p : kModePages)
    if (!only || only == &p) off += put_page(lu, p, pc, v, &buf[off]);
  // Header.
  uint8_t device_specific = 0x10;                  // DPOFUA
  if (lu.info.read_only) device_specific |= 0x80;  // WP
  if (ten) {
    put_be16(&buf[0], static_cast<uint16_t>(off - 2));
    buf[3] = device_specific;
    if (llbaa && bd_len) buf[4] = 0x01;  // LONGLBA
    put_be16(&buf[6], static_cast<uint16_t>(bd_len));
  } else {
    buf[0] = static_cast<uint8_t>(off - 1);
    buf[2] = device_specific;
    buf[3] = static_cast<uint8_t>(bd_len);
  }
  put_data_in(cmd, std::span(buf).first(off), allocation_length);
  complete_good(lu, cmd);
}

void mode_select(LuState& lu, Command& cmd) {
  const bool ten = cmd.exec.op->cdb_len == 10;
  const bool pf = cmd.cdb[1] & 0x10;
  const bool sp = cmd.cdb[1] & 0x01;
  const size_t length = ten ? get_be16(&cmd.cdb[7]) : cmd.cdb[4];
  if (sp) return complete_invalid_cdb(lu, cmd, 1, 0);  // no saved pages
  if (length == 0) return complete_good(lu, cmd);
  if (!pf) return complete_invalid_cdb(lu, cmd, 1, 4);  // only standard page format

  std::array<uint8_t, 512> list{};
  // A parameter list longer than the Data-Out delivered is an overflow LIO rejects.
  if (length > list.size() || cmd.data_len < length)
    return complete_invalid_cdb(lu, cmd, ten ? 7 : 4);
  const size_t header = ten ? 8 : 4;
  if (length < header || !get_data_out(cmd, list.data(), length))
    return complete_condition(lu, cmd, Condition::kParameterListLengthError);

  // Block descriptor: only the current geometry (or zero blocks, "no change") is accepted.
  size_t bd_len = ten ? get_be16(&list[6]) : list[3];
  bool long_lba = ten && (list[4] & 0x01);
  if (bd_len != 0 && bd_len != (long_lba ? 16u : 8u))
    return complete_invalid_param(lu, cmd, ten ? 6 : 3);
  if (header + bd_len > length)
    return complete_condition(lu, cmd, Condition::kParameterListLengthError);
  if (bd_len) {
    const uint8_t* bd = &list[header];
    uint64_t cap = lu.capacity.load(std::memory_order_relaxed);
    uint64_t blocks = long_lba ? get_be64(bd) : get_be32(bd);
    uint64_t shown = long_lba ? cap : std::min<uint64_t>(cap, 0xFFFFFFFF);
    if (blocks != 0 && blocks != shown) return complete_invalid_param(lu, cmd, header);
    uint32_t block_len = long_lba ? get_be32(bd + 12) : (get_be32(bd + 4) & 0x00FFFFFF);
    uint16_t len_at = static_cast<uint16_t>(header + (long_lba ? 12 : 5));
    if (block_len != lu.block_size) return complete_invalid_param(lu, cmd, len_at);
  }

  ModeValues cur = current_values(lu);
  ModeValues next = cur;
  size_t off = header + bd_len;
  while (off < length) {
    if (length - off < 2) return complete_condition(lu, cmd, Condition::kParameterListLengthError);
    const uint8_t* pg = &list[off];
    if (pg[0] & 0x80) return complete_invalid_param(lu, cmd, static_cast<uint16_t>(off), 7);
    if (pg[0] & 0x40) return complete_invalid_param(lu, cmd, static_cast<uint16_t>(off), 6);
    const ModePage* page = find_page(pg[0] & 0x3F);
    if (!page) return complete_invalid_param(lu, cmd, static_cast<uint16_t>(off), 5);
    if (pg[1] != page->length)
      return complete_invalid_param(lu, cmd, static_cast<uint16_t>(off + 1));
    if (off + 2 + page->length > length)
      return complete_condition(lu, cmd, Condition::kParameterListLengthError);
    std::array<uint8_t, 64> now{}, mask{};
    put_page(lu, *page, PageControl::kCurrent, cur, now.data());
    put_page(lu, *page, PageControl::kChangeable, cur, mask.data());
    for (size_t i = 2; i < 2u + page->length; ++i) {
      uint8_t bad = static_cast<uint8_t>((pg[i] ^ now[i]) & ~mask[i]);
      if (bad)
        return complete_invalid_param(lu, cmd, static_cast<uint16_t>(off + i),
                                      static_cast<int8_t>(std::bit_width(bad) - 1));
    }
    if (page->code == 0x08) next.write_cache = pg[2] & 0x04;
    if (page->code == 0x0A) next.descriptor_sense = pg[2] & 0x04;
    off += 2 + page->length;
  }
  bool cache_turned_off = lu.write_cache && !next.write_cache && lu.info.write_cache;
  lu.write_cache = next.write_cache;
  lu.descriptor_sense = next.descriptor_sense;
  // WCE 1 -> 0: what was written while the cache was on becomes durable before MODE SELECT
  // completes, as the initiator now assumes every completed write is.
  if (cache_turned_off) return complete_after_flush(lu, cmd);
  complete_good(lu, cmd);
}

}  // namespace lunkit::scsi::handlers

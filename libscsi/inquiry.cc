// INQUIRY: standard data and the vital product data pages, from one {page, builder} table that
// also produces the Supported VPD Pages page.
#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <string>
#include <string_view>

#include "libscsi/alua.h"
#include "libscsi/bytes.h"
#include "libscsi/handlers.h"

namespace lunkit::scsi::handlers {
namespace {

constexpr std::string_view kDefaultVendor = "LIO-ORG";
constexpr std::string_view kDefaultProduct = "TCMU device";
constexpr std::string_view kDefaultRevision = "0002";
constexpr uint32_t kNaaOui = 0x001405;  // the OUI LIO uses for NAA type 6 designators

using Buffer = std::array<uint8_t, 512>;

// Space-padded fixed-width ASCII field.
void put_ascii(uint8_t* dst, size_t width, std::string_view text, std::string_view fallback) {
  if (text.empty()) text = fallback;
  std::memset(dst, ' ', width);
  for (size_t i = 0; i < std::min(width, text.size()); ++i) {
    char c = text[i];
    dst[i] = std::isprint(static_cast<unsigned char>(c)) ? static_cast<uint8_t>(c) : ' ';
  }
}

std::string unit_serial(const LuState& lu) {
  std::string serial;
  if (lu.options.serial_source) serial = lu.options.serial_source(lu.options.serial_context);
  if (serial.empty()) serial = lu.info.unit_serial;
  std::erase_if(serial, [](char c) { return !std::isgraph(static_cast<unsigned char>(c)); });
  if (serial.size() > 240) serial.resize(240);
  return serial;
}

// NAA IEEE Registered Extended (type 6): NAA nibble, the 24-bit OUI, then one nibble per hex
// digit of the unit serial (non-hex characters skipped), as the kernel's own backstores do, so
// /dev/disk/by-id names stay stable across target implementations.
bool make_naa6(const std::string& serial, uint8_t out[16]) {
  std::memset(out, 0, 16);
  out[0] = static_cast<uint8_t>(0x60 | ((kNaaOui >> 20) & 0x0F));
  out[1] = static_cast<uint8_t>(kNaaOui >> 12);
  out[2] = static_cast<uint8_t>(kNaaOui >> 4);
  out[3] = static_cast<uint8_t>((kNaaOui & 0x0F) << 4);
  size_t nibble = 7;  // next free nibble: the low half of byte 3
  bool any = false;
  for (char c : serial) {
    if (nibble >= 32) break;
    if (!std::isxdigit(static_cast<unsigned char>(c))) continue;
    uint8_t v = static_cast<uint8_t>(std::isdigit(static_cast<unsigned char>(c))
                                         ? c - '0'
                                         : std::tolower(static_cast<unsigned char>(c)) - 'a' + 10);
    out[nibble / 2] |= (nibble % 2) ? v : static_cast<uint8_t>(v << 4);
    ++nibble;
    any = true;
  }
  return any;
}

// Each builder writes the page body from byte 4 and returns the page length (bytes after 4).
using PageBuilder = size_t (*)(const LuState& lu, uint8_t* page);

size_t vpd_supported_pages(const LuState& lu, uint8_t* page);

size_t vpd_unit_serial(const LuState& lu, uint8_t* page) {
  std::string serial = unit_serial(lu);
  std::memcpy(page + 4, serial.data(), serial.size());
  return serial.size();
}

size_t put_designator(uint8_t* p, uint8_t code_set, uint8_t assoc_type, const uint8_t* id,
                      size_t len) {
  p[0] = code_set;
  p[1] = assoc_type;
  p[2] = 0;
  p[3] = static_cast<uint8_t>(len);
  std::memcpy(p + 4, id, len);
  return 4 + len;
}

size_t vpd_device_identification(const LuState& lu, uint8_t* page) {
  uint8_t* p = page + 4;
  std::string serial = unit_serial(lu);
  // NAA (binary, logical unit).
  uint8_t naa[16];
  if (size_t len = naa_designator(lu, naa)) p += put_designator(p, 0x01, 0x03, naa, len);
  // T10 vendor ID (ASCII, logical unit): vendor padded to 8, then the serial.
  uint8_t t10[8 + 240];
  put_ascii(t10, 8, lu.info.vendor, kDefaultVendor);
  std::memcpy(t10 + 8, serial.data(), serial.size());
  p += put_designator(p, 0x02, 0x01, t10, 8 + serial.size());
  if (AluaDescription alua; current_alua(lu, alua)) p += put_port_designators(alua, p);
  return static_cast<size_t>(p - (page + 4));
}

size_t vpd_block_limits(const LuState& lu, uint8_t* page) {
  const DeviceInfo& d = lu.info;
  page[4] = 0x01;  // WSNZ: WRITE SAME with zero blocks is rejected
  page[5] = lu.options.max_compare_and_write_blocks;
  uint32_t granularity = d.optimal_granularity_blocks
                             ? d.optimal_granularity_blocks
                             : d.physical_block_size / d.logical_block_size;
  put_be16(page + 6, static_cast<uint16_t>(std::min<uint32_t>(granularity, 0xFFFF)));
  put_be32(page + 8, d.max_transfer_blocks);
  put_be32(page + 12, d.max_transfer_blocks);
  if (d.thin_provisioning) {
    uint32_t max_unmap = d.max_unmap_blocks ? d.max_unmap_blocks : lu.options.max_write_same_blocks;
    put_be32(page + 20, max_unmap);
    put_be32(page + 24, lu.options.max_unmap_descriptors);
    put_be32(page + 28, std::max<uint32_t>(d.unmap_granularity_blocks, 1));
    put_be32(page + 32, 0x80000000u | (d.unmap_alignment_blocks & 0x7FFFFFFFu));  // UGAVALID
  }
  put_be64(page + 36, lu.options.max_write_same_blocks);
  return 0x3C;
}

size_t vpd_block_device_characteristics(const LuState& lu, uint8_t* page) {
  put_be16(page + 4, lu.info.rotational ? 0 : 1);  // 1: non-rotating medium
  return 0x3C;
}

size_t vpd_logical_block_provisioning(const LuState& lu, uint8_t* page) {
  if (lu.info.thin_provisioning) {
    page[5] = 0x80 | 0x40 | 0x20;                   // LBPU, LBPWS, LBPWS10
    if (lu.info.unmap_reads_zero) page[5] |= 0x04;  // LBPRZ = 001b
    page[6] = 0x02;                                 // thin provisioned
  }
  return 4;
}

struct VpdPage {
  uint8_t code;
  PageBuilder build;
};
constexpr VpdPage kVpdPages[] = {
    {0x00, vpd_supported_pages},
    {0x80, vpd_unit_serial},
    {0x83, vpd_device_identification},
    {0x8F, vpd_third_party_copy},
    {0xB0, vpd_block_limits},
    {0xB1, vpd_block_device_characteristics},
    {0xB2, vpd_logical_block_provisioning},
};

size_t vpd_supported_pages(const LuState&, uint8_t* page) {
  size_t n = 0;
  for (const VpdPage& p : kVpdPages) page[4 + n++] = p.code;
  return n;
}

size_t standard_inquiry(const LuState& lu, uint8_t* data) {
  constexpr size_t kLength = 74;
  data[0] = 0x00;  // peripheral qualifier 0, direct access block device
  data[1] = 0x00;  // not removable
  // VERSION 06h (SPC-4), as LIO reports: initiator tools that know up to SPC-4 reject a newer
  // VERSION and then skip the Block Limits page.
  data[2] = 0x06;
  data[3] = 0x12;  // HISUP, response data format 2
  data[4] = kLength - 5;
  // TPGS, from the transport's target port groups (ORed: byte 5 has other bits, e.g. 3PC).
  if (AluaDescription alua; current_alua(lu, alua)) data[5] |= tpgs_bits(alua);
  data[5] |= 0x08;  // 3PC: EXTENDED COPY and RECEIVE COPY RESULTS
  data[7] = 0x02;   // CMDQUE
  put_ascii(data + 8, 8, lu.info.vendor, kDefaultVendor);
  put_ascii(data + 16, 16, lu.info.product, kDefaultProduct);
  put_ascii(data + 32, 4, lu.info.revision, kDefaultRevision);
  // Version descriptors: SAM-5, SPC-4, SBC-3 (what such tools look for), SBC-4.
  put_be16(data + 58, 0x00A0);
  put_be16(data + 60, 0x0460);
  put_be16(data + 62, 0x04C0);
  put_be16(data + 64, 0x0600);
  return kLength;
}

}  // namespace

void inquiry(LuState& lu, Command& cmd) {
  bool evpd = cmd.cdb[1] & 0x01;
  uint8_t page_code = cmd.cdb[2];
  size_t allocation_length = get_be16(&cmd.cdb[3]);
  Buffer buf{};
  size_t len;
  if (!evpd) {
    if (page_code != 0) return complete_invalid_cdb(lu, cmd, 2, 7);
    len = standard_inquiry(lu, buf.data());
  } else {
    const VpdPage* page = std::find_if(std::begin(kVpdPages), std::end(kVpdPages),
                                       [&](const VpdPage& p) { return p.code == page_code; });
    if (page == std::end(kVpdPages)) return complete_invalid_cdb(lu, cmd, 2, 7);
    buf[0] = 0x00;
    buf[1] = page_code;
    size_t body = page->build(lu, buf.data());
    put_be16(&buf[2], static_cast<uint16_t>(body));
    len = 4 + body;
  }
  put_data_in(cmd, std::span(buf).first(len), allocation_length);
  complete_good(lu, cmd);
}

}  // namespace lunkit::scsi::handlers

namespace lunkit::scsi {

// The device's own NAA designator when it has one, else NAA 6 from the unit serial.
size_t naa_designator(const LuState& lu, uint8_t out[16]) {
  if (lu.info.naa_wwn) {
    put_be64(out, lu.info.naa_wwn);
    return 8;
  }
  return handlers::make_naa6(handlers::unit_serial(lu), out) ? 16 : 0;
}

size_t LogicalUnit::naa_designator(std::span<uint8_t, kMaxDesignatorLength> out) const {
  return scsi::naa_designator(*state_, out.data());
}

}  // namespace lunkit::scsi

// ALUA: INQUIRY TPGS, VPD 0x83 port designators and REPORT TARGET PORT GROUPS, from the
// description the transport supplies on each command (states change without notice).
#include "libscsi/alua.h"

#include <array>

#include "libscsi/bytes.h"
#include "libscsi/handlers.h"

namespace lunkit::scsi {
namespace {

constexpr size_t kGroupDescriptor = 8;
constexpr size_t kPortDescriptor = 4;
// Extended header plus every group with every port: the largest answer there can be.
constexpr size_t kMaxRtpgLength =
    8 + kMaxAluaGroups * (kGroupDescriptor + kMaxAluaPortsPerGroup * kPortDescriptor);

size_t put_designator4(uint8_t* p, uint8_t type, uint16_t value) {
  p[0] = 0x01;                               // code set: binary
  p[1] = static_cast<uint8_t>(0x10 | type);  // association: target port
  p[2] = 0;
  p[3] = 4;
  p[4] = 0;
  p[5] = 0;
  put_be16(p + 6, value);
  return 8;
}

}  // namespace

bool current_alua(const LuState& lu, AluaDescription& out) {
  out = AluaDescription{};
  if (!lu.options.alua_source) return false;
  if (!lu.options.alua_source(lu.options.alua_context, out)) {
    out.group_count = 0;
    return false;
  }
  if (out.group_count > kMaxAluaGroups) out.group_count = kMaxAluaGroups;
  return out.group_count > 0;
}

uint8_t tpgs_bits(const AluaDescription& alua) {
  return alua.group_count ? 0x10 : 0x00;
}

size_t put_port_designators(const AluaDescription& alua, uint8_t* p) {
  size_t n = put_designator4(p, 0x04, alua.relative_port_id);  // relative target port
  n += put_designator4(p + n, 0x05, alua.port_group_id);       // target port group
  return n;
}

namespace handlers {

void report_target_port_groups(LuState& lu, Command& cmd) {
  const uint8_t format = cmd.cdb[1] >> 5;
  AluaDescription alua;
  // No groups at the moment: the service action is not supported, as when ALUA is absent.
  if (!current_alua(lu, alua)) return complete_invalid_cdb(lu, cmd, 1, 4);
  if (format > 1) return complete_invalid_cdb(lu, cmd, 1, 7);
  std::array<uint8_t, kMaxRtpgLength> buf{};
  size_t off = 4;
  if (format == 1) {  // extended header
    buf[4] = 0x10;
    if (const AluaPortGroup* own = alua.group(alua.port_group_id))
      buf[5] = own->implicit_transition_secs;
    off = 8;
  }
  for (size_t g = 0; g < alua.group_count; ++g) {
    const AluaPortGroup& group = alua.groups[g];
    const size_t ports = std::min<size_t>(group.port_count, kMaxAluaPortsPerGroup);
    uint8_t* d = &buf[off];
    d[0] = static_cast<uint8_t>((group.preferred ? 0x80 : 0) | (group.state & 0x0F));
    d[1] = group.supported;
    put_be16(d + 2, group.id);
    d[5] = group.status;
    d[7] = static_cast<uint8_t>(ports);
    off += kGroupDescriptor;
    for (size_t i = 0; i < ports; ++i) {
      put_be16(&buf[off + 2], group.ports[i]);
      off += kPortDescriptor;
    }
  }
  // RETURN DATA LENGTH is the whole answer's; the allocation length only truncates it.
  put_be32(&buf[0], static_cast<uint32_t>(off - 4));
  put_data_in(cmd, std::span(buf).first(off), get_be32(&cmd.cdb[6]));
  complete_good(lu, cmd);
}

}  // namespace handlers
}  // namespace lunkit::scsi

// Asymmetric logical unit access (ALUA, SPC-5 5.16) as a transport describes it to libscsi:
// the target port groups of a logical unit, their states and ports, and the port the unit
// reports as the one commands arrive through. libscsi builds INQUIRY TPGS, the port
// designators of VPD page 0x83 and REPORT TARGET PORT GROUPS from it; how the description is
// obtained (configfs for TCMU) is the transport's business.
//
// Fixed capacity, so building an answer allocates nothing.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace lunkit::scsi {

// ASYMMETRIC ACCESS STATE (SPC-5 table 149).
enum AluaState : uint8_t {
  kAluaActiveOptimized = 0x0,
  kAluaActiveNonOptimized = 0x1,
  kAluaStandby = 0x2,
  kAluaUnavailable = 0x3,
  kAluaLbaDependent = 0x4,
  kAluaOffline = 0xE,
  kAluaTransitioning = 0xF,
};

// The SUPPORTED states byte of a target port group descriptor.
enum AluaSupported : uint8_t {
  kAluaSupActiveOptimized = 0x01,     // AO_SUP
  kAluaSupActiveNonOptimized = 0x02,  // AN_SUP
  kAluaSupStandby = 0x04,             // S_SUP
  kAluaSupUnavailable = 0x08,         // U_SUP
  kAluaSupLbaDependent = 0x10,        // LBD_SUP
  kAluaSupOffline = 0x40,             // O_SUP
  kAluaSupTransitioning = 0x80,       // T_SUP
};

// STATUS CODE of a target port group descriptor.
enum AluaStatus : uint8_t {
  kAluaStatusNone = 0x00,
  kAluaStatusAlteredByStpg = 0x01,
  kAluaStatusAlteredImplicitly = 0x02,
};

constexpr size_t kMaxAluaGroups = 16;
constexpr size_t kMaxAluaPortsPerGroup = 32;

struct AluaPortGroup {
  uint16_t id = 0;  // TARGET PORT GROUP
  uint8_t state = kAluaActiveOptimized;
  uint8_t supported = 0;  // AluaSupported bits
  uint8_t status = kAluaStatusNone;
  uint8_t implicit_transition_secs = 0;
  bool preferred = false;
  uint8_t port_count = 0;
  std::array<uint16_t, kMaxAluaPortsPerGroup> ports{};  // relative target port identifiers
};

struct AluaDescription {
  // The port this unit names as its own in VPD 0x83 (and whose group's implicit transition
  // time the extended RTPG header carries).
  uint16_t relative_port_id = 0;
  uint16_t port_group_id = 0;
  size_t group_count = 0;  // 0: no ALUA (TPGS 00b)
  std::array<AluaPortGroup, kMaxAluaGroups> groups{};

  const AluaPortGroup* group(uint16_t id) const {
    for (size_t i = 0; i < group_count; ++i)
      if (groups[i].id == id) return &groups[i];
    return nullptr;
  }
};

// Fills `out` with the unit's current ALUA description; returns false (or leaves group_count
// 0) when the unit has no ALUA at the moment. Called on every INQUIRY that reports TPGS or port
// designators and on every REPORT TARGET PORT GROUPS, so a transport can follow changes that
// nothing notifies it of. Slow-path commands only; runs on the logical unit's thread.
using AluaSource = bool (*)(void* context, AluaDescription& out);

}  // namespace lunkit::scsi

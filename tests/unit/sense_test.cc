#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "lunkit/scsi/sense.h"

namespace lunkit::scsi {
namespace {

std::vector<uint8_t> sense(SenseFormat f, Condition c, const SenseDetail& d = {}) {
  std::array<uint8_t, kMaxSenseLength> buf{};
  size_t n = build_sense(buf, f, c, d);
  return {buf.begin(), buf.begin() + static_cast<long>(n)};
}

TEST(Sense, FixedFormatWithFieldPointer) {
  auto s = sense(SenseFormat::kFixed, Condition::kInvalidFieldInCdb,
                 SenseDetail::at({.in_cdb = true, .byte = 2, .bit = 5}));
  std::vector<uint8_t> want = {0x70, 0, 0x05, 0,    0, 0, 0,    0x0A, 0,
                               0,    0, 0,    0x24, 0, 0, 0xCD, 0x00, 0x02};
  EXPECT_EQ(s, want);
}

TEST(Sense, FixedFormatWithInformationSetsValid) {
  auto s =
      sense(SenseFormat::kFixed, Condition::kMiscompareDuringVerify, SenseDetail::info(0x1234));
  std::vector<uint8_t> want = {0xF0, 0, 0x0E, 0,    0, 0x12, 0x34, 0x0A, 0,
                               0,    0, 0,    0x1D, 0, 0,    0,    0,    0};
  EXPECT_EQ(s, want);
}

TEST(Sense, FixedFormatCannotCarryA64BitInformation) {
  auto s = sense(SenseFormat::kFixed, Condition::kMiscompareDuringVerify,
                 SenseDetail::info(0x100000000ull));
  EXPECT_EQ(s[0], 0x70);  // VALID clear
}

TEST(Sense, FieldPointerIntoParameterListWithoutBit) {
  auto s = sense(SenseFormat::kFixed, Condition::kInvalidFieldInParameterList,
                 SenseDetail::at({.in_cdb = false, .byte = 0x1234, .bit = -1}));
  EXPECT_EQ(s[12], 0x26);
  EXPECT_EQ(s[15], 0x80);
  EXPECT_EQ(s[16], 0x12);
  EXPECT_EQ(s[17], 0x34);
}

TEST(Sense, DescriptorFormatWithInformationAndFieldPointer) {
  SenseDetail d;
  d.information = 0x0102030405060708ull;
  d.field = FieldPointer{.in_cdb = true, .byte = 2, .bit = 5};
  auto s = sense(SenseFormat::kDescriptor, Condition::kInvalidFieldInCdb, d);
  std::vector<uint8_t> want = {0x72, 0x05, 0x24, 0x00, 0, 0, 0, 20,
                               // information descriptor
                               0x00, 0x0A, 0x80, 0x00, 1, 2, 3, 4, 5, 6, 7, 8,
                               // sense key specific descriptor
                               0x02, 0x06, 0x00, 0x00, 0xCD, 0x00, 0x02, 0x00};
  EXPECT_EQ(s, want);
}

TEST(Sense, DescriptorFormatPlain) {
  auto s = sense(SenseFormat::kDescriptor, Condition::kCapacityDataChanged);
  std::vector<uint8_t> want = {0x72, 0x06, 0x2A, 0x09, 0, 0, 0, 0};
  EXPECT_EQ(s, want);
}

TEST(Sense, EveryConditionHasANameAndFitsInNinetySixBytes) {
  for (int i = 0; i < static_cast<int>(Condition::kCount); ++i) {
    auto c = static_cast<Condition>(i);
    EXPECT_FALSE(condition_info(c).name.empty());
    SenseDetail d;
    d.information = ~0ull;
    d.field = FieldPointer{};
    EXPECT_LE(sense(SenseFormat::kDescriptor, c, d).size(), kMaxSenseLength);
    if (c != Condition::kNoSense) {
      EXPECT_NE(condition_info(c).key, SenseKey::kNoSense);
    }
  }
}

TEST(Sense, TruncatesToTheOutputBuffer) {
  std::array<uint8_t, 8> small{};
  EXPECT_EQ(build_sense(small, SenseFormat::kFixed, Condition::kLbaOutOfRange), 8u);
  EXPECT_EQ(small[0], 0x70);
}

}  // namespace
}  // namespace lunkit::scsi

#include <string>

#include "tests/unit/harness.h"

namespace lunkit::test {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes ascii(std::string_view s) {
  return {s.begin(), s.end()};
}
Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}
Bytes got(const TestCommand& tc) {
  return {tc.data_in().begin(), tc.data_in().end()};
}

Cdb inquiry(bool evpd, uint8_t page, uint16_t alloc) {
  return Cdb(0x12).set(1, evpd ? 1 : 0).set(2, page).be(3, 2, alloc);
}

class Inquiry : public LuTest {};

TEST_F(Inquiry, StandardDataIsByteExact) {
  auto& tc = run(inquiry(false, 0, 255), {}, 255);
  EXPECT_GOOD(tc);
  Bytes want(74, 0);
  want[2] = 0x06;  // SPC-4, as LIO
  want[3] = 0x12;  // HISUP, format 2
  want[4] = 69;    // additional length
  want[5] = 0x08;  // 3PC (EXTENDED COPY)
  want[7] = 0x02;  // CMDQUE
  auto put = [&](size_t at, std::string_view s) {
    std::copy(s.begin(), s.end(), want.begin() + at);
  };
  put(8, "LIO-ORG ");
  put(16, "TCMU device     ");
  put(32, "0002");
  want[58] = 0x00, want[59] = 0xA0;  // SAM-5
  want[60] = 0x04, want[61] = 0x60;  // SPC-4
  want[62] = 0x04, want[63] = 0xC0;  // SBC-3
  want[64] = 0x06, want[65] = 0x00;  // SBC-4
  EXPECT_EQ(got(tc), want);
}

TEST_F(Inquiry, DeviceIdentityOverridesDefaults) {
  dev.mutable_info().vendor = "ACME";
  dev.mutable_info().product = "A very long product name";
  dev.mutable_info().revision = "12\x01";
  make_lu();
  auto& tc = run(inquiry(false, 0, 36), {}, 36);
  EXPECT_EQ(Bytes(tc.buffer.begin() + 8, tc.buffer.begin() + 36),
            ascii("ACME    A very long prod12  "));
}

TEST_F(Inquiry, AllocationLengthTruncates) {
  auto& tc = run(inquiry(false, 0, 5), {}, 255);
  EXPECT_GOOD(tc);
  EXPECT_EQ(tc.cmd.data_in_len, 5u);
  EXPECT_EQ(tc.buffer[5], 0xEE) << "nothing written past the allocation length";
}

TEST_F(Inquiry, ZeroAllocationLengthTransfersNothing) {
  auto& tc = run(inquiry(false, 0, 0), {}, 64);
  EXPECT_GOOD(tc);
  EXPECT_EQ(tc.cmd.data_in_len, 0u);
}

TEST_F(Inquiry, ShortBufferTruncates) {
  auto& tc = run(inquiry(false, 0, 255), {}, 10);
  EXPECT_GOOD(tc);
  EXPECT_EQ(tc.cmd.data_in_len, 10u);
}

TEST_F(Inquiry, PageCodeWithoutEvpdIsRejected) {
  auto& tc = run(inquiry(false, 0x80, 255), {}, 255);
  EXPECT_INVALID_CDB_FIELD(tc, 2, 7);
}

TEST_F(Inquiry, CmdDtBitIsRejectedWithBitPointer) {
  auto& tc = run(inquiry(false, 0, 255).set(1, 0x02), {}, 255);
  EXPECT_INVALID_CDB_FIELD(tc, 1, 1);
}

TEST_F(Inquiry, UnsupportedVpdPageIsRejected) {
  auto& tc = run(inquiry(true, 0x89, 255), {}, 255);
  EXPECT_INVALID_CDB_FIELD(tc, 2, 7);
}

TEST_F(Inquiry, SupportedPagesComeFromTheTable) {
  auto& tc = run(inquiry(true, 0x00, 255), {}, 255);
  EXPECT_EQ(got(tc), (Bytes{0x00, 0x00, 0x00, 0x07, 0x00, 0x80, 0x83, 0x8F, 0xB0, 0xB1, 0xB2}));
}

TEST_F(Inquiry, EveryListedPageIsServed) {
  auto& list = run(inquiry(true, 0x00, 255), {}, 255);
  for (size_t i = 4; i < list.cmd.data_in_len; ++i) {
    auto& tc = run(inquiry(true, list.buffer[i], 255), {}, 255);
    EXPECT_GOOD(tc);
    EXPECT_EQ(tc.buffer[1], list.buffer[i]);
    EXPECT_EQ(tc.cmd.data_in_len, 4u + (tc.buffer[2] << 8 | tc.buffer[3]));
  }
}

TEST_F(Inquiry, UnitSerialPage) {
  auto& tc = run(inquiry(true, 0x80, 255), {}, 255);
  EXPECT_EQ(got(tc), cat({{0x00, 0x80, 0x00, 20}, ascii("0123456789abcdef0123")}));
}

TEST_F(Inquiry, DeviceIdentificationPage) {
  auto& tc = run(inquiry(true, 0x83, 255), {}, 255);
  Bytes naa = {0x01, 0x03, 0x00, 0x10, 0x60, 0x01, 0x40, 0x50, 0x12, 0x34,
               0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x30, 0x00, 0x00};
  Bytes t10 = cat({{0x02, 0x01, 0x00, 28}, ascii("LIO-ORG 0123456789abcdef0123")});
  EXPECT_EQ(got(tc), cat({{0x00, 0x83, 0x00, 52}, naa, t10}));
}

TEST_F(Inquiry, ExplicitNaaWwnIsUsedAsIs) {
  dev.mutable_info().naa_wwn = 0x5000000000000001ull;
  make_lu();
  auto& tc = run(inquiry(true, 0x83, 255), {}, 255);
  EXPECT_EQ(Bytes(tc.buffer.begin() + 4, tc.buffer.begin() + 16),
            (Bytes{0x01, 0x03, 0x00, 0x08, 0x50, 0, 0, 0, 0, 0, 0, 0x01}));
}

TEST_F(Inquiry, BlockLimitsPage) {
  auto& tc = run(inquiry(true, 0xB0, 255), {}, 255);
  Bytes want(64, 0);
  want[1] = 0xB0, want[3] = 0x3C;
  want[4] = 0x01;   // WSNZ
  want[5] = 32;     // max COMPARE AND WRITE blocks
  want[7] = 1;      // optimal transfer granularity
  want[10] = 0x04;  // max transfer 1024
  want[14] = 0x04;  // optimal transfer 1024
  want[21] = 0x01;  // max unmap LBA count 0x10000
  want[27] = 64;    // max unmap descriptors
  want[31] = 1;     // optimal unmap granularity
  want[32] = 0x80;  // UGAVALID
  want[41] = 0x01;  // max write same 0x10000
  EXPECT_EQ(got(tc), want);
}

TEST_F(Inquiry, BlockDeviceCharacteristicsPage) {
  auto& tc = run(inquiry(true, 0xB1, 255), {}, 255);
  Bytes want(64, 0);
  want[1] = 0xB1, want[3] = 0x3C, want[5] = 0x01;  // non-rotating
  EXPECT_EQ(got(tc), want);
}

TEST_F(Inquiry, LogicalBlockProvisioningPage) {
  auto& tc = run(inquiry(true, 0xB2, 255), {}, 255);
  EXPECT_EQ(got(tc), (Bytes{0x00, 0xB2, 0x00, 0x04, 0x00, 0xE4, 0x02, 0x00}));
}

TEST_F(Inquiry, InquiryDoesNotConsumeAPendingUnitAttention) {
  auto& inq = run(inquiry(false, 0, 36), {}, 36);
  EXPECT_GOOD(inq);
  auto& tur = run(Cdb(0x00));
  EXPECT_SENSE(tur, 0x06, 0x29, 0x00);
}

class FullyProvisioned : public LuTest {
 protected:
  static DeviceInfo info() {
    DeviceInfo i = default_info();
    i.thin_provisioning = false;
    i.unmap_reads_zero = false;
    i.rotational = true;
    return i;
  }
  FullyProvisioned() : LuTest(info()) {}
};

TEST_F(FullyProvisioned, PagesReportNoProvisioningAndRotation) {
  auto& b2 = run(inquiry(true, 0xB2, 255), {}, 255);
  EXPECT_EQ(got(b2), (Bytes{0x00, 0xB2, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00}));
  auto& b1 = run(inquiry(true, 0xB1, 255), {}, 255);
  EXPECT_EQ(b1.buffer[5], 0x00);
  auto& b0 = run(inquiry(true, 0xB0, 255), {}, 255);
  EXPECT_EQ(Bytes(b0.buffer.begin() + 20, b0.buffer.begin() + 36), Bytes(16, 0));
}

std::string lazy_serial(void* ctx) {
  return *static_cast<std::string*>(ctx);
}

class LazySerial : public LuTest {
 protected:
  static scsi::LogicalUnitOptions opts(std::string* serial) {
    scsi::LogicalUnitOptions o;
    o.serial_source = lazy_serial;
    o.serial_context = serial;
    return o;
  }
  LazySerial() : LuTest(default_info(), opts(&serial)) {}
  std::string serial;
};

TEST_F(LazySerial, IsReadOnEachInquiry) {
  serial = "";  // not known yet: the device's own serial is used
  auto& before = run(inquiry(true, 0x80, 255), {}, 255);
  EXPECT_EQ(got(before), cat({{0x00, 0x80, 0x00, 20}, ascii("0123456789abcdef0123")}));
  serial = "feedbeef-unit";
  auto& after = run(inquiry(true, 0x80, 255), {}, 255);
  EXPECT_EQ(got(after), cat({{0x00, 0x80, 0x00, 13}, ascii("feedbeef-unit")}));
}

}  // namespace
}  // namespace lunkit::test

// MODE SENSE(6/10) and MODE SELECT(6/10).
#include "tests/unit/harness.h"

namespace lunkit::test {
namespace {

using Bytes = std::vector<uint8_t>;
Bytes got(const TestCommand& tc) {
  return {tc.data_in().begin(), tc.data_in().end()};
}

Cdb sense6(uint8_t pc_page, uint8_t subpage = 0, uint8_t alloc = 255, bool dbd = false) {
  return Cdb(0x1A).set(1, dbd ? 0x08 : 0).set(2, pc_page).set(3, subpage).set(4, alloc);
}
Cdb sense10(uint8_t pc_page, bool llbaa, bool dbd = false, uint16_t alloc = 1024) {
  return Cdb(0x5A)
      .set(1, static_cast<uint8_t>((llbaa ? 0x10 : 0) | (dbd ? 0x08 : 0)))
      .set(2, pc_page)
      .be(7, 2, alloc);
}
Cdb select6(uint8_t len, uint8_t flags = 0x10) {
  return Cdb(0x15).set(1, flags).set(4, len);
}
Cdb select10(uint16_t len) {
  return Cdb(0x55).set(1, 0x10).be(7, 2, len);
}

const Bytes kErrorRecovery = {0x01, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
Bytes caching(bool wce) {
  Bytes p(20, 0);
  p[0] = 0x08, p[1] = 0x12, p[2] = wce ? 0x04 : 0;
  return p;
}
Bytes control(bool d_sense) {
  return {0x0A, 0x0A, static_cast<uint8_t>(d_sense ? 0x04 : 0), 0x10, 0, 0x40, 0, 0, 0xFF, 0xFF,
          0,    0};
}
const Bytes kInfoExceptions = {0x1C, 0x0A, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0};

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

class Mode : public LuTest {
 protected:
  void SetUp() override { clear_ua(); }
};

TEST_F(Mode, Sense6AllPagesWithBlockDescriptor) {
  auto& tc = run(sense6(0x3F), {}, 255);
  EXPECT_GOOD(tc);
  Bytes want = cat({{67, 0x00, 0x10, 0x08},
                    {0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x02, 0x00},
                    kErrorRecovery,
                    caching(true),
                    control(false),
                    kInfoExceptions});
  EXPECT_EQ(got(tc), want);
}

TEST_F(Mode, Sense10LongLbaBlockDescriptor) {
  auto& tc = run(sense10(0x08, true), {}, 1024);
  Bytes want = cat({{0x00, 42, 0x00, 0x10, 0x01, 0x00, 0x00, 16},
                    {0, 0, 0, 0, 0, 0, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0x00, 0x02, 0x00},
                    caching(true)});
  EXPECT_EQ(got(tc), want);
}

TEST_F(Mode, DisableBlockDescriptors) {
  auto& tc = run(sense6(0x0A, 0, 255, true), {}, 255);
  EXPECT_EQ(got(tc), cat({{15, 0x00, 0x10, 0x00}, control(false)}));
  auto& ten = run(sense10(0x0A, false, true), {}, 1024);
  EXPECT_EQ(got(ten), cat({{0x00, 18, 0x00, 0x10, 0, 0, 0, 0}, control(false)}));
}

TEST_F(Mode, ChangeableAndDefaultValues) {
  auto& ch = run(sense6(0x40 | 0x3F, 0, 255, true), {}, 255);
  Bytes changeable_caching(20, 0);
  changeable_caching[0] = 0x08, changeable_caching[1] = 0x12, changeable_caching[2] = 0x04;
  Bytes changeable_control = {0x0A, 0x0A, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  Bytes changeable_ie = {0x1C, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(got(ch), cat({{59, 0x00, 0x10, 0x00},
                          kErrorRecovery,
                          changeable_caching,
                          changeable_control,
                          changeable_ie}));
  lu->set_write_cache(false);
  run(Cdb(0x00));  // consume MODE PARAMETERS CHANGED
  auto& def = run(sense6(0x80 | 0x08, 0, 255, true), {}, 255);
  EXPECT_EQ(got(def), cat({{23, 0x00, 0x10, 0x00}, caching(true)})) << "default keeps WCE";
  auto& cur = run(sense6(0x08, 0, 255, true), {}, 255);
  EXPECT_EQ(got(cur), cat({{23, 0x00, 0x10, 0x00}, caching(false)}));
}

TEST_F(Mode, SavedValuesAreNotSupported) {
  EXPECT_SENSE(run(sense6(0xC0 | 0x08), {}, 255), 0x05, 0x39, 0x00);
}

TEST_F(Mode, UnknownPageAndSubpage) {
  EXPECT_INVALID_CDB_FIELD(run(sense6(0x19), {}, 255), 2, 5);
  EXPECT_INVALID_CDB_FIELD(run(sense6(0x08, 0x01), {}, 255), 3, 7);
  EXPECT_GOOD(run(sense6(0x3F, 0xFF), {}, 255));
  EXPECT_INVALID_CDB_FIELD(run(sense6(0x3F, 0x05), {}, 255), 3, 7);
}

TEST_F(Mode, AllocationLengthTruncates) {
  auto& tc = run(sense6(0x3F, 0, 6), {}, 255);
  EXPECT_EQ(tc.cmd.data_in_len, 6u);
  EXPECT_EQ(tc.buffer[0], 67) << "mode data length still describes everything";
}

TEST_F(Mode, WriteProtectedDeviceSetsWp) {
  dev.mutable_info().read_only = true;
  make_lu();
  clear_ua();
  auto& tc = run(sense6(0x08, 0, 4, true), {}, 255);
  EXPECT_EQ(tc.buffer[2], 0x90);
}

TEST_F(Mode, SelectTurnsTheWriteCacheOff) {
  Bytes list = cat({{0, 0, 0, 0}, caching(false)});
  EXPECT_GOOD(run(select6(static_cast<uint8_t>(list.size())), list));
  EXPECT_FALSE(lu->write_cache_enabled());
  auto& cur = run(sense6(0x08, 0, 255, true), {}, 255);
  EXPECT_EQ(got(cur), cat({{23, 0x00, 0x10, 0x00}, caching(false)}));
  EXPECT_GOOD(run(Cdb(0x00))) << "the initiator that changed it gets no unit attention";
}

TEST_F(Mode, SelectDescriptorSenseSwitchesSenseFormat) {
  Bytes list = cat({{0, 0, 0, 0, 0, 0, 0, 0}, control(true)});
  EXPECT_GOOD(run(select10(static_cast<uint16_t>(list.size())), list));
  auto& err = run(Cdb(0xC5), {}, 0, 10);
  EXPECT_EQ(err.cmd.sense[0], 0x72);
  EXPECT_SENSE(err, 0x05, 0x20, 0x00);
}

TEST_F(Mode, SelectWithBlockDescriptorOfCurrentGeometry) {
  Bytes list = cat({{0, 0, 0, 8}, {0, 0, 0x08, 0, 0, 0, 0x02, 0}, caching(true)});
  EXPECT_GOOD(run(select6(static_cast<uint8_t>(list.size())), list));
  Bytes zero_blocks = cat({{0, 0, 0, 8}, {0, 0, 0, 0, 0, 0, 0x02, 0}});
  EXPECT_GOOD(run(select6(static_cast<uint8_t>(zero_blocks.size())), zero_blocks));
}

TEST_F(Mode, SelectRejectsADifferentBlockLength) {
  Bytes list = cat({{0, 0, 0, 8}, {0, 0, 0, 0, 0, 0, 0x10, 0}});
  auto& tc = run(select6(static_cast<uint8_t>(list.size())), list);
  EXPECT_SENSE(tc, 0x05, 0x26, 0x00);
  EXPECT_FALSE(tc.field_in_cdb());
  EXPECT_EQ(tc.field_byte(), 9);
}

TEST_F(Mode, SelectRejectsAnUnchangeableBitWithItsPosition) {
  Bytes page = caching(true);
  page[2] |= 0x01;  // RCD
  Bytes list = cat({{0, 0, 0, 0}, page});
  auto& tc = run(select6(static_cast<uint8_t>(list.size())), list);
  EXPECT_SENSE(tc, 0x05, 0x26, 0x00);
  EXPECT_EQ(tc.field_byte(), 6);
  EXPECT_EQ(tc.field_bit(), 0);
  EXPECT_TRUE(lu->write_cache_enabled()) << "nothing applied";
}

TEST_F(Mode, SelectAppliesNothingWhenALaterPageIsBad) {
  Bytes bad_ie = kInfoExceptions;
  bad_ie[3] = 0x06;
  Bytes list = cat({{0, 0, 0, 0}, caching(false), bad_ie});
  EXPECT_SENSE(run(select6(static_cast<uint8_t>(list.size())), list), 0x05, 0x26, 0x00);
  EXPECT_TRUE(lu->write_cache_enabled());
}

TEST_F(Mode, SelectStructuralErrors) {
  Bytes good = cat({{0, 0, 0, 0}, caching(true)});
  EXPECT_INVALID_CDB_FIELD(run(select6(24, 0x00), good), 1, 4);  // PF=0
  EXPECT_INVALID_CDB_FIELD(run(select6(24, 0x11), good), 1, 0);  // SP=1
  EXPECT_GOOD(run(select6(0)));
  EXPECT_SENSE(run(select6(3), {0, 0, 0}), 0x05, 0x1A, 0x00);  // shorter than header
  // A parameter list longer than the Data-Out: an overflow LIO rejects as INVALID FIELD IN CDB.
  EXPECT_INVALID_CDB_FIELD(run(select6(24), Bytes(good.begin(), good.begin() + 20)), 4, -1);
  EXPECT_SENSE(run(select6(20), good), 0x05, 0x1A, 0x00);  // truncated page
  EXPECT_SENSE(run(select6(5), good), 0x05, 0x1A, 0x00);   // one stray byte

  Bytes wrong_len = good;
  wrong_len[5] = 0x10;
  auto& wl = run(select6(24), wrong_len);
  EXPECT_SENSE(wl, 0x05, 0x26, 0x00);
  EXPECT_EQ(wl.field_byte(), 5);

  Bytes unknown = cat({{0, 0, 0, 0}, {0x19, 0x02, 0, 0}});
  auto& uk = run(select6(8), unknown);
  EXPECT_EQ(uk.field_byte(), 4);
  EXPECT_EQ(uk.field_bit(), 5);

  Bytes ps = good;
  ps[4] |= 0x80;
  auto& p = run(select6(24), ps);
  EXPECT_EQ(p.field_byte(), 4);
  EXPECT_EQ(p.field_bit(), 7);

  Bytes bdl = {0, 0, 0, 4, 0, 0, 0, 0};
  auto& b = run(select6(8), bdl);
  EXPECT_SENSE(b, 0x05, 0x26, 0x00);
  EXPECT_EQ(b.field_byte(), 3);
}

class NoWriteCache : public LuTest {
 protected:
  static DeviceInfo info() {
    DeviceInfo i = default_info();
    i.write_cache = false;
    return i;
  }
  NoWriteCache() : LuTest(info()) {}
};

TEST_F(NoWriteCache, WceIsNeitherSetNorChangeable) {
  clear_ua();
  auto& cur = run(sense6(0x08, 0, 255, true), {}, 255);
  EXPECT_EQ(cur.buffer[6], 0x00);
  auto& ch = run(sense6(0x48, 0, 255, true), {}, 255);
  EXPECT_EQ(ch.buffer[6], 0x00);
  Bytes list = cat({{0, 0, 0, 0}, caching(true)});
  auto& sel = run(select6(24), list);
  EXPECT_SENSE(sel, 0x05, 0x26, 0x00);
  EXPECT_EQ(sel.field_bit(), 2);
}

}  // namespace
}  // namespace lunkit::test

// EXTENDED COPY (LID1) and RECEIVE COPY RESULTS: parameter list checks with byte-exact sense,
// copies within a unit and to a unit the resolver allows, bounded pieces, device errors part
// way, the copy manager's operating parameters and VPD 0x8F.
#include <array>
#include <vector>

#include "tests/unit/harness.h"

namespace lunkit::test {
namespace {

constexpr uint32_t kBufferBytes = 4096;  // 8 blocks of 512: copies longer than that take pieces

scsi::LogicalUnitOptions small_buffer() {
  scsi::LogicalUnitOptions o;
  o.copy_buffer_bytes = kBufferBytes;
  return o;
}

using Bytes = std::vector<uint8_t>;

void put(Bytes& v, size_t at, size_t width, uint64_t value) {
  for (size_t i = width; i-- > 0;) {
    v[at + i] = static_cast<uint8_t>(value);
    value >>= 8;
  }
}

// An identification CSCD descriptor (E4h) naming `designator` (NAA, binary, logical unit).
Bytes cscd(std::span<const uint8_t> designator, uint32_t block_size = 512) {
  Bytes d(32, 0);
  d[0] = 0xE4;
  d[4] = 0x01;  // code set binary
  d[5] = 0x03;  // association logical unit, designator type NAA
  d[7] = static_cast<uint8_t>(designator.size());
  std::copy(designator.begin(), designator.end(), d.begin() + 8);
  put(d, 29, 3, block_size);
  return d;
}

// A block-to-block segment descriptor (02h).
Bytes segment(uint16_t src, uint16_t dst, uint16_t blocks, uint64_t src_lba, uint64_t dst_lba) {
  Bytes s(28, 0);
  s[0] = 0x02;
  put(s, 2, 2, 0x18);
  put(s, 4, 2, src);
  put(s, 6, 2, dst);
  put(s, 10, 2, blocks);
  put(s, 12, 8, src_lba);
  put(s, 20, 8, dst_lba);
  return s;
}

// The parameter list: header, CSCD descriptors, segment descriptors. LIST ID USAGE 10b
// (status kept, no data held) unless given.
Bytes parameter_list(const std::vector<Bytes>& cscds, const std::vector<Bytes>& segments,
                     uint8_t list_id = 1, uint8_t list_id_usage = 2) {
  Bytes p(16, 0);
  p[0] = list_id;
  p[1] = static_cast<uint8_t>(list_id_usage << 3);
  size_t cscd_len = 0, seg_len = 0;
  for (const Bytes& c : cscds) cscd_len += c.size();
  for (const Bytes& s : segments) seg_len += s.size();
  put(p, 2, 2, cscd_len);
  put(p, 8, 4, seg_len);
  for (const Bytes& c : cscds) p.insert(p.end(), c.begin(), c.end());
  for (const Bytes& s : segments) p.insert(p.end(), s.begin(), s.end());
  return p;
}

Cdb xcopy_cdb(size_t list_length) {
  return Cdb(0x83).be(10, 4, list_length);
}

// Fixed-format sense with key/ASC/ASCQ, COMMAND-SPECIFIC INFORMATION and an optional parameter
// list field pointer (byte, bit).
std::array<uint8_t, 18> sense(uint8_t key, uint8_t asc, uint8_t ascq, uint32_t command_specific = 0,
                              int field_byte = -1, int field_bit = -1) {
  std::array<uint8_t, 18> s{};
  s[0] = 0x70;
  s[2] = key;
  s[7] = 0x0A;
  s[8] = static_cast<uint8_t>(command_specific >> 24);
  s[9] = static_cast<uint8_t>(command_specific >> 16);
  s[10] = static_cast<uint8_t>(command_specific >> 8);
  s[11] = static_cast<uint8_t>(command_specific);
  s[12] = asc;
  s[13] = ascq;
  if (field_byte >= 0) {
    s[15] = 0x80;
    if (field_bit >= 0) s[15] |= static_cast<uint8_t>(0x08 | field_bit);
    s[16] = static_cast<uint8_t>(field_byte >> 8);
    s[17] = static_cast<uint8_t>(field_byte);
  }
  return s;
}

std::array<uint8_t, 18> sense_of(const TestCommand& tc) {
  std::array<uint8_t, 18> s{};
  EXPECT_EQ(tc.cmd.status, Status::kCheckCondition);
  EXPECT_EQ(tc.cmd.sense_len, 18);
  std::copy_n(tc.cmd.sense.begin(), 18, s.begin());
  return s;
}

class Xcopy : public LuTest {
 protected:
  Xcopy() : LuTest(default_info(), small_buffer()) {
    clear_ua();
    self_len = lu->naa_designator(self_naa);
  }

  std::span<const uint8_t> self() const { return {self_naa.data(), self_len}; }

  TestCommand& copy(const Bytes& list) { return run(xcopy_cdb(list.size()), list); }
  // One segment within this unit.
  TestCommand& copy_self(uint16_t blocks, uint64_t src_lba, uint64_t dst_lba) {
    return copy(parameter_list({cscd(self())}, {segment(0, 0, blocks, src_lba, dst_lba)}));
  }

  std::array<uint8_t, 16> self_naa{};
  size_t self_len = 0;
};

TEST_F(Xcopy, DesignatorIsTheNaaOfVpd83) {
  ASSERT_EQ(self_len, 16u);
  TestCommand& vpd = run(Cdb(0x12).set(1, 1).set(2, 0x83).be(3, 2, 255), {}, 255);
  ASSERT_GE(vpd.cmd.data_in_len, 24u);
  EXPECT_EQ(vpd.buffer[4], 0x01);
  EXPECT_EQ(vpd.buffer[5], 0x03);
  EXPECT_EQ(vpd.buffer[7], 16);
  EXPECT_TRUE(std::equal(self_naa.begin(), self_naa.end(), vpd.buffer.begin() + 8));
}

TEST_F(Xcopy, ZeroListLengthCopiesNothing) {
  EXPECT_GOOD(run(xcopy_cdb(0)));
  EXPECT_TRUE(dev.log.empty());
}

TEST_F(Xcopy, ListShorterThanHeader) {
  Bytes list(8, 0);
  EXPECT_EQ(sense_of(copy(list)), sense(0x05, 0x1A, 0x00));
}

TEST_F(Xcopy, DescriptorsBeyondTheListLength) {
  Bytes list = parameter_list({cscd(self())}, {segment(0, 0, 1, 0, 8)});
  list.resize(list.size() - 4);  // the last segment descriptor is cut short
  EXPECT_EQ(sense_of(copy(list)), sense(0x05, 0x1A, 0x00));
}

TEST_F(Xcopy, DataOutShorterThanTheListLength) {
  Bytes list = parameter_list({cscd(self())}, {segment(0, 0, 1, 0, 8)});
  EXPECT_EQ(sense_of(run(xcopy_cdb(list.size() + 16), list)), sense(0x05, 0x1A, 0x00));
}

TEST_F(Xcopy, CscdListLengthNotAMultipleOf32) {
  Bytes list = parameter_list({cscd(self())}, {segment(0, 0, 1, 0, 8)});
  put(list, 2, 2, 31);
  EXPECT_EQ(sense_of(copy(list)), sense(0x05, 0x26, 0x00, 0, 2));
}

TEST_F(Xcopy, TooManyCscdDescriptors) {
  std::vector<Bytes> cscds(9, cscd(self()));
  EXPECT_EQ(sense_of(copy(parameter_list(cscds, {segment(0, 0, 1, 0, 8)}))),
            sense(0x05, 0x26, 0x06));
}

TEST_F(Xcopy, UnsupportedCscdDescriptorType) {
  Bytes fc = cscd(self());
  fc[0] = 0xE0;  // Fibre Channel N_Port_Name
  EXPECT_EQ(sense_of(copy(parameter_list({cscd(self()), fc}, {segment(0, 0, 1, 0, 8)}))),
            sense(0x05, 0x26, 0x07, 0, 16 + 32));
}

TEST_F(Xcopy, DesignatorThatIsNotBinaryNaa) {
  Bytes ascii = cscd(self());
  ascii[4] = 0x02;  // code set ASCII
  EXPECT_EQ(sense_of(copy(parameter_list({ascii}, {segment(0, 0, 1, 0, 8)}))),
            sense(0x05, 0x26, 0x00, 0, 16 + 4, 3));
  Bytes t10 = cscd(self());
  t10[5] = 0x01;  // designator type T10 vendor ID
  EXPECT_EQ(sense_of(copy(parameter_list({t10}, {segment(0, 0, 1, 0, 8)}))),
            sense(0x05, 0x26, 0x00, 0, 16 + 5, 3));
  Bytes port = cscd(self());
  port[5] = 0x13;  // association target port
  EXPECT_EQ(sense_of(copy(parameter_list({port}, {segment(0, 0, 1, 0, 8)}))),
            sense(0x05, 0x26, 0x00, 0, 16 + 5, 5));
}

TEST_F(Xcopy, UnsupportedSegmentDescriptorType) {
  Bytes verify = segment(0, 0, 1, 0, 8);
  verify[0] = 0x07;  // verify CSCD
  EXPECT_EQ(sense_of(copy(parameter_list({cscd(self())}, {verify}))),
            sense(0x05, 0x26, 0x09, 0, 16 + 32));
}

TEST_F(Xcopy, SegmentDescriptorLengthOtherThan18h) {
  Bytes seg = segment(0, 0, 1, 0, 8);
  put(seg, 2, 2, 0x14);
  EXPECT_EQ(sense_of(copy(parameter_list({cscd(self())}, {seg}))),
            sense(0x05, 0x26, 0x00, 0, 16 + 32 + 2));
}

TEST_F(Xcopy, TooManySegmentDescriptors) {
  std::vector<Bytes> segs(9, segment(0, 0, 1, 0, 8));
  EXPECT_EQ(sense_of(copy(parameter_list({cscd(self())}, segs))), sense(0x05, 0x26, 0x08));
}

TEST_F(Xcopy, InlineDataIsNotSupported) {
  Bytes list = parameter_list({cscd(self())}, {segment(0, 0, 1, 0, 8)});
  put(list, 12, 4, 4);
  list.resize(list.size() + 4);
  EXPECT_EQ(sense_of(copy(list)), sense(0x05, 0x26, 0x0B));
}

TEST_F(Xcopy, SegmentNamesAMissingCscd) {
  EXPECT_EQ(sense_of(copy(parameter_list({cscd(self())}, {segment(0, 1, 1, 0, 8)}))),
            sense(0x05, 0x26, 0x00, 0, 16 + 32 + 6));
  EXPECT_EQ(sense_of(copy(parameter_list({cscd(self())}, {segment(2, 0, 1, 0, 8)}))),
            sense(0x05, 0x26, 0x00, 0, 16 + 32 + 4));
}

TEST_F(Xcopy, DiskBlockLengthOtherThanTheUnits) {
  EXPECT_EQ(sense_of(copy(parameter_list({cscd(self(), 4096)}, {segment(0, 0, 1, 0, 8)}))),
            sense(0x05, 0x26, 0x00, 0, 16 + 29));
}

TEST_F(Xcopy, ListIdUsageReservedValue) {
  EXPECT_EQ(
      sense_of(copy(parameter_list({cscd(self())}, {segment(0, 0, 1, 0, 8)}, 1, /*usage*/ 1))),
      sense(0x05, 0x26, 0x00, 0, 1, 4));
  // "No list identifier" with one.
  EXPECT_EQ(sense_of(copy(parameter_list({cscd(self())}, {segment(0, 0, 1, 0, 8)}, 7, 3))),
            sense(0x05, 0x26, 0x00, 0, 0));
}

TEST_F(Xcopy, RangesBeyondCapacity) {
  EXPECT_EQ(sense_of(copy_self(16, 2040, 0)), sense(0x05, 0x21, 0x00));         // source
  EXPECT_EQ(sense_of(copy_self(16, 0, 2040)), sense(0x05, 0x21, 0x00));         // destination
  EXPECT_EQ(sense_of(copy_self(1, 2048, 0)), sense(0x05, 0x21, 0x00));          // first LBA
  EXPECT_EQ(sense_of(copy_self(2, ~uint64_t{0}, 0)), sense(0x05, 0x21, 0x00));  // wraps
  EXPECT_GOOD(copy_self(16, 2032, 0));  // the last 16 blocks are in range
}

TEST_F(Xcopy, NothingMovesWhenAnyDescriptorIsBad) {
  // The second segment is out of range: the first is not copied either.
  Bytes list = parameter_list({cscd(self())}, {segment(0, 0, 4, 0, 8), segment(0, 0, 4, 0, 2047)});
  EXPECT_EQ(sense_of(copy(list)), sense(0x05, 0x21, 0x00));
  EXPECT_TRUE(dev.log.empty());
}

TEST_F(Xcopy, UnknownDesignatorIsNotReachable) {
  Bytes other(16, 0x66);
  EXPECT_EQ(sense_of(copy(parameter_list({cscd(self()), cscd(other)}, {segment(0, 1, 1, 0, 8)}))),
            sense(0x0A, 0x0D, 0x02));
  EXPECT_TRUE(dev.log.empty());
}

TEST_F(Xcopy, WriteProtectedDestination) {
  dev.mutable_info().read_only = true;
  make_lu();
  clear_ua();
  EXPECT_EQ(sense_of(copy_self(4, 0, 8)), sense(0x07, 0x27, 0x00));
}

TEST_F(Xcopy, CopyWithinTheUnitInBoundedPieces) {
  Bytes data = pattern(100 * 512, 3);
  dev.fill(0, data);
  EXPECT_GOOD(copy_self(100, 0, 1000));
  EXPECT_TRUE(std::equal(data.begin(), data.end(), dev.bytes().begin() + 1000 * 512));
  // 100 blocks through an 8-block buffer: 13 reads and 13 writes, none longer than the buffer.
  size_t reads = 0, writes = 0;
  for (const LoggedRequest& r : dev.log) {
    EXPECT_LE(r.length, kBufferBytes);
    reads += r.op == Op::kRead;
    writes += r.op == Op::kWrite;
  }
  EXPECT_EQ(reads, 13u);
  EXPECT_EQ(writes, 13u);
  // The source is untouched.
  EXPECT_TRUE(std::equal(data.begin(), data.end(), dev.bytes().begin()));
}

TEST_F(Xcopy, OverlappingRangesCopyAsIfReadFirst) {
  Bytes data = pattern(40 * 512, 9);
  dev.fill(0, data);
  EXPECT_GOOD(copy_self(40, 0, 5));  // destination overlaps the source, 5 blocks later
  EXPECT_TRUE(std::equal(data.begin(), data.end(), dev.bytes().begin() + 5 * 512));
  dev.fill(0, data);
  EXPECT_GOOD(copy_self(40, 5, 0));  // and 5 blocks earlier
  EXPECT_TRUE(std::equal(data.begin() + 5 * 512, data.end(), dev.bytes().begin()));
}

TEST_F(Xcopy, SeveralSegments) {
  Bytes a = pattern(4 * 512, 1), b = pattern(12 * 512, 2);
  dev.fill(0, a);
  dev.fill(100 * 512, b);
  Bytes list =
      parameter_list({cscd(self())}, {segment(0, 0, 4, 0, 500), segment(0, 0, 12, 100, 600)});
  EXPECT_GOOD(copy(list));
  EXPECT_TRUE(std::equal(a.begin(), a.end(), dev.bytes().begin() + 500 * 512));
  EXPECT_TRUE(std::equal(b.begin(), b.end(), dev.bytes().begin() + 600 * 512));
}

TEST_F(Xcopy, WriteErrorPartWayIsCopyAborted) {
  dev.fill(0, pattern(20 * 512, 4));
  dev.hold = true;
  Bytes list =
      parameter_list({cscd(self())}, {segment(0, 0, 4, 0, 500), segment(0, 0, 12, 100, 600)}, 9);
  TestCommand& tc = submit(xcopy_cdb(list.size()), list);
  dev.release_one();  // segment 0: read
  dev.release_one();  // segment 0: write
  dev.fail_next[Op::kWrite] = EIO;
  dev.release_one();  // segment 1: read; its write fails
  ASSERT_EQ(tc.completions, 1);
  // COPY ABORTED, WRITE ERROR, segment 1 in COMMAND-SPECIFIC INFORMATION.
  EXPECT_EQ(sense_of(tc), sense(0x0A, 0x0C, 0x00, 1));
  dev.hold = false;
  // COPY STATUS: completed with errors, one segment, 4 blocks moved.
  TestCommand& st = run(Cdb(0x84).set(1, 0x00).set(2, 9).be(10, 4, 64), {}, 64);
  EXPECT_GOOD(st);
  Bytes expected = {0, 0, 0, 8, 0x02, 0, 1, 0, 0, 0, 0x08, 0x00};
  EXPECT_EQ(Bytes(st.data_in().begin(), st.data_in().end()), expected);
}

TEST_F(Xcopy, ReadErrorIsCopyAborted) {
  dev.fail_next[Op::kRead] = EIO;
  EXPECT_EQ(sense_of(copy_self(4, 0, 8)), sense(0x0A, 0x11, 0x00, 0));
  // A transient error stays BUSY: the initiator retries the copy.
  dev.fail_next[Op::kWrite] = EAGAIN;
  EXPECT_EQ(copy_self(4, 0, 8).cmd.status, Status::kBusy);
}

TEST_F(Xcopy, DescriptorSenseCarriesTheSegment) {
  // D_SENSE on (control mode page): COPY ABORTED with a command-specific information descriptor.
  Bytes page = {0, 0, 0, 0, 0x0A, 0x0A, 0x04, 0x10, 0, 0x40, 0, 0, 0xFF, 0xFF, 0, 0};
  EXPECT_GOOD(run(Cdb(0x15).set(1, 0x10).set(4, static_cast<uint8_t>(page.size())), page));
  dev.fail_next[Op::kRead] = EIO;
  TestCommand& tc = copy_self(4, 0, 8);
  ASSERT_EQ(tc.cmd.status, Status::kCheckCondition);
  Bytes expected = {0x72, 0x0A, 0x11, 0x00, 0, 0, 0, 12, 0x01, 0x0A, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(Bytes(tc.cmd.sense.begin(), tc.cmd.sense.begin() + tc.cmd.sense_len), expected);
}

TEST_F(Xcopy, CopiesWaitTheirTurn) {
  Bytes a = pattern(16 * 512, 5), b = pattern(16 * 512, 6);
  dev.fill(0, a);
  dev.fill(16 * 512, b);
  dev.hold = true;
  Bytes first = parameter_list({cscd(self())}, {segment(0, 0, 16, 0, 100)}, 1);
  Bytes second = parameter_list({cscd(self())}, {segment(0, 0, 16, 16, 200)}, 2);
  TestCommand& one = submit(xcopy_cdb(first.size()), first);
  TestCommand& two = submit(xcopy_cdb(second.size()), second);
  EXPECT_EQ(dev.pending(), 1u);  // one copy at a time: the second waits for the buffer
  dev.release_all();
  while (dev.pending()) dev.release_all();
  EXPECT_GOOD(one);
  EXPECT_GOOD(two);
  dev.hold = false;
  EXPECT_TRUE(std::equal(a.begin(), a.end(), dev.bytes().begin() + 100 * 512));
  EXPECT_TRUE(std::equal(b.begin(), b.end(), dev.bytes().begin() + 200 * 512));
}

TEST_F(Xcopy, CopyStatusOfACompletedCopy) {
  dev.fill(0, pattern(100 * 512, 7));
  EXPECT_GOOD(copy(parameter_list({cscd(self())}, {segment(0, 0, 100, 0, 1000)}, 5, 0)));
  TestCommand& st = run(Cdb(0x84).set(1, 0x00).set(2, 5).be(10, 4, 64), {}, 64);
  EXPECT_GOOD(st);
  Bytes expected = {0, 0, 0, 8, 0x01, 0, 1, 0, 0, 0, 0xC8, 0x00};  // 51200 bytes
  EXPECT_EQ(Bytes(st.data_in().begin(), st.data_in().end()), expected);
  // No copy with list identifier 6.
  EXPECT_INVALID_CDB_FIELD(run(Cdb(0x84).set(1, 0x00).set(2, 6).be(10, 4, 64), {}, 64), 2, -1);
}

TEST_F(Xcopy, OperatingParameters) {
  TestCommand& tc = run(Cdb(0x84).set(1, 0x03).be(10, 4, 255), {}, 255);
  EXPECT_GOOD(tc);
  Bytes expected = {
      0x00, 0x00, 0x00, 0x2A,  // AVAILABLE DATA
      0x01, 0x00, 0x00, 0x00,  // SNLID
      0x00, 0x08,              // MAXIMUM CSCD DESCRIPTOR COUNT
      0x00, 0x08,              // MAXIMUM SEGMENT DESCRIPTOR COUNT
      0x00, 0x00, 0x01, 0xE0,  // MAXIMUM DESCRIPTOR LIST LENGTH (8 * 32 + 8 * 28)
      0x01, 0xFF, 0xFE, 0x00,  // MAXIMUM SEGMENT LENGTH (65535 blocks)
      0x00, 0x00, 0x00, 0x00,  // MAXIMUM INLINE DATA LENGTH
      0x00, 0x00, 0x00, 0x00,  // HELD DATA LIMIT
      0x00, 0x00, 0x00, 0x00,  // MAXIMUM STREAM DEVICE TRANSFER SIZE
      0x00, 0x00, 0x00, 0x01,  // TOTAL CONCURRENT COPIES
      0x01, 0x09, 0x00, 0x00,  // MAXIMUM CONCURRENT COPIES, granularities (log2)
      0x00, 0x00, 0x00, 0x02,  // IMPLEMENTED DESCRIPTOR LIST LENGTH
      0x02, 0xE4,              // block -> block, identification CSCD
  };
  EXPECT_EQ(Bytes(tc.data_in().begin(), tc.data_in().end()), expected);
  // Truncated to the allocation length.
  EXPECT_EQ(run(Cdb(0x84).set(1, 0x03).be(10, 4, 10), {}, 255).cmd.data_in_len, 10u);
}

TEST_F(Xcopy, UnsupportedReceiveCopyResultsServiceAction) {
  EXPECT_INVALID_CDB_FIELD(run(Cdb(0x84).set(1, 0x01).be(10, 4, 64), {}, 64), 1, 4);
}

TEST_F(Xcopy, ThirdPartyCopyVpdPage) {
  TestCommand& tc = run(Cdb(0x12).set(1, 1).set(2, 0x8F).be(3, 2, 255), {}, 255);
  EXPECT_GOOD(tc);
  Bytes expected = {0x00, 0x8F, 0x00, 0x60,
                    // Supported Commands: 83h/00h, 84h/00h and 03h
                    0x00, 0x01, 0x00, 0x08, 0x07, 0x83, 0x01, 0x00, 0x84, 0x02, 0x00, 0x03,
                    // Parameter Data
                    0x00, 0x04, 0x00, 0x1C, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x08, 0x00,
                    0x00, 0x01, 0xE0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                    0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                    // Supported Descriptors: 02h, E4h
                    0x00, 0x08, 0x00, 0x04, 0x02, 0x02, 0xE4, 0x00,
                    // Supported CSCD Descriptor IDs: none
                    0x00, 0x0C, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00,
                    // General Copy Operations
                    0x80, 0x01, 0x00, 0x20, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x01,
                    0xFF, 0xFE, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  EXPECT_EQ(Bytes(tc.data_in().begin(), tc.data_in().end()), expected);
  // Listed among the supported pages, and 3PC set in the standard data.
  TestCommand& pages = run(Cdb(0x12).set(1, 1).set(2, 0x00).be(3, 2, 255), {}, 255);
  auto listed = pages.data_in().subspan(4);
  EXPECT_NE(std::find(listed.begin(), listed.end(), 0x8F), listed.end());
  TestCommand& std_inq = run(Cdb(0x12).be(3, 2, 96), {}, 96);
  EXPECT_EQ(std_inq.buffer[5] & 0x08, 0x08);
}

// ---- another unit, reached only through the resolver ----

struct Resolver {
  BlockDevice* allowed = nullptr;
  Bytes allowed_designator;
  std::vector<Bytes> asked;

  static BlockDevice* resolve(void* context, std::span<const uint8_t> designator) {
    auto& self = *static_cast<Resolver*>(context);
    self.asked.emplace_back(designator.begin(), designator.end());
    if (Bytes(designator.begin(), designator.end()) != self.allowed_designator) return nullptr;
    return self.allowed;
  }
};

class XcopyAcrossUnits : public Xcopy {
 protected:
  XcopyAcrossUnits() : other(default_info(256)) {
    other.mutable_info().unit_serial = "fedcba9876543210";
    options_.copy_targets = {&Resolver::resolve, &resolver};
    make_lu();
    clear_ua();
    resolver.allowed = &other;
    resolver.allowed_designator = other_naa;
  }

  RamDevice other;
  Bytes other_naa = Bytes(16, 0x6A);
  Resolver resolver;
};

TEST_F(XcopyAcrossUnits, ToAnAllowedUnit) {
  Bytes data = pattern(20 * 512, 8);
  dev.fill(0, data);
  EXPECT_GOOD(copy(parameter_list({cscd(self()), cscd(other_naa)}, {segment(0, 1, 20, 0, 30)})));
  EXPECT_TRUE(std::equal(data.begin(), data.end(), other.bytes().begin() + 30 * 512));
  ASSERT_EQ(resolver.asked.size(), 1u);  // the unit itself is never asked about
  EXPECT_EQ(resolver.asked[0], other_naa);
  // The other unit has a volatile cache: flushed once the segment is written.
  ASSERT_FALSE(other.log.empty());
  EXPECT_EQ(other.log.back().op, Op::kFlush);
}

TEST_F(XcopyAcrossUnits, FromAnAllowedUnit) {
  Bytes data = pattern(10 * 512, 2);
  other.fill(5 * 512, data);
  EXPECT_GOOD(copy(parameter_list({cscd(other_naa), cscd(self())}, {segment(0, 1, 10, 5, 7)})));
  EXPECT_TRUE(std::equal(data.begin(), data.end(), dev.bytes().begin() + 7 * 512));
}

TEST_F(XcopyAcrossUnits, RefusedUnitIsNotReachable) {
  Bytes stranger(16, 0x6B);
  EXPECT_EQ(
      sense_of(copy(parameter_list({cscd(self()), cscd(stranger)}, {segment(0, 1, 4, 0, 0)}))),
      sense(0x0A, 0x0D, 0x02));
  ASSERT_EQ(resolver.asked.size(), 1u);
  EXPECT_EQ(resolver.asked[0], stranger);
  EXPECT_TRUE(other.log.empty());
  EXPECT_TRUE(dev.log.empty());
}

TEST_F(XcopyAcrossUnits, OtherUnitsCapacityLimitsTheRange) {
  EXPECT_EQ(
      sense_of(copy(parameter_list({cscd(self()), cscd(other_naa)}, {segment(0, 1, 8, 0, 250)}))),
      sense(0x05, 0x21, 0x00));
}

}  // namespace
}  // namespace lunkit::test

namespace lunkit::test {
namespace {

// A buffer size that is no multiple of 4096 is rounded to one (any block size fits a piece).
class XcopyOddBuffer : public LuTest {
 protected:
  static scsi::LogicalUnitOptions odd() {
    scsi::LogicalUnitOptions o;
    o.copy_buffer_bytes = 1000;
    return o;
  }
  XcopyOddBuffer() : LuTest(default_info(), odd()) { clear_ua(); }
};

TEST_F(XcopyOddBuffer, PiecesAreWholeBlocksOfTheRoundedBuffer) {
  std::array<uint8_t, 16> naa{};
  size_t len = lu->naa_designator(naa);
  Bytes data = pattern(20 * 512, 1);
  dev.fill(0, data);
  Bytes list = parameter_list({cscd({naa.data(), len})}, {segment(0, 0, 20, 0, 100)});
  EXPECT_GOOD(run(xcopy_cdb(list.size()), list));
  EXPECT_TRUE(std::equal(data.begin(), data.end(), dev.bytes().begin() + 100 * 512));
  std::vector<uint64_t> reads;
  for (const LoggedRequest& r : dev.log)
    if (r.op == Op::kRead) reads.push_back(r.length);
  EXPECT_EQ(reads, (std::vector<uint64_t>{4096, 4096, 2048}));
}

}  // namespace
}  // namespace lunkit::test

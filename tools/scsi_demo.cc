// An in-process tour of libscsi: a logical unit over a 64 MiB memory device, driven with the
// CDBs an initiator sends, the answers decoded the way sg3_utils prints them.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "lunkit/scsi/logical_unit.h"

namespace {

using lunkit::BlockRequest;
using lunkit::DeviceInfo;
using lunkit::scsi::Command;
using lunkit::scsi::LogicalUnit;
using lunkit::scsi::Status;

class MemoryDevice : public lunkit::BlockDevice {
 public:
  explicit MemoryDevice(uint64_t bytes) : data_(bytes) {
    info_.num_blocks = bytes / 512;
    info_.thin_provisioning = true;
    info_.unmap_reads_zero = true;
    info_.write_cache = true;
    info_.max_transfer_blocks = 2048;
    info_.unit_serial = "6b1f0c2a-demo-4e7b-9d3c-lunkit000001";
  }
  const DeviceInfo& info() const override { return info_; }
  void read(BlockRequest& r) override {
    size_t done = 0;
    for (const iovec& v : r.iov) {
      size_t n = std::min<size_t>(v.iov_len, r.length - done);
      std::memcpy(v.iov_base, &data_[r.offset + done], n);
      done += n;
    }
    r.complete(0);
  }
  void write(BlockRequest& r) override {
    size_t done = 0;
    for (const iovec& v : r.iov) {
      size_t n = std::min<size_t>(v.iov_len, r.length - done);
      std::memcpy(&data_[r.offset + done], v.iov_base, n);
      done += n;
    }
    r.complete(0);
  }
  void flush(BlockRequest& r) override { r.complete(0); }
  void unmap(BlockRequest& r) override { write_zeroes(r); }
  void write_zeroes(BlockRequest& r) override {
    std::memset(&data_[r.offset], 0, r.length);
    r.complete(0);
  }

 private:
  DeviceInfo info_;
  std::vector<uint8_t> data_;
};

struct Exchange {
  Command cmd;
  std::vector<uint8_t> buf;
  iovec iov{};
};

void done(void*, Command&) {}

Exchange& send(LogicalUnit& lu, Exchange& x, std::initializer_list<uint8_t> cdb,
               std::vector<uint8_t> data_out = {}, size_t data_in = 0) {
  x.buf = data_out.empty() ? std::vector<uint8_t>(data_in) : std::move(data_out);
  x.iov = {x.buf.data(), x.buf.size()};
  x.cmd.cdb = {};
  std::copy(cdb.begin(), cdb.end(), x.cmd.cdb.begin());
  x.cmd.cdb_len = static_cast<uint8_t>(cdb.size());
  x.cmd.iov = std::span(&x.iov, 1);
  x.cmd.data_len = x.buf.size();
  lu.submit(x.cmd);
  return x;
}

std::string sense_text(const Command& c) {
  if (c.status == Status::kGood) return "GOOD";
  char s[96];
  std::snprintf(s, sizeof s, "CHECK CONDITION key 0x%x asc/ascq 0x%02x/0x%02x", c.sense[2] & 0xF,
                c.sense[12], c.sense[13]);
  return s;
}

std::string ascii(const std::vector<uint8_t>& b, size_t off, size_t len) {
  return std::string(b.begin() + static_cast<long>(off), b.begin() + static_cast<long>(off + len));
}

}  // namespace

int main() {
  MemoryDevice dev(64ull << 20);
  LogicalUnit lu(dev, done, nullptr);
  Exchange x;
  std::printf("lunkit demo: libscsi serving a 64 MiB memory device, driven in-process\n\n");

  send(lu, x, {0x00, 0, 0, 0, 0, 0});
  std::printf("TEST UNIT READY          -> %s (the power-on unit attention)\n",
              sense_text(x.cmd).c_str());
  send(lu, x, {0x00, 0, 0, 0, 0, 0});
  std::printf("TEST UNIT READY          -> %s\n", sense_text(x.cmd).c_str());

  send(lu, x, {0x12, 0, 0, 0, 96, 0}, {}, 96);
  std::printf("INQUIRY                  -> vendor '%s' product '%s' revision '%s' version 0x%02x\n",
              ascii(x.buf, 8, 8).c_str(), ascii(x.buf, 16, 16).c_str(), ascii(x.buf, 32, 4).c_str(),
              x.buf[2]);
  send(lu, x, {0x12, 1, 0x80, 0, 255, 0}, {}, 255);
  std::printf("INQUIRY VPD 0x80         -> unit serial '%s'\n", ascii(x.buf, 4, x.buf[3]).c_str());
  send(lu, x, {0x12, 1, 0x83, 0, 255, 0}, {}, 255);
  std::printf("INQUIRY VPD 0x83         -> NAA 0x");
  for (int i = 8; i < 24; ++i) std::printf("%02x", x.buf[i]);
  std::printf("\n");

  send(lu, x, {0x9E, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0}, {}, 32);
  uint64_t last = 0;
  for (int i = 0; i < 8; ++i) last = last << 8 | x.buf[i];
  std::printf("READ CAPACITY(16)        -> %llu blocks of %u bytes, LBPME=%d LBPRZ=%d\n",
              static_cast<unsigned long long>(last + 1),
              x.buf[8] << 24 | x.buf[9] << 16 | x.buf[10] << 8 | x.buf[11], x.buf[14] >> 7 & 1,
              x.buf[14] >> 6 & 1);

  std::vector<uint8_t> pattern(4096);
  for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<uint8_t>(i * 13 + 7);
  send(lu, x, {0x2A, 0x08, 0, 0, 0, 100, 0, 0, 8, 0}, pattern);
  std::printf("WRITE(10) FUA 8 @ LBA 100 -> %s\n", sense_text(x.cmd).c_str());
  send(lu, x, {0x28, 0, 0, 0, 0, 100, 0, 0, 8, 0}, {}, 4096);
  std::printf("READ(10) 8 @ LBA 100      -> %s, data %s\n", sense_text(x.cmd).c_str(),
              x.buf == pattern ? "matches" : "DIFFERS");

  std::vector<uint8_t> caw(1024);
  std::memcpy(caw.data(), pattern.data(), 512);
  caw[17] ^= 0xFF;
  send(lu, x, {0x89, 0, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 1, 0, 0}, caw);
  std::printf("COMPARE AND WRITE (wrong) -> %s, miscompare at byte %u\n", sense_text(x.cmd).c_str(),
              x.cmd.sense[3] << 24 | x.cmd.sense[4] << 16 | x.cmd.sense[5] << 8 | x.cmd.sense[6]);

  send(lu, x, {0x42, 0, 0, 0, 0, 0, 0, 0, 24, 0},
       {0, 22, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0, 8, 0, 0, 0, 0});
  std::printf("UNMAP 8 @ LBA 100         -> %s\n", sense_text(x.cmd).c_str());
  send(lu, x, {0x28, 0, 0, 0, 0, 100, 0, 0, 8, 0}, {}, 4096);
  bool zero = std::all_of(x.buf.begin(), x.buf.end(), [](uint8_t b) { return b == 0; });
  std::printf("READ(10) 8 @ LBA 100      -> %s, data %s\n", sense_text(x.cmd).c_str(),
              zero ? "all zeros" : "NOT ZERO");

  send(lu, x, {0xA3, 0x0C, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0}, {}, 4096);
  uint32_t len = x.buf[0] << 24 | x.buf[1] << 16 | x.buf[2] << 8 | x.buf[3];
  std::printf("REPORT SUPPORTED OPCODES -> %u commands\n", len / 8);

  send(lu, x, {0x28, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 1, 0}, {}, 512);
  std::printf("READ(10) beyond the end   -> %s\n", sense_text(x.cmd).c_str());
  send(lu, x, {0xC5, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  std::printf("vendor opcode 0xC5        -> %s\n", sense_text(x.cmd).c_str());
  return 0;
}

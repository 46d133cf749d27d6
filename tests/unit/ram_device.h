// A RAM block device for the libscsi tests. Requests complete inline, or are held until the test
// releases them (to stage races); the data operation happens at completion time, as on a real
// asynchronous device. Errors can be injected per operation.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "lunkit/block_device.h"

namespace lunkit::test {

enum class Op { kRead, kWrite, kFlush, kUnmap, kWriteZeroes, kCompareAndWrite, kBlockStatus };

struct LoggedRequest {
  Op op;
  uint64_t offset;
  uint64_t length;
  uint32_t flags;
};

class RamDevice : public BlockDevice {
 public:
  explicit RamDevice(DeviceInfo info)
      : info_(std::move(info)),
        data_(info_.num_blocks * info_.logical_block_size, 0),
        deallocated_(info_.num_blocks, true) {}

  const DeviceInfo& info() const override { return info_; }
  DeviceInfo& mutable_info() { return info_; }

  void read(BlockRequest& r) override { start(Op::kRead, r); }
  void write(BlockRequest& r) override { start(Op::kWrite, r); }
  void flush(BlockRequest& r) override { start(Op::kFlush, r); }
  void unmap(BlockRequest& r) override { start(Op::kUnmap, r); }
  void write_zeroes(BlockRequest& r) override { start(Op::kWriteZeroes, r); }
  void compare_and_write(BlockRequest& r) override {
    if (!info_.native_compare_and_write) return BlockDevice::compare_and_write(r);
    start(Op::kCompareAndWrite, r);
  }
  void block_status(BlockRequest& r) override {
    if (!info_.native_block_status) return BlockDevice::block_status(r);
    start(Op::kBlockStatus, r);
  }

  // ---- test controls ----
  bool hold = false;            // keep requests pending until released
  std::map<Op, int> fail_next;  // errno (positive) for the next request of that kind
  // When set, block_status answers with these extents (e.g. longer than the RAM holds).
  std::vector<BlockExtent> block_status_answer;

  size_t pending() const { return pending_.size(); }
  Op pending_op(size_t i) const { return pending_[i].first; }
  void release_one() {
    auto [op, r] = pending_.front();
    pending_.pop_front();
    finish(op, *r);
  }
  void release_one_if_any() {
    if (!pending_.empty()) release_one();
  }
  void release_all() {
    while (!pending_.empty()) release_one();
  }

  std::vector<LoggedRequest> log;
  std::vector<uint8_t>& bytes() { return data_; }
  bool block_deallocated(uint64_t lba) const { return deallocated_[lba]; }
  void fill(uint64_t offset, const std::vector<uint8_t>& src) {
    std::memcpy(data_.data() + offset, src.data(), src.size());
    mark(offset, src.size(), false);
  }

 private:
  void start(Op op, BlockRequest& r) {
    log.push_back({op, r.offset, r.length, r.flags});
    if (auto it = fail_next.find(op); it != fail_next.end()) {
      int err = it->second;
      fail_next.erase(it);
      r.complete(-err);
      return;
    }
    if (hold) {
      pending_.emplace_back(op, &r);
      return;
    }
    finish(op, r);
  }

  void mark(uint64_t offset, uint64_t length, bool deallocated) {
    uint32_t bs = info_.logical_block_size;
    for (uint64_t b = offset / bs; b < (offset + length) / bs; ++b) deallocated_[b] = deallocated;
  }

  size_t gather(const BlockRequest& r, size_t skip, uint8_t* dst, size_t len) {
    size_t done = 0;
    for (const iovec& v : r.iov) {
      if (done == len) break;
      if (skip >= v.iov_len) {
        skip -= v.iov_len;
        continue;
      }
      size_t n = std::min(v.iov_len - skip, len - done);
      std::memcpy(dst + done, static_cast<uint8_t*>(v.iov_base) + skip, n);
      done += n;
      skip = 0;
    }
    return done;
  }

  void finish(Op op, BlockRequest& r) {
    if (op == Op::kBlockStatus && !block_status_answer.empty()) {
      r.extent_count = std::min(block_status_answer.size(), r.extents.size());
      std::copy_n(block_status_answer.begin(), r.extent_count, r.extents.begin());
      return r.complete(0);
    }
    if (r.offset + r.length > data_.size()) return r.complete(-EINVAL);
    uint8_t* at = data_.data() + r.offset;
    switch (op) {
      case Op::kRead: {
        size_t done = 0;
        for (const iovec& v : r.iov) {
          size_t n = std::min<size_t>(v.iov_len, r.length - done);
          std::memcpy(v.iov_base, at + done, n);
          done += n;
        }
        break;
      }
      case Op::kWrite:
        gather(r, 0, at, r.length);
        mark(r.offset, r.length, false);
        break;
      case Op::kFlush:
        break;
      case Op::kUnmap:
        if (info_.unmap_reads_zero) std::memset(at, 0, r.length);
        mark(r.offset, r.length, true);
        break;
      case Op::kWriteZeroes:
        std::memset(at, 0, r.length);
        mark(r.offset, r.length, (r.flags & kBlockMayUnmap) != 0);
        break;
      case Op::kCompareAndWrite: {
        std::vector<uint8_t> cmp(r.length);
        gather(r, 0, cmp.data(), r.length);
        for (size_t i = 0; i < r.length; ++i) {
          if (cmp[i] != at[i]) {
            r.miscompare_offset = i;
            return r.complete(-EILSEQ);
          }
        }
        gather(r, r.length, at, r.length);
        mark(r.offset, r.length, false);
        break;
      }
      case Op::kBlockStatus: {
        uint32_t bs = info_.logical_block_size;
        uint64_t b = r.offset / bs, end = (r.offset + r.length) / bs;
        size_t n = 0;
        while (b < end && n < r.extents.size()) {
          bool state = deallocated_[b];
          uint64_t start_block = b;
          while (b < end && deallocated_[b] == state) ++b;
          r.extents[n++] = BlockExtent{start_block * bs, (b - start_block) * bs, state};
        }
        r.extent_count = n;
        break;
      }
    }
    r.complete(0);
  }

  DeviceInfo info_;
  std::vector<uint8_t> data_;
  std::vector<bool> deallocated_;
  std::deque<std::pair<Op, BlockRequest*>> pending_;
};

}  // namespace lunkit::test

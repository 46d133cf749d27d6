// user:file — a LUN backed by a file (or block device). I/O runs on io_uring on the device's
// event loop: readv/writev (RWF_DSYNC for FUA; READ_FIXED/WRITE_FIXED on the pages a ublk device
// lends, see LUNKIT_CAP_FIXED_BUFFERS), fdatasync for flush, fallocate for unmap and
// write zeroes, SEEK_DATA/SEEK_HOLE for block status. A file in memory (tmpfs, ramfs) is read
// and written with plain system calls instead: those are memory copies that never wait for a
// device, and io_uring would hand each one to a kernel worker thread (tmpfs cannot do
// non-blocking I/O), which costs two thread switches per command.
//
// cfgstring: <path>[;create=1][;direct=1]
//   create=1   create the file (sized to the LUN) when it does not exist; otherwise it must exist
//   direct=1   open with O_DIRECT
#include <fcntl.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <unistd.h>
#include <lunkit/handler.hpp>

#include <cstdio>
#include <cstring>

namespace {

struct FileOptions {
  std::string path;
  bool create = false;
  bool direct = false;
};

// The path, then options, with the ABI's cfgstring helpers (lunkit_cfg_parse and
// lunkit_parse_bool: the rules and messages every handler shares).
bool parse_options(const std::string& cfg, FileOptions* out, std::string* reason) {
  struct State {
    FileOptions* out;
    bool first = true, seen_create = false, seen_direct = false;
  } st{out};
  auto each = [](void* arg, const char* key, const char* value, char* why, size_t len) -> int {
    auto& s = *static_cast<State*>(arg);
    if (s.first) {  // the path: the element as it is, '=' and all
      s.first = false;
      s.out->path = value ? std::string(key) + "=" + value : key;
      if (s.out->path[0] == '/') return 0;
      snprintf(why, len, "file needs an absolute path, e.g. /var/lib/lunkit/disk0.img (got '%s')",
               s.out->path.c_str());
      return -1;
    }
    int flag;
    bool create = std::strcmp(key, "create") == 0, direct = std::strcmp(key, "direct") == 0;
    if (!create && !direct) {
      snprintf(why, len, "unknown file option '%s' (known: create, direct)", key);
      return -1;
    }
    if (lunkit_parse_bool(key, value, &flag, why, len) != 0) return -1;
    // The first occurrence wins: a device's own options come before lunkitd's defaults.
    if (create && !s.seen_create) s.out->create = flag, s.seen_create = true;
    if (direct && !s.seen_direct) s.out->direct = flag, s.seen_direct = true;
    return 0;
  };
  char why[512] = {};
  // A cfgstring that starts with ';' has no path: its first element is empty, not skipped.
  if (cfg.empty() || cfg[0] == ';' ||
      lunkit_cfg_parse(cfg.c_str(), each, &st, why, sizeof why) != 0) {
    if (!why[0])
      snprintf(why, sizeof why,
               "file needs an absolute path, e.g. /var/lib/lunkit/disk0.img (got '')");
    *reason = why;
    return false;
  }
  return true;
}

// The per-I/O state, in lunkit_io_private(): no allocation per command.
struct FileIo {
  lunkit_uring_completion completion;
  lunkit_io* io;
  uint64_t expected;  // bytes a read/write must transfer
  int step;           // write_zeroes: 0 fallocate, 1 the fdatasync that makes it durable
  class FileDevice* device;
  // A read or write, continued after a short transfer from where it stopped.
  const iovec* iov;
  uint32_t iovcnt;
  uint32_t index;   // the iovec the transfer stopped in
  uint64_t skip;    // bytes of iov[index] already transferred
  uint64_t offset;  // file offset of the next byte
  uint64_t done;    // bytes transferred so far
  uint32_t rw_flags;
  bool is_write;
  int32_t fixed_buffer;  // the registered buffer holding the data (ublk zero copy), or -1
};

class FileDevice : public lunkit::HandlerDevice {
 public:
  static bool check_config(const std::string& cfg, std::string* reason) {
    FileOptions o;
    if (!parse_options(cfg, &o, reason)) return false;
    struct stat st;
    if (stat(o.path.c_str(), &st) != 0) {
      if (errno != ENOENT || !o.create) {
        *reason = o.path + ": " + std::strerror(errno) +
                  (errno == ENOENT ? " (add ;create=1 to create it)" : "");
        return false;
      }
      std::string dir = o.path.substr(0, o.path.find_last_of('/'));
      if (dir.empty()) dir = "/";
      if (access(dir.c_str(), W_OK) != 0) {
        *reason = dir + ": " + std::strerror(errno) + " (cannot create " + o.path + ")";
        return false;
      }
      return true;
    }
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
      *reason = o.path + " is neither a regular file nor a block device";
      return false;
    }
    if (access(o.path.c_str(), R_OK | W_OK) != 0) {
      *reason = o.path + ": " + std::strerror(errno);
      return false;
    }
    return true;
  }

  static std::unique_ptr<FileDevice> open(lunkit_device* dev, const std::string& cfg,
                                          lunkit_device_info* info, std::string* reason) {
    FileOptions o;
    if (!parse_options(cfg, &o, reason)) return nullptr;
    int flags = O_RDWR | O_CLOEXEC | (o.direct ? O_DIRECT : 0);
    int fd = ::open(o.path.c_str(), flags);
    bool created = false;
    if (fd < 0 && errno == ENOENT && o.create) {
      fd = ::open(o.path.c_str(), flags | O_CREAT | O_EXCL, 0600);
      created = fd >= 0;
    }
    if (fd < 0) {
      *reason = o.path + ": " + std::strerror(errno) +
                (errno == ENOENT ? " (add ;create=1 to create it)" : "");
      return nullptr;
    }
    std::unique_ptr<FileDevice> d(new FileDevice(dev, fd));
    d->path_ = o.path;
    struct stat st;
    fstat(fd, &st);
    // A regular file's pages in memory. Not a block device: its node lives on devtmpfs (a tmpfs
    // too), but its I/O goes to the device, which plain system calls would wait for on the loop.
    struct statfs fs;
    d->in_memory_ = S_ISREG(st.st_mode) && fstatfs(fd, &fs) == 0 &&
                    (fs.f_type == TMPFS_MAGIC || fs.f_type == RAMFS_MAGIC);
    uint64_t size = static_cast<uint64_t>(st.st_size);
    if (S_ISBLK(st.st_mode)) ioctl(fd, BLKGETSIZE64, &size);
    if (created) {
      if (ftruncate(fd, static_cast<off_t>(info->size)) != 0) {
        *reason = o.path + ": cannot size it: " + std::strerror(errno);
        unlink(o.path.c_str());
        return nullptr;
      }
      size = info->size;
    }
    if (info->size == 0) info->size = size - size % info->block_size;
    if (size != info->size) {
      // Never truncate or extend someone's file to make it fit.
      *reason = o.path + " is " + std::to_string(size) + " bytes but the LUN is " +
                std::to_string(info->size) + " bytes";
      return nullptr;
    }
    // Zeroing is an fallocate() that changes metadata, or fails with EOPNOTSUPP when it cannot
    // (see write_zeroes): it never writes zeros itself, so fast-zero requests can be asked.
    info->capabilities = LUNKIT_CAP_WRITE_CACHE | LUNKIT_CAP_FUA | LUNKIT_CAP_FAST_ZERO;
    // Every read and write goes through io_uring, except in memory (plain system calls): there
    // the data may stay in the kernel's registered buffer (ublk zero copy).
    if (!d->in_memory_) info->capabilities |= LUNKIT_CAP_FIXED_BUFFERS;
    d->is_block_ = S_ISBLK(st.st_mode);
    // Deallocation that reads back zeros: only if this file system can punch holes.
    if (S_ISREG(st.st_mode) && fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                                         static_cast<off_t>(size), info->block_size) == 0) {
      info->capabilities |= LUNKIT_CAP_THIN | LUNKIT_CAP_UNMAP_ZEROES;
      d->can_punch_ = true;
      // The file system frees whole blocks: a hole punched in part of one only zeroes it.
      uint64_t fs_block = static_cast<uint64_t>(st.st_blksize);
      if (LUNKIT_INFO_HAS(info, unmap_granularity) && fs_block > info->block_size &&
          fs_block % info->block_size == 0 && fs_block <= (1u << 30))
        info->unmap_granularity = static_cast<uint32_t>(fs_block);
    }
    return d;
  }

  ~FileDevice() override { ::close(fd_); }

  // A new LUN size must already be the file's size: lunkit never resizes someone's file.
  int reconfig(uint64_t new_size, const char* new_cfgstring, int) override {
    if (new_cfgstring) return -EOPNOTSUPP;
    if (!new_size) return 0;
    struct stat st;
    if (fstat(fd_, &st) != 0) return -errno;
    uint64_t size = static_cast<uint64_t>(st.st_size);
    if (S_ISBLK(st.st_mode)) ioctl(fd_, BLKGETSIZE64, &size);
    if (size != new_size) {
      lunkit_log(dev_, 0, "%s is %llu bytes; make it %llu bytes before resizing the LUN",
                 path_.c_str(), static_cast<unsigned long long>(size),
                 static_cast<unsigned long long>(new_size));
      return -EINVAL;
    }
    return 0;
  }

  void read(lunkit_io* io, std::span<const iovec> iov, uint64_t offset, uint64_t length) override {
    if (in_memory_)
      return finish(io, length, preadv(fd_, iov.data(), static_cast<int>(iov.size()), offset));
    if (io_uring_sqe* sqe = start(io, length)) {
      int buffer = lunkit_io_fixed_buffer(io);
      if (buffer >= 0)
        prep_fixed(sqe, false, iov[0].iov_base, iov[0].iov_len, offset, buffer);
      else
        io_uring_prep_readv(sqe, fd_, iov.data(), static_cast<unsigned>(iov.size()), offset);
      track(io, iov, offset, false, 0, buffer);
    }
  }

  void write(lunkit_io* io, std::span<const iovec> iov, uint64_t offset, uint64_t length,
             uint32_t flags) override {
    if (in_memory_) return lunkit_io_complete(io, write_all(iov, offset, flags));
    if (io_uring_sqe* sqe = start(io, length)) {
      int buffer = lunkit_io_fixed_buffer(io);
      if (buffer >= 0)
        prep_fixed(sqe, true, iov[0].iov_base, iov[0].iov_len, offset, buffer);
      else
        io_uring_prep_writev(sqe, fd_, iov.data(), static_cast<unsigned>(iov.size()), offset);
      if (flags & LUNKIT_IO_FUA) sqe->rw_flags = RWF_DSYNC;
      track(io, iov, offset, true, sqe->rw_flags, buffer);
    }
  }

  void flush(lunkit_io* io) override {
    if (io_uring_sqe* sqe = start(io, 0)) io_uring_prep_fsync(sqe, fd_, IORING_FSYNC_DATASYNC);
  }

  void unmap(lunkit_io* io, uint64_t offset, uint64_t length) override {
    if (io_uring_sqe* sqe = start(io, 0))
      io_uring_prep_fallocate(sqe, fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
  }

  // A file: a hole punched (when it may unmap) or a zeroed range, both metadata operations that
  // fail with EOPNOTSUPP where the file system has none. A block device: ZERO_RANGE may make the
  // kernel write zeros, so a fast zero punches instead (a write-zeroes or discard of the device
  // that never falls back to writing: EOPNOTSUPP when the device has neither).
  void write_zeroes(lunkit_io* io, uint64_t offset, uint64_t length, uint32_t flags) override {
    bool punch = ((flags & LUNKIT_IO_MAY_UNMAP) && can_punch_) ||
                 (is_block_ && (flags & LUNKIT_IO_FAST_ZERO));
    int mode = punch ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE;
    if (io_uring_sqe* sqe = start(io, 0)) {
      io_uring_prep_fallocate(sqe, fd_, mode | FALLOC_FL_KEEP_SIZE, offset, length);
      state(io)->step = (flags & LUNKIT_IO_FUA) ? 1 : 0;
    }
  }

  void block_status(lunkit_io* io, uint64_t offset, uint64_t length) override {
    // lseek(SEEK_DATA/SEEK_HOLE) only consults file metadata; it does not wait for the disk.
    uint64_t end = offset + length;
    while (offset < end) {
      off_t data = lseek(fd_, static_cast<off_t>(offset), SEEK_DATA);
      if (data < 0 && errno != ENXIO) return lunkit_io_complete(io, -errno);
      uint64_t data_at = data < 0 ? end : std::min<uint64_t>(static_cast<uint64_t>(data), end);
      if (data_at > offset) {  // a hole first: deallocated, and a file's hole reads zeros
        int hole = LUNKIT_EXTENT_HOLE | LUNKIT_EXTENT_ZERO;
        if (lunkit_io_add_extent(io, offset, data_at - offset, hole) != 0) break;
        offset = data_at;
        continue;
      }
      off_t hole = lseek(fd_, static_cast<off_t>(offset), SEEK_HOLE);
      uint64_t hole_at = hole < 0 ? end : std::min<uint64_t>(static_cast<uint64_t>(hole), end);
      if (lunkit_io_add_extent(io, offset, hole_at - offset, 0) != 0) break;
      offset = hole_at;
    }
    lunkit_io_complete(io, 0);
  }

 private:
  FileDevice(lunkit_device* dev, int fd) : dev_(dev), fd_(fd) {}

  static FileIo* state(lunkit_io* io) { return static_cast<FileIo*>(lunkit_io_private(io)); }

  // A synchronous write of everything: a short write (a file system filling up) is continued,
  // so that what stops it is reported as itself (ENOSPC), not as a short count.
  int write_all(std::span<const iovec> iov, uint64_t offset, uint32_t flags) {
    size_t i = 0, skip = 0;
    while (i < iov.size()) {
      iovec first = {static_cast<uint8_t*>(iov[i].iov_base) + skip, iov[i].iov_len - skip};
      iovec rest[16];
      int n = 0;
      rest[n++] = first;
      for (size_t j = i + 1; j < iov.size() && n < 16; ++j) rest[n++] = iov[j];
      ssize_t done = pwritev2(fd_, rest, n, static_cast<off_t>(offset),
                              (flags & LUNKIT_IO_FUA) ? RWF_DSYNC : 0);
      if (done < 0) return -errno;
      if (done == 0) return -EIO;
      offset += static_cast<uint64_t>(done);
      for (size_t left = static_cast<size_t>(done); left && i < iov.size();) {
        size_t in_this = iov[i].iov_len - skip;
        if (left < in_this) {
          skip += left;
          left = 0;
        } else {
          left -= in_this;
          skip = 0;
          ++i;
        }
      }
    }
    return 0;
  }

  // A synchronous read that returned `done` (bytes, or -1 with errno).
  static void finish(lunkit_io* io, uint64_t expected, ssize_t done) {
    int r = done < 0 ? -errno : static_cast<uint64_t>(done) == expected ? 0 : -EIO;
    lunkit_io_complete(io, r);
  }

  // Prepares the per-I/O state and returns an SQE to fill; completes the I/O when there is none.
  io_uring_sqe* start(lunkit_io* io, uint64_t expected) {
    FileIo* s = state(io);
    s->completion.done = &FileDevice::done;
    s->io = io;
    s->expected = expected;
    s->step = 0;
    s->device = this;
    s->iov = nullptr;
    io_uring_sqe* sqe = lunkit_get_sqe(dev_, &s->completion);
    if (!sqe) lunkit_io_complete(io, -EAGAIN);
    return sqe;
  }

  // A read or write of `len` bytes at `addr` of registered buffer `buffer` (ublk zero copy: the
  // buffer is the block request's pages, `addr` an offset into them; one iovec, as ublk sends).
  void prep_fixed(io_uring_sqe* sqe, bool is_write, void* addr, size_t len, uint64_t offset,
                  int buffer) const {
    if (is_write)
      io_uring_prep_write_fixed(sqe, fd_, addr, static_cast<unsigned>(len), offset, buffer);
    else
      io_uring_prep_read_fixed(sqe, fd_, addr, static_cast<unsigned>(len), offset, buffer);
  }

  // Remembers a read or write so that a short transfer can be continued.
  static void track(lunkit_io* io, std::span<const iovec> iov, uint64_t offset, bool is_write,
                    uint32_t rw_flags, int fixed_buffer) {
    FileIo* s = state(io);
    s->iov = iov.data();
    s->iovcnt = static_cast<uint32_t>(iov.size());
    s->index = 0;
    s->skip = 0;
    s->offset = offset;
    s->done = 0;
    s->rw_flags = rw_flags;
    s->is_write = is_write;
    s->fixed_buffer = fixed_buffer;
  }

  // A read or write that moved `n` (> 0) bytes less than the rest: queue the rest. A file system
  // filling up writes what fits first; the continuation then fails with what stopped it (ENOSPC,
  // SPACE ALLOCATION FAILED) instead of a short count turned into EIO.
  static void continue_transfer(FileIo* s, uint64_t n) {
    s->done += n;
    s->offset += n;
    for (uint64_t left = n; left;) {
      uint64_t in_this = s->iov[s->index].iov_len - s->skip;
      if (left < in_this) {
        s->skip += left;
        left = 0;
      } else {
        left -= in_this;
        s->skip = 0;
        ++s->index;
      }
    }
    io_uring_sqe* sqe = lunkit_get_sqe(s->device->dev_, &s->completion);
    if (!sqe) return lunkit_io_complete(s->io, -EAGAIN);
    int fd = s->device->fd_;
    const iovec& first = s->iov[s->index];
    if (s->fixed_buffer >= 0) {  // the one iovec's rest, in the same registered buffer
      s->device->prep_fixed(sqe, s->is_write, static_cast<uint8_t*>(first.iov_base) + s->skip,
                            first.iov_len - s->skip, s->offset, s->fixed_buffer);
    } else if (s->skip) {  // the middle of one buffer: that buffer's rest first
      auto* base = static_cast<uint8_t*>(first.iov_base) + s->skip;
      auto len = static_cast<unsigned>(first.iov_len - s->skip);
      if (s->is_write)
        io_uring_prep_write(sqe, fd, base, len, s->offset);
      else
        io_uring_prep_read(sqe, fd, base, len, s->offset);
    } else if (s->is_write) {
      io_uring_prep_writev(sqe, fd, &first, s->iovcnt - s->index, s->offset);
    } else {
      io_uring_prep_readv(sqe, fd, &first, s->iovcnt - s->index, s->offset);
    }
    sqe->rw_flags = static_cast<int>(s->rw_flags);
  }

  static void done(lunkit_uring_completion* c, int32_t res) {
    FileIo* s = reinterpret_cast<FileIo*>(c);
    if (s->iov && res > 0 && s->done + static_cast<uint64_t>(res) < s->expected)
      return continue_transfer(s, static_cast<uint64_t>(res));
    if (s->iov && res >= 0) res = s->done + static_cast<uint64_t>(res) == s->expected ? 0 : -EIO;
    if (res >= 0 && s->step == 1) {  // a FUA write_zeroes: make the zeros durable
      s->step = 0;
      if (io_uring_sqe* sqe = lunkit_get_sqe(s->device->dev_, &s->completion)) {
        io_uring_prep_fsync(sqe, s->device->fd_, IORING_FSYNC_DATASYNC);
        return;
      }
      return lunkit_io_complete(s->io, -EAGAIN);
    }
    if (!s->iov && res >= 0 && static_cast<uint64_t>(res) != s->expected && s->expected) res = -EIO;
    lunkit_io_complete(s->io, res < 0 ? res : 0);
  }

  lunkit_device* dev_;
  int fd_;
  bool can_punch_ = false;
  bool is_block_ = false;
  bool in_memory_ = false;  // tmpfs or ramfs: plain system calls, see the top of this file
  std::string path_;
};

static_assert(sizeof(FileIo) <= LUNKIT_IO_PRIVATE_MAX);

}  // namespace

LUNKIT_REGISTER_CXX_HANDLER(FileDevice, "file",
                            "The path of the backing file or block device, optionally followed by "
                            "options: <path>[;create=1][;direct=1]. Without create=1 the file must "
                            "exist and be exactly the size of the LUN.",
                            LUNKIT_THREAD_NONBLOCKING, sizeof(FileIo), LUNKIT_HANDLER_MULTI_QUEUE)

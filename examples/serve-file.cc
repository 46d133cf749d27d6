// serve-file: serves every TCMU device of one subtype from a file, without lunkitd, in one
// poll() loop of the program's own: the control loop (lunkit::TcmuServer's fd() and process())
// and every device's loop (caller_loops(), device_fd() and device_process()) run in main().
//
//   serve-file <subtype>
//
// The cfgstring is the path of an existing file at least as large as the LUN:
//   targetcli /backstores/user:<subtype> create disk0 1G /srv/disk0.img
// Writes are durable once SYNCHRONIZE CACHE returns (fdatasync); UNMAP punches holes, which read
// back as zeros. Stop it with SIGINT or SIGTERM.
// Build: c++ -std=c++20 -o serve-file serve-file.cc $(pkg-config --cflags --libs lunkit-tcmu)
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <lunkit/handler.hpp>
#include <lunkit/tcmu.hpp>

namespace {

class FileDevice : public lunkit::HandlerDevice {
 public:
  explicit FileDevice(int fd) : fd_(fd) {}
  ~FileDevice() override { ::close(fd_); }

  static bool check_config(const std::string& path, std::string* reason) {
    if (access(path.c_str(), R_OK | W_OK) == 0) return true;
    *reason = path + ": " + std::strerror(errno);
    return false;
  }

  static std::unique_ptr<FileDevice> open(lunkit_device*, const std::string& path,
                                          lunkit_device_info* info, std::string* reason) {
    int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
      *reason = path + ": " + std::strerror(errno);
      return nullptr;
    }
    auto device = std::make_unique<FileDevice>(fd);
    off_t end = lseek(fd, 0, SEEK_END);  // a regular file or a block device
    if (end < 0 || static_cast<uint64_t>(end) < info->size) {
      *reason = path + " is smaller than the LUN (" + std::to_string(info->size) + " bytes)";
      return nullptr;
    }
    // The page cache is a volatile write cache: SYNCHRONIZE CACHE calls flush().
    info->capabilities = LUNKIT_CAP_THIN | LUNKIT_CAP_UNMAP_ZEROES | LUNKIT_CAP_WRITE_CACHE;
    return device;
  }

  // LUNKIT_THREAD_BLOCKING: every call runs on a worker thread of the library and may block.
  void read(lunkit_io* io, std::span<const iovec> iov, uint64_t offset, uint64_t) override {
    lunkit_io_complete(io, transfer(iov, offset, false));
  }
  // No LUNKIT_CAP_FUA: lunkit follows a write that must be durable with flush().
  void write(lunkit_io* io, std::span<const iovec> iov, uint64_t offset, uint64_t,
             uint32_t) override {
    lunkit_io_complete(io, transfer(iov, offset, true));
  }
  void flush(lunkit_io* io) override { lunkit_io_complete(io, fdatasync(fd_) == 0 ? 0 : -errno); }
  void unmap(lunkit_io* io, uint64_t offset, uint64_t length) override {
    int rc = fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                       static_cast<off_t>(length));
    lunkit_io_complete(io, rc == 0 ? 0 : -errno);
  }

 private:
  // All of `iov` at `offset`; 0 or a negative errno (a short transfer is retried).
  int transfer(std::span<const iovec> iov, uint64_t offset, bool writing) {
    for (const iovec& v : iov) {
      auto* p = static_cast<char*>(v.iov_base);
      size_t left = v.iov_len;
      while (left > 0) {
        ssize_t n = writing ? pwrite(fd_, p, left, static_cast<off_t>(offset))
                            : pread(fd_, p, left, static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -errno;
        if (n == 0) return -EIO;  // the file shrank under the LUN
        p += n;
        left -= static_cast<size_t>(n);
        offset += static_cast<uint64_t>(n);
      }
    }
    return 0;
  }
  int fd_;
};

int fail(const char* what, const std::string& why) {
  std::fprintf(stderr, "serve-file: %s: %s\n", what, why.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <subtype>\n", argv[0]);
    return 2;
  }
  static lunkit_handler handler = lunkit::make_handler<FileDevice>(
      argv[1], "<path of an existing file as large as the LUN>", LUNKIT_THREAD_BLOCKING);

  // The stop signals arrive on an fd in the same poll() as the library's, blocked before any
  // thread starts (the worker threads of BLOCKING handlers), so that no other thread takes them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  int signal_fd = signalfd(-1, &stop, SFD_CLOEXEC);
  if (signal_fd < 0) return fail("signalfd", std::strerror(errno));

  auto server = lunkit::TcmuServer::create();
  if (!server) return fail("create", server.error());
  if (auto r = server->add_handler(handler); !r) return fail("add_handler", r.error());
  // Every device's loop runs in this thread too: no thread per device.
  if (auto r = server->caller_loops(); !r) return fail("caller_loops", r.error());
  // Events first, so that a device added while the others are attached is not missed.
  if (auto r = server->listen(); !r) return fail("listen", r.error());
  auto attached = server->attach_all();
  if (!attached) return fail("attach_all", attached.error());
  std::fprintf(stderr, "serve-file: serving user:%s (%d devices now); SIGINT or SIGTERM stops\n",
               argv[1], *attached);

  // The poll set: the library's control fd, the signals, then one fd per attached device. It
  // changes only when the control loop handled device events.
  std::vector<uint32_t> minors;
  std::vector<pollfd> fds;
  auto rebuild = [&] {
    minors = server->devices();
    fds.assign({{server->fd(), POLLIN, 0}, {signal_fd, POLLIN, 0}});
    for (uint32_t minor : minors) {
      auto fd = server->device_fd(minor);
      fds.push_back({fd ? *fd : -1, POLLIN, 0});  // poll() skips a negative fd
    }
  };
  rebuild();
  for (;;) {
    if (poll(fds.data(), fds.size(), server->timeout_ms()) < 0 && errno != EINTR)
      return fail("poll", std::strerror(errno));
    if (fds[1].revents & POLLIN) break;
    // Commands, handler completions and answers to the kernel of the devices that have work.
    for (size_t i = 0; i < minors.size(); ++i) {
      if (!fds[i + 2].revents) continue;
      if (auto r = server->device_process(minors[i]); !r) return fail("device", r.error());
    }
    // Device events (answered to the kernel), repairs and retries that are due; never waits.
    auto events = server->process();
    if (!events) return fail("process", events.error());
    if (*events > 0) rebuild();
  }
  // The server's destructor detaches every device (they stay in the kernel, blocked until
  // served again) and tells the kernel to stop waiting for answers.
  ::close(signal_fd);
  return 0;
}

#include "daemon/single_instance.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace lunkit::daemon {
namespace {

// The pid holding a POSIX write lock on `path`, or 0.
pid_t lock_holder(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  pid_t pid = 0;
  if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK) pid = fl.l_pid;
  close(fd);
  return pid;
}

}  // namespace

Result<UniqueFd> take_instance_lock(const std::string& path,
                                          const std::string& tcmu_runner_lock) {
  if (pid_t pid = lock_holder(tcmu_runner_lock))
    return Error{"tcmu-runner (pid " + std::to_string(pid) + ") holds " + tcmu_runner_lock +
                 "; stop it first: only one TCMU daemon can serve the kernel"};
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd) return Error{path + ": " + std::strerror(errno)};
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  if (fcntl(fd.get(), F_SETLK, &fl) != 0) {
    pid_t pid = lock_holder(path);
    return Error{"another lunkitd" + (pid ? " (pid " + std::to_string(pid) + ")" : std::string()) +
                 " is running: it holds " + path};
  }
  std::string pid = std::to_string(getpid()) + "\n";
  if (ftruncate(fd.get(), 0) != 0 || write(fd.get(), pid.data(), pid.size()) < 0) {
    // The pid in the file is informational; the lock is what counts.
  }
  return fd;
}

}  // namespace lunkit::daemon

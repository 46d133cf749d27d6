/* serve-ram: serves every TCMU device of one subtype from memory, without lunkitd.
 *
 *   serve-ram <subtype>
 *
 * Create a LUN for it with targetcli (/backstores/user:<subtype> create disk0 64M ram) or through
 * configfs with dev_config "<subtype>/..." (the cfgstring is ignored). Each device gets zeroed
 * memory of its configured size, lost when the program ends. Stop it with SIGINT or SIGTERM.
 * Build: cc -o serve-ram serve-ram.c $(pkg-config --cflags --libs lunkit-tcmu) */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lunkit/tcmu.h>

struct ram {
  unsigned char* bytes;
  uint64_t size;
};

static void* ram_open(struct lunkit_device* dev, const char* cfgstring,
                      struct lunkit_device_info* info, char* reason, size_t reason_len) {
  struct ram* r = calloc(1, sizeof *r);
  (void)dev;
  (void)cfgstring;
  if (r) r->bytes = calloc(1, info->size ? info->size : 1);
  if (!r || !r->bytes) {
    snprintf(reason, reason_len, "cannot allocate %llu bytes", (unsigned long long)info->size);
    free(r);
    return NULL;
  }
  r->size = info->size;
  info->capabilities = LUNKIT_CAP_THIN | LUNKIT_CAP_UNMAP_ZEROES;
  return r;
}

static void ram_close(void* handle) {
  struct ram* r = handle;
  free(r->bytes);
  free(r);
}

/* The I/O callbacks run on the device's loop thread and complete at once. */
static void ram_read(void* handle, struct lunkit_io* io, const struct iovec* iov, int iovcnt,
                     uint64_t offset, uint64_t length) {
  struct ram* r = handle;
  int i;
  (void)length;
  for (i = 0; i < iovcnt; offset += iov[i].iov_len, i++)
    memcpy(iov[i].iov_base, r->bytes + offset, iov[i].iov_len);
  lunkit_io_complete(io, 0);
}

static void ram_write(void* handle, struct lunkit_io* io, const struct iovec* iov, int iovcnt,
                      uint64_t offset, uint64_t length, uint32_t flags) {
  struct ram* r = handle;
  int i;
  (void)length;
  (void)flags;
  for (i = 0; i < iovcnt; offset += iov[i].iov_len, i++)
    memcpy(r->bytes + offset, iov[i].iov_base, iov[i].iov_len);
  lunkit_io_complete(io, 0);
}

static void ram_unmap(void* handle, struct lunkit_io* io, uint64_t offset, uint64_t length) {
  struct ram* r = handle;
  memset(r->bytes + offset, 0, length);
  lunkit_io_complete(io, 0);
}

static struct lunkit_handler handler = {
    .abi_version = LUNKIT_HANDLER_ABI_VERSION,
    .struct_size = sizeof(struct lunkit_handler),
    .thread_model = LUNKIT_THREAD_NONBLOCKING,
    .open = ram_open,
    .close = ram_close,
    .read = ram_read,
    .write = ram_write,
    .unmap = ram_unmap,
};

int main(int argc, char** argv) {
  struct lunkit_tcmu* tcmu;
  sigset_t stop;
  int rc, sig;

  if (argc != 2) {
    fprintf(stderr, "usage: %s <subtype>\n", argv[0]);
    return 2;
  }
  handler.subtype = argv[1];
  /* Block the stop signals before any thread starts, so that only sigwait() sees them. */
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);

  rc = lunkit_tcmu_new(NULL, &tcmu);
  if (rc == 0) rc = lunkit_tcmu_add_handler(tcmu, &handler);
  /* Attaches the devices there are, then follows the kernel's netlink events. */
  if (rc == 0) rc = lunkit_tcmu_start(tcmu, LUNKIT_TCMU_REQUIRE_NETLINK);
  if (rc < 0) {
    fprintf(stderr, "serve-ram: %s (%s)\n", lunkit_tcmu_last_error(), strerror(-rc));
    lunkit_tcmu_free(tcmu);
    return 1;
  }
  fprintf(stderr, "serve-ram: serving user:%s devices; SIGINT or SIGTERM stops\n", argv[1]);
  sigwait(&stop, &sig);
  lunkit_tcmu_stop(tcmu, 5000);
  lunkit_tcmu_free(tcmu); /* the devices stay in the kernel, blocked until served again */
  return 0;
}

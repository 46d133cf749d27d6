/* Broken plugins for the loader tests; BAD_KIND selects which way each one is broken. */
#include <lunkit/handler.h>
#include <stddef.h>

#if BAD_KIND < 6 || BAD_KIND == 9 || BAD_KIND == 10

static void *p_open(struct lunkit_device *d, const char *c, struct lunkit_device_info *i, char *r,
                    size_t n) {
  (void)d, (void)c, (void)i, (void)r, (void)n;
  return (void *)1;
}
static void p_close(void *h) { (void)h; }
static void p_read(void *h, struct lunkit_io *io, const struct iovec *v, int n, uint64_t o,
                   uint64_t l) {
  (void)h, (void)v, (void)n, (void)o, (void)l;
  lunkit_io_complete(io, 0);
}
static void p_write(void *h, struct lunkit_io *io, const struct iovec *v, int n, uint64_t o,
                    uint64_t l, uint32_t f) {
  (void)f;
  p_read(h, io, v, n, o, l);
}

#endif

#if BAD_KIND == 1 /* an ABI version that never existed */
static struct lunkit_handler h = {.subtype = "zero", .open = p_open, .close = p_close,
                                  .read = p_read, .write = p_write};
const struct lunkit_handler *lunkit_handler_entry(void) {
  h.abi_version = 0;
  h.struct_size = sizeof h;
  return &h;
}
#elif BAD_KIND == 2 /* no entry point at all */
int not_a_handler = 1;
void *unused_callbacks[] = {(void *)p_open, (void *)p_close, (void *)p_read, (void *)p_write};
#elif BAD_KIND == 3 /* claims a subtype another plugin has */
static struct lunkit_handler h = {.subtype = "ram", .open = p_open, .close = p_close,
                                  .read = p_read, .write = p_write};
LUNKIT_REGISTER_HANDLER(h)
#elif BAD_KIND == 4 /* lacks a required callback */
static struct lunkit_handler h = {.subtype = "noread", .open = p_open, .close = p_close,
                                  .write = p_write};
LUNKIT_REGISTER_HANDLER(h)
#elif BAD_KIND == 5 /* a subtype that cannot be a D-Bus path element */
static struct lunkit_handler h = {.subtype = "bad-name", .open = p_open, .close = p_close,
                                  .read = p_read, .write = p_write};
LUNKIT_REGISTER_HANDLER(h)
#endif

#if BAD_KIND == 6 /* not broken: a blocking handler (memory behind a mutex), for the pool path */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
struct bmem {
  unsigned char *mem;
  int gated; /* cfgstring "gate": reads wait while the gate is closed */
};
pthread_t blocking_last_io_thread; /* the test checks I/O ran off the device loop */
/* The gate: a read of a "gate" device blocks inside the handler until the test opens it. */
static int gate_closed, gate_entered;
void blocking_gate_close(void) {
  pthread_mutex_lock(&mu);
  gate_closed = 1;
  gate_entered = 0;
  pthread_mutex_unlock(&mu);
}
void blocking_gate_open(void) {
  pthread_mutex_lock(&mu);
  gate_closed = 0;
  pthread_cond_broadcast(&gate_cv);
  pthread_mutex_unlock(&mu);
}
void blocking_gate_wait_entered(void) {
  pthread_mutex_lock(&mu);
  while (!gate_entered) pthread_cond_wait(&gate_cv, &mu);
  pthread_mutex_unlock(&mu);
}
static void *b_open(struct lunkit_device *d, const char *c, struct lunkit_device_info *i, char *r,
                    size_t n) {
  (void)d, (void)r, (void)n;
  struct bmem *b = calloc(1, sizeof *b);
  b->mem = calloc(1, i->size);
  b->gated = strcmp(c, "gate") == 0;
  return b;
}
static void b_close(void *h) {
  struct bmem *b = h;
  free(b->mem);
  free(b);
}
static void b_copy(struct bmem *b, struct lunkit_io *io, const struct iovec *v, int n, uint64_t o,
                   int to_mem) {
  pthread_mutex_lock(&mu);
  blocking_last_io_thread = pthread_self();
  if (b->gated && !to_mem) {
    gate_entered = 1;
    pthread_cond_broadcast(&gate_cv);
    while (gate_closed) pthread_cond_wait(&gate_cv, &mu);
  }
  for (int i = 0; i < n; i++) {
    if (to_mem)
      memcpy(b->mem + o, v[i].iov_base, v[i].iov_len);
    else
      memcpy(v[i].iov_base, b->mem + o, v[i].iov_len);
    o += v[i].iov_len;
  }
  pthread_mutex_unlock(&mu);
  lunkit_io_complete(io, 0);
}
static void b_read(void *h, struct lunkit_io *io, const struct iovec *v, int n, uint64_t o,
                   uint64_t l) {
  (void)l;
  b_copy(h, io, v, n, o, 0);
}
static void b_write(void *h, struct lunkit_io *io, const struct iovec *v, int n, uint64_t o,
                    uint64_t l, uint32_t f) {
  (void)l, (void)f;
  b_copy(h, io, v, n, o, 1);
}
static struct lunkit_handler h = {.subtype = "blockingmem", .thread_model = LUNKIT_THREAD_BLOCKING,
                                  .open = b_open, .close = b_close, .read = b_read,
                                  .write = b_write};
LUNKIT_REGISTER_HANDLER(h)
#endif

#if BAD_KIND == 7 /* not broken: answers vendor commands itself (handle_cmd), declines the rest */
#include <string.h>
static unsigned char disk[1 << 20];
static void *r_open(struct lunkit_device *d, const char *c, struct lunkit_device_info *i, char *r,
                    size_t n) {
  (void)d, (void)c, (void)r, (void)n;
  i->size = sizeof disk;
  return disk;
}
static void r_close(void *h) { (void)h; }
static void r_read(void *h, struct lunkit_io *io, const struct iovec *v, int n, uint64_t o,
                   uint64_t l) {
  (void)h, (void)l;
  for (int i = 0; i < n; o += v[i].iov_len, i++) memcpy(v[i].iov_base, disk + o, v[i].iov_len);
  lunkit_io_complete(io, 0);
}
static void r_write(void *h, struct lunkit_io *io, const struct iovec *v, int n, uint64_t o,
                    uint64_t l, uint32_t f) {
  (void)h, (void)l, (void)f;
  for (int i = 0; i < n; o += v[i].iov_len, i++) memcpy(disk + o, v[i].iov_base, v[i].iov_len);
  lunkit_io_complete(io, 0);
}
static int r_handle_cmd(void *h, struct lunkit_cmd *cmd) {
  (void)h;
  size_t len;
  const uint8_t *cdb = lunkit_cmd_cdb(cmd, &len);
  if (cdb[0] == 0xC0) { /* vendor read: 4 bytes of Data-In */
    int n;
    size_t room;
    const struct iovec *v = lunkit_cmd_data(cmd, &n, &room);
    if (n < 1 || room < 4) return LUNKIT_CMD_DECLINED;
    memcpy(v[0].iov_base, "RAW!", 4);
    lunkit_cmd_complete(cmd, 0, NULL, 0, 4);
    return LUNKIT_CMD_ACCEPTED;
  }
  if (cdb[0] == 0xC1) { /* vendor command answered with its own sense */
    static const uint8_t sense[18] = {0x70, 0, 0x05, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x55, 0x01};
    lunkit_cmd_complete(cmd, 2, sense, sizeof sense, 0);
    return LUNKIT_CMD_ACCEPTED;
  }
  return LUNKIT_CMD_DECLINED;
}
static struct lunkit_handler h = {.subtype = "rawdev", .open = r_open, .close = r_close,
                                  .read = r_read, .write = r_write, .handle_cmd = r_handle_cmd};
LUNKIT_REGISTER_HANDLER(h)
#endif

#if BAD_KIND == 8 /* not broken on purpose: a blocking memory disk whose far end fails with EIO */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* cfgstring: "eio_from=<byte offset>[;busy_first=<n>]": any I/O that reaches that offset fails
 * with -EIO; the first n I/Os fail with -EBUSY (a transient error, as rbd's while it reconnects). */
struct faulty {
  unsigned char *mem;
  uint64_t size, eio_from, busy_left;
};
static int f_parse(const char *c, uint64_t *eio_from, uint64_t *busy_first, char *r, size_t n) {
  char *end;
  if (strncmp(c, "eio_from=", 9) != 0) {
    snprintf(r, n, "faulty needs eio_from=<byte offset> (got '%s')", c);
    return -1;
  }
  *eio_from = strtoull(c + 9, &end, 10);
  *busy_first = 0;
  if (strncmp(end, ";busy_first=", 12) == 0) *busy_first = strtoull(end + 12, &end, 10);
  if (*end) {
    snprintf(r, n, "faulty takes eio_from=<number>[;busy_first=<number>] (got '%s')", c);
    return -1;
  }
  return 0;
}
static int f_check(const char *c, char *r, size_t n) {
  uint64_t v, b;
  return f_parse(c, &v, &b, r, n);
}
static void *f_open(struct lunkit_device *d, const char *c, struct lunkit_device_info *i, char *r,
                    size_t n) {
  (void)d;
  struct faulty *f = calloc(1, sizeof *f);
  if (!f || f_parse(c, &f->eio_from, &f->busy_left, r, n) != 0 ||
      !(f->mem = calloc(1, i->size))) {
    if (f && !r[0]) snprintf(r, n, "out of memory");
    free(f);
    return NULL;
  }
  f->size = i->size;
  return f;
}
static void f_close(void *h) {
  struct faulty *f = h;
  free(f->mem);
  free(f);
}
static void f_io(void *h, struct lunkit_io *io, const struct iovec *v, int n, uint64_t o,
                 uint64_t l, int to_mem) {
  struct faulty *f = h;
  uint64_t busy = __atomic_load_n(&f->busy_left, __ATOMIC_RELAXED);
  while (busy && !__atomic_compare_exchange_n(&f->busy_left, &busy, busy - 1, 0, __ATOMIC_RELAXED,
                                              __ATOMIC_RELAXED)) {
  }
  if (busy) {
    lunkit_io_complete(io, -EBUSY);
    return;
  }
  if (o + l > f->eio_from) {
    lunkit_io_complete(io, -EIO);
    return;
  }
  for (int i = 0; i < n; o += v[i].iov_len, i++) {
    if (to_mem)
      memcpy(f->mem + o, v[i].iov_base, v[i].iov_len);
    else
      memcpy(v[i].iov_base, f->mem + o, v[i].iov_len);
  }
  lunkit_io_complete(io, 0);
}
static void f_read(void *h, struct lunkit_io *io, const struct iovec *v, int n, uint64_t o,
                   uint64_t l) {
  f_io(h, io, v, n, o, l, 0);
}
static void f_write(void *h, struct lunkit_io *io, const struct iovec *v, int n, uint64_t o,
                    uint64_t l, uint32_t fl) {
  (void)fl;
  f_io(h, io, v, n, o, l, 1);
}
/* Blocking: each call takes the pool's lock-free hand-back path to the loop. Not safe for
 * overlapping writes, which the tests do not issue. */
static struct lunkit_handler h = {.subtype = "faulty", .thread_model = LUNKIT_THREAD_BLOCKING,
                                  .check_config = f_check, .open = f_open, .close = f_close,
                                  .read = f_read, .write = f_write};
LUNKIT_REGISTER_HANDLER(h)
#endif

#if BAD_KIND == 9 /* not broken: records where reconfig() ran and what open() was given */
#include <pthread.h>
pthread_t loopcheck_reconfig_thread;
uint32_t loopcheck_cmd_time_out;
/* ABI 2 inputs: struct_size, host_abi_version, frontend, queue_depth, nr_queues. */
uint32_t loopcheck_inputs[5];
struct lunkit_device *loopcheck_device; /* the last device opened, for lunkit_device_post() */
static void *l_open(struct lunkit_device *d, const char *c, struct lunkit_device_info *i, char *r,
                    size_t n) {
  loopcheck_cmd_time_out = i->cmd_time_out;
  loopcheck_device = d;
  if (LUNKIT_INFO_HAS(i, nr_queues)) {
    loopcheck_inputs[0] = i->struct_size;
    loopcheck_inputs[1] = i->host_abi_version;
    loopcheck_inputs[2] = i->frontend;
    loopcheck_inputs[3] = i->queue_depth;
    loopcheck_inputs[4] = i->nr_queues;
  }
  return p_open(d, c, i, r, n);
}
static int l_reconfig(void *h, uint64_t size, const char *cfg, int wc) {
  (void)h, (void)size, (void)cfg, (void)wc;
  loopcheck_reconfig_thread = pthread_self();
  return 0;
}
static struct lunkit_handler h = {.subtype = "loopcheck", .open = l_open, .close = p_close,
                                  .reconfig = l_reconfig, .read = p_read, .write = p_write};
LUNKIT_REGISTER_HANDLER(h)
#endif

#if BAD_KIND == 10 /* not broken: a plugin of a future ABI version, with fields lunkit lacks */
struct future_handler {
  struct lunkit_handler h;
  uint64_t added_in_version_99; /* past the host's struct: never read */
  void (*another_callback)(void);
};
static struct future_handler fh = {
    .h = {.subtype = "future", .open = p_open, .close = p_close, .read = p_read, .write = p_write},
    .added_in_version_99 = ~0ull};
const struct lunkit_handler *lunkit_handler_entry(void) {
  fh.h.abi_version = 99;
  fh.h.struct_size = sizeof fh;
  return &fh.h;
}
#endif

#if BAD_KIND == 11 /* not broken: LUNKIT_THREAD_SERIALIZED, and it checks that it is */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
/* Calls that found another request of the device still with the handler, and all calls. */
unsigned serial_overlaps, serial_calls, serial_max_inflight;
static unsigned inflight;
static unsigned char* serial_mem;
static void *s_open(struct lunkit_device *d, const char *c, struct lunkit_device_info *i, char *r,
                    size_t n) {
  (void)d, (void)c, (void)r, (void)n;
  serial_mem = calloc(1, i->size);
  return serial_mem;
}
static void s_close(void* h) {
  free(h);
}
/* Holds the request for a while (yielding, so that other workers run) with no lock: if lunkit
 * handed this device two requests at once, both would be in here together. */
static void s_io(struct lunkit_io* io, const struct iovec* v, int n, uint64_t o, int to_mem) {
  unsigned now = __atomic_add_fetch(&inflight, 1, __ATOMIC_SEQ_CST);
  __atomic_add_fetch(&serial_calls, 1, __ATOMIC_SEQ_CST);
  if (now > 1) __atomic_add_fetch(&serial_overlaps, 1, __ATOMIC_SEQ_CST);
  unsigned max = __atomic_load_n(&serial_max_inflight, __ATOMIC_SEQ_CST);
  while (now > max && !__atomic_compare_exchange_n(&serial_max_inflight, &max, now, 0,
                                                   __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
  }
  for (int i = 0; i < 200; i++) sched_yield();
  for (int i = 0; i < n; o += v[i].iov_len, i++) {
    if (to_mem)
      memcpy(serial_mem + o, v[i].iov_base, v[i].iov_len);
    else
      memcpy(v[i].iov_base, serial_mem + o, v[i].iov_len);
  }
  __atomic_sub_fetch(&inflight, 1, __ATOMIC_SEQ_CST);
  lunkit_io_complete(io, 0);
}
static void s_read(void* h, struct lunkit_io* io, const struct iovec* v, int n, uint64_t o,
                   uint64_t l) {
  (void)h, (void)l;
  s_io(io, v, n, o, 0);
}
static void s_write(void* h, struct lunkit_io* io, const struct iovec* v, int n, uint64_t o,
                    uint64_t l, uint32_t f) {
  (void)h, (void)l, (void)f;
  s_io(io, v, n, o, 1);
}
static struct lunkit_handler h = {.subtype = "serial",
                                  .thread_model = LUNKIT_THREAD_SERIALIZED,
                                  .open = s_open,
                                  .close = s_close,
                                  .read = s_read,
                                  .write = s_write};
LUNKIT_REGISTER_HANDLER(h)
#endif

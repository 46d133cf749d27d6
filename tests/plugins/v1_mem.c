/* A handler built from the version-1 header exactly as it was released (tests/plugins/v1/), so
 * that a newer lunkit is shown to load and serve it unchanged: a thin memory disk with unmap and
 * block_status, and no callback or field that version 1 did not have. */
#include <lunkit/handler.h>
#include <stdlib.h>
#include <string.h>

#if LUNKIT_HANDLER_ABI_VERSION != 1
#error "this plugin must be built from the version-1 header in tests/plugins/v1"
#endif

struct v1mem {
  unsigned char* mem;
  unsigned char* unmapped; /* one byte per 512-byte block: 1 when deallocated */
  uint64_t size;
};
/* What open() was given, for the test. */
uint64_t v1_open_size;
uint32_t v1_open_block_size;

static void* m_open(struct lunkit_device* d, const char* c, struct lunkit_device_info* i, char* r,
                    size_t n) {
  (void)d, (void)c, (void)r, (void)n;
  struct v1mem* m = calloc(1, sizeof *m);
  v1_open_size = i->size;
  v1_open_block_size = i->block_size;
  m->size = i->size;
  m->mem = calloc(1, i->size);
  m->unmapped = calloc(1, i->size / 512);
  memset(m->unmapped, 1, i->size / 512);
  i->capabilities = LUNKIT_CAP_THIN | LUNKIT_CAP_UNMAP_ZEROES;
  strcpy(i->product, "V1 MEMORY");
  return m;
}
static void m_close(void* h) {
  struct v1mem* m = h;
  free(m->mem);
  free(m->unmapped);
  free(m);
}
static void m_read(void* h, struct lunkit_io* io, const struct iovec* v, int n, uint64_t o,
                   uint64_t l) {
  struct v1mem* m = h;
  (void)l;
  for (int i = 0; i < n; o += v[i].iov_len, i++) memcpy(v[i].iov_base, m->mem + o, v[i].iov_len);
  lunkit_io_complete(io, 0);
}
static void m_write(void* h, struct lunkit_io* io, const struct iovec* v, int n, uint64_t o,
                    uint64_t l, uint32_t f) {
  struct v1mem* m = h;
  (void)f;
  memset(m->unmapped + o / 512, 0, l / 512);
  for (int i = 0; i < n; o += v[i].iov_len, i++) memcpy(m->mem + o, v[i].iov_base, v[i].iov_len);
  lunkit_io_complete(io, 0);
}
static void m_unmap(void* h, struct lunkit_io* io, uint64_t o, uint64_t l) {
  struct v1mem* m = h;
  memset(m->mem + o, 0, l);
  memset(m->unmapped + o / 512, 1, l / 512);
  lunkit_io_complete(io, 0);
}
static void m_block_status(void* h, struct lunkit_io* io, uint64_t o, uint64_t l) {
  struct v1mem* m = h;
  uint64_t end = o + l;
  while (o < end) {
    uint64_t run = o;
    int dealloc = m->unmapped[o / 512];
    while (run < end && m->unmapped[run / 512] == dealloc) run += 512;
    if (lunkit_io_add_extent(io, o, run - o, dealloc) != 0) break;
    o = run;
  }
  lunkit_io_complete(io, 0);
}
static struct lunkit_handler h = {.subtype = "v1mem",
                                  .cfg_desc = "no configuration",
                                  .open = m_open,
                                  .close = m_close,
                                  .read = m_read,
                                  .write = m_write,
                                  .unmap = m_unmap,
                                  .block_status = m_block_status};
LUNKIT_REGISTER_HANDLER(h)

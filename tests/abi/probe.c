/* A tiny library for tests/abi/selftest.sh: built as version 1 and then with one deliberate
 * change (PROBE_CHANGE), to show that the ABI check catches what it is meant to catch. */
#include <stdint.h>

#define PROBE_API __attribute__((visibility("default")))

struct lunkit_probe_info {
  uint64_t size;
#if PROBE_CHANGE == 1 /* incompatible: a field inserted in the middle moves the next one */
  uint32_t inserted;
#endif
  uint32_t block_size;
};

PROBE_API uint32_t lunkit_probe_block_size(const struct lunkit_probe_info* info) {
  return info->block_size;
}

#if PROBE_CHANGE == 2 /* compatible: a function added */
PROBE_API uint64_t lunkit_probe_size(const struct lunkit_probe_info* info) {
  return info->size;
}
#endif

/* Not exported: a change here is nobody's business. */
uint32_t lunkit_probe_private(void) {
  return PROBE_CHANGE;
}

// The C++ counterpart of probe.c for tests/abi/selftest.sh: a class shaped like lunkit's
// BlockDevice (pure virtuals defined by users, the destructor the library's key function) and an
// exported function that takes one, as LogicalUnit's constructor does. PROBE_CHANGE 3 inserts a
// virtual function, which moves every later slot of the vtable a user's subclass fills in.
#include <cstdint>

#define PROBE_API __attribute__((visibility("default")))

namespace lunkit_probe {

class PROBE_API Device {
 public:
  virtual ~Device();
#if PROBE_CHANGE == 3
  virtual void trim(uint64_t offset) = 0;
#endif
  virtual uint32_t block_size() const = 0;
  virtual void read(uint64_t offset, void* to) = 0;
};

Device::~Device() = default;

PROBE_API uint32_t block_size_of(const Device& device) {
  return device.block_size();
}

}  // namespace lunkit_probe

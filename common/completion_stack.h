// A lock-free multi-producer, single-consumer list of completed items, linked through a member of
// the items themselves: any thread pushes, the event loop that owns the items takes them all at
// once. Nothing is allocated.
#pragma once

#include <atomic>

namespace lunkit {

template <typename T, T* T::*Next>
class CompletionStack {
 public:
  // Adds `item`; returns true when the list was empty (the consumer needs a wakeup then: it takes
  // everything at once, so later pushes before it runs are seen by the same wakeup).
  bool push(T* item) {
    T* head = head_.load(std::memory_order_relaxed);
    do {
      item->*Next = head;
    } while (!head_.compare_exchange_weak(head, item, std::memory_order_release,
                                          std::memory_order_relaxed));
    return head == nullptr;
  }

  // Takes every item pushed so far, oldest first (the consumer's thread only).
  T* take_all() {
    T* list = head_.exchange(nullptr, std::memory_order_acquire);
    T* ordered = nullptr;
    while (list) {  // the stack pops newest first; reverse it into arrival order
      T* next = list->*Next;
      list->*Next = ordered;
      ordered = list;
      list = next;
    }
    return ordered;
  }

 private:
  std::atomic<T*> head_{nullptr};
};

}  // namespace lunkit

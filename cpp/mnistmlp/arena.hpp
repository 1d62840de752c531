// One aligned allocation carved into named views (llm.c's malloc_and_point_parameters):
// parameters, gradients and optimizer state of a model share one arena, so an optimizer
// update is a single flat loop and a model file is that buffer plus a header.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

#include "mnistmlp/common.hpp"

namespace mnistmlp {

inline constexpr std::size_t kAlignment = 64;  // one cache line; a full AVX-512 register

// Rounds a count of T up so the next view starts on a cache-line boundary.
template <typename T>
constexpr index_t padded(index_t count) {
  constexpr index_t per_line = static_cast<index_t>(kAlignment / sizeof(T));
  return (count + per_line - 1) / per_line * per_line;
}

// A cache-line-aligned array that never reallocates behind your back; zero-initialised unless
// asked not to be (scratch buffers that are always written before they are read).
template <typename T>
class AlignedArray {
 public:
  AlignedArray() = default;
  explicit AlignedArray(index_t size) { reset(size); }

  void reset(index_t size, bool zeroed = true) {
    data_.reset();
    size_ = 0;
    if (size <= 0) return;
    const std::size_t bytes = (static_cast<std::size_t>(size) * sizeof(T) + kAlignment - 1) /
                              kAlignment * kAlignment;
    // C++17's aligned operator new, not std::aligned_alloc: Windows' C runtimes have no
    // aligned_alloc. Throws std::bad_alloc.
    void* raw = ::operator new(bytes, std::align_val_t{kAlignment});
    if (zeroed) std::memset(raw, 0, bytes);
    data_.reset(static_cast<T*>(raw));
    size_ = size;
  }

  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  index_t size() const { return size_; }
  T& operator[](index_t i) { return data_.get()[i]; }
  const T& operator[](index_t i) const { return data_.get()[i]; }

 private:
  struct AlignedDeleter {
    void operator()(T* p) const { ::operator delete(p, std::align_val_t{kAlignment}); }
  };
  std::unique_ptr<T, AlignedDeleter> data_;
  index_t size_ = 0;
};

// Where each layer's weight (in, out) and bias (out) sit inside one section of the arena.
struct ParameterLayout {
  std::vector<index_t> weight_offset, bias_offset;
  index_t section_size = 0;  // padded; params, grads and each state slot use this many

  template <typename T>
  static ParameterLayout plan(const std::vector<index_t>& sizes) {
    ParameterLayout layout;
    index_t at = 0;
    for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
      layout.weight_offset.push_back(at);
      at += padded<T>(sizes[l] * sizes[l + 1]);
      layout.bias_offset.push_back(at);
      at += padded<T>(sizes[l + 1]);
    }
    layout.section_size = at;
    return layout;
  }
};

// Parameters, gradients and optimizer state: [params | grads | state 0 | state 1].
template <typename T>
struct ParameterArena {
  ParameterLayout layout;
  int state_slots = 0;
  AlignedArray<T> memory;

  void allocate(const std::vector<index_t>& sizes, int slots) {
    layout = ParameterLayout::plan<T>(sizes);
    state_slots = slots;
    memory.reset(layout.section_size * (2 + slots));
  }
  index_t size() const { return layout.section_size; }
  T* params() { return memory.data(); }
  const T* params() const { return memory.data(); }
  T* grads() { return memory.data() + layout.section_size; }
  const T* grads() const { return memory.data() + layout.section_size; }
  T* state(int slot) { return memory.data() + layout.section_size * (2 + slot); }
  const T* state(int slot) const { return memory.data() + layout.section_size * (2 + slot); }

  T* weight(T* section, index_t layer) const { return section + layout.weight_offset[layer]; }
  T* bias(T* section, index_t layer) const { return section + layout.bias_offset[layer]; }
  const T* weight(const T* section, index_t layer) const {
    return section + layout.weight_offset[layer];
  }
  const T* bias(const T* section, index_t layer) const {
    return section + layout.bias_offset[layer];
  }
};

}  // namespace mnistmlp

// Cached objects held as deflated JSON text: a fleet's objects differ in a
// few names and values, so each is deflated against the text of one of its
// siblings and takes a tenth of its text, a hundredth of its parsed tree.
#pragma once

#include <cstdint>
#include <memory>
#include <memory_resource>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "lib/base/json.h"

namespace vireo::kube {

// One object's packed bytes and the length of its text. The bytes come
// from the memory resource Pack was given.
class PackedJson {
 public:
  PackedJson() = default;
  ~PackedJson() { Release(); }
  PackedJson(PackedJson&& other) noexcept { *this = std::move(other); }
  PackedJson& operator=(PackedJson&& other) noexcept {
    if (this != &other) {
      Release();
      bytes_ = std::exchange(other.bytes_, nullptr);
      packed_size_ = std::exchange(other.packed_size_, 0);
      text_size_ = std::exchange(other.text_size_, 0);
      resource_ = std::exchange(other.resource_, nullptr);
    }
    return *this;
  }
  PackedJson(const PackedJson&) = delete;
  PackedJson& operator=(const PackedJson&) = delete;

  size_t packed_size() const { return packed_size_; }
  size_t text_size() const { return text_size_; }

 private:
  friend class JsonPacker;
  void Release() {
    if (bytes_ != nullptr) resource_->deallocate(bytes_, packed_size_, 1);
    bytes_ = nullptr;
  }
  char* bytes_ = nullptr;
  uint32_t packed_size_ = 0;
  uint32_t text_size_ = 0;
  std::pmr::memory_resource* resource_ = nullptr;
};

// Packs and unpacks against one dictionary: the text of the first object
// packed. zlib's raw deflate, because it is the one compressor every
// program here already links (through cpprestsdk and Boost.Iostreams) and
// its preset dictionary is what makes a 2 KiB object small.
// Thread-safe: Pack serializes its callers; Unpack runs concurrently.
class JsonPacker {
 public:
  JsonPacker();
  ~JsonPacker();
  JsonPacker(const JsonPacker&) = delete;
  JsonPacker& operator=(const JsonPacker&) = delete;

  // The bytes are allocated from `resource`, which must outlive them.
  PackedJson Pack(const base::Json& object,
                  std::pmr::memory_resource* resource = std::pmr::get_default_resource());
  // The object Pack was given. Throws std::logic_error on bytes this packer
  // did not make (a programmer error).
  base::Json Unpack(const PackedJson& packed) const;

 private:
  struct Deflater;
  std::mutex pack_mu_;
  std::unique_ptr<Deflater> deflater_;  // GUARDED_BY(pack_mu_)
  // Set by the first Pack, before any PackedJson exists to unpack; constant
  // from then on.
  std::shared_ptr<const std::string> dictionary_;
};

}  // namespace vireo::kube

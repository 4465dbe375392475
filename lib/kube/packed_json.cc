// Deflate and inflate against a dictionary; see packed_json.h.
#include "lib/kube/packed_json.h"

#include <zlib.h>

#include <stdexcept>
#include <vector>

namespace vireo::kube {
namespace {

// Raw deflate (no zlib header: the dictionary is known to both sides) with
// a 16 KiB window. An object's bytes match the dictionary's at about the
// dictionary's length back, and a cached object (a VM, a VMI with status, a
// trimmed pod) is a few KiB: zlib's 32 KiB window packed bench/informer's
// VMs no better (67-69 B each; 68 B with this one) and costs twice the
// memory, in every deflate stream (one per store) and in every thread's
// inflate stream.
constexpr int kWindowLog = 14;
constexpr int kWindowBits = -kWindowLog;
constexpr size_t kMaxDictionary = size_t{1} << kWindowLog;
// deflate's hash table: 1 << (kMemLevel + 7) chains, a small object's worth
// (zlib's default of 8 takes 112 KiB more per stream).
constexpr int kMemLevel = 5;

std::string_view DictionaryTail(const std::string& dictionary) {
  std::string_view view(dictionary);
  return view.size() > kMaxDictionary ? view.substr(view.size() - kMaxDictionary) : view;
}

// One inflate stream per thread, reset for each object: setting one up
// costs more than inflating a small object.
class Inflater {
 public:
  Inflater() {
    if (inflateInit2(&stream_, kWindowBits) != Z_OK) throw std::bad_alloc();
  }
  ~Inflater() { inflateEnd(&stream_); }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  void Inflate(std::string_view dictionary, const char* in, size_t in_size, char* out,
               size_t out_size) {
    if (inflateReset(&stream_) != Z_OK ||
        inflateSetDictionary(&stream_, reinterpret_cast<const Bytef*>(dictionary.data()),
                             static_cast<uInt>(dictionary.size())) != Z_OK) {
      throw std::logic_error("packed object: cannot set the dictionary");
    }
    stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in));
    stream_.avail_in = static_cast<uInt>(in_size);
    stream_.next_out = reinterpret_cast<Bytef*>(out);
    stream_.avail_out = static_cast<uInt>(out_size);
    if (inflate(&stream_, Z_FINISH) != Z_STREAM_END || stream_.avail_out != 0) {
      throw std::logic_error("packed object: corrupt bytes");
    }
  }

 private:
  z_stream stream_{};
};

}  // namespace

struct JsonPacker::Deflater {
  Deflater() {
    if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, kWindowBits, kMemLevel,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
      throw std::bad_alloc();
    }
  }
  ~Deflater() { deflateEnd(&stream); }
  z_stream stream{};
  std::vector<char> buffer;
};

JsonPacker::JsonPacker() = default;
JsonPacker::~JsonPacker() = default;

PackedJson JsonPacker::Pack(const base::Json& object, std::pmr::memory_resource* resource) {
  const std::string text = object.dump(-1, ' ', false, base::Json::error_handler_t::replace);
  if (text.size() > UINT32_MAX / 2) throw std::length_error("object too large to pack");
  std::lock_guard<std::mutex> l(pack_mu_);
  if (dictionary_ == nullptr) dictionary_ = std::make_shared<const std::string>(text);
  // Made by the first object: a store that never holds one (a kind the
  // cluster has none of) keeps no deflate stream.
  if (deflater_ == nullptr) deflater_ = std::make_unique<Deflater>();
  const std::string_view dictionary = DictionaryTail(*dictionary_);
  z_stream& z = deflater_->stream;
  if (deflateReset(&z) != Z_OK ||
      deflateSetDictionary(&z, reinterpret_cast<const Bytef*>(dictionary.data()),
                           static_cast<uInt>(dictionary.size())) != Z_OK) {
    throw std::logic_error("deflate: cannot set the dictionary");
  }
  std::vector<char>& buffer = deflater_->buffer;
  buffer.resize(deflateBound(&z, static_cast<uLong>(text.size())));
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(buffer.data());
  z.avail_out = static_cast<uInt>(buffer.size());
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) throw std::logic_error("deflate did not finish");
  PackedJson packed;
  packed.packed_size_ = static_cast<uint32_t>(buffer.size() - z.avail_out);
  packed.text_size_ = static_cast<uint32_t>(text.size());
  packed.resource_ = resource;
  packed.bytes_ = static_cast<char*>(resource->allocate(packed.packed_size_, 1));
  std::copy_n(buffer.data(), packed.packed_size_, packed.bytes_);
  // A large object should not keep a large buffer alive.
  if (buffer.capacity() > 64 * 1024) std::vector<char>().swap(buffer);
  return packed;
}

base::Json JsonPacker::Unpack(const PackedJson& packed) const {
  if (packed.bytes_ == nullptr || dictionary_ == nullptr) {
    throw std::logic_error("packed object: empty, or not packed by this packer");
  }
  thread_local Inflater inflater;
  std::string text(packed.text_size_, '\0');
  inflater.Inflate(DictionaryTail(*dictionary_), packed.bytes_, packed.packed_size_, text.data(),
                   text.size());
  return base::Json::parse(text);
}

}  // namespace vireo::kube

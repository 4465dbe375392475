// T0: objects packed against the first one come back whole, whatever their
// size, shape or reader thread.
#include <gtest/gtest.h>
// (a line here keeps clang-format from sorting the includes below above gtest)
#include <string>
#include <thread>
#include <vector>

#include "lib/kube/packed_json.h"

namespace vireo::kube {
namespace {

using base::Json;

Json Object(const std::string& name, size_t padding) {
  Json o = Json::object();
  o["metadata"]["name"] = Json(name);
  o["data"] = Json(std::string(padding, 'x') + name);
  return o;
}

TEST(JsonPackerTest, ObjectsLargerThanTheWindowComeBackWhole) {
  JsonPacker packer;
  // A 100 KiB dictionary: deflate uses its last 32 KiB, on both sides.
  const Json big = Object("big", 100 * 1024);
  PackedJson packed_big = packer.Pack(big);
  Json bigger = Object("bigger", 300 * 1024);
  bigger["list"] = Json::array({1, 2.5, "three", nullptr, true, Json::object()});
  PackedJson packed_bigger = packer.Pack(bigger);
  EXPECT_EQ(packer.Unpack(packed_big), big);
  EXPECT_EQ(packer.Unpack(packed_bigger), bigger);
  EXPECT_EQ(packed_bigger.text_size(), bigger.dump().size());
  EXPECT_LT(packed_bigger.packed_size(), packed_bigger.text_size() / 10);
}

TEST(JsonPackerTest, ObjectsUnlikeTheDictionaryStillRoundTrip) {
  JsonPacker packer;
  PackedJson first = packer.Pack(Json::object({{"kind", "Node"}}));
  const std::vector<Json> others = {
      Json::object(),  Json::array(),
      Json(nullptr),   Json("\xe2\x98\x83 snow"),
      Json(-1.5e-300), Json::object({{"a", Json::array({Json::object()})}})};
  std::vector<PackedJson> packed;
  for (const Json& o : others) packed.push_back(packer.Pack(o));
  for (size_t i = 0; i < others.size(); ++i) EXPECT_EQ(packer.Unpack(packed[i]), others[i]);
  EXPECT_EQ(packer.Unpack(first), Json::object({{"kind", "Node"}}));
}

TEST(JsonPackerTest, ReadersOnManyThreadsUnpackAtOnce) {
  JsonPacker packer;
  std::vector<PackedJson> packed;
  for (int i = 0; i < 200; ++i) packed.push_back(packer.Pack(Object("o" + std::to_string(i), i)));
  std::vector<std::thread> readers;
  std::vector<int> wrong(4, 0);
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&, r] {
      for (int round = 0; round < 5; ++round) {
        for (int i = 0; i < 200; ++i) {
          if (packer.Unpack(packed[i]) != Object("o" + std::to_string(i), i)) ++wrong[r];
        }
      }
    });
  }
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(wrong, std::vector<int>(4, 0));
}

TEST(JsonPackerTest, BytesItDidNotMakeAreRefused) {
  JsonPacker packer;
  EXPECT_THROW(packer.Unpack(PackedJson()), std::logic_error);
}

}  // namespace
}  // namespace vireo::kube

// The JSON helpers: parsing with useful errors, dotted-path reads that never
// throw, and the metadata shortcuts the rest of the tree leans on.
#include "lib/base/json.h"

#include <gtest/gtest.h>

#include <string>

namespace vireo::base {
namespace {

Json MustParse(std::string_view text) {
  Result<Json> parsed = ParseJson(text);
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
  return parsed.ok() ? *parsed : Json();
}

TEST(ParseJsonTest, ParsesObjects) {
  Json value = MustParse(R"({"a": {"b": [1, 2]}, "s": "x"})");
  ASSERT_TRUE(value.is_object());
  EXPECT_EQ(value.at("a").at("b").size(), 2u);
}

TEST(ParseJsonTest, SyntaxErrorNamesWhatAndQuotesTheStart) {
  Result<Json> parsed = ParseJson("{\"kind\": \"Status\", oops}", "watch event");
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), Code::kInternal);
  EXPECT_NE(parsed.status().message().find("watch event"), std::string::npos)
      << parsed.status().message();
  EXPECT_NE(parsed.status().message().find("{\"kind\": \"Status\""), std::string::npos)
      << parsed.status().message();
}

TEST(ParseJsonTest, QuotesOnlyABoundedPrefixOfHugeGarbage) {
  std::string garbage(1 << 20, 'x');
  Result<Json> parsed = ParseJson(garbage);
  ASSERT_FALSE(parsed.ok());
  EXPECT_LT(parsed.status().message().size(), 1000u);
}

TEST(ParseJsonTest, RejectsTrailingGarbageAndEmptyText) {
  EXPECT_FALSE(ParseJson("{} {}").ok());
  EXPECT_FALSE(ParseJson("").ok());
  EXPECT_FALSE(ParseJson("{\"a\": 1").ok());
}

// A number beyond a double's range has no value a reader agrees on (some
// read infinity, which no JSON writer can write back): refused by name.
TEST(ParseJsonTest, DropLeavesOutTheMembersItNamesWhateverTheyHold) {
  const DropKey drop_secret = [](int depth, const std::vector<std::string>& keys) {
    return depth == 2 && keys[2] == "secret" && keys[1] == "a";
  };
  Result<Json> parsed = ParseJson(
      R"({"a": {"x": 1, "secret": [{"k": 1, "m": {"n": [2]}}, {"k": 2}], "y": {"secret": 3}},
          "b": {"secret": 4}})",
      "doc", drop_secret);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed,
            ParseJson(R"({"a": {"x": 1, "y": {"secret": 3}}, "b": {"secret": 4}})").value());
  // Last member, scalar value.
  parsed = ParseJson(R"({"a": {"x": 1, "secret": "s"}})", "doc", drop_secret);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, ParseJson(R"({"a": {"x": 1}})").value());
  // A key twice is still found, before and after a dropped member.
  EXPECT_FALSE(
      ParseJson(R"({"a": {"x": 1, "secret": {"q": 1}, "x": 2}})", "doc", drop_secret).ok());
  EXPECT_FALSE(
      ParseJson(R"({"a": {"secret": {"q": 1, "q": 2}}, "a": 1})", "doc", drop_secret).ok());
}

TEST(ParseJsonTest, RefusesNumbersBeyondADouble) {
  for (const char* text : {"922337203e6854775807", "{\"a\": [1, -1e999]}", "1e309"}) {
    Result<Json> parsed = ParseJson(text, "watch event");
    ASSERT_FALSE(parsed.ok()) << text << " parsed as " << DumpJson(*parsed);
    EXPECT_NE(parsed.status().message().find("watch event"), std::string::npos);
    EXPECT_NE(parsed.status().message().find("beyond the range of a double"), std::string::npos)
        << parsed.status().message();
  }
  Result<Json> large = ParseJson("[1.7976931348623157e308, -2.5e-320, 18446744073709551615]");
  ASSERT_TRUE(large.ok()) << large.status().message();
  EXPECT_TRUE(ParseJson(DumpJson(*large)).ok()) << DumpJson(*large);
}

// A key twice in one object: the apiserver reads the last, another reader
// may read the first; refused rather than guessed.
TEST(ParseJsonTest, RefusesAKeyTwiceInOneObject) {
  Result<Json> parsed = ParseJson(R"({"metadata": {"name": "a", "x": 1, "name": "b"}})", "VMI");
  ASSERT_FALSE(parsed.ok()) << DumpJson(*parsed);
  EXPECT_NE(parsed.status().message().find("the key \"name\" twice in one object"),
            std::string::npos)
      << parsed.status().message();
  EXPECT_TRUE(ParseJson(R"([{"name": "a"}, {"name": "b"}])").ok());
}

TEST(ParseJsonTest, RefusesTextThatIsNotUtf8AndNestingBeyondTheLimit) {
  Result<Json> bad = ParseJson("{\"a\": \"\xff\"}", "VMI");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("cannot parse VMI as JSON"), std::string::npos);
  EXPECT_TRUE(ParseJson(std::string(256, '[') + std::string(256, ']')).ok());
  Result<Json> deep = ParseJson(std::string(300, '[') + std::string(300, ']'));
  ASSERT_FALSE(deep.ok());
  EXPECT_NE(deep.status().message().find("nesting deeper than 256"), std::string::npos)
      << deep.status().message();
}

// Bytes that are not UTF-8 can reach a string we build (a guest's console, a
// libvirt message); writing them must not throw or lose the document.
TEST(DumpJsonTest, WritesBytesThatAreNotUtf8AsReplacementCharacters) {
  Json value = Json::object();
  value["msg"] = std::string("ok \xff\xfe end");
  EXPECT_EQ(DumpJson(value), "{\"msg\":\"ok \xef\xbf\xbd\xef\xbf\xbd end\"}");
}

TEST(ParseJsonTest, KeepsUnicodeAsUtf8) {
  Json value = MustParse(R"({"a": "caf\u00e9 \ud83d\ude80", "b": "日本"})");
  EXPECT_EQ(GetString(value, "a"), "caf\xc3\xa9 \xf0\x9f\x9a\x80");
  EXPECT_EQ(GetString(value, "b"), "日本");
}

TEST(DumpJsonTest, RoundTrips) {
  Json value = MustParse(R"({"metadata": {"name": "a", "labels": {"x": "1"}}, "n": 3})");
  Json again = MustParse(DumpJson(value));
  EXPECT_EQ(again, value);
  EXPECT_EQ(DumpJson(Json()), "null");
}

TEST(FindTest, FollowsDottedPaths) {
  Json value = MustParse(R"({"metadata": {"name": "a", "labels": {"tier": "gold"}}})");
  const Json* found = Find(value, "metadata.labels.tier");
  ASSERT_NE(found, nullptr);
  EXPECT_EQ(found->get<std::string>(), "gold");
  // The empty path is the value itself.
  EXPECT_EQ(Find(value, ""), &value);
}

TEST(FindTest, MissingOrNonObjectStepsGiveNull) {
  Json value = MustParse(R"({"metadata": {"name": "a"}, "list": [1], "n": null})");
  EXPECT_EQ(Find(value, "metadata.namespace"), nullptr);
  EXPECT_EQ(Find(value, "metadata.name.deeper"), nullptr);
  EXPECT_EQ(Find(value, "list.0"), nullptr);
  EXPECT_EQ(Find(value, "n.x"), nullptr);
  EXPECT_EQ(Find(Json(), "a"), nullptr);
  EXPECT_EQ(Find(Json("s"), "a"), nullptr);
}

TEST(GetTest, TypedReadsFallBackOnMissingOrMistyped) {
  Json value = MustParse(R"({"s": "text", "i": 42, "neg": -7, "big": 9007199254740993,
                            "f": 1.5, "b": true, "nb": "true", "obj": {}})");
  EXPECT_EQ(GetString(value, "s"), "text");
  EXPECT_EQ(GetString(value, "i"), "");
  EXPECT_EQ(GetString(value, "missing", "dflt"), "dflt");
  EXPECT_EQ(GetString(value, "obj", "dflt"), "dflt");

  EXPECT_EQ(GetInt(value, "i"), std::optional<int64_t>(42));
  EXPECT_EQ(GetInt(value, "neg"), std::optional<int64_t>(-7));
  EXPECT_EQ(GetInt(value, "big"), std::optional<int64_t>(9007199254740993));
  EXPECT_EQ(GetInt(value, "f"), std::nullopt);
  EXPECT_EQ(GetInt(value, "s"), std::nullopt);
  EXPECT_EQ(GetInt(value, "missing"), std::nullopt);

  EXPECT_EQ(GetBool(value, "b"), std::optional<bool>(true));
  EXPECT_EQ(GetBool(value, "nb"), std::nullopt);
  EXPECT_EQ(GetBool(value, "i"), std::nullopt);
}

TEST(MetadataTest, ShortcutsAndKeys) {
  Json pod = MustParse(R"({"metadata": {"name": "p", "namespace": "ns", "uid": "u-1",
                                         "resourceVersion": "17"}})");
  EXPECT_EQ(NameOf(pod), "p");
  EXPECT_EQ(NamespaceOf(pod), "ns");
  EXPECT_EQ(UidOf(pod), "u-1");
  EXPECT_EQ(ResourceVersionOf(pod), "17");
  EXPECT_EQ(KeyOf(pod), "ns/p");

  Json node = MustParse(R"({"metadata": {"name": "n1"}})");
  EXPECT_EQ(KeyOf(node), "n1");
  EXPECT_EQ(KeyOf(Json::object()), "");
}

}  // namespace
}  // namespace vireo::base

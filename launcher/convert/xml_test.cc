// Tests for the XML element tree: escaping, layout, omitted sections.
#include "launcher/convert/xml.h"

#include <gtest/gtest.h>

namespace vireo::launcher {
namespace {

TEST(XmlElement, WritesIndentedElementsWithEscapedValues) {
  XmlElement root("domain");
  root.Attr("type", "qemu");
  root.Add("name").Text("a<b>&'c'");
  XmlElement& disk = root.Add("disk");
  disk.Add("source").Attr("file", "/x/it's \"here\"");
  root.Attr("type", "kvm");  // replaced in place, not appended
  EXPECT_EQ(root.Serialize(),
            "<domain type='kvm'>\n"
            "  <name>a&lt;b&gt;&amp;'c'</name>\n"
            "  <disk>\n"
            "    <source file='/x/it&apos;s \"here\"'/>\n"
            "  </disk>\n"
            "</domain>\n");
}

TEST(XmlElement, OmitsEmptyOptionalSectionsOnly) {
  XmlElement root("domain");
  root.Add("sysinfo").OmitWhenEmpty().Add("system").OmitWhenEmpty();
  root.Add("features");  // not optional: written even when empty
  XmlElement& kept = root.Add("os").OmitWhenEmpty();
  kept.Add("type").Text("hvm");
  EXPECT_EQ(root.Serialize(),
            "<domain>\n"
            "  <features/>\n"
            "  <os>\n"
            "    <type>hvm</type>\n"
            "  </os>\n"
            "</domain>\n");
}

TEST(XmlElement, ChildReferencesSurviveManyAdds) {
  XmlElement root("devices");
  XmlElement& first = root.Add("disk");
  for (int i = 0; i < 100; ++i) root.Add("disk");
  first.Attr("id", "first");
  ASSERT_NE(root.Find("disk"), nullptr);
  EXPECT_EQ(root.Find("disk"), &first);
  EXPECT_EQ(root.Find("nothing"), nullptr);
  EXPECT_NE(root.Serialize().find("<disk id='first'/>"), std::string::npos);
}

}  // namespace
}  // namespace vireo::launcher

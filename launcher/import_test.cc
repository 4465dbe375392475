// T0 for the importer's pure parts: compression and format sniffing, URL
// parsing and redirect resolution, HTTP status classes, size wording.
#include "launcher/import.h"

#include <gtest/gtest.h>

#include <string>

#include "launcher/import_format.h"
#include "launcher/import_http.h"

namespace vireo::launcher {
namespace {

using namespace std::string_literals;

TEST(SniffCompression, ByMagicBytesOnly) {
  EXPECT_EQ(SniffCompression("\x1f\x8b\x08\x00\x00\x00"s), Compression::kGzip);
  EXPECT_EQ(SniffCompression("\xfd\x37\x7a\x58\x5a\x00"s), Compression::kXz);
  // xz's magic needs all six bytes.
  EXPECT_EQ(SniffCompression("\xfd\x37\x7a\x58\x5a\x01"s), Compression::kNone);
  EXPECT_EQ(SniffCompression("QFI\xfb\x00\x00"s), Compression::kNone);
  EXPECT_EQ(SniffCompression(""), Compression::kNone);
  std::string name;
  EXPECT_EQ(SniffCompression("BZh91AY", &name), Compression::kUnsupported);
  EXPECT_EQ(name, "bzip2");
  EXPECT_EQ(SniffCompression("\x28\xb5\x2f\xfd\x00\x00"s, &name), Compression::kUnsupported);
  EXPECT_EQ(name, "zstd");
  SniffCompression("\x1f\x8b"s, &name);
  EXPECT_EQ(name, "gzip");
}

TEST(SniffImageFormat, KnowsQemuImgsHeaders) {
  EXPECT_EQ(SniffImageFormat("QFI\xfb\x00\x00\x00\x03"s), "qcow2");
  EXPECT_EQ(SniffImageFormat("QFI\xfb\x00\x00\x00\x02"s), "qcow2");
  EXPECT_EQ(SniffImageFormat("QFI\xfb\x00\x00\x00\x01"s), "qcow");
  EXPECT_EQ(SniffImageFormat("QED\0\x01\x00"s), "qed");
  EXPECT_EQ(SniffImageFormat("KDMV\x01\x00\x00\x00"s), "vmdk");
  EXPECT_EQ(SniffImageFormat("# Disk DescriptorFile\nversion=1\n"), "vmdk");
  std::string vdi(0x48, '\0');
  vdi.replace(0, 4, "<<< ");
  vdi.replace(0x40, 4, "\x7f\x10\xda\xbe");
  EXPECT_EQ(SniffImageFormat(vdi), "vdi");
  EXPECT_EQ(SniffImageFormat("vhdxfile"), "vhdx");
  EXPECT_EQ(SniffImageFormat("conectix"), "vpc");
  EXPECT_EQ(SniffImageFormat("WithouFreSpacExt"), "parallels");
  EXPECT_EQ(SniffImageFormat("LUKS\xba\xbe\x00\x01"s), "luks");
}

TEST(SniffImageFormat, EverythingElseIsRawButWebPagesAreNotImages) {
  EXPECT_EQ(SniffImageFormat(std::string(512, '\0')), "raw");
  std::string mbr(512, '\x33');
  mbr[510] = '\x55';
  mbr[511] = '\xaa';
  EXPECT_EQ(SniffImageFormat(mbr), "raw");
  EXPECT_EQ(SniffImageFormat(""), "raw");
  EXPECT_EQ(SniffImageFormat("  \n<!DOCTYPE HTML><html>"), "html");
  EXPECT_EQ(SniffImageFormat("<html><body>Sign in</body>"), "html");
  EXPECT_EQ(SniffImageFormat("<?xml version=\"1.0\"?><Error>"), "html");
}

TEST(ParseUrl, SchemesPortsTargets) {
  auto url = ParseUrl("HTTPS://images.example.org/d/disk.qcow2?x=1#frag");
  ASSERT_TRUE(url.ok()) << url.status().ToString();
  EXPECT_EQ(url->scheme, "https");
  EXPECT_EQ(url->host, "images.example.org");
  EXPECT_EQ(url->port, "443");
  EXPECT_EQ(url->target, "/d/disk.qcow2?x=1");
  EXPECT_EQ(url->ToString(), "https://images.example.org/d/disk.qcow2?x=1");

  url = ParseUrl("http://127.0.0.1:8080");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->port, "8080");
  EXPECT_EQ(url->target, "/");
  EXPECT_EQ(url->HostHeader(), "127.0.0.1:8080");

  url = ParseUrl("http://[::1]:9000/x");
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->HostHeader(), "[::1]:9000");

  EXPECT_FALSE(ParseUrl("ftp://host/x").ok());
  EXPECT_FALSE(ParseUrl("host/x").ok());
  EXPECT_FALSE(ParseUrl("http:///x").ok());
  EXPECT_FALSE(ParseUrl("http://host:99999/x").ok());
  EXPECT_FALSE(ParseUrl("http://user:pw@host/x").ok());
}

TEST(ResolveRedirect, AsRfc3986Resolves) {
  auto base = ParseUrl("http://a.example:8080/images/v1/disk.img?tok=1");
  ASSERT_TRUE(base.ok());
  auto to = [&](const std::string& location) {
    auto url = ResolveRedirect(*base, location);
    return url.ok() ? url->ToString() : "error: " + url.status().message();
  };
  EXPECT_EQ(to("https://cdn.example/x.qcow2"), "https://cdn.example/x.qcow2");
  EXPECT_EQ(to("//cdn.example/x"), "http://cdn.example/x");
  EXPECT_EQ(to("/other/path"), "http://a.example:8080/other/path");
  EXPECT_EQ(to("/a/./b/../c"), "http://a.example:8080/a/c");
  EXPECT_EQ(to("v2/disk.img"), "http://a.example:8080/images/v1/v2/disk.img");
  EXPECT_EQ(to("../v2/disk.img?x=2"), "http://a.example:8080/images/v2/disk.img?x=2");
  EXPECT_EQ(to("../../../../etc"), "http://a.example:8080/etc");
  EXPECT_EQ(to("?tok=2"), "http://a.example:8080/images/v1/disk.img?tok=2");
  EXPECT_EQ(to("next#frag"), "http://a.example:8080/images/v1/next");
  EXPECT_EQ(to("ftp://x/y").substr(0, 6), "error:");
  EXPECT_EQ(to("").substr(0, 6), "error:");
}

TEST(ClassifyHttpStatus, AsTheContractSays) {
  EXPECT_EQ(ClassifyHttpStatus(200), HttpStatusClass::kBody);
  EXPECT_EQ(ClassifyHttpStatus(206), HttpStatusClass::kBody);
  for (int s : {301, 302, 303, 307, 308})
    EXPECT_EQ(ClassifyHttpStatus(s), HttpStatusClass::kRedirect) << s;
  for (int s : {401, 403, 404, 410})
    EXPECT_EQ(ClassifyHttpStatus(s), HttpStatusClass::kNotFound) << s;
  for (int s : {500, 502, 503, 504, 599, 408, 429}) {
    EXPECT_EQ(ClassifyHttpStatus(s), HttpStatusClass::kUnreachable) << s;
  }
  for (int s : {100, 300, 304, 400, 405, 416, 600}) {
    EXPECT_EQ(ClassifyHttpStatus(s), HttpStatusClass::kOther) << s;
  }
}

TEST(HumanBytes, TwoDecimalsInBinaryUnits) {
  EXPECT_EQ(HumanBytes(512), "512 bytes");
  EXPECT_EQ(HumanBytes(1 << 20), "1.00 MiB");
  EXPECT_EQ(HumanBytes(10146021376), "9.45 GiB");
}

}  // namespace
}  // namespace vireo::launcher

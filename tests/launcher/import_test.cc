// T2: `vireo-launcher import` as a process, as the importer pod runs it,
// against a local HTTP server (import_server.py) serving images qemu-img
// made, and local registry/clone/blank sources. Each case checks the exit
// code, the termination message and the disk the claim ends up with.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "lib/api/importer_pod.h"
#include "tests/launcher/harness.h"

namespace vireo::t2 {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kMiB = 1 << 20;
constexpr int64_t kImageBytes = 64 * kMiB;
constexpr int64_t kClaim = 128 * kMiB;  // disk.img: 128 MiB × 0.945 → 120 MiB

void RunOk(const std::vector<std::string>& argv) {
  CommandResult r = RunCommand(argv);
  ASSERT_EQ(r.exit_code, 0) << argv[0] << " " << argv[1] << ": " << r.output;
}

std::string ReadAt(const std::string& path, int64_t offset, size_t size) {
  std::string out(size, '\0');
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return "";
  const ssize_t n = ::pread(fd, out.data(), size, offset);
  ::close(fd);
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

// A port nothing listens on: bound, then closed.
int UnusedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

class ImportTest : public ::testing::Test {
 protected:
  // The images, made once: a 64 MiB raw with two known patterns (the rest
  // zero), its qcow2, gzip and xz twins, a corrupt qcow2, a 256 MiB raw.
  static void SetUpTestSuite() {
    images_ = new std::string(fs::temp_directory_path() / "vireo-import-srv-XXXXXX");
    ASSERT_NE(::mkdtemp(images_->data()), nullptr);
    const std::string raw = *images_ + "/base.raw";
    RunOk({"qemu-img", "create", "-q", "-f", "raw", raw, std::to_string(kImageBytes)});
    RunOk(
        {"qemu-io", "-f", "raw", "-c", "write -P 0xab 1M 64k", "-c", "write -P 0xcd 40M 4k", raw});
    RunOk({"qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, *images_ + "/base.qcow2"});
    RunOk({"sh", "-c",
           "cd '" + *images_ +
               "' && gzip -c base.raw > base.raw.gz && xz -T1 -c base.qcow2 > base.qcow2.xz && "
               "gzip -c base.raw | head -c 30000 > cut.raw.gz"});
    std::string qcow2 = ReadFileOrEmpty(*images_ + "/base.qcow2");
    qcow2.replace(48, 8, std::string("\0\0\0\0\0\0\x01\x23", 8));  // refcount table offset
    WriteFileOrDie(*images_ + "/corrupt.qcow2", qcow2);
    RunOk({"qemu-img", "create", "-q", "-f", "raw", *images_ + "/big.raw", "256M"});

    server_ = new Process({"python3", ServerScript(), *images_});
    ASSERT_TRUE(server_->WaitForStdout("\n", 10s)) << server_->Stderr();
    port_ = new std::string(server_->Stdout().substr(0, server_->Stdout().find('\n')));
  }
  static void TearDownTestSuite() {
    delete server_;
    std::error_code ignored;
    fs::remove_all(*images_, ignored);
    delete images_;
    delete port_;
  }
  static std::string ServerScript() {
    return (fs::path(__FILE__).parent_path() / "import_server.py").string();
  }

  ImportTest() {
    root_ = fs::temp_directory_path() / "vireo-import-XXXXXX";
    if (::mkdtemp(root_.data()) == nullptr) ADD_FAILURE() << "mkdtemp";
    for (const char* d : {"target", "scratch", "image", "source"})
      fs::create_directories(root_ + "/" + d);
  }
  ~ImportTest() override {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }

  std::string Url(const std::string& path) const { return "http://127.0.0.1:" + *port_ + path; }
  std::string Disk() const { return root_ + "/target/disk.img"; }
  std::string Term() const { return ReadFileOrEmpty(root_ + "/termination-log"); }

  // `vireo-launcher import` with the pod's paths under root_.
  CommandResult Import(const std::string& source, const std::vector<std::string>& more = {},
                       int64_t claim = kClaim) {
    std::vector<std::string> argv = {LauncherBinary(),
                                     "import",
                                     "--source=" + source,
                                     "--claim-bytes=" + std::to_string(claim),
                                     "--target-dir=" + root_ + "/target",
                                     "--target-device=" + root_ + "/dev/target",
                                     "--source-dir=" + root_ + "/source",
                                     "--source-device=" + root_ + "/dev/source",
                                     "--scratch-dir=" + root_ + "/scratch",
                                     "--image-dir=" + root_ + "/image",
                                     "--termination-log=" + root_ + "/termination-log",
                                     "--stall-seconds=5"};
    argv.insert(argv.end(), more.begin(), more.end());
    return RunCommand(argv);
  }

  // disk.img: raw, DiskImageBytes(claim) long, sparse, the image's bytes.
  void ExpectImportedDisk(const std::string& path, int64_t size) {
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0) << path;
    EXPECT_EQ(st.st_size, size);
    EXPECT_LT(st.st_blocks * 512, 4 * kMiB) << "disk.img should be sparse";
    EXPECT_EQ(ReadAt(path, 1 * kMiB, 64 * 1024), std::string(64 * 1024, '\xab'));
    EXPECT_EQ(ReadAt(path, 40 * kMiB, 4096), std::string(4096, '\xcd'));
    EXPECT_EQ(ReadAt(path, 0, 4096), std::string(4096, '\0'));  // raw: no header
    EXPECT_EQ(ReadAt(path, 1 * kMiB + 64 * 1024, 4096), std::string(4096, '\0'));
    EXPECT_FALSE(fs::exists(path + ".importing"));
    EXPECT_TRUE(fs::is_empty(root_ + "/scratch"));
  }
  void ExpectNoDisk() {
    EXPECT_FALSE(fs::exists(Disk()));
    EXPECT_FALSE(fs::exists(Disk() + ".importing"));
    EXPECT_TRUE(fs::is_empty(root_ + "/scratch"));
  }

  static std::string* images_;
  static std::string* port_;
  static Process* server_;
  std::string root_;
};

std::string* ImportTest::images_ = nullptr;
std::string* ImportTest::port_ = nullptr;
Process* ImportTest::server_ = nullptr;

const int64_t kDiskBytes = api::importer::DiskImageBytes(kClaim);

TEST_F(ImportTest, RawOverHttpStreamsOntoTheClaimReplacingALeftover) {
  WriteFileOrDie(Disk() + ".importing", "left by a failed attempt");
  CommandResult r = Import("http", {"--url=" + Url("/files/base.raw")});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(Term(), AllOf(HasSubstr("imported 67108864 bytes from " + Url("/files/base.raw")),
                            HasSubstr("(raw)"), HasSubstr("disk.img is 120.00 MiB")));
  const std::string term = Term();
  EXPECT_EQ(std::count(term.begin(), term.end(), '\n'), 1) << term;
  EXPECT_THAT(r.output,
              AllOf(HasSubstr(R"("msg":"import progress")"), HasSubstr(R"("progress":"100.00%")")));
  ExpectImportedDisk(Disk(), kDiskBytes);
}

TEST_F(ImportTest, Qcow2IsConvertedToRaw) {
  CommandResult r = Import("http", {"--url=" + Url("/files/base.qcow2")});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(Term(), AllOf(HasSubstr("imported 67108864 bytes"), HasSubstr("(qcow2)")));
  ExpectImportedDisk(Disk(), kDiskBytes);
}

TEST_F(ImportTest, GzipRawIsDecompressedOnTheFly) {
  CommandResult r = Import("http", {"--url=" + Url("/files/base.raw.gz")});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(Term(), HasSubstr("(raw, gzip)"));
  ExpectImportedDisk(Disk(), kDiskBytes);
}

TEST_F(ImportTest, XzQcow2IsDecompressedThenConverted) {
  CommandResult r = Import("http", {"--url=" + Url("/files/base.qcow2.xz")});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(Term(), HasSubstr("(qcow2, xz)"));
  ExpectImportedDisk(Disk(), kDiskBytes);
}

TEST_F(ImportTest, RedirectsAreFollowed) {
  CommandResult r = Import("http", {"--url=" + Url("/redirect/3/base.raw")});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  ExpectImportedDisk(Disk(), kDiskBytes);
}

TEST_F(ImportTest, ARedirectLoopEnds) {
  CommandResult r = Import("http", {"--url=" + Url("/loop")});
  EXPECT_EQ(r.exit_code, api::importer::kSourceNotFound) << r.output;
  EXPECT_THAT(Term(), HasSubstr("more than 10 redirects"));
  ExpectNoDisk();
}

TEST_F(ImportTest, CorruptQcow2IsAnInvalidImage) {
  CommandResult r = Import("http", {"--url=" + Url("/files/corrupt.qcow2")});
  EXPECT_EQ(r.exit_code, api::importer::kInvalidImage) << r.output;
  EXPECT_THAT(Term(), HasSubstr("corrupt"));
  ExpectNoDisk();
}

TEST_F(ImportTest, TruncatedBodyIsAnInvalidImage) {
  CommandResult r = Import("http", {"--url=" + Url("/truncated/base.raw")});
  EXPECT_EQ(r.exit_code, api::importer::kInvalidImage) << r.output;
  EXPECT_THAT(Term(), HasSubstr("truncated: got 33554432 of 67108864 bytes"));
  ExpectNoDisk();
}

TEST_F(ImportTest, TruncatedGzipStreamIsAnInvalidImage) {
  CommandResult r = Import("http", {"--url=" + Url("/files/cut.raw.gz")});
  EXPECT_EQ(r.exit_code, api::importer::kInvalidImage) << r.output;
  EXPECT_THAT(Term(), HasSubstr("gzip stream is corrupt or truncated"));
  ExpectNoDisk();
}

TEST_F(ImportTest, AWebPageIsNotAnImage) {
  CommandResult r = Import("http", {"--url=" + Url("/html")});
  EXPECT_EQ(r.exit_code, api::importer::kInvalidImage) << r.output;
  EXPECT_THAT(Term(), HasSubstr("web page"));
  ExpectNoDisk();
}

TEST_F(ImportTest, NotFoundAndServerErrors) {
  CommandResult r = Import("http", {"--url=" + Url("/status/404")});
  EXPECT_EQ(r.exit_code, api::importer::kSourceNotFound) << r.output;
  EXPECT_THAT(Term(), AllOf(HasSubstr("HTTP 404"), HasSubstr(Url("/status/404"))));
  r = Import("http", {"--url=" + Url("/status/403")});
  EXPECT_EQ(r.exit_code, api::importer::kSourceNotFound) << r.output;
  r = Import("http", {"--url=" + Url("/status/503")});
  EXPECT_EQ(r.exit_code, api::importer::kSourceUnreachable) << r.output;
  EXPECT_THAT(Term(), HasSubstr("HTTP 503"));
  ExpectNoDisk();
}

TEST_F(ImportTest, UnreachablePort) {
  const std::string url = "http://127.0.0.1:" + std::to_string(UnusedPort()) + "/disk.img";
  CommandResult r = Import("http", {"--url=" + url});
  EXPECT_EQ(r.exit_code, api::importer::kSourceUnreachable) << r.output;
  EXPECT_THAT(Term(), AllOf(HasSubstr("cannot connect"), HasSubstr("refused")));
  ExpectNoDisk();
}

TEST_F(ImportTest, AnImageLargerThanTheClaimIsRefusedWithBothSizes) {
  CommandResult r = Import("http", {"--url=" + Url("/files/big.raw")});
  EXPECT_EQ(r.exit_code, api::importer::kTooLarge) << r.output;
  EXPECT_THAT(Term(), AllOf(HasSubstr("268435456"), HasSubstr(std::to_string(kDiskBytes))));
  ExpectNoDisk();
  // The same through qemu-img's virtual size, for a claim too small for 64 MiB.
  r = Import("http", {"--url=" + Url("/files/base.qcow2")}, 32 * kMiB);
  EXPECT_EQ(r.exit_code, api::importer::kTooLarge) << r.output;
  EXPECT_THAT(Term(), AllOf(HasSubstr("67108864"),
                            HasSubstr(std::to_string(api::importer::DiskImageBytes(32 * kMiB)))));
  ExpectNoDisk();
}

TEST_F(ImportTest, AnExistingDiskImgIsNeverOverwritten) {
  const std::string content = "the guest's data, not to be lost\n";
  WriteFileOrDie(Disk(), content);
  CommandResult r = Import("http", {"--url=" + Url("/files/base.raw")});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(Term(), AllOf(HasSubstr("already populated"), HasSubstr("kept")));
  EXPECT_EQ(ReadFileOrEmpty(Disk()), content);
}

TEST_F(ImportTest, RegistryTakesTheSingleFileTheInitContainerCopied) {
  fs::copy_file(*images_ + "/base.qcow2", root_ + "/image/disk.qcow2");
  CommandResult r = Import("registry");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(Term(), AllOf(HasSubstr("imported 67108864 bytes"), HasSubstr("(qcow2)")));
  ExpectImportedDisk(Disk(), kDiskBytes);
  EXPECT_TRUE(fs::exists(root_ + "/image/disk.qcow2"));
}

TEST_F(ImportTest, RegistryWithoutAFileIsNotFound) {
  CommandResult r = Import("registry");
  EXPECT_EQ(r.exit_code, api::importer::kSourceNotFound) << r.output;
  EXPECT_THAT(Term(), HasSubstr("no disk file"));
  ExpectNoDisk();
}

TEST_F(ImportTest, CloneCopiesTheSourceClaimsDisk) {
  fs::copy_file(*images_ + "/base.qcow2", root_ + "/source/disk.img");
  CommandResult r = Import("pvc");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  ExpectImportedDisk(Disk(), kDiskBytes);
}

TEST_F(ImportTest, CloneWithoutASourceDiskIsNotFound) {
  CommandResult r = Import("pvc");
  EXPECT_EQ(r.exit_code, api::importer::kSourceNotFound) << r.output;
  EXPECT_THAT(Term(), HasSubstr(root_ + "/source/disk.img"));
  ExpectNoDisk();
}

TEST_F(ImportTest, BlankIsASparseRawDiskOfTheClaimsSize) {
  CommandResult r = Import("blank");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(Term(), HasSubstr("disk.img is 120.00 MiB"));
  struct stat st {};
  ASSERT_EQ(::stat(Disk().c_str(), &st), 0);
  EXPECT_EQ(st.st_size, kDiskBytes);
  EXPECT_EQ(st.st_blocks, 0);
}

TEST_F(ImportTest, ABlockClaimGetsTheImagesBytes) {
  // A regular file stands in for the device: written in place, never resized.
  fs::create_directories(root_ + "/dev");
  const std::string device = root_ + "/dev/target";
  RunOk({"qemu-img", "create", "-q", "-f", "raw", device, "100M"});
  CommandResult r = Import("http", {"--url=" + Url("/files/base.qcow2.xz")});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(Term(), HasSubstr(device + " is 100.00 MiB"));
  EXPECT_EQ(fs::file_size(device), static_cast<uintmax_t>(100 * kMiB));
  EXPECT_EQ(ReadAt(device, 1 * kMiB, 64 * 1024), std::string(64 * 1024, '\xab'));
  EXPECT_EQ(ReadAt(device, 40 * kMiB, 4096), std::string(4096, '\xcd'));
  EXPECT_FALSE(fs::exists(Disk()));
}

TEST_F(ImportTest, AMissingClaimIsUnusable) {
  fs::remove(root_ + "/target");
  CommandResult r = Import("blank");
  EXPECT_EQ(r.exit_code, api::importer::kTargetUnusable) << r.output;
  EXPECT_THAT(Term(), AllOf(HasSubstr(root_ + "/target"), HasSubstr("must mount the claim")));
}

TEST_F(ImportTest, HttpWithoutAUrlIsAUsageError) {
  CommandResult r = Import("http");
  EXPECT_EQ(r.exit_code, api::importer::kUsage) << r.output;
  EXPECT_THAT(r.output, HasSubstr("--url"));
}

}  // namespace
}  // namespace vireo::t2

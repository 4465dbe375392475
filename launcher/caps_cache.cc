// Seeding and warming libvirt's QEMU capabilities cache; see caps_cache.h.
#include "launcher/caps_cache.h"

#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "launcher/libvirt_session.h"
#include "lib/base/log.h"

namespace vireo::launcher {
namespace {

namespace fs = std::filesystem;
using base::Code;
using base::Result;
using base::Status;

// Where Debian's QEMU keeps its loadable modules (libvirt stamps its mtime).
constexpr char kQemuModuleDir[] = "/usr/lib/x86_64-linux-gnu/qemu";
constexpr char kCacheSubdir[] = "/cache/qemu/capabilities";

Status Errno(const std::string& what) {
  return Status(Code::kInternal, what + ": " + std::strerror(errno));
}

// A file's modification time in nanoseconds; -1 when it cannot be read.
int64_t MtimeNs(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

std::string ReplaceElement(std::string xml, const std::string& tag, int64_t value) {
  std::string open = "<" + tag + ">";
  size_t start = xml.find(open);
  if (start == std::string::npos) return xml;
  start += open.size();
  size_t end = xml.find("</" + tag + ">", start);
  if (end == std::string::npos) return xml;
  return xml.replace(start, end - start, std::to_string(value));
}

// The QEMU driver module libvirt loads for a qemu:// connection; libvirt
// stamps the cache with its ctime. It sits next to libvirt.so.
std::string QemuDriverModule() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&virConnectOpen), &info) == 0 || info.dli_fname == nullptr) {
    return "";
  }
  return (fs::path(info.dli_fname).parent_path() / "libvirt/connection-driver" /
          "libvirt_driver_qemu.so")
      .string();
}

Result<std::string> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Errno("read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

Status WriteAll(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return Errno("write " + path);
  return Status::Ok();
}

// Makes /dev lack kvm in this (child) process: a private mount namespace
// whose /dev is a tmpfs holding only the nodes QEMU and libvirt use.
Status HideKvm() {
  if (access("/dev/kvm", F_OK) != 0) return Status::Ok();
  if (unshare(CLONE_NEWNS) != 0) return Errno("unshare the mount namespace (needs CAP_SYS_ADMIN)");
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return Errno("make / private");
  }
  char tmpl[] = "/tmp/vireo-dev.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return Errno("mkdtemp");
  std::string dev = tmpl;
  if (mount("tmpfs", dev.c_str(), "tmpfs", 0, "mode=755") != 0) return Errno("mount tmpfs");
  for (const char* node : {"null", "zero", "full", "random", "urandom", "tty", "ptmx"}) {
    std::string from = std::string("/dev/") + node;
    std::string to = dev + "/" + node;
    if (access(from.c_str(), F_OK) != 0) continue;
    int fd = open(to.c_str(), O_CREAT | O_WRONLY, 0666);
    if (fd >= 0) close(fd);
    if (mount(from.c_str(), to.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      return Errno("bind " + from);
    }
  }
  for (const char* dir : {"pts", "shm"}) mkdir((dev + "/" + dir).c_str(), 0755);
  if (mount(dev.c_str(), "/dev", nullptr, MS_MOVE, nullptr) != 0) return Errno("move onto /dev");
  rmdir(dev.c_str());  // the mount moved away; the directory is empty
  return Status::Ok();
}

// Probes through a throwaway embedded driver and copies its cache files out.
Status ProbeInto(const std::string& out_dir) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) return Status(Code::kInternal, "create " + out_dir + ": " + ec.message());
  std::string root = out_dir + "/.probe";
  fs::remove_all(root, ec);
  if (Status s = WriteEmbeddedQemuConf(root); !s.ok()) return s;
  RouteLibvirtLogs(root + "/libvirt.log");
  {
    auto session = LibvirtSession::Open(EmbeddedUri(root), [](const LifecycleEvent&) {});
    if (!session.ok()) return session.status();
    // Asking for the domain capabilities is what makes libvirt probe.
    char* caps =
        virConnectGetDomainCapabilities((*session)->conn(), nullptr, "x86_64", nullptr, nullptr, 0);
    if (caps == nullptr) {
      return Status(Code::kInternal, LibvirtError("probe QEMU's capabilities"));
    }
    free(caps);
  }
  int copied = 0;
  for (const auto& entry : fs::directory_iterator(root + kCacheSubdir, ec)) {
    if (entry.path().extension() != ".xml") continue;
    fs::copy_file(entry.path(), fs::path(out_dir) / entry.path().filename(),
                  fs::copy_options::overwrite_existing, ec);
    if (ec) return Status(Code::kInternal, "copy " + entry.path().string() + ": " + ec.message());
    ++copied;
  }
  fs::remove_all(root, ec);
  if (copied == 0) return Status(Code::kInternal, "libvirt wrote no capabilities cache");
  return Status::Ok();
}

}  // namespace

const char* CapsVariantName(CapsVariant variant) {
  return variant == CapsVariant::kKvm ? "kvm" : "tcg";
}

CapsVariant CurrentCapsVariant() {
  return access("/dev/kvm", R_OK | W_OK) == 0 ? CapsVariant::kKvm : CapsVariant::kTcg;
}

bool WithdrawKvmForTcg() {
  struct stat st {};
  const uid_t self = geteuid();
  if (self == 0 || stat("/dev/kvm", &st) != 0 || !S_ISCHR(st.st_mode) || st.st_uid != self) {
    return false;
  }
  return chmod("/dev/kvm", 0) == 0 && CurrentCapsVariant() == CapsVariant::kTcg;
}

std::string RefreshCapsStamps(std::string xml, const CapsStamps& stamps) {
  xml = ReplaceElement(std::move(xml), "qemuctime", stamps.qemu_ctime);
  if (stamps.qemu_moddir_mtime != 0) {
    xml = ReplaceElement(std::move(xml), "qemumoddirmtime", stamps.qemu_moddir_mtime);
  }
  return ReplaceElement(std::move(xml), "selfctime", stamps.self_ctime);
}

std::string WithoutPerPropertyCpuRead(std::string xml) {
  static constexpr std::string_view kFlag = "<flag name='cpu-unavailable-features'/>";
  const size_t at = xml.find(kFlag);
  if (at == std::string::npos) return xml;
  // The flag's whole line: indentation before, newline after.
  size_t begin = at;
  while (begin > 0 && xml[begin - 1] == ' ') --begin;
  size_t end = at + kFlag.size();
  if (end < xml.size() && xml[end] == '\n') ++end;
  return xml.erase(begin, end - begin);
}

bool QuickCpuReadFits(const std::string& domain_xml) {
  // <hyperv>, and the hypervclock timer (QEMU's hv-time); the converter
  // quotes attributes with '.
  return domain_xml.find("<hyperv") == std::string::npos &&
         domain_xml.find("name='hypervclock'") == std::string::npos;
}

std::string CachedEmulator(const std::string& xml) {
  size_t start = xml.find("<emulator>");
  if (start == std::string::npos) return "";
  start += std::strlen("<emulator>");
  size_t end = xml.find("</emulator>", start);
  return end == std::string::npos ? "" : xml.substr(start, end - start);
}

Result<SeededCaps> SeedCapabilitiesCache(const std::string& image_dir,
                                         const std::string& libvirt_root, CapsVariant variant,
                                         bool quick_cpu_read) {
  std::string from = image_dir + "/" + CapsVariantName(variant);
  std::error_code ec;
  SeededCaps seeded;
  if (!fs::is_directory(from, ec)) return seeded;
  std::string to = libvirt_root + kCacheSubdir;
  fs::create_directories(to, ec);
  if (ec) return Status(Code::kInternal, "create " + to + ": " + ec.message());

  struct stat st {};
  std::string module = QemuDriverModule();
  if (module.empty() || stat(module.c_str(), &st) != 0) {
    return Status(Code::kInternal, "cannot find libvirt's QEMU driver module (" + module + ")");
  }
  CapsStamps stamps;
  stamps.self_ctime = st.st_ctime;
  if (stat(kQemuModuleDir, &st) == 0) stamps.qemu_moddir_mtime = st.st_mtime;

  for (const auto& entry : fs::directory_iterator(from, ec)) {
    if (entry.path().extension() != ".xml") continue;
    auto xml = ReadAll(entry.path().string());
    if (!xml.ok()) return xml.status();
    std::string emulator = CachedEmulator(*xml);
    if (emulator.empty() || stat(emulator.c_str(), &st) != 0) continue;  // not on this image
    stamps.qemu_ctime = st.st_ctime;
    std::string target = to + "/" + entry.path().filename().string();
    std::string text = RefreshCapsStamps(std::move(*xml), stamps);
    if (quick_cpu_read) text = WithoutPerPropertyCpuRead(std::move(text));
    if (Status s = WriteAll(target, text); !s.ok()) return s;
    seeded.files.push_back({target, MtimeNs(target)});
  }
  return seeded;
}

const char* SeededCapsOutcome(const SeededCaps& seeded) {
  if (seeded.files.empty()) return "none";
  for (const SeededCaps::File& file : seeded.files) {
    // libvirt writes a new file in its place (a new mtime), or deletes one
    // it could not parse; -1: gone.
    if (MtimeNs(file.path) != file.mtime_ns) return "probed";
  }
  return "used";
}

Status WarmCapabilitiesCache(const std::string& out_dir, bool without_kvm) {
  if (!without_kvm) {
    CapsVariant variant = CurrentCapsVariant();
    base::LogInfo("probing QEMU's capabilities", {{"variant", CapsVariantName(variant)}});
    return ProbeInto(out_dir + "/" + CapsVariantName(variant));
  }
  // The probe runs in a child: the mount namespace must not outlive it, and
  // libvirt's threads must not exist yet when it unshares.
  base::LogInfo("probing QEMU's capabilities without /dev/kvm", {{"variant", "tcg"}});
  pid_t child = fork();
  if (child < 0) return Errno("fork");
  if (child == 0) {
    Status s = HideKvm();
    if (s.ok()) s = ProbeInto(out_dir + "/" + CapsVariantName(CapsVariant::kTcg));
    if (!s.ok()) base::LogError("warm-cache failed", {{"error", s.ToString()}});
    _exit(s.ok() ? 0 : 1);
  }
  int status = 0;
  if (waitpid(child, &status, 0) < 0) return Errno("wait for the probe");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status(Code::kInternal, "probing without /dev/kvm failed (see the log above)");
  }
  return Status::Ok();
}

}  // namespace vireo::launcher

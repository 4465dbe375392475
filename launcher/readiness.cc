// The ready file; see readiness.h.
#include "launcher/readiness.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace vireo::launcher {
namespace {

using base::Code;
using base::Status;

bool Alive(pid_t pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

}  // namespace

Status MarkReady(const std::string& ready_file, pid_t launcher, pid_t qemu) {
  std::string tmp = ready_file + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << launcher << " " << qemu << "\n";
    out.close();
    if (!out) return Status(Code::kInternal, "write " + tmp + ": " + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), ready_file.c_str()) != 0) {
    return Status(Code::kInternal, "rename " + tmp + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

void ClearReady(const std::string& ready_file) { unlink(ready_file.c_str()); }

Status CheckReady(const std::string& ready_file) {
  std::ifstream in(ready_file);
  if (!in) return Status(Code::kNotFound, "the domain is not running (no " + ready_file + ")");
  pid_t launcher = 0;
  pid_t qemu = 0;
  if (!(in >> launcher >> qemu)) {
    return Status(Code::kInternal, ready_file + " is not \"<launcher pid> <qemu pid>\"");
  }
  if (!Alive(launcher)) {
    return Status(Code::kNotFound, "the launcher (pid " + std::to_string(launcher) + ") is gone");
  }
  if (!Alive(qemu)) {
    return Status(Code::kNotFound, "QEMU (pid " + std::to_string(qemu) + ") is gone");
  }
  return Status::Ok();
}

}  // namespace vireo::launcher

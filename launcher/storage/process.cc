// RunProcess over posix_spawnp: no shell, so no quoting of paths.
#include "launcher/storage/process.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace vireo::launcher::storage_internal {

using base::Code;
using base::Status;

namespace {
constexpr size_t kMaxOutput = 64 * 1024;
}  // namespace

base::Result<ProcessResult> RunProcess(const std::vector<std::string>& argv) {
  return RunProcess(argv, nullptr);
}

base::Result<ProcessResult> RunProcess(const std::vector<std::string>& argv,
                                       const std::function<void(std::string_view)>& on_output) {
  if (argv.empty()) return Status(Code::kInternal, "RunProcess: empty argv");
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return Status(Code::kInternal, std::string("pipe: ") + std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);

  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int spawn_error =
      ::posix_spawnp(&pid, argv[0].c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (spawn_error != 0) {
    ::close(pipe_fds[0]);
    return Status(spawn_error == ENOENT ? Code::kNotFound : Code::kInternal,
                  "cannot run " + argv[0] + ": " + std::strerror(spawn_error) +
                      (spawn_error == ENOENT ? " (is it installed?)" : ""));
  }

  ProcessResult result;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(pipe_fds[0], buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (on_output) on_output(std::string_view(buf, static_cast<size_t>(n)));
    if (result.output.size() < kMaxOutput) result.output.append(buf, static_cast<size_t>(n));
  }
  ::close(pipe_fds[0]);
  int wait_status = 0;
  while (::waitpid(pid, &wait_status, 0) < 0) {
    if (errno != EINTR)
      return Status(Code::kInternal, "waitpid " + argv[0] + ": " + std::strerror(errno));
  }
  result.exit_code = WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1;
  return result;
}

std::string LastLine(const std::string& output) {
  size_t end = output.find_last_not_of(" \t\r\n");
  if (end == std::string::npos) return "";
  const size_t start = output.rfind('\n', end);
  return output.substr(start == std::string::npos ? 0 : start + 1,
                       end - (start == std::string::npos ? 0 : start + 1) + 1);
}

}  // namespace vireo::launcher::storage_internal

// Raw terminal mode and the console escape; see terminal.h.
#include "virtctl/terminal.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

namespace vireo::virtctl {

EscapeScan ScanForEscape(std::string_view chunk, bool interactive) {
  if (interactive) {
    if (size_t at = chunk.find(kEscapeByte); at != std::string_view::npos) {
      return {at, true};
    }
  }
  return {chunk.size(), false};
}

termios RawSettings(const termios& original) {
  termios raw = original;
  raw.c_iflag &=
      ~static_cast<tcflag_t>(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
  raw.c_oflag &= ~static_cast<tcflag_t>(OPOST);
  raw.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
  raw.c_cflag &= ~static_cast<tcflag_t>(CSIZE | PARENB);
  raw.c_cflag |= CS8;
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  return raw;
}

namespace {

// What the signal handler restores: written before the handlers are
// installed, read only from the handler.
int g_fd = -1;
termios g_saved{};
std::atomic<bool> g_armed{false};

constexpr int kSignals[] = {SIGTERM, SIGHUP, SIGINT, SIGQUIT};
struct sigaction g_previous[sizeof(kSignals) / sizeof(kSignals[0])];

void RestoreAndReraise(int signo) {
  if (g_armed.exchange(false)) tcsetattr(g_fd, TCSANOW, &g_saved);  // async-signal-safe
  signal(signo, SIG_DFL);
  raise(signo);
}

}  // namespace

RawTerminal::RawTerminal(int fd) : fd_(fd) {
  if (isatty(fd) == 0 || tcgetattr(fd, &saved_) != 0) return;
  g_fd = fd;
  g_saved = saved_;
  g_armed = true;
  for (size_t i = 0; i < std::size(kSignals); ++i) {
    struct sigaction action {};
    action.sa_handler = RestoreAndReraise;
    sigemptyset(&action.sa_mask);
    sigaction(kSignals[i], &action, &g_previous[i]);
  }
  termios raw = RawSettings(saved_);
  active_ = tcsetattr(fd, TCSANOW, &raw) == 0;
  if (!active_) Restore();
}

RawTerminal::~RawTerminal() { Restore(); }

void RawTerminal::Restore() {
  if (!g_armed.exchange(false)) return;
  tcsetattr(fd_, TCSANOW, &saved_);
  for (size_t i = 0; i < std::size(kSignals); ++i) sigaction(kSignals[i], &g_previous[i], nullptr);
  active_ = false;
}

}  // namespace vireo::virtctl

// The local side of `virtctl console`: raw mode for a terminal on stdin,
// restored on every way out (return, exception, SIGTERM/SIGHUP/SIGINT/SIGQUIT),
// and the Ctrl+] escape that leaves the console.
#pragma once

#include <termios.h>

#include <cstddef>
#include <string_view>

namespace vireo::virtctl {

inline constexpr char kEscapeByte = 0x1d;  // Ctrl+]

// What to forward of one chunk of keyboard input, and whether to leave.
struct EscapeScan {
  size_t forward = 0;  // bytes from the start of the chunk to send
  bool leave = false;  // Ctrl+] seen: send `forward` bytes, then leave
};
// Only a terminal leaves on Ctrl+]; piped input is sent whole, byte 0x1d
// included, so scripts can send any byte.
EscapeScan ScanForEscape(std::string_view chunk, bool interactive);

// The settings raw mode uses: no echo, no line editing, no signals from keys
// (Ctrl+C goes to the guest), no CR/NL translation either way (the guest's
// serial line sends its own CR LF), 8-bit bytes; one byte satisfies a read.
termios RawSettings(const termios& original);

// Puts the terminal on `fd` in raw mode while alive. Not a terminal: does
// nothing (active() is false). One at a time per process: a signal handler
// restores the saved settings, then the signal takes its default course.
class RawTerminal {
 public:
  explicit RawTerminal(int fd);
  ~RawTerminal();
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

  bool active() const { return active_; }
  void Restore();

 private:
  int fd_;
  termios saved_{};
  bool active_ = false;
};

}  // namespace vireo::virtctl

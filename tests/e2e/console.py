"""A pipe-driven `virtctl console` for the T3 tests: starts virtctl with
stdin and stdout as pipes (stdin stays open until close()), collects what the
guest prints on a thread, and waits for patterns in it."""
import os
import re
import subprocess
import threading
import time


class Console:
    def __init__(self, argv, log_path=None):
        self.started = time.monotonic()
        self.first_byte_at = None
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self._buf = bytearray()
        self._pos = 0  # expect() searches from here
        self._err = bytearray()
        self._cv = threading.Condition()
        self._eof = False
        self._log = open(log_path, "ab") if log_path else None
        threading.Thread(target=self._read_out, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read_out(self):
        fd = self.proc.stdout.fileno()
        while True:
            chunk = os.read(fd, 4096)
            with self._cv:
                if not chunk:
                    self._eof = True
                    self._cv.notify_all()
                    return
                if self.first_byte_at is None:
                    self.first_byte_at = time.monotonic()
                self._buf += chunk
                if self._log:
                    self._log.write(chunk)
                    self._log.flush()
                self._cv.notify_all()

    def _read_err(self):
        fd = self.proc.stderr.fileno()
        while True:
            chunk = os.read(fd, 4096)
            if not chunk:
                return
            with self._cv:
                self._err += chunk

    def expect(self, pattern, timeout):
        """Waits until `pattern` (a regex over bytes) shows up after the last
        match; returns the match's text, or None on timeout or EOF."""
        regex = re.compile(pattern.encode() if isinstance(pattern, str) else pattern)
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                m = regex.search(self._buf, self._pos)
                if m:
                    self._pos = m.end()
                    return m.group(0).decode(errors="replace")
                left = deadline - time.monotonic()
                if left <= 0 or self._eof:
                    return None
                self._cv.wait(min(left, 1.0))

    def send(self, text):
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def output(self):
        with self._cv:
            return self._buf.decode(errors="replace")

    def stderr(self):
        with self._cv:
            return self._err.decode(errors="replace")

    def close(self, timeout=15):
        """Ends the input; returns virtctl's exit code."""
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def alive(self):
        return self.proc.poll() is None

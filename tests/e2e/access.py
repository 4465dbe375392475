"""T3 checks of virtctl's ways into a running guest besides the console:
`port-forward` (a local port, and --stdio), `vnc --proxy-only` (an RFB
handshake and a framebuffer update through the printed port), `ssh`/`scp`
into Debian with a key cloud-init installed, and the bad inputs (a VM that
does not exist, one that is not running, a port nobody listens on).
guest_test.py calls these on the guests it boots."""
import hashlib
import json
import os
import socket
import struct
import subprocess
import threading
import time

from e2e_test import NS, check, timings


def _virtctl_argv(c, *args):
    return [c.virtctl_bin, "--kubeconfig", c.kubeconfig, "-n", NS, *args]


def _run(argv, timeout, text=False, **kwargs):
    """subprocess.run that reports a timeout as a failed run (rc -1) rather
    than raising, so one stuck command fails its check and the rest go on."""
    try:
        return subprocess.run(argv, capture_output=True, timeout=timeout, text=text, **kwargs)
    except subprocess.TimeoutExpired:
        note = f"timed out after {timeout} s"
        return subprocess.CompletedProcess(argv, -1, "" if text else b"", note if text else note.encode())


def _readline(proc, timeout=60):
    """The first line of proc's stdout, or "" when none comes within timeout."""
    got = []
    reader = threading.Thread(target=lambda: got.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return got[0] if got else ""


def _stderr_of(proc):
    """proc's stderr, once it has ended (killed if it still runs)."""
    if proc.poll() is None:
        proc.kill()
    try:
        return proc.communicate(timeout=10)[1] or ""
    except (subprocess.TimeoutExpired, ValueError):
        return ""


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _recv_exactly(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError(f"closed after {len(data)} of {size} bytes")
        data += chunk
    return data


def _http_get(port):
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data.decode(errors="replace")
            data += chunk


def port_forward_checks(c, name):
    """A local port to the guest's web server (port 80), twice; --stdio to a
    port nobody listens on."""
    local = _free_port()
    t0 = time.monotonic()
    proc = subprocess.Popen(_virtctl_argv(c, "port-forward", f"vm/{name}", f"{local}:80"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = _readline(proc)
        check("access: port-forward says where it listens",
              line.startswith(f"Forwarding from 127.0.0.1:{local} -> 80"), line)
        replies = []
        for _ in range(2):
            try:
                replies.append(_http_get(local))
            except OSError as e:
                replies.append(f"error: {e}")
            if len(replies) == 1:
                timings.append(("access: virtctl port-forward start -> HTTP reply from the guest",
                                time.monotonic() - t0))
        check("access: two HTTP requests through virtctl port-forward reach the guest's port 80",
              all("VIREO-TEST-DISK HTTP OK" in r for r in replies), "\n".join(r[-300:] for r in replies))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    p = _run(_virtctl_argv(c, "port-forward", "--stdio", f"vm/{name}", "81"), 60, text=True,
             input="hello\n")
    check("access: port-forward --stdio to a port nobody listens on: exit 7, says so",
          p.returncode == 7 and "does anything listen on port 81" in p.stderr and name in p.stderr,
          f"rc={p.returncode} stderr={p.stderr!r}")


def vnc_checks(c, name):
    """virtctl vnc --proxy-only: the printed port speaks RFB 3.8 and sends a
    framebuffer update; the time to it is printed."""
    t0 = time.monotonic()
    proc = subprocess.Popen(_virtctl_argv(c, "vnc", name, "--proxy-only"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = _readline(proc)
        try:
            port = json.loads(line)["port"]
        except (ValueError, KeyError, TypeError):
            check("access: vnc --proxy-only prints {\"port\":N}", False, line + _stderr_of(proc))
            return
        check("access: vnc --proxy-only prints {\"port\":N}", port > 0, line)
        detail = ""
        updated = False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                version = _recv_exactly(s, 12)
                detail += f"version {version!r}; "
                s.sendall(b"RFB 003.008\n")
                count = _recv_exactly(s, 1)[0]
                types = _recv_exactly(s, count)
                detail += f"security types {list(types)}; "
                s.sendall(b"\x01")  # None: the exec stream is the authentication
                result = struct.unpack(">I", _recv_exactly(s, 4))[0]
                s.sendall(b"\x01")  # ClientInit, shared
                width, height = struct.unpack(">HH", _recv_exactly(s, 4))
                _recv_exactly(s, 16)
                name_len = struct.unpack(">I", _recv_exactly(s, 4))[0]
                desktop = _recv_exactly(s, name_len)
                detail += f"result {result}, {width}x{height} {desktop!r}; "
                s.sendall(struct.pack(">BBHHHH", 3, 0, 0, 0, width, height))
                kind, _, rects = struct.unpack(">BBH", _recv_exactly(s, 4))
                updated = version == b"RFB 003.008\n" and 1 in types and result == 0 and kind == 0 and rects > 0
                detail += f"message {kind} with {rects} rectangles"
                if updated:
                    timings.append(("access: virtctl vnc start -> first framebuffer update", time.monotonic() - t0))
        except (OSError, ConnectionError, struct.error) as e:
            detail += f"error: {e}"
        check("access: an RFB 3.8 handshake and a framebuffer update through virtctl vnc --proxy-only",
              updated, detail)
        try:
            rc = proc.wait(30)
        except subprocess.TimeoutExpired:
            rc = None
        check("access: virtctl vnc ends (exit 0) when its viewer disconnects", rc == 0,
              f"rc={rc} " + _stderr_of(proc))
    finally:
        if proc.poll() is None:
            proc.kill()


def bad_input_checks(c, halted):
    """A VM that does not exist and one that is not running: clear message,
    non-zero exit, nothing left running."""
    for argv, code, says, what in [
        (["vnc", "no-such-vm", "--proxy-only"], 3, "not found", "vnc to a VM that does not exist"),
        (["vnc", halted, "--proxy-only"], 8, "is not running", "vnc to a VM that is not running"),
        (["port-forward", f"vm/{halted}", "8080:80"], 8, "is not running",
         "port-forward to a VM that is not running"),
        (["ssh", f"vm/{halted}"], 8, "is not running", "ssh to a VM that is not running"),
    ]:
        p = _run(_virtctl_argv(c, *argv), 60, text=True)
        check(f"access: {what}: exit {code}, names it",
              p.returncode == code and says in p.stderr and argv[1].split("/")[-1] in p.stderr
              and p.stdout == "", f"rc={p.returncode} stdout={p.stdout!r} stderr={p.stderr!r}")


def ssh_key(workdir):
    """A fresh ed25519 key pair for cloud-init to install; (private path, public line)."""
    key = os.path.join(workdir, "id_ed25519")
    if os.path.exists(key):
        os.remove(key)
        os.remove(key + ".pub")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vireo-t3", "-f", key],
                   check=True, timeout=30)
    with open(key + ".pub") as f:
        return key, f.read().strip()


def ssh_checks(c, name, key, expect_hostname, workdir):
    """virtctl ssh runs a command in the guest as the cloud-init user; virtctl
    scp copies a file in and back out."""
    opts = ["-i", key, "-t", "-o StrictHostKeyChecking=no", "-t", "-o UserKnownHostsFile=/dev/null",
            "-t", "-o BatchMode=yes", "-t", "-o LogLevel=ERROR"]
    t0 = time.monotonic()
    p = None
    for _ in range(10):  # sshd may start a little after cloud-init's runcmd
        p = _run(_virtctl_argv(c, "ssh", *opts, f"vireo@vm/{name}", "-c", "echo VIREO-SSH-$(hostname)"),
                 120, text=True)
        if p.returncode == 0:
            break
        time.sleep(5)
    ok = p.returncode == 0 and f"VIREO-SSH-{expect_hostname}" in p.stdout
    check("access: virtctl ssh vireo@vm/NAME runs a command in Debian with the key cloud-init installed",
          ok, f"rc={p.returncode} stdout={p.stdout[-300:]!r} stderr={p.stderr[-600:]!r}")
    if ok:
        timings.append(("access: virtctl ssh -c (connect, authenticate, run, exit)", time.monotonic() - t0))
    # 4 MiB each way: far more than one WebSocket frame, so every message
    # of the exec stream must reach the kubelet whole.
    payload = os.urandom(4 << 20)
    p = _run(_virtctl_argv(c, "ssh", *opts, f"vireo@vm/{name}", "-c", "sha256sum"), 300, input=payload)
    want = hashlib.sha256(payload).hexdigest()
    check("access: 4 MiB piped through virtctl ssh reach the guest intact (sha256sum there)",
          p.returncode == 0 and p.stdout.decode(errors="replace").startswith(want),
          f"rc={p.returncode} stdout={p.stdout[-200:]!r} stderr={p.stderr[-400:]!r} want {want}")
    src = os.path.join(workdir, "scp-in.bin")
    back = os.path.join(workdir, "scp-back.bin")
    with open(src, "wb") as f:
        f.write(payload)
    if os.path.exists(back):
        os.remove(back)
    t1 = time.monotonic()
    up = _run(_virtctl_argv(c, "scp", *opts, src, f"vireo@vm/{name}:/tmp/scp-in.bin"), 300, text=True)
    down = _run(_virtctl_argv(c, "scp", *opts, f"vireo@vm/{name}:/tmp/scp-in.bin", back), 300, text=True)
    got = open(back, "rb").read() if os.path.exists(back) else b""
    if check("access: virtctl scp copies 4 MiB into the guest and back, byte for byte",
             up.returncode == 0 and down.returncode == 0 and got == payload,
             f"up rc={up.returncode} {up.stderr[-300:]!r}; down rc={down.returncode} {down.stderr[-300:]!r}; "
             f"{len(got)} of {len(payload)} bytes"):
        timings.append(("access: virtctl scp 4 MiB up and back down", time.monotonic() - t1))

#!/usr/bin/env python3
"""HTTP server for the importer's T2 tests (import_test.cc).

Serves the files of DIR and misbehaves on request:
  /files/NAME            the file, with its Content-Length
  /status/CODE           answers CODE with a short body
  /redirect/N/NAME       N relative redirects, then /files/NAME
  /loop                  redirects to itself forever
  /truncated/NAME        announces the file's length, sends half, closes
  /html                  a web page with 200
Prints the port it listens on (127.0.0.1, chosen by the kernel), then serves
until killed or until its stdin closes (the test ended, however it ended:
an interpreter wrapper such as pyenv's may stand between the test's kill and
this process). Optional --tls CERT KEY serves HTTPS instead.
"""
import http.server
import os
import socketserver
import ssl
import sys
import threading


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send_file(self, name, truncate):
        path = os.path.join(self.server.root, os.path.basename(name))
        if not os.path.isfile(path):
            return self.simple(404)
        size = os.path.getsize(path)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        todo = size // 2 if truncate else size
        with open(path, "rb") as f:
            while todo > 0:
                chunk = f.read(min(todo, 1 << 20))
                if not chunk:
                    break
                self.wfile.write(chunk)
                todo -= len(chunk)
        if truncate:
            self.wfile.flush()
            self.close_connection = True

    def simple(self, code, location=None, body=b"nothing here\n"):
        self.send_response(code)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        parts = self.path.split("/")[1:]
        if parts[0] == "files" and len(parts) == 2:
            return self.send_file(parts[1], truncate=False)
        if parts[0] == "truncated" and len(parts) == 2:
            return self.send_file(parts[1], truncate=True)
        if parts[0] == "status" and len(parts) == 2:
            return self.simple(int(parts[1]))
        if parts[0] == "redirect" and len(parts) == 3:
            n = int(parts[1])
            # Relative references, as many servers send them.
            target = f"../{n - 1}/{parts[2]}" if n > 1 else f"/files/{parts[2]}"
            return self.simple(302, location=target)
        if parts[0] == "loop":
            return self.simple(302, location="/loop")
        if parts[0] == "html":
            return self.simple(200, body=b"<!DOCTYPE html>\n<html><body>Please sign in</body></html>\n")
        return self.simple(404)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    root = sys.argv[1]
    server = Server(("127.0.0.1", 0), Handler)
    server.root = root
    if len(sys.argv) == 5 and sys.argv[2] == "--tls":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[3], sys.argv[4])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)

    def exit_with_stdin():
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=exit_with_stdin, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()

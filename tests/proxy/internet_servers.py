"""The 'internet' of the end-to-end test: HTTPS, MQTT and GT06 servers on public addresses.

Run inside the internet namespace with a JSON plan on stdin:
{"https": [[ip, port, certfile, keyfile(, client CA)], ...], "mqtt": [[ip, port]],
 "gt06": [[ip, port]]}
Prints "ready" once every server listens.
"""

from __future__ import annotations

import json
import socketserver
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class JsonHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _reply(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _reply

    def log_message(self, format: str, *args: object) -> None:
        pass


class Mqtt(socketserver.BaseRequestHandler):
    """CONNECT → CONNACK, PUBLISH QoS 1 → PUBACK, DISCONNECT → close."""

    def handle(self) -> None:
        sock = self.request
        while True:
            head = sock.recv(1)
            if not head:
                return
            length, shift = 0, 0
            while True:
                b = sock.recv(1)[0]
                length |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
            body = b""
            while len(body) < length:
                chunk = sock.recv(length - len(body))
                if not chunk:
                    return
                body += chunk
            kind = head[0] >> 4
            if kind == 1:
                sock.sendall(b"\x20\x02\x00\x00")
            elif kind == 3 and (head[0] >> 1) & 3:
                topic_len = int.from_bytes(body[:2], "big")
                packet_id = body[2 + topic_len : 4 + topic_len]
                sock.sendall(b"\x40\x02" + packet_id)
            elif kind == 14:
                return


class Gt06(socketserver.BaseRequestHandler):
    """Answers each frame with a login acknowledgement (78 78 05 01 serial crc 0D 0A)."""

    def handle(self) -> None:
        data = self.request.recv(4096)
        if data.startswith(b"\x78\x78"):
            self.request.sendall(bytes.fromhex("787805010001d9dc0d0a"))


class TcpServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main() -> None:
    plan = json.loads(sys.stdin.read())
    servers: list[socketserver.BaseServer] = []
    for ip, port, cert, key, *client_ca in plan.get("https", []):
        httpd = ThreadingHTTPServer((ip, port), JsonHandler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        if client_ca:
            # Mutual TLS: only clients with a certificate from the vendor CA get in.
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(client_ca[0])
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
        servers.append(httpd)
    for ip, port in plan.get("mqtt", []):
        servers.append(TcpServer((ip, port), Mqtt))
    for ip, port in plan.get("gt06", []):
        servers.append(TcpServer((ip, port), Gt06))
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()

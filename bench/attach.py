"""Keystroke -> echo round trips through `ctrace daemon`'s attach, as a raw client sees them.

    python3 bench/attach.py SOCKET SAMPLES [BLOCK]

Creates and starts its container through the API (`busybox sh` on a terminal with an open stdin,
as `docker run -dit busybox sh`), so the daemon supervises it. In blocks of BLOCK
keystrokes (default 50), alternately over the hijacked attach (`POST /containers/{id}/attach`,
`Upgrade: tcp`) and the websocket attach (`GET /containers/{id}/attach/ws`), a key is sent and
the time until its echo comes back is taken: `x` (the shell echoes `x`), then DEL (it echoes a
backspace), so the line never grows; a command typed at the end of each block proves the shell
read them. Each block is its own attach, ended by the daemon on ^P^Q.
Interleaved with them, the floor: the same keys typed into a `busybox sh` on a pty of this host,
no container and no daemon (what the machine's scheduling alone costs, in the same run).
Prints one JSON object: the samples in microseconds, by path. The container is removed at the
end.
"""

import base64
import json
import os
import shutil
import subprocess
import socket
import struct
import sys
import time

SOCK, SAMPLES = sys.argv[1], int(sys.argv[2])
BLOCK = int(sys.argv[3]) if len(sys.argv) > 3 else 50
QUERY = "stdin=1&stdout=1&stderr=1&stream=1"


def call(method, path, body=None):
    """One request (`Connection: close`): the status and the body."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(SOCK)
    data = json.dumps(body).encode() if body is not None else b""
    s.sendall(
        f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode() + data
    )
    answer = b""
    while chunk := s.recv(65536):
        answer += chunk
    head, _, rest = answer.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    if status >= 300:
        raise SystemExit(f"{method} {path}: {head.decode()} {rest!r}")
    return rest


def connect(request):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(SOCK)
    s.sendall(request)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        if not chunk:
            raise SystemExit(f"the daemon closed the connection: {head!r}")
        head += chunk
    if b" 101 " not in head.split(b"\r\n")[0]:
        raise SystemExit(f"attach refused: {head!r}")
    return s


class Direct:
    """`busybox sh` on a pty of the host, typed into through its master: the floor."""

    name = "direct"

    def __init__(self):
        self.master, slave = os.openpty()
        self.shell = subprocess.Popen(
            [shutil.which("busybox") or "busybox", "sh"],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            env={"TERM": "xterm", "PATH": "/bin:/usr/bin", "PS1": "/ # "},
        )
        os.close(slave)

    def send(self, data):
        os.write(self.master, data)

    def recv(self):
        return os.read(self.master, 65536)

    def detach(self):
        pass

    def stop(self):
        self.shell.kill()
        self.shell.wait()
        os.close(self.master)


class Attach:
    def detach(self):
        """^P^Q: the daemon ends the attach (the container runs on)."""
        self.send(b"\x10\x11")
        while self.recv():
            pass


class Hijacked(Attach):
    name = "hijacked"

    def __init__(self):
        self.s = connect(
            f"POST /containers/{NAME}/attach?{QUERY} HTTP/1.1\r\nHost: x\r\n"
            "Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n".encode()
        )

    def send(self, data):
        self.s.sendall(data)

    def recv(self):
        return self.s.recv(65536)


class WebSocket(Attach):
    name = "websocket"

    def __init__(self):
        key = base64.b64encode(os.urandom(16)).decode()
        self.s = connect(
            f"GET /containers/{NAME}/attach/ws?{QUERY} HTTP/1.1\r\nHost: x\r\n"
            "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Key: {key}\r\n\r\n".encode()
        )
        self.pending = b""

    def send(self, data):
        # A client's frames are masked (RFC 6455 5.3); short payloads only.
        mask = os.urandom(4)
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.s.sendall(bytes([0x82, 0x80 | len(data)]) + mask + payload)

    def recv(self):
        while True:
            frame = self.frame()
            if frame is not None:
                return frame
            chunk = self.s.recv(65536)
            if not chunk:
                return b""
            self.pending += chunk

    def frame(self):
        """The payload of the next whole frame in what was read (b"" for a close), or None."""
        b = self.pending
        if len(b) < 2:
            return None
        n, at = b[1] & 0x7F, 2
        if n == 126:
            if len(b) < 4:
                return None
            n, at = struct.unpack(">H", b[2:4])[0], 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, at = struct.unpack(">Q", b[2:10])[0], 10
        if len(b) < at + n:
            return None
        opcode, payload = b[0] & 0x0F, b[at : at + n]
        self.pending = b[at + n :]
        return b"" if opcode == 8 else payload


def until(conn, want):
    seen = b""
    while want not in seen:
        chunk = conn.recv()
        if not chunk:
            raise SystemExit(f"{conn.name}: the attach ended while waiting for {want!r}")
        seen += chunk


def block(conn, n, out):
    for i in range(n):
        key, echo = (b"x", b"x") if i % 2 == 0 else (b"\x7f", b"\x08")
        t0 = time.perf_counter_ns()
        conn.send(key)
        until(conn, echo)
        out.append((time.perf_counter_ns() - t0) / 1000)
    # The keys reached the shell itself: it runs a command typed after them.
    conn.send(b"echo ok-$((20+22))\n")
    until(conn, b"ok-42")
    conn.detach()


created = call(
    "POST",
    "/containers/create",
    {"Image": "busybox", "Cmd": ["sh"], "Tty": True, "OpenStdin": True},
)
NAME = json.loads(created[created.index(b"{") : created.rindex(b"}") + 1])["Id"]
call("POST", f"/containers/{NAME}/start")
samples = {"direct": [], "hijacked": [], "websocket": []}
direct = Direct()
paths = (lambda: direct, Hijacked, WebSocket)
# A first untimed block each: the connections and the shells warm up.
for path in paths:
    block(path(), 10, [])
done = 0
while done < SAMPLES:
    n = min(BLOCK, SAMPLES - done)
    for path in paths:
        conn = path()
        block(conn, n, samples[conn.name])
    done += n
direct.stop()
call("DELETE", f"/containers/{NAME}?force=1")
print(json.dumps(samples))

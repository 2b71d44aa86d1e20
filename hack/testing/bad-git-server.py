#!/usr/bin/env python3
"""A git "server" on 127.0.0.1 that misbehaves, for fault tests.

    bad-git-server.py PORT MODE

MODE: garbage (answers every HTTP request 200 with random bytes), hang (accepts, reads, never answers).
"""
import os
import socket
import sys
import threading
import time

port, mode = int(sys.argv[1]), sys.argv[2]


def handle(conn: socket.socket) -> None:
    try:
        conn.recv(65536)
        if mode == "hang":
            time.sleep(3600)
            return
        body = os.urandom(4096)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-git-upload-pack-advertisement\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        time.sleep(0.2)
    except OSError:
        pass
    finally:
        conn.close()


listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", port))
listener.listen(64)
print("ready", flush=True)
while True:
    c, _ = listener.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()

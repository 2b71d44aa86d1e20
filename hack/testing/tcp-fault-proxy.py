#!/usr/bin/env python3
"""A TCP proxy on 127.0.0.1 that can make its upstream unreachable, for fault tests.

    tcp-fault-proxy.py LISTEN_PORT UPSTREAM_PORT

SIGUSR1: down (every open connection is reset and the port refuses connections);
SIGUSR2: up again (the same port). Prints "ready" once listening.
"""
import signal
import socket
import sys
import threading

listen_port, upstream_port = int(sys.argv[1]), int(sys.argv[2])
lock = threading.Lock()
connections: set[socket.socket] = set()
state = {"listener": None, "down": False}


def pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(listener: socket.socket) -> None:
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", upstream_port))
        except OSError:
            client.close()
            continue
        with lock:
            connections.update((client, upstream))
        threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()


def listen() -> None:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", listen_port))
    listener.listen(256)
    state["listener"] = listener
    threading.Thread(target=serve, args=(listener,), daemon=True).start()


def down(*_: object) -> None:
    with lock:
        if state["listener"] is not None:
            state["listener"].close()
            state["listener"] = None
        for s in connections:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                s.close()
            except OSError:
                pass
        connections.clear()


def up(*_: object) -> None:
    with lock:
        if state["listener"] is None:
            listen()


signal.signal(signal.SIGUSR1, down)
signal.signal(signal.SIGUSR2, up)
listen()
print("ready", flush=True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    signal.pause()

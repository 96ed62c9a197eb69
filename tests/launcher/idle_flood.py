#!/usr/bin/env python3
"""Strangers at a resident pmixd's door: opens COUNT connections to 127.0.0.1:PORT that never
answer the challenge and holds them, writes "holding" to stdout (flushed) once all are open, and
then waits up to WAIT seconds for the service to close every one of them. Prints how many it
closed and how many were left open, and exits 0 when none were.
    idle_flood.py PORT COUNT WAIT"""
import select
import socket
import sys
import time

port, count, wait = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
socks = []
for _ in range(count):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setblocking(False)
    socks.append(s)
print("holding", flush=True)
open_ = set(socks)
until = time.monotonic() + wait
while open_ and time.monotonic() < until:
    ready, _, _ = select.select(list(open_), [], [], 0.2)
    for s in ready:
        try:
            data = s.recv(65536)
        except BlockingIOError:
            continue
        except ConnectionResetError:
            data = b""
        if data == b"":  # the service closed it (what it sent before, the challenge, is ignored)
            open_.discard(s)
            s.close()
print(f"closed {count - len(open_)} of {count}; {len(open_)} left open", flush=True)
sys.exit(0 if not open_ else 1)

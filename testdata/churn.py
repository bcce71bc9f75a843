#!/usr/bin/python3
"""Holds N/2 loopback TCP connections (N sockets) and, every second, writes
to RATE of them, so that RATE rows of a socket table change per second
(their peer's Recv-Q grows). Bounded: exits after DURATION seconds or when
its stdin closes. Usage: churn.py N RATE DURATION"""
import random, resource, select, socket, sys, time

n, rate, duration = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, n + 100)), hard))
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", 0))
l.listen(4096)
pairs = []
for _ in range(n // 2):
    c = socket.create_connection(l.getsockname())
    s, _ = l.accept()
    pairs.append((c, s))
print("ready", len(pairs) * 2 + 1, flush=True)
end = time.time() + duration
paused = False
while time.time() < end:
    r, _, _ = select.select([sys.stdin], [], [], 1.0)
    if r:
        line = sys.stdin.readline()
        if not line:
            break
        paused = line.strip() == "pause"
        continue
    if not paused:
        for c, _ in random.sample(pairs, min(rate, len(pairs))):
            c.send(b"x" * random.randint(1, 200))

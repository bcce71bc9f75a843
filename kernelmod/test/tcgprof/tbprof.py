#!/usr/bin/python3
"""tbprof.py - instructions per symbol from tbprof.c's phase files.

  tbprof.py CONSOLE A [B] N [TOP]

CONSOLE holds the "KSYM addr type name" lines the profile-* experiments
print; A and B are phase files ("vaddr instructions executions" per block).
Prints (A - B) / N per symbol, largest first (B "-" or absent: A / N), e.g.
rules on minus rules bypassed over the 20,000 datagrams of a phase.
"""
import bisect
import collections
import re
import sys


def symbols(path):
    syms = set()
    with open(path, errors="replace") as f:
        for line in f:
            m = re.match(r"KSYM ([0-9a-f]+) [tT] (\S+)", line)
            if m:
                syms.add((int(m.group(1), 16), m.group(2)))
    return sorted(syms)


def profile(path, syms, addrs):
    per = collections.Counter()
    if path == "-":
        return per
    with open(path) as f:
        for line in f:
            va, insns, execs = (int(x, 16) if i == 0 else int(x) for i, x in enumerate(line.split()))
            i = bisect.bisect_right(addrs, va) - 1
            per[syms[i][1] if i >= 0 else "?"] += insns * execs
    return per


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__)
    args = argv[1:]
    top = 30
    if len(args) == 5:
        top = int(args.pop())
    if len(args) == 3:
        args.insert(2, "-")
    console, a, b, n = args[0], args[1], args[2], float(args[3])
    syms = symbols(console)
    addrs = [s[0] for s in syms]
    pa, pb = profile(a, syms, addrs), profile(b, syms, addrs)
    diff = {k: (pa[k] - pb[k]) / n for k in set(pa) | set(pb)}
    print(f"total {sum(diff.values()):.0f} (A {sum(pa.values()) / n:.0f}, B {sum(pb.values()) / n:.0f})")
    for name, v in sorted(diff.items(), key=lambda kv: -abs(kv[1]))[:top]:
        print(f"{v:12.1f} {name}")


if __name__ == "__main__":
    main(sys.argv)

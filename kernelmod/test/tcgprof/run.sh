#!/bin/bash
# run.sh - profile the guest kernel in instructions: boots the VM of
# kernelmod/test/run-qemu.sh on one vCPU (nokaslr, no slub_debug) with the
# TCG plugin tbprof.c and runs one profile-* experiment of vmtest, which
# separates its phases with sync(2). Each phase's counts land in
# $OUT/prof.N; tbprof.py turns them into instructions per symbol.
#
#   kernelmod/test/tcgprof/run.sh hooks      10k indexed rules, on / bypassed
#   kernelmod/test/tcgprof/run.sh create     100k creates by phase
#   kernelmod/test/tcgprof/run.sh catchall   1,000 catch-all rules
#   kernelmod/test/tcgprof/tbprof.py $OUT/console.txt $OUT/prof.1 $OUT/prof.3 20000
#
# The phase marker is the kernel's __x64_sys_sync, whose address a first
# short boot (profile-syms) reads from /proc/kallsyms (MARK=hex skips it).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
EXP=${1:?usage: run.sh hooks|create|catchall}
OUT=${OUT:-$HERE/out}
mkdir -p "$OUT"
gcc -O2 -Wall -shared -fPIC -o "$OUT/tbprof.so" "$HERE/tbprof.c" -Wl,--unresolved-symbols=ignore-all
export KARGS=nokaslr SMP=1 TIMEOUT=${TIMEOUT:-1800}
if [ -z "${MARK:-}" ]; then
	OUT=$OUT/syms "$HERE/../run-qemu.sh" -only=^profile-syms$ >/dev/null
	MARK=$(awk '$1 == "KSYM" && $4 == "__x64_sys_sync" { print $2 }' "$OUT/syms/console.txt")
	[ -n "$MARK" ] || { echo "tcgprof: no __x64_sys_sync in $OUT/syms/console.txt" >&2; exit 1; }
	cp "$OUT/syms/console.txt" "$OUT/kernel-syms.txt"
fi
rm -f "$OUT"/prof.*
QEMU_EXTRA="-plugin $OUT/tbprof.so,out=$OUT/prof,mark=$MARK" OUT=$OUT/vm \
	"$HERE/../run-qemu.sh" "-only=^profile-$EXP\$"
cat "$OUT/kernel-syms.txt" "$OUT/vm/console.txt" >"$OUT/console.txt"
echo "tcgprof: phases in $OUT/prof.*, symbols in $OUT/console.txt"

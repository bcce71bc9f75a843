# Shared by the collectors' qemu suites (collectors/{dropmon,droptrace,xfrm}/vmtest/run.sh):
# source it after setting OUT, TIMEOUT, VMLINUZ and KVER, and filling
# $OUT/root with the initramfs's files.

# unpack SRC DST: copy a kernel module, decompressing it.
unpack() {
	case "$1" in
	*.xz) xz -dc "$1" >"$2" ;;
	*.zst) zstd -qdc "$1" >"$2" ;;
	*) cp "$1" "$2" ;;
	esac
}

# vm_boot NAME: packs $OUT/root into an initramfs and boots it in qemu
# (TCG by default: KVM inside this kind of nested VM hangs in the BIOS;
# ACCEL=kvm where it works). The console, without carriage returns, ends
# in $OUT/console.txt, and in $TESTOUT/NAME-vmtest.txt for make test,
# which counts its "--- PASS/FAIL/SKIP" lines (internal/testsum). qrc is
# qemu's exit status.
vm_boot() {
	(cd "$OUT/root" && find . | cpio -o -H newc --quiet | gzip -1) >"$OUT/initramfs.gz"
	local accel=${ACCEL:-tcg}
	echo "run.sh: booting $KVER ($accel)"
	set +e
	timeout --foreground -k 10 "$TIMEOUT" qemu-system-x86_64 -accel "$accel" -m 1024 -smp 2 \
		-nographic -no-reboot -nic none \
		-kernel "$VMLINUZ" -initrd "$OUT/initramfs.gz" \
		-append "console=ttyS0 panic=-1 quiet loglevel=4" </dev/null >"$OUT/console.log" 2>&1
	qrc=$?
	set -e
	tr -d '\r' <"$OUT/console.log" >"$OUT/console.txt"
	if [ -n "${TESTOUT:-}" ]; then
		cp "$OUT/console.txt" "$TESTOUT/$1-vmtest.txt"
	fi
}

# vm_fixtures DIR: saves the "FIXTURE NAME HEX" lines the tests printed as
# DIR/NAME.bin (kernel messages for the decoders' tests and fuzz seeds).
vm_fixtures() {
	mkdir -p "$1"
	{ grep -E '^FIXTURE [a-z0-9-]+ [0-9a-f]+$' "$OUT/console.txt" || true; } | while read -r _ name data; do
		echo "$data" | xxd -r -p >"$1/$name.bin"
		echo "run.sh: saved $1/$name.bin"
	done
}

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestIntegrationOutputTargets runs `snapshot -o` and `capture -w` against
// /dev/null, /dev/stdout, /dev/fd/1, a FIFO and a symbolic link, by those
// very names, in a private mount namespace (unshare -m) whose /dev is a
// tmpfs made for the test: nothing is renamed over a device, a FIFO or a
// link, and the data goes where a shell redirection would send it.
func TestIntegrationOutputTargets(t *testing.T) {
	requireRoot(t)
	bin := netlensBinary(t)
	pcap, err := filepath.Abs("collectors/capture/testdata/mixed.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// The script prints, after each command, its exit code and what the
	// target is then (stat %F), on stderr; the commands' own output goes
	// to stdout, which the test reads.
	script := `set -u
mount --make-rprivate / && mount -t tmpfs -o mode=0755 tmpfs /dev || exit 99
# Never write unless /dev is the test's own tmpfs in a namespace of its own.
[ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ] && [ "$(stat -f -c %T /dev)" = tmpfs ] || exit 98
mknod -m 666 /dev/null c 1 3 && ln -s /proc/self/fd /dev/fd && ln -s /proc/self/fd/1 /dev/stdout || exit 99
mkfifo "$DIR/fifo" && touch "$DIR/target" && chmod 600 "$DIR/target" && ln -s target "$DIR/link" || exit 99
T="timeout -k 5 30"
st() { echo "$1 rc=$2 $(stat -c '%F %a' "$3")" >&2; }
$T "$BIN" snapshot -o /dev/null; st snap-null $? /dev/null
$T "$BIN" snapshot -o /dev/stdout; st snap-stdout $? /dev/stdout
$T "$BIN" capture --pcap "$PCAP" -w /dev/null >/dev/null; st cap-null $? /dev/null
$T "$BIN" capture --pcap "$PCAP" -w /dev/fd/1 2>/dev/null >"$DIR/fd1.pcapng"; st cap-fd1 $? "$DIR/fd1.pcapng"
$T cat "$DIR/fifo" >"$DIR/from-fifo" & reader=$!
$T "$BIN" snapshot -o "$DIR/fifo"; st snap-fifo $? "$DIR/fifo"; kill $reader 2>/dev/null; wait $reader
$T "$BIN" snapshot -o "$DIR/link"; st snap-link $? "$DIR/link"; st snap-link-target 0 "$DIR/target"
`
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script)
	cmd.Env = append(os.Environ(), "BIN="+bin, "PCAP="+pcap, "DIR="+dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\nstderr:\n%s", err, stderr.String())
	}
	got := map[string]string{}
	for _, line := range strings.Split(stderr.String(), "\n") {
		if name, rest, ok := strings.Cut(line, " rc="); ok && !strings.Contains(name, " ") {
			got[name] = "rc=" + rest
		}
	}
	want := map[string]string{
		"snap-null":        "rc=0 character special file 666",
		"snap-stdout":      "rc=0 symbolic link 777",
		"cap-null":         "rc=0 character special file 666",
		"cap-fd1":          "rc=0 regular file 644",
		"snap-fifo":        "rc=0 fifo 644",
		"snap-link":        "rc=0 symbolic link 777",
		"snap-link-target": "rc=0 regular file 600",
	}
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: got %q, want %q", name, got[name], w)
		}
	}
	if t.Failed() {
		t.Logf("stderr:\n%s", stderr.String())
	}
	// The one snapshot written to /dev/stdout is the test's stdout.
	var snap map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &snap); err != nil || snap["schema_version"] == nil {
		t.Errorf("stdout is not the snapshot: %v: %.200q", err, stdout.String())
	}
	for _, f := range []string{"from-fifo", "target"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || json.Unmarshal(b, &snap) != nil {
			t.Errorf("%s does not hold a snapshot: %v", f, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "fd1.pcapng"))
	if err != nil || len(b) < 4 || !bytes.Equal(b[:4], []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		t.Errorf("capture -w /dev/fd/1 wrote no pcapng: %v %.16q", err, b)
	}
	var st syscall.Stat_t
	if err := syscall.Stat("/dev/null", &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFCHR {
		t.Fatalf("the host's /dev/null is not a character device any more: %v", err)
	}
}

// TestCaptureFileMode: a new capture file is 0600 whatever the umask, and
// an existing one keeps its mode.
func TestCaptureFileMode(t *testing.T) {
	bin := netlensBinary(t)
	dir := t.TempDir()
	for _, tt := range []struct {
		name  string
		umask string
		old   os.FileMode // 0: no file before
		want  os.FileMode
	}{
		{"new umask 022", "022", 0, 0o600},
		{"new umask 000", "000", 0, 0o600},
		{"existing 0640", "022", 0o640, 0o640},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".pcapng")
			if tt.old != 0 {
				os.WriteFile(path, nil, tt.old)
				os.Chmod(path, tt.old)
			}
			out, err := exec.Command("sh", "-c", `umask "$1" && exec "$2" capture --pcap collectors/capture/testdata/mixed.pcapng -w "$3"`,
				"sh", tt.umask, bin, path).CombinedOutput()
			if err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != tt.want {
				t.Errorf("mode %v, want %v", fi.Mode().Perm(), tt.want)
			}
		})
	}
}

// TestStdoutFull: every command whose output cannot be written (stdout
// is /dev/full) exits 1 saying so, as ls or cat do, instead of 0 with
// the output lost; diff, whose 1 means "different", exits 2, as diff(1)
// does for trouble.
func TestStdoutFull(t *testing.T) {
	bin := netlensBinary(t)
	tests := [][]string{
		{"version"},
		{"rules", "list", "--filter-backend", "none"},
		{"sysctl", "log"},
		{"diff", "ui/testdata/offline-a.json", "ui/testdata/offline-a.json"},
	}
	for _, args := range tests {
		want := 1
		if args[0] == "diff" {
			want = 2
		}
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
			if err != nil {
				t.Skipf("no /dev/full: %v", err)
			}
			defer full.Close()
			cmd := exec.Command(bin, args...)
			var stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = full, &stderr
			code := exitCode(t, cmd.Run())
			if code != want || !strings.Contains(stderr.String(), "no space left on device") {
				t.Errorf("exit %d, want %d saying the output was lost: %q", code, want, stderr.String())
			}
		})
	}
}

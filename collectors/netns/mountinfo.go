package netns

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
)

// nsMount is one nsfs bind mount of a network namespace.
type nsMount struct {
	Inode uint64
	Path  string // mount point, in the mount namespace of the file read
}

// parseMountinfo returns the network-namespace bind mounts in
// /proc/PID/mountinfo text: lines of file-system type nsfs whose root is
// "net:[INODE]" (older kernels write "/net:[INODE]"). Mount points are
// unescaped (\040 for a space).
func parseMountinfo(b []byte) []nsMount {
	var out []nsMount
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, " nsfs ") {
			continue
		}
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		if f := strings.Fields(post); len(f) == 0 || f[0] != "nsfs" {
			continue
		}
		f := strings.Fields(pre)
		if len(f) < 5 {
			continue
		}
		ino, ok := parseNSRef(strings.TrimPrefix(f[3], "/"), "net")
		if !ok {
			continue
		}
		out = append(out, nsMount{Inode: ino, Path: unescapeOctal(f[4])})
	}
	return out
}

// parseNSRef parses "TYPE:[INODE]" (a /proc/PID/ns/TYPE link, or an nsfs
// mount's root) for the given type.
func parseNSRef(s, typ string) (uint64, bool) {
	rest, ok := strings.CutPrefix(s, typ+":[")
	if !ok {
		return 0, false
	}
	num, ok := strings.CutSuffix(rest, "]")
	if !ok {
		return 0, false
	}
	ino, err := strconv.ParseUint(num, 10, 64)
	if err != nil || ino == 0 {
		return 0, false
	}
	return ino, true
}

// unescapeOctal undoes the kernel's \NNN escaping of mount paths.
func unescapeOctal(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

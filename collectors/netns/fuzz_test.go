package netns

import (
	"os"
	"path/filepath"
	"testing"
)

func addSeeds(f *testing.F, glob string) {
	files, _ := filepath.Glob(filepath.Join("testdata", glob))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzParseCgroup(f *testing.F) {
	addSeeds(f, "cgroup/*.txt")
	f.Fuzz(func(t *testing.T, b []byte) {
		if c := parseCgroup(b); c != nil && c.ID == "" && c.PodUID == "" {
			t.Errorf("identity without ID or pod UID: %+v", c)
		}
	})
}

func FuzzParseMountinfo(f *testing.F) {
	addSeeds(f, "mountinfo.txt")
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, m := range parseMountinfo(b) {
			if m.Inode == 0 {
				t.Errorf("zero inode: %+v", m)
			}
		}
	})
}

func FuzzParseSockstat(f *testing.F) {
	addSeeds(f, "sockstat*.txt")
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Sockets
		s.parseSockstat(b)
		if s.TCP < 0 || s.UDP < 0 || s.Raw < 0 {
			t.Errorf("negative count: %+v", s)
		}
	})
}

func FuzzParseStateFiles(f *testing.F) {
	addSeeds(f, "*.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		parseDockerConfig(b)
		parsePodmanContainers(b)
		parsePodLogDir(string(b))
	})
}

func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{"blue", "/run/netns/blue", "pid:1", "inode:4026531840", "pid:", "inode:x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := ParseSelector(s)
		if err != nil {
			return
		}
		again, err := ParseSelector(sel.String())
		if err != nil || again != sel {
			t.Errorf("%q -> %+v -> %q -> %+v, %v", s, sel, sel.String(), again, err)
		}
	})
}

func FuzzParseInterfaces(f *testing.F) {
	links, _ := os.ReadFile("testdata/rtnl-links.bin")
	addrs, _ := os.ReadFile("testdata/rtnl-addrs.bin")
	f.Add(links, addrs)
	f.Add(links[:len(links)/2], addrs[:len(addrs)/3])
	f.Fuzz(func(t *testing.T, links, addrs []byte) {
		parseInterfaces(links, addrs)
	})
}

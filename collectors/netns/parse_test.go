package netns

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const testID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
const testPod = "6b1e2c6a-1f2b-4c3d-9e8f-0a1b2c3d4e5f"

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseCgroup(t *testing.T) {
	tests := []struct {
		file string
		want *Container
	}{
		{"docker-systemd.txt", &Container{Runtime: RuntimeDocker, ID: testID, Cgroup: "/system.slice/docker-" + testID + ".scope"}},
		{"docker-v1.txt", &Container{Runtime: RuntimeDocker, ID: testID, Cgroup: "/docker/" + testID}},
		{"k8s-containerd.txt", &Container{Runtime: RuntimeContainerd, ID: testID, PodUID: testPod,
			Cgroup: "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod6b1e2c6a_1f2b_4c3d_9e8f_0a1b2c3d4e5f.slice/cri-containerd-" + testID + ".scope"}},
		{"k8s-cgroupfs.txt", &Container{ID: testID, PodUID: testPod, Cgroup: "/kubepods/burstable/pod" + testPod + "/" + testID}},
		{"k8s-crio.txt", &Container{Runtime: RuntimeCRIO, ID: testID, PodUID: testPod,
			Cgroup: "/kubepods.slice/kubepods-pod6b1e2c6a_1f2b_4c3d_9e8f_0a1b2c3d4e5f.slice/crio-" + testID + ".scope"}},
		{"podman.txt", &Container{Runtime: RuntimePodman, ID: testID, Cgroup: "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + testID + ".scope/container"}},
		{"podman-conmon.txt", nil},
		{"machined.txt", &Container{Runtime: RuntimeMachined, ID: "my-guest", Name: "my-guest", Cgroup: `/machine.slice/machine-my\x2dguest.scope/payload`}},
		{"lxc.txt", &Container{Runtime: RuntimeLXC, ID: "web01", Name: "web01", Cgroup: "/lxc.payload.web01/init.scope"}},
		{"host.txt", nil},
		{"broken.txt", nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got := parseCgroup(readTestdata(t, "cgroup/"+tt.file))
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("parseCgroup (-want +got):\n%s", d)
			}
		})
	}
}

func TestContainerShort(t *testing.T) {
	tests := []struct {
		name string
		c    *Container
		want string
	}{
		{"nil", nil, ""},
		{"id", &Container{ID: testID}, "0123456789ab"},
		{"name", &Container{ID: testID, Name: "web"}, "web"},
		{"pod uid", &Container{ID: testID, PodUID: testPod}, "pod " + testPod + " 0123456789ab"},
		{"pod", &Container{ID: testID, PodUID: testPod, PodName: "api-7f", PodNamespace: "prod"}, "prod/api-7f 0123456789ab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.Short(); got != tt.want {
				t.Errorf("Short() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseMountinfo(t *testing.T) {
	want := []nsMount{
		{4026532297, "/run/netns/blue"},
		{4026532361, "/run/netns/red space"},
		{4026532999, "/var/run/docker/netns/1a2b3c4d5e6f"},
	}
	if d := cmp.Diff(want, parseMountinfo(readTestdata(t, "mountinfo.txt")), cmp.AllowUnexported(nsMount{})); d != "" {
		t.Errorf("parseMountinfo (-want +got):\n%s", d)
	}
}

func TestParseSockstat(t *testing.T) {
	var s Sockets
	s.parseSockstat(readTestdata(t, "sockstat.txt"))
	s.parseSockstat(readTestdata(t, "sockstat6.txt"))
	want := Sockets{TCP: 9, TimeWait: 3, UDP: 5, Raw: 2, Used: 220}
	if d := cmp.Diff(want, s); d != "" {
		t.Errorf("parseSockstat (-want +got):\n%s", d)
	}
	if s.Total() != 16 {
		t.Errorf("Total() = %d, want 16", s.Total())
	}
}

func TestParseStateFiles(t *testing.T) {
	if got := parseDockerConfig(readTestdata(t, "docker-config.v2.json")); got != "web-1" {
		t.Errorf("parseDockerConfig = %q, want web-1", got)
	}
	if d := cmp.Diff(map[string]string{testID: "db"}, parsePodmanContainers(readTestdata(t, "podman-containers.json"))); d != "" {
		t.Errorf("parsePodmanContainers (-want +got):\n%s", d)
	}
	tests := []struct {
		dir           string
		ns, name, uid string
		ok            bool
	}{
		{"kube-system_coredns-5d78c9869d-abcde_" + testPod, "kube-system", "coredns-5d78c9869d-abcde", testPod, true},
		{"default_web_notauid", "", "", "", false},
		{"a_b", "", "", "", false},
		{"_web_" + testPod, "", "", "", false},
	}
	for _, tt := range tests {
		ns, name, uid, ok := parsePodLogDir(tt.dir)
		if ns != tt.ns || name != tt.name || uid != tt.uid || ok != tt.ok {
			t.Errorf("parsePodLogDir(%q) = %q %q %q %v", tt.dir, ns, name, uid, ok)
		}
	}
}

func TestNamerFromStateFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "docker", testID), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "docker", testID, "config.v2.json"), readTestdata(t, "docker-config.v2.json"), 0o644)
	os.MkdirAll(filepath.Join(dir, "pods", "prod_api-7f_"+testPod), 0o755)
	os.WriteFile(filepath.Join(dir, "podman.json"), readTestdata(t, "podman-containers.json"), 0o644)
	n := &namer{files: StateFiles{DockerContainers: filepath.Join(dir, "docker"), PodLogs: filepath.Join(dir, "pods"), PodmanContainers: filepath.Join(dir, "podman.json")}}
	tests := []struct{ in, want *Container }{
		{&Container{Runtime: RuntimeDocker, ID: testID}, &Container{Runtime: RuntimeDocker, ID: testID, Name: "web-1"}},
		{&Container{Runtime: RuntimePodman, ID: testID}, &Container{Runtime: RuntimePodman, ID: testID, Name: "db"}},
		{&Container{Runtime: RuntimeContainerd, ID: testID, PodUID: testPod}, &Container{Runtime: RuntimeContainerd, ID: testID, PodUID: testPod, PodName: "api-7f", PodNamespace: "prod"}},
	}
	for _, tt := range tests {
		n.name(tt.in)
		if d := cmp.Diff(tt.want, tt.in); d != "" {
			t.Errorf("name (-want +got):\n%s", d)
		}
	}
}

func TestParseSelector(t *testing.T) {
	tests := []struct {
		in      string
		want    Selector
		wantErr bool
	}{
		{"blue", Selector{Kind: ByName, Name: "blue"}, false},
		{"/run/netns/blue", Selector{Kind: ByPath, Name: "/run/netns/blue"}, false},
		{"./x", Selector{Kind: ByPath, Name: "./x"}, false},
		{"pid:42", Selector{Kind: ByPID, PID: 42}, false},
		{"inode:4026531840", Selector{Kind: ByInode, Inode: 4026531840}, false},
		{"", Selector{}, true},
		{"pid:", Selector{}, true},
		{"pid:-1", Selector{}, true},
		{"pid:x", Selector{}, true},
		{"inode:0", Selector{}, true},
		{"..", Selector{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSelector(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			if err == nil && got.String() != tt.in {
				t.Errorf("String() = %q, want %q", got.String(), tt.in)
			}
		})
	}
}

func TestCmdlineHead(t *testing.T) {
	if got := cmdlineHead([]byte("sleep\x00infinity\x00"), 120); got != "sleep infinity" {
		t.Errorf("got %q", got)
	}
	if got := cmdlineHead([]byte("abcdef"), 3); got != "abc" {
		t.Errorf("got %q", got)
	}
}

func TestParseInterfaces(t *testing.T) {
	got, err := parseInterfaces(readTestdata(t, "rtnl-links.bin"), readTestdata(t, "rtnl-addrs.bin"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Interface{
		{Index: 1, Name: "lo", Up: true, Addrs: []string{"127.0.0.1/8", "::1/128"}},
		{Index: 2, Name: "v1"},
		{Index: 3, Name: "v0", Up: true, Addrs: []string{"10.9.0.1/24", "fd09::1/64"}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("parseInterfaces (-want +got):\n%s", d)
	}
	if got, _ := parseInterfaces([]byte{1, 2, 3}, nil); len(got) != 0 {
		t.Errorf("interfaces from a truncated dump: %v", got)
	}
}

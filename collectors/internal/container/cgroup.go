package container

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
)

// Container runtimes, as Container.Runtime says them.
const (
	RuntimeDocker     = "docker"
	RuntimeContainerd = "containerd"
	RuntimeCRIO       = "cri-o"
	RuntimePodman     = "podman"
	RuntimeMachined   = "machined" // systemd-nspawn and other machined guests
	RuntimeLXC        = "lxc"
)

// Container is who owns a namespace, as its processes' cgroup path and
// the runtimes' state files say. Name, PodName and PodNamespace are empty
// where no state file names them.
type Container struct {
	Runtime      string `json:"runtime,omitempty"`
	ID           string `json:"id,omitempty"`
	Name         string `json:"name,omitempty"`
	PodUID       string `json:"pod_uid,omitempty"`
	PodName      string `json:"pod_name,omitempty"`
	PodNamespace string `json:"pod_namespace,omitempty"`
	// Cgroup is the cgroup path the identity was read from.
	Cgroup string `json:"cgroup"`
}

// Short returns the container's display name: its name, else the first
// 12 characters of its ID (as docker ps prints it), with the pod
// ("namespace/pod") in front when there is one.
func (c *Container) Short() string {
	if c == nil {
		return ""
	}
	name := c.Name
	if name == "" {
		name = c.ID
		if len(name) > 12 && isHex(name) {
			name = name[:12]
		}
	}
	pod := c.PodName
	if pod != "" && c.PodNamespace != "" {
		pod = c.PodNamespace + "/" + pod
	} else if pod == "" && c.PodUID != "" {
		pod = "pod " + c.PodUID
	}
	switch {
	case pod != "" && name != "":
		return pod + " " + name
	case pod != "":
		return pod
	}
	return name
}

// ParseCgroup reads /proc/PID/cgroup text ("0::/path" for cgroup v2,
// "N:controllers:/path" for v1) and returns the container identity of
// the first path that has one, or nil. v2's line is tried first, then
// name=systemd's, then the rest in order.
func ParseCgroup(b []byte) *Container {
	var v2, systemd, rest []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		id, after, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		ctrl, path, ok := strings.Cut(after, ":")
		if !ok {
			continue
		}
		switch {
		case id == "0" && ctrl == "":
			v2 = append(v2, path)
		case ctrl == "name=systemd":
			systemd = append(systemd, path)
		default:
			rest = append(rest, path)
		}
	}
	paths := append(append(v2, systemd...), rest...)
	for _, p := range paths {
		if c := containerOf(p); c != nil {
			return c
		}
	}
	return nil
}

// containerOf returns the container identity one cgroup path names, or
// nil. It reads each element of the path:
//
//	docker-ID.scope, /docker/ID          Docker (ID: 64 hex digits)
//	cri-containerd-ID.scope              containerd (CRI)
//	crio-ID.scope                        CRI-O
//	libpod-ID.scope, /libpod_parent/...  Podman (libpod-conmon-* is not the container)
//	machine-NAME.scope                   machined (NAME unescaped)
//	lxc.payload.NAME, /lxc/NAME          LXC
//	...podUID.slice, /kubepods/.../podUID  Kubernetes pod (UID with - for _)
//	/kubepods/.../podUID/ID              the container of that pod (cgroupfs driver)
func containerOf(path string) *Container {
	c := &Container{Cgroup: path}
	elems := strings.Split(strings.Trim(path, "/"), "/")
	for i, e := range elems {
		switch {
		case strings.HasPrefix(e, "docker-") && strings.HasSuffix(e, ".scope"):
			c.setID(RuntimeDocker, strings.TrimSuffix(e[len("docker-"):], ".scope"))
		case e == "docker" && i+1 < len(elems) && IsContainerID(elems[i+1]):
			c.setID(RuntimeDocker, elems[i+1])
		case strings.HasPrefix(e, "cri-containerd-") && strings.HasSuffix(e, ".scope"):
			c.setID(RuntimeContainerd, strings.TrimSuffix(e[len("cri-containerd-"):], ".scope"))
		case strings.HasPrefix(e, "crio-") && strings.HasSuffix(e, ".scope") && !strings.HasPrefix(e, "crio-conmon-"):
			c.setID(RuntimeCRIO, strings.TrimSuffix(e[len("crio-"):], ".scope"))
		case strings.HasPrefix(e, "libpod-") && strings.HasSuffix(e, ".scope") && !strings.HasPrefix(e, "libpod-conmon-"):
			c.setID(RuntimePodman, strings.TrimSuffix(e[len("libpod-"):], ".scope"))
		case strings.HasPrefix(e, "machine-") && strings.HasSuffix(e, ".scope"):
			if name := unescapeUnit(strings.TrimSuffix(e[len("machine-"):], ".scope")); name != "" {
				c.Runtime, c.ID, c.Name = RuntimeMachined, name, name
			}
		case strings.HasPrefix(e, "lxc.payload.") && len(e) > len("lxc.payload."):
			name := e[len("lxc.payload."):]
			c.Runtime, c.ID, c.Name = RuntimeLXC, name, name
		case e == "lxc" && i+1 < len(elems) && elems[i+1] != "":
			c.Runtime, c.ID, c.Name = RuntimeLXC, elems[i+1], elems[i+1]
		case strings.Contains(path, "kubepods") && PodUID(e) != "":
			c.PodUID = PodUID(e)
			// cgroupfs driver: /kubepods/besteffort/podUID/CONTAINERID
			if i+1 < len(elems) && IsContainerID(elems[i+1]) && c.ID == "" {
				c.ID = elems[i+1]
			}
		}
	}
	if c.ID == "" && c.PodUID == "" {
		return nil
	}
	return c
}

// setID sets the runtime and ID when id looks like a container ID.
func (c *Container) setID(runtime, id string) {
	if IsContainerID(id) {
		c.Runtime, c.ID = runtime, id
	}
}

// PodUID returns the pod UID an element names ("pod<uid>",
// "kubepods-besteffort-pod<uid_with_underscores>.slice"), or "".
func PodUID(e string) string {
	e = strings.TrimSuffix(e, ".slice")
	i := strings.LastIndex(e, "pod")
	if i < 0 || (i > 0 && e[i-1] != '-') {
		return ""
	}
	uid := strings.ReplaceAll(e[i+len("pod"):], "_", "-")
	if !IsUUID(uid) {
		return ""
	}
	return uid
}

// IsUUID reports whether s has the 8-4-4-4-12 hex shape of a pod UID.
func IsUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHexByte(s[i]) {
				return false
			}
		}
	}
	return true
}

// IsContainerID reports whether s is a 64-hex-digit container ID.
func IsContainerID(s string) bool { return len(s) == 64 && isHex(s) }

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHexByte(s[i]) {
			return false
		}
	}
	return s != ""
}

func isHexByte(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F'
}

// unescapeUnit undoes systemd's unit-name escaping (\x2d for '-').
func unescapeUnit(s string) string {
	if !strings.Contains(s, `\x`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

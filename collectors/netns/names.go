package netns

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
)

// StateFiles says where the runtimes keep the state files that give
// containers and pods human names. An empty field is not read.
type StateFiles struct {
	// DockerContainers holds ID/config.v2.json ("/var/lib/docker/containers").
	DockerContainers string
	// PodmanContainers is Podman's containers.json
	// ("/var/lib/containers/storage/overlay-containers/containers.json").
	PodmanContainers string
	// PodLogs holds the kubelet's NAMESPACE_NAME_UID directories ("/var/log/pods").
	PodLogs string
}

// DefaultStateFiles are the places Docker, Podman and the kubelet use.
var DefaultStateFiles = StateFiles{
	DockerContainers: "/var/lib/docker/containers",
	PodmanContainers: "/var/lib/containers/storage/overlay-containers/containers.json",
	PodLogs:          "/var/log/pods",
}

// namer fills in Container names from the state files, reading each file
// at most once.
type namer struct {
	files  StateFiles
	pods   map[string][2]string // pod UID -> namespace, name
	podman map[string]string    // container ID -> name
}

func (n *namer) name(c *Container) {
	if c == nil {
		return
	}
	switch c.Runtime {
	case RuntimeDocker:
		if n.files.DockerContainers != "" && isContainerID(c.ID) {
			if b, err := os.ReadFile(filepath.Join(n.files.DockerContainers, c.ID, "config.v2.json")); err == nil {
				c.Name = parseDockerConfig(b)
			}
		}
	case RuntimePodman:
		if n.podman == nil {
			n.podman = map[string]string{}
			if b, err := os.ReadFile(n.files.PodmanContainers); err == nil && n.files.PodmanContainers != "" {
				n.podman = parsePodmanContainers(b)
			}
		}
		c.Name = n.podman[c.ID]
	}
	if c.PodUID != "" {
		if n.pods == nil {
			n.pods = map[string][2]string{}
			if n.files.PodLogs != "" {
				if ents, err := os.ReadDir(n.files.PodLogs); err == nil {
					for _, e := range ents {
						if ns, name, uid, ok := parsePodLogDir(e.Name()); ok {
							n.pods[uid] = [2]string{ns, name}
						}
					}
				}
			}
		}
		if p, ok := n.pods[c.PodUID]; ok {
			c.PodNamespace, c.PodName = p[0], p[1]
		}
	}
}

// parseDockerConfig returns the container name in Docker's
// config.v2.json ("Name": "/web-1" gives "web-1"), or "".
func parseDockerConfig(b []byte) string {
	var cfg struct{ Name string }
	if json.Unmarshal(b, &cfg) != nil {
		return ""
	}
	return strings.TrimPrefix(cfg.Name, "/")
}

// parsePodmanContainers returns container ID -> first name from Podman's
// containers.json ([{"id": ..., "names": [...]}]).
func parsePodmanContainers(b []byte) map[string]string {
	var cs []struct {
		ID    string   `json:"id"`
		Names []string `json:"names"`
	}
	m := map[string]string{}
	if json.Unmarshal(b, &cs) != nil {
		return m
	}
	for _, c := range cs {
		if c.ID != "" && len(c.Names) > 0 {
			m[c.ID] = c.Names[0]
		}
	}
	return m
}

// parsePodLogDir splits a kubelet pod log directory name,
// NAMESPACE_NAME_UID. Kubernetes names cannot contain '_', so the split
// is unambiguous.
func parsePodLogDir(dir string) (namespace, name, uid string, ok bool) {
	parts := strings.Split(dir, "_")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || !isUUID(parts[2]) {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

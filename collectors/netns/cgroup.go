package netns

import "netlens/collectors/internal/container"

// Container is who owns a namespace (collectors/internal/container,
// shared with the socket owner cache).
type Container = container.Container

// Container runtimes, as Container.Runtime says them.
const (
	RuntimeDocker     = container.RuntimeDocker
	RuntimeContainerd = container.RuntimeContainerd
	RuntimeCRIO       = container.RuntimeCRIO
	RuntimePodman     = container.RuntimePodman
	RuntimeMachined   = container.RuntimeMachined
	RuntimeLXC        = container.RuntimeLXC
)

// parseCgroup reads /proc/PID/cgroup text: container.ParseCgroup.
func parseCgroup(b []byte) *Container { return container.ParseCgroup(b) }

func podUID(e string) string      { return container.PodUID(e) }
func isUUID(s string) bool        { return container.IsUUID(s) }
func isContainerID(s string) bool { return container.IsContainerID(s) }

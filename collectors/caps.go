package collectors

import "golang.org/x/sys/unix"

// HasCapability reports whether the calling thread has the capability
// (unix.CAP_SYS_ADMIN, ...) in its effective set (capget). It is safe
// for concurrent use.
func HasCapability(capability int) bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	return data[capability/32].Effective&(1<<(uint(capability)%32)) != 0
}

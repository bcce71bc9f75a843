package collectors

import (
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"
)

// soNetNSCookie is SO_NETNS_COOKIE (Linux 5.14).
const soNetNSCookie = 71

// NetNSKey names the network namespace open as fd (0: the calling
// thread's) for the files netlens keeps about it (the nft revert state
// and log, the sysctl journal and pending change): "INODE-COOKIE". The
// inode alone is reused once a namespace is gone (a new namespace would
// inherit the files of a dead one); the namespace cookie (SO_NETNS_COOKIE) is never reused
// while the system runs, and /run, where the files are, does not outlive
// a boot. Kernels without the cookie get "INODE".
func NetNSKey(fd int) (string, error) {
	var st unix.Stat_t
	var err error
	if fd > 0 {
		err = unix.Fstat(fd, &st)
	} else {
		err = unix.Stat("/proc/thread-self/ns/net", &st)
	}
	if err != nil {
		return "", fmt.Errorf("netns inode: %w", err)
	}
	key := strconv.FormatUint(st.Ino, 10)
	var cookie uint64
	var cerr error
	get := func() {
		s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			cerr = err
			return
		}
		defer unix.Close(s)
		cookie, cerr = unix.GetsockoptUint64(s, unix.SOL_SOCKET, soNetNSCookie)
	}
	if fd > 0 {
		if err := InNetNS(fd, get); err != nil {
			return "", fmt.Errorf("netns cookie: %w", err)
		}
	} else {
		get()
	}
	if cerr == nil {
		key += "-" + strconv.FormatUint(cookie, 10)
	}
	return key, nil
}

package links

import (
	"bytes"
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"netlens/model"
)

// ifreqData is struct ifreq with its union as ifr_data, the pointer to
// the ethtool command buffer (40 bytes on 64-bit, 32 on 32-bit).
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [24 - unsafe.Sizeof(uintptr(0))]byte
}

// ethtoolSock reads drivers' statistics over SIOCETHTOOL on a datagram
// socket; interface names are resolved in the socket's namespace. Not
// safe for concurrent use.
type ethtoolSock struct {
	fd int
	// names are the statistics' names per interface index, read again
	// when their count changes or the sample asks (namesFor).
	names map[int32]ethNames
}

type ethNames struct {
	ifname string
	names  []string
}

// ioctl runs one ethtool command on ifname with buf as its struct.
func (e *ethtoolSock) ioctl(ifname string, buf []byte) error {
	var ifr ifreqData
	if len(ifname) >= len(ifr.name) {
		return fmt.Errorf("interface name %q too long", ifname)
	}
	copy(ifr.name[:], ifname)
	ifr.data = unsafe.Pointer(&buf[0])
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(e.fd), siocEthtool, uintptr(unsafe.Pointer(&ifr)))
	if errno != 0 {
		return errno
	}
	return nil
}

// count returns how many statistics the driver of ifname has
// (ETHTOOL_GSSET_INFO for ETH_SS_STATS).
func (e *ethtoolSock) count(ifname string) (int, error) {
	// struct ethtool_sset_info { u32 cmd; u32 reserved; u64 sset_mask; u32 data[]; }
	buf := make([]byte, 16+4)
	ne.PutUint32(buf[0:], ethtoolGSSetInfo)
	ne.PutUint64(buf[8:], 1<<ethSSStats)
	if err := e.ioctl(ifname, buf); err != nil {
		return 0, err
	}
	if ne.Uint64(buf[8:])&(1<<ethSSStats) == 0 {
		return 0, nil
	}
	return int(ne.Uint32(buf[16:])), nil
}

// strings reads the n names of the driver's statistics
// (ETHTOOL_GSTRINGS).
func (e *ethtoolSock) strings(ifname string, n int) ([]string, error) {
	// struct ethtool_gstrings { u32 cmd; u32 string_set; u32 len; u8 data[]; }
	buf := make([]byte, 12+n*ethGStringLen)
	ne.PutUint32(buf[0:], ethtoolGStrings)
	ne.PutUint32(buf[4:], ethSSStats)
	ne.PutUint32(buf[8:], uint32(n))
	if err := e.ioctl(ifname, buf); err != nil {
		return nil, err
	}
	return parseGStrings(buf[12:], int(ne.Uint32(buf[8:]))), nil
}

// parseGStrings splits n ETH_GSTRING_LEN-byte NUL-padded names out of
// data (fewer when data is short).
func parseGStrings(data []byte, n int) []string {
	n = max(0, min(n, len(data)/ethGStringLen))
	out := make([]string, n)
	for i := range n {
		s := data[i*ethGStringLen : (i+1)*ethGStringLen]
		if j := bytes.IndexByte(s, 0); j >= 0 {
			s = s[:j]
		}
		out[i] = string(s)
	}
	return out
}

// values reads the n statistics (ETHTOOL_GSTATS).
func (e *ethtoolSock) values(ifname string, n int) ([]uint64, error) {
	// struct ethtool_stats { u32 cmd; u32 n_stats; u64 data[]; }
	buf := make([]byte, 8+8*n)
	ne.PutUint32(buf[0:], ethtoolGStats)
	ne.PutUint32(buf[4:], uint32(n))
	if err := e.ioctl(ifname, buf); err != nil {
		return nil, err
	}
	got := min(int(ne.Uint32(buf[4:])), n)
	out := make([]uint64, got)
	for i := range got {
		out[i] = ne.Uint64(buf[8+8*i:])
	}
	return out, nil
}

// stats returns what `ethtool -S ifname` prints, or a note saying why
// there is nothing. fresh forces the names to be read again.
func (e *ethtoolSock) stats(index int32, ifname string, fresh bool) ([]model.EthtoolStat, string) {
	n, err := e.count(ifname)
	switch {
	case errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.EINVAL), err == nil && n == 0:
		delete(e.names, index)
		return nil, "the driver has no statistics"
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return nil, "ethtool: needs CAP_NET_ADMIN"
	case err != nil:
		return nil, "ethtool: " + err.Error()
	case n > maxEthtoolStats:
		return nil, fmt.Sprintf("ethtool: %d statistics, more than netlens reads (%d)", n, maxEthtoolStats)
	}
	cached, ok := e.names[index]
	if fresh || !ok || cached.ifname != ifname || len(cached.names) != n {
		names, err := e.strings(ifname, n)
		if err != nil {
			return nil, "ethtool: names: " + err.Error()
		}
		cached = ethNames{ifname: ifname, names: names}
		e.names[index] = cached
	}
	vals, err := e.values(ifname, n)
	if err != nil {
		return nil, "ethtool: " + err.Error()
	}
	out := make([]model.EthtoolStat, min(len(vals), len(cached.names)))
	for i := range out {
		out[i] = model.EthtoolStat{Name: cached.names[i], Value: vals[i]}
	}
	return out, ""
}

func (e *ethtoolSock) close() error {
	if e.fd < 0 {
		return nil
	}
	err := unix.Close(e.fd)
	e.fd = -1
	return err
}

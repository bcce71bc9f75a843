package conntrack

import (
	"errors"
	"fmt"
	"syscall"
	"unsafe"

	"github.com/mdlayher/netlink"
	"github.com/ti-mo/netfilter"
	"golang.org/x/sys/unix"

	"netlens/collectors"
)

// ctnetlink message types (enum cntl_msg_types in
// include/uapi/linux/netfilter/nfnetlink_conntrack.h).
const (
	msgCTNew         netfilter.MessageType = 0 // IPCTNL_MSG_CT_NEW
	msgCTGet         netfilter.MessageType = 1 // IPCTNL_MSG_CT_GET
	msgCTGetStatsCPU netfilter.MessageType = 4 // IPCTNL_MSG_CT_GET_STATS_CPU
	msgCTGetStats    netfilter.MessageType = 5 // IPCTNL_MSG_CT_GET_STATS
)

// Per-CPU statistics attributes (enum ctattr_stats_cpu).
const (
	attrStatsSearched      = 1  // CTA_STATS_SEARCHED (no longer used)
	attrStatsFound         = 2  // CTA_STATS_FOUND
	attrStatsNew           = 3  // CTA_STATS_NEW (no longer used)
	attrStatsInvalid       = 4  // CTA_STATS_INVALID
	attrStatsIgnore        = 5  // CTA_STATS_IGNORE (no longer used)
	attrStatsDelete        = 6  // CTA_STATS_DELETE (no longer used)
	attrStatsDeleteList    = 7  // CTA_STATS_DELETE_LIST (no longer used)
	attrStatsInsert        = 8  // CTA_STATS_INSERT
	attrStatsInsertFailed  = 9  // CTA_STATS_INSERT_FAILED
	attrStatsDrop          = 10 // CTA_STATS_DROP
	attrStatsEarlyDrop     = 11 // CTA_STATS_EARLY_DROP
	attrStatsError         = 12 // CTA_STATS_ERROR
	attrStatsSearchRestart = 13 // CTA_STATS_SEARCH_RESTART
	attrStatsClashResolve  = 14 // CTA_STATS_CLASH_RESOLVE
	attrStatsChainTooLong  = 15 // CTA_STATS_CHAIN_TOOLONG
)

// Global statistics attributes (enum ctattr_stats_global).
const (
	attrStatsGlobalEntries    = 1 // CTA_STATS_GLOBAL_ENTRIES
	attrStatsGlobalMaxEntries = 2 // CTA_STATS_GLOBAL_MAX_ENTRIES
)

// recvBufSize is the user-space buffer each recvmsg gets. Netlink sizes
// the skbs of a dump after the largest buffer a reader has offered (up to
// 32 KiB), so a large buffer means fewer, fuller reads.
const recvBufSize = 64 << 10

// dumpRetries bounds the restarts of a dump the kernel flagged
// NLM_F_DUMP_INTR (the table changed under it).
const dumpRetries = 3

// errDumpInterrupted is returned when every try of a dump was interrupted.
var errDumpInterrupted = errors.New("conntrack dump interrupted (NLM_F_DUMP_INTR) on every try")

// permError turns EPERM/EACCES from netlink into an error wrapping
// collectors.ErrPermission that says what is needed.
func permError(op string, err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		return fmt.Errorf("needs CAP_NET_ADMIN (%s: %v): %w", op, unwrapErrno(err), collectors.ErrPermission)
	}
	if errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EOPNOTSUPP) {
		return fmt.Errorf("conntrack %s: ctnetlink unavailable: %w (%v)", op, collectors.ErrNotSupported, err)
	}
	return fmt.Errorf("conntrack %s: %w", op, err)
}

// unwrapErrno returns the errno inside err, or err.
func unwrapErrno(err error) error {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return err
}

// dial opens a NETLINK_NETFILTER socket in the network namespace netns
// (an fd; 0 means the caller's).
func dial(netns int) (*netlink.Conn, error) {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: netns, MessageBufferSize: recvBufSize})
	if err != nil {
		return nil, permError("dial", err)
	}
	// Extended ACKs make the kernel say why it refused a request.
	_ = c.SetOption(netlink.ExtendedAcknowledge, true)
	return c, nil
}

func request(t netfilter.MessageType, flags netlink.HeaderFlags) netlink.Message {
	m, err := netfilter.MarshalNetlink(netfilter.Header{
		SubsystemID: netfilter.NFSubsysCTNetlink,
		MessageType: t,
		Family:      netfilter.ProtoUnspec, // both IPv4 and IPv6
		Flags:       flags,
	}, nil)
	if err != nil {
		panic(err) // a header without attributes always marshals
	}
	return m
}

// cpuStats asks for the per-CPU statistics (what `conntrack -S` prints).
func cpuStats(c *netlink.Conn) ([]cpuStat, error) {
	msgs, err := c.Execute(request(msgCTGetStatsCPU, netlink.Request|netlink.Dump))
	if err != nil {
		return nil, permError("stats", err)
	}
	out := make([]cpuStat, 0, len(msgs))
	for _, m := range msgs {
		s, err := decodeCPUStats(m)
		if err != nil {
			return nil, fmt.Errorf("conntrack stats: %w", err)
		}
		out = append(out, s)
	}
	return out, nil
}

// globalStats asks for the entry count and limit. The kernel answers
// IPCTNL_MSG_CT_GET_STATS with one message flagged NLM_F_MULTI but no
// NLMSG_DONE (ctnetlink_stat_ct_fill_info), which netlink.Conn would wait
// on forever, so the reply and its ACK are read here directly.
func globalStats(c *netlink.Conn) (entries, maxEntries uint64, err error) {
	req := request(msgCTGetStats, netlink.Request|netlink.Acknowledge)
	sent, err := c.Send(req)
	if err != nil {
		return 0, 0, permError("global stats", err)
	}
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	buf := make([]byte, 8192)
	found := false
	for range 4 { // the reply, then the ACK; stale datagrams are skipped
		n, err := recv(rc, buf)
		if err != nil {
			return 0, 0, permError("global stats", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return 0, 0, fmt.Errorf("global stats: %w: %v", ErrDecode, err)
		}
		for _, m := range msgs {
			if m.Header.Seq != sent.Header.Sequence {
				continue
			}
			if m.Header.Type == unix.NLMSG_ERROR {
				if err := nlError(m.Header.Flags, m.Data); err != nil {
					return 0, 0, permError("global stats", err)
				}
				if !found {
					return 0, 0, errors.New("conntrack global stats: empty reply")
				}
				return entries, maxEntries, nil
			}
			nm := netlink.Message{Header: netlink.Header{Length: m.Header.Len, Type: netlink.HeaderType(m.Header.Type),
				Flags: netlink.HeaderFlags(m.Header.Flags), Sequence: m.Header.Seq, PID: m.Header.Pid}, Data: m.Data}
			if entries, maxEntries, err = decodeGlobalStats(nm); err != nil {
				return 0, 0, err
			}
			found = true
		}
	}
	return entries, maxEntries, errors.New("conntrack global stats: no ACK")
}

// recv reads one datagram from rc into buf, waiting for it in the
// runtime's poller, and returns its length.
func recv(rc syscall.RawConn, buf []byte) (int, error) {
	var n int
	var rerr error
	if err := rc.Read(func(fd uintptr) bool {
		n, rerr = rawRecv(fd, buf)
		return rerr != unix.EAGAIN
	}); err != nil {
		return 0, err
	}
	return n, rerr
}

// recvReady is recv that does not wait: unix.EAGAIN when no datagram is
// queued.
func recvReady(rc syscall.RawConn, buf []byte) (int, error) {
	var n int
	var rerr error
	if err := rc.Read(func(fd uintptr) bool {
		n, rerr = rawRecv(fd, buf)
		return true
	}); err != nil {
		return 0, err
	}
	return n, rerr
}

// rawRecv is one non-blocking recvfrom(2) into buf, a raw system call
// (no entersyscall) that asks for no source address (unix.Recvfrom
// allocates one per call). In a dump each call is the kernel building the
// next datagram (a few hundred microseconds), not a wait: as an ordinary
// system call, the Go scheduler's monitor polled it every 20 µs, took the
// reader's P at each and handed it to another thread: `flows --json` at
// 100,000 entries made 1,200 nanosleeps and about 2,000 context switches
// (strace -c, perf stat), `conntrack -L` 4. The sockets collector reads
// its dumps the same way (diagConn.recvfrom).
func rawRecv(fd uintptr, buf []byte) (int, error) {
	for {
		n, _, errno := unix.RawSyscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case 0:
			return int(n), nil
		case unix.EINTR:
			continue
		}
		return 0, errno
	}
}

// setRcvBuf gives the socket a receive buffer of n bytes: SO_RCVBUFFORCE
// (needs CAP_NET_ADMIN; ignores net.core.rmem_max), else SO_RCVBUF
// (capped at net.core.rmem_max). It returns the size the kernel reports
// (twice what was asked, for its bookkeeping).
func setRcvBuf(c *netlink.Conn, n int) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var serr error
	cerr := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n)
		if serr != nil {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, n)
		}
	})
	if err := errors.Join(cerr, serr); err != nil {
		return 0, err
	}
	return c.ReadBuffer()
}

// sockMem returns the socket's drop count (SK_MEMINFO_DROPS of
// SO_MEMINFO: for a netlink socket, the multicast messages the kernel
// could not queue because the receive buffer was full) and the bytes
// queued unread (SK_MEMINFO_RMEM_ALLOC).
func sockMem(c *netlink.Conn) (drops uint64, queued int, err error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	var mem [unix.SK_MEMINFO_VARS]uint32
	var serr error
	cerr := rc.Control(func(fd uintptr) {
		l := uint32(unsafe.Sizeof(mem))
		_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_MEMINFO,
			uintptr(unsafe.Pointer(&mem[0])), uintptr(unsafe.Pointer(&l)), 0)
		if e != 0 {
			serr = syscall.Errno(e)
		}
	})
	if err := errors.Join(cerr, serr); err != nil {
		return 0, 0, err
	}
	return uint64(mem[unix.SK_MEMINFO_DROPS]), int(mem[unix.SK_MEMINFO_RMEM_ALLOC]), nil
}

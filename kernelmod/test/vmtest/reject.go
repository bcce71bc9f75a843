package main

import (
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"netlens/collectors/kmod"
)

// icmpError sends one UDP datagram to dst (IPv4 or IPv6, on loopback) from
// a socket with IP(V6)_RECVERR and returns the ICMP error the kernel queued
// for it: its type and code, as the stack parsed them.
func icmpError(dst netip.AddrPort) (typ, code uint8, err error) {
	v6 := dst.Addr().Is6()
	fam, lvl, opt := unix.AF_INET6, unix.IPPROTO_IPV6, unix.IPV6_RECVERR
	var sa unix.Sockaddr = &unix.SockaddrInet6{Port: int(dst.Port()), Addr: dst.Addr().As16()}
	if !v6 {
		fam, lvl, opt = unix.AF_INET, unix.IPPROTO_IP, unix.IP_RECVERR
		sa = &unix.SockaddrInet4{Port: int(dst.Port()), Addr: dst.Addr().As4()}
	}
	fd, err := unix.Socket(fam, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, 0, err
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptInt(fd, lvl, opt, 1); err != nil {
		return 0, 0, err
	}
	if err := unix.Connect(fd, sa); err != nil {
		return 0, 0, err
	}
	if _, err := unix.Write(fd, []byte("reject me")); err != nil {
		return 0, 0, err
	}
	buf, oob := make([]byte, 512), make([]byte, 512)
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		_, oobn, _, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
		if err == unix.EAGAIN {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if err != nil {
			return 0, 0, err
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return 0, 0, err
		}
		for _, m := range msgs {
			if (m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_RECVERR) ||
				(m.Header.Level == unix.IPPROTO_IPV6 && m.Header.Type == unix.IPV6_RECVERR) {
				if len(m.Data) < 8 {
					return 0, 0, errors.New("short sock_extended_err")
				}
				// struct sock_extended_err: errno u32, origin, type, code, pad
				return m.Data[5], m.Data[6], nil
			}
		}
	}
	return 0, 0, errors.New("no ICMP error queued within 2s")
}

// checkReject: a REJECT rule with a TCP reset makes connect fail with
// ECONNREFUSED at once (IPv4 and IPv6), and a REJECT rule with an ICMP
// code makes the sender's stack receive exactly that code (the default is
// the family's port unreachable); the hook counts them as dropped.
func checkReject() error {
	return withClient(func(c *kmod.Client) error {
		for _, tc := range []struct{ network, addr string }{{"tcp4", "127.0.0.1:5600"}, {"tcp6", "[::1]:5601"}} {
			ap := netip.MustParseAddrPort(tc.addr)
			r, err := c.Create(kmod.Rule{Proto: 6, DstPorts: kmod.PortRange{Min: ap.Port(), Max: ap.Port()},
				Action: kmod.ActionReject, RejectWith: kmod.RejectTCPReset}, 0)
			if err != nil {
				return err
			}
			t0 := time.Now()
			err = tcpConnect(tc.network, tc.addr, 10*time.Second) // with a listener
			took := time.Since(t0)
			logf("%s connect to %s with a tcp-reset REJECT rule: %v after %v", tc.network, tc.addr, err, took.Round(time.Millisecond))
			if !errors.Is(err, syscall.ECONNREFUSED) {
				return fmt.Errorf("%s: connect = %v, want ECONNREFUSED", tc.network, err)
			}
			if took > 2*time.Second {
				return fmt.Errorf("%s: refused only after %v", tc.network, took)
			}
			got, err := c.Get(r.ID)
			if err != nil {
				return err
			}
			if got.Packets < 1 || got.RejectWith != kmod.RejectTCPReset {
				return fmt.Errorf("%s: rule after the connect: %+v", tc.network, got)
			}
			if err := c.Delete(r.ID); err != nil {
				return err
			}
			if err := tcpConnect(tc.network, tc.addr, 3*time.Second); err != nil {
				return fmt.Errorf("%s: connect after the delete: %w", tc.network, err)
			}
		}
		for _, tc := range []struct {
			dst      string
			fam      kmod.Family
			code     uint8
			set      bool
			wantType uint8
			wantCode uint8
		}{
			{"127.0.0.1:5602", kmod.FamilyIPv4, 13, true, 3, 13}, // communication administratively prohibited
			{"127.0.0.1:5603", kmod.FamilyIPv4, 1, true, 3, 1},   // host unreachable
			{"[::1]:5604", kmod.FamilyIPv6, 1, true, 1, 1},       // ICMPv6 administratively prohibited
			{"[::1]:5605", kmod.FamilyIPv6, 0, false, 1, 4},      // default: port unreachable
			{"127.0.0.1:5606", kmod.FamilyBoth, 0, false, 3, 3},  // dual family: each family's port unreachable
			{"[::1]:5606", kmod.FamilyBoth, 0, false, 1, 4},
		} {
			ap := netip.MustParseAddrPort(tc.dst)
			r, err := c.Create(kmod.Rule{Family: tc.fam, Proto: 17, DstPorts: kmod.PortRange{Min: ap.Port(), Max: ap.Port()},
				Action: kmod.ActionReject, RejectCode: tc.code, RejectCodeSet: tc.set}, 0)
			if err != nil {
				return fmt.Errorf("%s: %w", tc.dst, err)
			}
			typ, code, err := icmpError(ap)
			logf("udp to %s, REJECT code %d (set %v): ICMP type %d code %d (%v)", tc.dst, tc.code, tc.set, typ, code, err)
			if err != nil {
				return fmt.Errorf("%s: %w", tc.dst, err)
			}
			if typ != tc.wantType || code != tc.wantCode {
				return fmt.Errorf("%s: ICMP type %d code %d, want %d/%d", tc.dst, typ, code, tc.wantType, tc.wantCode)
			}
			if err := c.Delete(r.ID); err != nil {
				return err
			}
		}
		return nil
	})
}

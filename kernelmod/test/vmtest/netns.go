package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"netlens/collectors/kmod"
)

// netns is a network namespace kept alive by an open fd.
type netns struct {
	fd int
}

// newNetns creates a fresh network namespace with lo up.
func newNetns() (*netns, error) {
	type res struct {
		fd  int
		err error
	}
	ch := make(chan res, 1)
	go func() {
		// The thread ends up in another namespace: never unlock it, so the
		// runtime retires it when this goroutine returns.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- res{err: fmt.Errorf("unshare: %w", err)}
			return
		}
		fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		ch <- res{fd, err}
	}()
	r := <-ch
	if r.err != nil {
		return nil, r.err
	}
	n := &netns{fd: r.fd}
	if err := n.sh("ip link set lo up"); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// Close drops the fd; the namespace goes away with its last user.
func (n *netns) Close() error { return unix.Close(n.fd) }

// do runs f on a thread inside the namespace: sockets f opens (and
// processes it starts) live there.
func (n *netns) do(f func() error) error {
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Setns(n.fd, unix.CLONE_NEWNET); err != nil {
			ch <- fmt.Errorf("setns: %w", err)
			return
		}
		ch <- f()
	}()
	return <-ch
}

// sh runs busybox commands (one per line) inside the namespace.
func (n *netns) sh(script string) error {
	return n.do(func() error { return sh(script) })
}

// sh runs busybox commands, one per line, in the current namespace.
func sh(script string) error {
	for _, line := range strings.Split(strings.TrimSpace(script), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		out, err := exec.Command(f[0], f[1:]...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %w: %s", line, err, out)
		}
	}
	return nil
}

// addVeth creates a veth pair: name in the current namespace, peer in
// the namespace of peerNS.
func addVeth(name, peer string, peerNS *netns) error {
	c, err := netlink.Dial(unix.NETLINK_ROUTE, nil)
	if err != nil {
		return fmt.Errorf("dial rtnetlink: %w", err)
	}
	defer c.Close()
	ifinfomsg := make([]byte, unix.SizeofIfInfomsg)
	pae := netlink.NewAttributeEncoder()
	pae.String(unix.IFLA_IFNAME, peer)
	pae.Uint32(unix.IFLA_NET_NS_FD, uint32(peerNS.fd))
	peerAttrs, err := pae.Encode()
	if err != nil {
		return err
	}
	ae := netlink.NewAttributeEncoder()
	ae.String(unix.IFLA_IFNAME, name)
	ae.Nested(unix.IFLA_LINKINFO, func(nae *netlink.AttributeEncoder) error {
		nae.String(unix.IFLA_INFO_KIND, "veth")
		nae.Nested(unix.IFLA_INFO_DATA, func(dae *netlink.AttributeEncoder) error {
			dae.Bytes(1 /* VETH_INFO_PEER */, append(append([]byte{}, ifinfomsg...), peerAttrs...))
			return nil
		})
		return nil
	})
	attrs, err := ae.Encode()
	if err != nil {
		return err
	}
	_, err = c.Execute(netlink.Message{
		Header: netlink.Header{
			Type:  unix.RTM_NEWLINK,
			Flags: netlink.Request | netlink.Acknowledge | netlink.Create | netlink.Excl,
		},
		Data: append(ifinfomsg, attrs...),
	})
	if err != nil {
		return fmt.Errorf("create veth %s/%s: %w", name, peer, err)
	}
	return nil
}

func writeFile(path, s string) error {
	return os.WriteFile(path, []byte(s), 0o644)
}

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return strings.TrimSpace(string(b)), err
}

// inNewNetns runs f with a client in a fresh namespace (lo up), on a
// thread inside it.
func inNewNetns(f func(c *kmod.Client) error) error {
	ns, err := newNetns()
	if err != nil {
		return err
	}
	defer ns.Close()
	return ns.do(func() error {
		c, err := kmod.Dial(nil)
		if err != nil {
			return err
		}
		defer c.Close()
		return f(c)
	})
}

package sockets

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"netlens/collectors"
	"netlens/model"
)

// The integration tests re-execute the test binary as helper processes
// (inside network namespaces, sometimes as another user). The role is in
// $NETLENS_SOCK_HELPER; a helper sets its comm to "nlsk-<role>", prints
// READY once its sockets are open and exits when its stdin closes.
const helperEnv = "NETLENS_SOCK_HELPER"

func init() {
	if os.Getenv(helperEnv) != "" {
		// Keep the main goroutine on the main thread, whose name is the
		// process's comm.
		runtime.LockOSThread()
	}
}

func TestMain(m *testing.M) {
	if role := os.Getenv(helperEnv); role != "" {
		os.Exit(runHelper(role))
	}
	os.Exit(m.Run())
}

// Ports the helpers use inside the test namespace.
const (
	portFlood    = 7001 // 127.0.0.1: data queued both ways
	portVeth4    = 7002 // 10.77.0.1: reached from the peer namespace
	portDual     = 7003 // [::]: v6 and v4-mapped clients
	portVeth6    = 7004 // [fd77::1]
	portBacklog  = 7005 // 127.0.0.1: a connection never accepted
	portTimeWait = 7006 // 127.0.0.1: the server closes after the client
	portUDP      = 7010 // 0.0.0.0: tiny receive buffer, drops
	portUDP6     = 7011 // [::1]
	portUDPDev   = 7012 // 10.77.0.1 bound to the veth device
	portNobody   = 7020 // held by the unprivileged helper
)

func runHelper(role string) int {
	comm := append([]byte("nlsk-"+role), 0)
	_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&comm[0])), 0, 0, 0)
	var err error
	switch role {
	case "server":
		err = helperServer()
	case "holder":
		err = nil // holds the inherited fd 3
	case "client":
		err = helperClient()
	case "remote":
		err = helperRemote()
	case "nobody":
		var c *net.UDPConn
		c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: portNobody})
		hold(c)
	case "collect":
		return helperCollect()
	case "recv":
		err = helperRecv()
	case "pace-a", "pace-b":
		return helperPace()
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	fmt.Println("READY")
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// keep holds a helper's sockets open until it exits; accepting
// goroutines add to it, hence the lock.
var (
	keepMu sync.Mutex
	keep   []any
)

func hold(x any) {
	keepMu.Lock()
	keep = append(keep, x)
	keepMu.Unlock()
}

func held(i int) any {
	keepMu.Lock()
	defer keepMu.Unlock()
	return keep[i]
}

func helperServer() error {
	for _, a := range []struct{ network, addr string }{
		{"tcp4", fmt.Sprintf("127.0.0.1:%d", portFlood)},
		{"tcp4", fmt.Sprintf("10.77.0.1:%d", portVeth4)},
		{"tcp", fmt.Sprintf("[::]:%d", portDual)},
		{"tcp6", fmt.Sprintf("[fd77::1]:%d", portVeth6)},
	} {
		l, err := net.Listen(a.network, a.addr)
		if err != nil {
			return err
		}
		hold(l)
		flood := a.addr == fmt.Sprintf("127.0.0.1:%d", portFlood)
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				hold(c)
				if flood {
					// The client has a small receive buffer and does not
					// read: what it cannot take stays in our send queue.
					_ = c.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
					_, _ = c.Write(make([]byte, 1<<20))
				}
			}
		}()
	}
	bl, err := listenBacklog()
	if err != nil {
		return err
	}
	hold(bl)
	tw, err := net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", portTimeWait))
	if err != nil {
		return err
	}
	hold(tw)
	go func() {
		for {
			c, err := tw.Accept()
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	for _, a := range []struct {
		network string
		addr    *net.UDPAddr
		rcvbuf  int
		dev     string
	}{
		{"udp4", &net.UDPAddr{IP: net.IPv4zero, Port: portUDP}, 2048, ""},
		{"udp6", &net.UDPAddr{IP: net.IPv6loopback, Port: portUDP6}, 0, ""},
		{"udp4", &net.UDPAddr{IP: net.ParseIP("10.77.0.1"), Port: portUDPDev}, 0, "vnlsk0"},
	} {
		lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			_ = rc.Control(func(fd uintptr) {
				if a.rcvbuf > 0 {
					serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, a.rcvbuf)
				}
				if a.dev != "" && serr == nil {
					serr = unix.BindToDevice(int(fd), a.dev)
				}
			})
			return serr
		}}
		c, err := lc.ListenPacket(context.Background(), a.network, a.addr.String())
		if err != nil {
			return err
		}
		hold(c)
	}
	for _, r := range []struct{ family, proto int }{{unix.AF_INET, unix.IPPROTO_ICMP}, {unix.AF_INET6, unix.IPPROTO_ICMPV6}} {
		fd, err := unix.Socket(r.family, unix.SOCK_RAW|unix.SOCK_CLOEXEC, r.proto)
		if err != nil {
			return fmt.Errorf("raw socket: %w", err)
		}
		hold(fd)
	}
	// Share the dual-stack listener with a child process.
	f, err := held(2).(*net.TCPListener).File()
	if err != nil {
		return err
	}
	holder := exec.Command(os.Args[0], "-test.run=^$")
	holder.Env = append(os.Environ(), helperEnv+"=holder")
	holder.ExtraFiles = []*os.File{f}
	stdin, err := holder.StdinPipe()
	if err != nil {
		return err
	}
	out, err := holder.StdoutPipe()
	if err != nil {
		return err
	}
	if err := holder.Start(); err != nil {
		return err
	}
	f.Close()
	hold(stdin) // the holder exits when we do
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "READY\n" {
		return fmt.Errorf("holder: %q", line)
	}
	return nil
}

// listenBacklog listens on portBacklog without ever accepting.
func listenBacklog() (net.Listener, error) {
	return net.Listen("tcp4", fmt.Sprintf("127.0.0.1:%d", portBacklog))
}

func dialSmallBuf(network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 2 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		_ = rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4096) })
		return serr
	}}
	return d.Dial(network, addr)
}

func helperClient() error {
	c, err := dialSmallBuf("tcp4", fmt.Sprintf("127.0.0.1:%d", portFlood))
	if err != nil {
		return err
	}
	hold(c)
	if _, err := c.Write(make([]byte, 3000)); err != nil { // the server never reads
		return err
	}
	for _, a := range []struct{ network, addr string }{
		{"tcp6", fmt.Sprintf("[::1]:%d", portDual)},
		{"tcp4", fmt.Sprintf("127.0.0.1:%d", portDual)},
		{"tcp4", fmt.Sprintf("127.0.0.1:%d", portBacklog)},
	} {
		c, err := net.DialTimeout(a.network, a.addr, 2*time.Second)
		if err != nil {
			return err
		}
		hold(c)
	}
	tw, err := net.DialTimeout("tcp4", fmt.Sprintf("127.0.0.1:%d", portTimeWait), 2*time.Second)
	if err != nil {
		return err
	}
	tw.Close() // we close first: TIME-WAIT here once the server closes
	u, err := net.Dial("udp4", fmt.Sprintf("127.0.0.1:%d", portUDP))
	if err != nil {
		return err
	}
	hold(u)
	for range 40 {
		_, _ = u.Write(make([]byte, 1000))
	}
	u6, err := net.Dial("udp6", fmt.Sprintf("[::1]:%d", portUDP6))
	if err != nil {
		return err
	}
	hold(u6)
	_, _ = u6.Write(make([]byte, 100)) // queued: the server never reads
	time.Sleep(300 * time.Millisecond)
	return nil
}

func helperRemote() error {
	for _, a := range []string{fmt.Sprintf("10.77.0.1:%d", portVeth4), fmt.Sprintf("[fd77::1]:%d", portVeth6)} {
		c, err := net.DialTimeout("tcp", a, 2*time.Second)
		if err != nil {
			return err
		}
		hold(c)
	}
	return nil
}

// collectResult is what the "collect" helper prints.
type collectResult struct {
	Sockets []model.Socket
	Stats   Stats
	Source  string
	Note    string
	Err     string
	State   model.CollectorState
}

type nopPublisher struct{ u model.Update }

func (p *nopPublisher) Publish(u model.Update) { p.u = u }

// helperCollect runs the collector once in its own namespace and user and
// prints the result as JSON. $NETLENS_SOCK_SOURCE forces a source.
func helperCollect() int {
	c := New(Options{Source: os.Getenv("NETLENS_SOCK_SOURCE")})
	defer c.Close()
	var pub nopPublisher
	err := c.Collect(context.Background(), &pub)
	res := collectResult{Source: c.Source(), Note: c.Note(), Stats: c.Stats()}
	if err != nil {
		res.Err = err.Error()
	}
	res.State = collectors.Classify(err)
	if u, ok := pub.u.(model.SocketsUpdate); ok {
		res.Sockets = u.Sockets
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		return 1
	}
	return 0
}

// stopHelper closes a helper's stdin (which tells it to exit) and waits
// for it, killing it after 5 s.
func stopHelper(stdin io.Closer, cmd *exec.Cmd) {
	stdin.Close()
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

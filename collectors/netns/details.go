package netns

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"netlens/collectors"
)

// details fills in the interfaces and socket counts of each namespace.
// With CAP_SYS_ADMIN one locked thread enters each namespace in turn
// (collectors.WithNetNSThread); without, netlens's own namespace is read
// where it runs and the others with a process get their socket counts
// from /proc/PID/net/sockstat{,6}.
func details(procRoot string, nss []Namespace, admin bool) {
	fromProc := func(n *Namespace, buf *[]byte) {
		if n.PID == 0 {
			return
		}
		dir := procRoot + "/" + strconv.Itoa(n.PID) + "/net/"
		var s Sockets
		ok := false
		for _, f := range []string{"sockstat", "sockstat6"} {
			if b, err := readFile(dir+f, buf); err == nil {
				s.parseSockstat(b)
				ok = true
			}
		}
		if ok {
			n.Sockets = &s
		}
	}
	if !admin {
		var buf []byte
		for i := range nss {
			if nss[i].Current {
				// Read where netlens runs, as in an entered one.
				readHere(&nss[i], &buf)
				continue
			}
			fromProc(&nss[i], &buf)
		}
		return
	}
	// Two threads share the namespaces: entering and the two rtnetlink
	// dumps wait on the kernel as much as they use the CPU.
	var wg sync.WaitGroup
	workers := min(2, runtime.NumCPU(), len(nss))
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			_ = collectors.WithNetNSThread(func(t *collectors.NetNSThread) error {
				for i := w; i < len(nss); i += workers {
					n := &nss[i]
					if err := enterOne(t, n, &buf); err != nil {
						n.Enterable = false
						n.Reason = err.Error()
						fromProc(n, &buf)
					}
				}
				return nil
			})
		}()
	}
	wg.Wait()
}

// enterOne enters n on t and reads its interfaces and socket counts.
func enterOne(t *collectors.NetNSThread, n *Namespace, buf *[]byte) error {
	if n.EnterPath == "" {
		return errors.New("no file to enter it by")
	}
	fd, err := unix.Open(n.EnterPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", n.EnterPath, err)
	}
	defer unix.Close(fd)
	if err := t.Enter(fd); err != nil {
		return err
	}
	readHere(n, buf)
	return nil
}

// readHere reads the interfaces and socket counts of the namespace the
// calling thread is in into n.
func readHere(n *Namespace, buf *[]byte) {
	if ifs, err := readInterfaces(buf); err == nil {
		n.Interfaces = ifs
	}
	var s Sockets
	for _, f := range []string{"/proc/thread-self/net/sockstat", "/proc/thread-self/net/sockstat6"} {
		if b, err := readFile(f, buf); err == nil {
			s.parseSockstat(b)
		}
	}
	n.Sockets = &s
}

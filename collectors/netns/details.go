package netns

import (
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"

	"netlens/collectors"
)

// details fills in the interfaces and socket counts of each namespace.
// With CAP_SYS_ADMIN one locked thread enters each namespace in turn
// (collectors.WithNetNSThread); without, namespaces with a process get
// their socket counts from /proc/PID/net/sockstat{,6}.
func details(procRoot string, nss []Namespace, admin bool) {
	var buf []byte
	fromProc := func(n *Namespace) {
		if n.PID == 0 {
			return
		}
		dir := procRoot + "/" + strconv.Itoa(n.PID) + "/net/"
		var s Sockets
		ok := false
		for _, f := range []string{"sockstat", "sockstat6"} {
			if b, err := readFile(dir+f, &buf); err == nil {
				s.parseSockstat(b)
				ok = true
			}
		}
		if ok {
			n.Sockets = &s
		}
	}
	if !admin {
		for i := range nss {
			fromProc(&nss[i])
		}
		return
	}
	_ = collectors.WithNetNSThread(func(t *collectors.NetNSThread) error {
		for i := range nss {
			n := &nss[i]
			if err := enterOne(t, n, &buf); err != nil {
				n.Enterable = false
				n.Reason = err.Error()
				fromProc(n)
			}
		}
		return nil
	})
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
	if ifs, err := readInterfaces(); err == nil {
		n.Interfaces = ifs
	}
	var s Sockets
	for _, f := range []string{"/proc/thread-self/net/sockstat", "/proc/thread-self/net/sockstat6"} {
		if b, err := readFile(f, buf); err == nil {
			s.parseSockstat(b)
		}
	}
	n.Sockets = &s
	return nil
}

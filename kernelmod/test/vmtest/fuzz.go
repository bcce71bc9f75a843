package main

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/mdlayher/genetlink"
	"golang.org/x/sys/unix"

	"netlens/collectors/kmod"
)

const (
	nlaFNested    = 1 << 15
	nlaMaxKnown   = 39 // NETLENS_A_MAX (NETLENS_A_POLICY_VERDICT)
	fuzzMessages  = 100000
	fuzzBatch     = 64
	fuzzBadFrames = 2000
)

// randAttrs builds attribute soup: right and wrong lengths, unknown and
// oversize types, nested garbage, truncated headers.
func randAttrs(rng *rand.Rand, depth int) []byte {
	var b []byte
	for k := rng.IntN(7); k > 0; k-- {
		typ := uint16(rng.IntN(nlaMaxKnown + 4))
		var val []byte
		switch rng.IntN(10) {
		case 0: // unknown type
			typ = uint16(nlaMaxKnown + 1 + rng.IntN(2000))
			val = make([]byte, rng.IntN(16))
		case 1: // oversize
			val = make([]byte, 100+rng.IntN(3000))
		case 2: // nested garbage
			typ |= nlaFNested
			if depth < 3 {
				val = randAttrs(rng, depth+1)
			} else {
				val = make([]byte, rng.IntN(12))
			}
		case 3: // string without NUL, or an over-long one
			val = []byte(strings.Repeat("A", 1+rng.IntN(80)))
		case 4: // empty
		default: // plausible scalar
			val = make([]byte, []int{1, 2, 4, 8, 16}[rng.IntN(5)])
		}
		for i := range val {
			if rng.IntN(3) == 0 {
				val[i] = byte(rng.Uint32())
			}
		}
		l := 4 + len(val)
		if rng.IntN(20) == 0 { // lie about the length
			l = rng.IntN(l + 64)
		}
		hdr := make([]byte, 4)
		binary.NativeEndian.PutUint16(hdr, uint16(l))
		binary.NativeEndian.PutUint16(hdr[2:], typ)
		b = append(b, hdr...)
		b = append(b, val...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	if rng.IntN(15) == 0 && len(b) > 0 { // truncate mid-attribute
		b = b[:rng.IntN(len(b))]
	}
	return b
}

func nlmsg(typ uint16, flags uint16, seq uint32, payload []byte) []byte {
	b := make([]byte, 16, 16+len(payload))
	binary.NativeEndian.PutUint32(b, uint32(16+len(payload)))
	binary.NativeEndian.PutUint16(b[4:], typ)
	binary.NativeEndian.PutUint16(b[6:], flags)
	binary.NativeEndian.PutUint32(b[8:], seq)
	return append(b, payload...)
}

// checkMalformed sends 100,000 randomised requests to the family, each with
// NLM_F_ACK so each gets exactly one ack or error back, plus frames with
// broken netlink lengths, and checks nothing leaks and the module works.
func checkMalformed() error {
	if err := ensureLoaded(); err != nil {
		return err
	}
	slab0, _ := slabObjects()
	pcpu0 := percpuKB()
	if _, err := fuzzFamily(fuzzMessages, fuzzBadFrames, 1); err != nil {
		return err
	}

	// whatever the soup created goes; then the module must still work
	c, err := kmod.Dial(nil)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Flush(); err != nil {
		return err
	}
	if err := checkCRUD(); err != nil {
		return fmt.Errorf("after fuzzing: %w", err)
	}
	time.Sleep(500 * time.Millisecond) // RCU callbacks
	slab1, _ := slabObjects()
	pcpu1 := percpuKB()
	logf("kmalloc objects %d -> %d, percpu %d kB -> %d kB", slab0, slab1, pcpu0, pcpu1)
	if slab1-slab0 > 10000 {
		return fmt.Errorf("kmalloc objects grew by %d", slab1-slab0)
	}
	if pcpu1-pcpu0 > 512 {
		return fmt.Errorf("percpu grew by %d kB", pcpu1-pcpu0)
	}
	return nil
}

// fuzzFamily sends n randomised requests to the family, each with
// NLM_F_ACK so each gets exactly one ack or error back, then bad frames
// with broken netlink lengths; it returns the errno histogram.
func fuzzFamily(n, badFrames int, seed uint64) (map[int32]int, error) {
	gc, err := genetlink.Dial(nil)
	if err != nil {
		return nil, err
	}
	fam, err := gc.GetFamily("netlens")
	gc.Close()
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_GENERIC)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, err
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_EXT_ACK, 1)
	tv := unix.Timeval{Sec: 5}
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	kernel := &unix.SockaddrNetlink{Family: unix.AF_NETLINK}

	rng := rand.New(rand.NewPCG(seed, 2))
	buf := make([]byte, 1<<16)
	var seq uint32
	errnos := map[int32]int{}
	sent := 0
	t0 := time.Now()
	for sent < n {
		for i := 0; i < fuzzBatch; i++ {
			seq++
			gen := []byte{byte(rng.IntN(12)), byte(rng.IntN(3)), 0, 0} // cmd, version, reserved
			if rng.IntN(50) == 0 {
				gen[2] = byte(rng.Uint32())
			}
			payload := append(gen, randAttrs(rng, 0)...)
			flags := uint16(unix.NLM_F_REQUEST | unix.NLM_F_ACK)
			if err := unix.Sendto(fd, nlmsg(fam.ID, flags, seq, payload), 0, kernel); err != nil {
				return errnos, fmt.Errorf("send %d: %w", sent, err)
			}
		}
		acks := 0
		for acks < fuzzBatch {
			k, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				return errnos, fmt.Errorf("after %d messages, %d/%d acks: %w", sent, acks, fuzzBatch, err)
			}
			for b := buf[:k]; len(b) >= 16; {
				l := int(binary.NativeEndian.Uint32(b))
				typ := binary.NativeEndian.Uint16(b[4:])
				if l < 16 || l > len(b) {
					break
				}
				if typ == unix.NLMSG_ERROR && l >= 20 {
					acks++
					errnos[-int32(binary.NativeEndian.Uint32(b[16:]))]++
				}
				b = b[(l+3)&^3:]
			}
		}
		sent += fuzzBatch
	}
	// frames whose netlink length is wrong: the core drops them silently
	for i := 0; i < badFrames; i++ {
		m := nlmsg(fam.ID, unix.NLM_F_REQUEST|unix.NLM_F_ACK, 0, append([]byte{1, 1, 0, 0}, randAttrs(rng, 0)...))
		binary.NativeEndian.PutUint32(m, uint32(rng.IntN(len(m)*2+1)))
		_ = unix.Sendto(fd, m[:4+rng.IntN(len(m)-3)], 0, kernel)
	}
	logf("%d random requests + %d bad frames in %v; errno histogram %v", sent, badFrames,
		time.Since(t0).Round(time.Millisecond), errnos)
	return errnos, nil
}

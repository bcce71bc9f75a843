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
	nlaMaxKnown   = 48 // NETLENS_A_MAX (NETLENS_A_SET_FIELD)
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

// nla appends one attribute.
func nla(b []byte, typ uint16, val []byte) []byte {
	hdr := make([]byte, 4)
	binary.NativeEndian.PutUint16(hdr, uint16(4+len(val)))
	binary.NativeEndian.PutUint16(hdr[2:], typ)
	b = append(append(b, hdr...), val...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// setSoup is the payload of a create or change that carries sets (the
// attributes of issue #14's sets): mostly well-formed rules whose sets hold
// right and wrong elements (bad address lengths, prefix lengths 0..255,
// bits beyond the prefix, mixed families, ports in address sets, unknown
// types, up to 1,500 elements per attribute, several attributes of one
// set), so that sets are really built, changed,
// listed and freed, not only refused.
func setSoup(rng *rand.Rand) []byte {
	var b []byte
	if rng.IntN(3) == 0 { // a change of one of the first rules
		b = nla(b, 2, binary.NativeEndian.AppendUint32(nil, uint32(1+rng.IntN(64))))
	}
	b = nla(b, 17, []byte{byte(1 + rng.IntN(4))}) // action
	if rng.IntN(4) != 0 {
		b = nla(b, 6, []byte{[]byte{17, 6, 1, 0, 58}[rng.IntN(5)]}) // proto
	}
	if rng.IntN(6) == 0 {
		b = nla(b, 36, binary.NativeEndian.AppendUint32(nil, uint32(rng.IntN(16)))) // negate
	}
	for k := 1 + rng.IntN(2); k > 0; k-- {
		typ := uint16(40 + rng.IntN(4)) // SRC_SET .. DPORT_SET
		v6 := rng.IntN(3) == 0
		var set []byte
		n := rng.IntN(20)
		if rng.IntN(10) == 0 {
			n = rng.IntN(1500) // an attribute holds 64 KiB: larger sets come in several
		}
		for i := 0; i < n; i++ {
			switch r := rng.IntN(40); {
			case r == 0: // unknown element type
				set = nla(set, uint16(3+rng.IntN(100)), make([]byte, rng.IntN(8)))
			case r == 1: // a port where a prefix belongs, or a short one
				set = nla(set, 2, make([]byte, rng.IntN(3)))
			case typ >= 42: // port sets
				set = nla(set, 2, binary.NativeEndian.AppendUint16(nil, uint16(rng.Uint32())))
			default:
				alen := 4
				if v6 != (rng.IntN(30) == 0) {
					alen = 16
				}
				if rng.IntN(30) == 0 {
					alen = rng.IntN(20)
				}
				addr := make([]byte, alen)
				for j := range addr {
					addr[j] = byte(rng.Uint32())
				}
				var pfx []byte
				if rng.IntN(30) != 0 {
					pfx = nla(pfx, 1, addr)
				}
				if rng.IntN(2) == 0 {
					plen := alen * 8
					if rng.IntN(5) == 0 {
						plen = rng.IntN(256)
					}
					if plen < alen*8 && rng.IntN(4) != 0 && plen <= 128 { // mask it, mostly
						for j := range addr {
							keep := min(max(plen-8*j, 0), 8)
							addr[j] &= byte(0xff << (8 - keep))
						}
					}
					pfx = nla(pfx, 2, []byte{byte(plen)})
				}
				set = nla(set, 1|nlaFNested, pfx)
			}
		}
		b = nla(b, typ|nlaFNested, set)
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
	// 64 errors that each echo a request of up to 100 KiB (sets); without
	// CAP_NET_ADMIN the buffer stays at net.core.rmem_max, so send fewer at once
	batch := fuzzBatch
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 32<<20); err != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
		batch = 2
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_EXT_ACK, 1)
	tv := unix.Timeval{Sec: 5}
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	kernel := &unix.SockaddrNetlink{Family: unix.AF_NETLINK}

	rng := rand.New(rand.NewPCG(seed, 2))
	buf := make([]byte, 1<<20) // an error echoes its request, which can be 100 KiB
	var seq uint32
	errnos := map[int32]int{}
	sent := 0
	t0 := time.Now()
	for sent < n {
		for i := 0; i < batch; i++ {
			seq++
			gen := []byte{byte(rng.IntN(12)), byte(rng.IntN(3)), 0, 0} // cmd, version, reserved
			if rng.IntN(50) == 0 {
				gen[2] = byte(rng.Uint32())
			}
			flags := uint16(unix.NLM_F_REQUEST | unix.NLM_F_ACK)
			var payload []byte
			switch rng.IntN(8) {
			case 0, 1: // sets (issue #14): create (1) or change (3), version 1
				gen[0], gen[1] = []byte{1, 3}[rng.IntN(2)], 1
				payload = append(gen, setSoup(rng)...)
			case 2: // list a set (GET_SET, a dump) of one of the first rules
				gen[0], gen[1] = 10, 1
				flags |= unix.NLM_F_DUMP
				a := nla(nil, 2, binary.NativeEndian.AppendUint32(nil, uint32(rng.IntN(66))))
				a = nla(a, 48, []byte{byte(rng.IntN(6))})
				payload = append(gen, a...)
			default:
				payload = append(gen, randAttrs(rng, 0)...)
			}
			if rng.IntN(40) == 0 { // any command as a dump
				flags |= unix.NLM_F_DUMP
			}
			if err := unix.Sendto(fd, nlmsg(fam.ID, flags, seq, payload), 0, kernel); err != nil {
				return errnos, fmt.Errorf("send %d: %w", sent, err)
			}
		}
		acks := 0
		for acks < batch {
			k, _, err := unix.Recvfrom(fd, buf, 0)
			if err != nil {
				return errnos, fmt.Errorf("after %d messages, %d/%d acks: %w", sent, acks, batch, err)
			}
			for b := buf[:k]; len(b) >= 16; {
				l := int(binary.NativeEndian.Uint32(b))
				typ := binary.NativeEndian.Uint16(b[4:])
				if l < 16 || l > len(b) {
					break
				}
				// a request gets an ack or error; a dump that started, NLMSG_DONE
				if (typ == unix.NLMSG_ERROR || typ == unix.NLMSG_DONE) && l >= 20 {
					acks++
					errnos[-int32(binary.NativeEndian.Uint32(b[16:]))]++
				}
				b = b[(l+3)&^3:]
			}
		}
		sent += batch
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

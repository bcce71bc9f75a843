package capture

import (
	"fmt"

	"github.com/gopacket/gopacket/layers"

	"golang.org/x/net/bpf"
)

// Filter is a compiled capture filter. Its Match is not safe for
// concurrent use (the VM keeps no state, but callers should not rely on
// it).
type Filter struct {
	// Expr is the expression as given.
	Expr string
	// Program is the classic BPF program over an Ethernet frame as it
	// was on the wire (802.1Q tags in place), as libpcap builds it for
	// a savefile: it is what Match runs.
	Program []bpf.Instruction
	// Kernel is the program attached to the socket. The kernel hands a
	// socket filter frames with their VLAN tag taken off (VLAN offload),
	// so Kernel accepts every frame that had a tag and the capture runs
	// Program on it once gopacket has put the tag back; every other frame
	// is filtered by the kernel with Program.
	Kernel []bpf.Instruction
	vm     *bpf.VM
}

// Compile compiles a tcpdump-syntax expression (see Supported) to classic
// BPF. Syntax outside the supported subset is refused with an error
// wrapping ErrFilter.
func Compile(expr string) (*Filter, error) { return CompileFor(expr, layers.LinkTypeEthernet) }

// CompileFor compiles expr for frames of link type lt: Ethernet, or
// LINUX_SLL and LINUX_SLL2 (what `tcpdump -i any` writes; no "vlan"
// there).
func CompileFor(expr string, lt layers.LinkType) (*Filter, error) {
	n, err := parseFor(expr, lt)
	if err != nil {
		return nil, err
	}
	prog, err := codegen(n)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrFilter, expr, err)
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrFilter, expr, err)
	}
	kprog := append([]bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtVLANTagPresent},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipTrue: 1},
		bpf.RetConstant{Val: snapLen},
	}, prog...)
	return &Filter{Expr: expr, Program: prog, Kernel: kprog, vm: vm}, nil
}

// packetOutgoing is PACKET_OUTGOING (include/uapi/linux/if_packet.h), the
// skb pkt_type of a packet a tap sees leave.
const packetOutgoing = 4

// kernelProgram returns the program to attach to the socket: packets
// leaving loopback (index lo) are dropped, since they come back as
// received packets and would be counted twice (libpcap does the same);
// then f's Kernel program, or accept everything when f is nil.
func kernelProgram(f *Filter, lo int) ([]bpf.RawInstruction, error) {
	prog := []bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtInterfaceIndex},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(lo), SkipFalse: 3},
		bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: packetOutgoing, SkipFalse: 1},
		bpf.RetConstant{Val: 0},
	}
	if lo <= 0 {
		prog = prog[:0]
	}
	if f == nil {
		prog = append(prog, bpf.RetConstant{Val: snapLen})
	} else {
		prog = append(prog, f.Kernel...)
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFilter, err)
	}
	return raw, nil
}

// snapLen is what an accepting program returns: the whole packet.
const snapLen = 262144

// Match runs Program over a frame.
func (f *Filter) Match(frame []byte, _ int) bool {
	n, err := f.vm.Run(frame)
	return err == nil && n > 0
}

// NeedsCheck reports whether a frame that came through the kernel filter
// must be checked again with Match: frames with a VLAN tag, which Kernel
// lets through.
func (f *Filter) NeedsCheck(frame []byte) bool {
	if len(frame) < 14 {
		return false
	}
	t := uint16(frame[12])<<8 | uint16(frame[13])
	return t == 0x8100 || t == 0x88a8 || t == 0x9100
}

// gen emits instructions with symbolic jump targets.
type gen struct {
	ins []genIns
	// labels[l] is the instruction index label l points at.
	labels []int
}

type genIns struct {
	in     bpf.Instruction
	jt, jf int // labels for conditional jumps; -1: next instruction
	cond   bool
	jump   bool // unconditional, to jt
}

func (g *gen) label() int {
	g.labels = append(g.labels, -1)
	return len(g.labels) - 1
}

func (g *gen) place(l int) { g.labels[l] = len(g.ins) }

func (g *gen) emit(in bpf.Instruction) { g.ins = append(g.ins, genIns{in: in, jt: -1, jf: -1}) }

// node emits code that jumps to t when n holds and to f when not.
func (g *gen) node(n node, t, f int) {
	switch n := n.(type) {
	case andNode:
		mid := g.label()
		g.node(n.l, mid, f)
		g.place(mid)
		g.node(n.r, t, f)
	case orNode:
		mid := g.label()
		g.node(n.l, t, mid)
		g.place(mid)
		g.node(n.r, t, f)
	case notNode:
		g.node(n.x, f, t)
	case trueNode:
		g.ins = append(g.ins, genIns{in: bpf.Jump{}, jt: t, jf: -1, jump: true})
	case cmpNode:
		if n.ipHdr {
			g.emit(bpf.LoadMemShift{Off: n.ipHdrAt})
			g.emit(bpf.LoadIndirect{Off: n.off, Size: n.size})
		} else {
			g.emit(bpf.LoadAbsolute{Off: n.off, Size: n.size})
		}
		cond := bpf.JumpEqual
		switch n.op {
		case opSet:
			cond = bpf.JumpBitsSet
		case opGe:
			cond = bpf.JumpGreaterOrEqual
		case opGt:
			cond = bpf.JumpGreaterThan
		}
		if n.mask != 0 {
			g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: n.mask})
		}
		g.ins = append(g.ins, genIns{in: bpf.JumpIf{Cond: cond, Val: n.val}, jt: t, jf: f, cond: true})
	default:
		panic(fmt.Sprintf("capture: unknown filter node %T", n))
	}
}

// codegen compiles n to a program that returns snapLen or 0.
func codegen(n node) ([]bpf.Instruction, error) {
	g := &gen{}
	t, f := g.label(), g.label()
	g.node(n, t, f)
	g.place(t)
	g.emit(bpf.RetConstant{Val: snapLen})
	g.place(f)
	g.emit(bpf.RetConstant{Val: 0})
	out := make([]bpf.Instruction, len(g.ins))
	for i, in := range g.ins {
		if in.jump {
			out[i] = bpf.Jump{Skip: uint32(g.labels[in.jt] - (i + 1))}
			continue
		}
		if !in.cond {
			out[i] = in.in
			continue
		}
		j := in.in.(bpf.JumpIf)
		st, sf := g.labels[in.jt]-(i+1), g.labels[in.jf]-(i+1)
		if st < 0 || sf < 0 || st > 255 || sf > 255 {
			return nil, fmt.Errorf("expression too large for classic BPF jumps")
		}
		j.SkipTrue, j.SkipFalse = uint8(st), uint8(sf)
		out[i] = j
	}
	if len(out) > 4096 {
		return nil, fmt.Errorf("expression compiles to %d instructions (limit %d)", len(out), 4096)
	}
	return out, nil
}

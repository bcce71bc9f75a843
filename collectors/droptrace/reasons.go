package droptrace

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// Reasons names the drop reasons of one kernel: its enum skb_drop_reason
// as its BTF declares it (include/net/dropreason-core.h), which changes
// from version to version. It is immutable and safe for concurrent use.
type Reasons struct {
	names map[uint32]string
	// notDropped and consumed are SKB_NOT_DROPPED_YET and SKB_CONSUMED on
	// this kernel, ^0 where it has none: frees that are not drops.
	notDropped, consumed uint32
}

// Reason prefixes in the kernel's enum.
const (
	reasonPrefix = "SKB_DROP_REASON_"
	skbPrefix    = "SKB_"
)

// reasonsFromBTF reads enum skb_drop_reason from a BTF spec.
func reasonsFromBTF(spec *btf.Spec) (*Reasons, error) {
	var e *btf.Enum
	if err := spec.TypeByName("skb_drop_reason", &e); err != nil {
		return nil, fmt.Errorf("BTF has no enum skb_drop_reason (kernel before 5.17?): %w", err)
	}
	r := &Reasons{names: make(map[uint32]string, len(e.Values)), notDropped: ^uint32(0), consumed: ^uint32(0)}
	for _, v := range e.Values {
		n := uint32(v.Value)
		switch v.Name {
		case "SKB_NOT_DROPPED_YET":
			r.notDropped = n
		case "SKB_CONSUMED":
			r.consumed = n
		case "SKB_DROP_REASON_MAX":
			continue
		}
		if _, dup := r.names[n]; !dup {
			r.names[n] = trimReason(v.Name)
		}
	}
	return r, nil
}

// trimReason turns the kernel's name into netlens's: without
// SKB_DROP_REASON_ ("NO_SOCKET"), and SKB_CONSUMED as "CONSUMED".
func trimReason(s string) string {
	if t, ok := strings.CutPrefix(s, reasonPrefix); ok {
		return t
	}
	if t, ok := strings.CutPrefix(s, skbPrefix); ok {
		return t
	}
	return s
}

// Name returns the reason's name on this kernel, or the number in decimal
// when the kernel's BTF does not name it (a subsystem's reasons, whose
// numbers carry the subsystem in the high 16 bits, are named by other
// enums).
func (r *Reasons) Name(code uint32) string {
	if r != nil {
		if n, ok := r.names[code]; ok {
			return n
		}
	}
	return strconv.FormatUint(uint64(code), 10)
}

// Len returns how many reasons the kernel names.
func (r *Reasons) Len() int { return len(r.names) }

// hasRxSk reports whether the kernel's kfree_skb tracepoint passes rx_sk
// (Linux 6.12+: btf_trace_kfree_skb has 4 arguments after the context).
func hasRxSk(spec *btf.Spec) (bool, error) {
	var td *btf.Typedef
	if err := spec.TypeByName("btf_trace_kfree_skb", &td); err != nil {
		return false, fmt.Errorf("BTF has no btf_trace_kfree_skb: %w", err)
	}
	ptr, ok := td.Type.(*btf.Pointer)
	if !ok {
		return false, errors.New("btf_trace_kfree_skb is not a function pointer")
	}
	fp, ok := ptr.Target.(*btf.FuncProto)
	if !ok {
		return false, errors.New("btf_trace_kfree_skb is not a function pointer")
	}
	switch n := len(fp.Params); {
	case n >= 5: // ctx, skb, location, reason, rx_sk
		return true, nil
	case n == 4:
		return false, nil
	default:
		return false, fmt.Errorf("kfree_skb tracepoint has no drop reason (%d arguments; needs Linux 5.17+)", n-1)
	}
}

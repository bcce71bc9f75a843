package conntrack

import (
	"fmt"
	"strconv"
	"time"

	"netlens/model"
)

// FormatFlow returns one flow as a `conntrack -L -o extended` line:
//
//	ipv4     2 tcp      6 431999 ESTABLISHED src=... dst=... sport=... dport=... [packets=... bytes=...] src=... [ASSURED] mark=0 zone=3 use=1
//
// (without "use", which netlens does not keep), plus "[SNAT addr:port]"
// / "[DNAT addr:port]" when the flow is translated.
func FormatFlow(f *model.Flow, now time.Time) string {
	return string(AppendFlow(make([]byte, 0, 256), f, now))
}

// AppendFlow appends FormatFlow's line for f to b.
func AppendFlow(b []byte, f *model.Flow, now time.Time) []byte {
	fam, l3 := "ipv4", 2
	if f.Family == model.FamilyIPv6 {
		fam, l3 = "ipv6", 10
	}
	b = fmt.Appendf(b, "%-8s %d %-8s %d ", fam, l3, f.Proto, f.ProtoNum)
	b = strconv.AppendInt(b, int64(f.TimeoutLeft(now).Round(time.Second)/time.Second), 10)
	b = append(b, ' ')
	if s := f.State(); s != "" {
		b = append(b, s...)
		b = append(b, ' ')
	}
	b = append(b, f.Orig.String()...)
	if f.CountersKnown {
		b = fmt.Appendf(b, " packets=%d bytes=%d", f.OrigPackets, f.OrigBytes)
	}
	if f.Status&model.StatusSeenReply == 0 {
		b = append(b, " [UNREPLIED]"...)
	}
	b = append(b, ' ')
	b = append(b, f.Reply.String()...)
	if f.CountersKnown {
		b = fmt.Appendf(b, " packets=%d bytes=%d", f.ReplyPackets, f.ReplyBytes)
	}
	for _, fl := range []struct {
		bit  model.FlowStatus
		name string
	}{{model.StatusAssured, " [ASSURED]"}, {model.StatusOffload, " [OFFLOAD]"}, {model.StatusHWOffload, " [HW_OFFLOAD]"}} {
		if f.Status&fl.bit != 0 {
			b = append(b, fl.name...)
		}
	}
	b = fmt.Appendf(b, " mark=%d", f.Mark)
	if f.Zone != 0 {
		b = fmt.Appendf(b, " zone=%d", f.Zone)
	}
	if f.Helper != "" {
		b = fmt.Appendf(b, " helper=%s", f.Helper)
	}
	src, dst := f.NATAddrs()
	if src.IsValid() {
		b = fmt.Appendf(b, " [SNAT %s]", src)
	}
	if dst.IsValid() {
		b = fmt.Appendf(b, " [DNAT %s]", dst)
	}
	return b
}

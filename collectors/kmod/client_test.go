package kmod

import (
	"errors"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nlenc"
	"github.com/mdlayher/netlink/nltest"
	"golang.org/x/sys/unix"

	"netlens/collectors"
	"netlens/model"
)

const testFamilyID = 0x1d

// cmpOpts compare the netip and time values of a Rule by value.
var cmpOpts = []cmp.Option{
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
	cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }),
}

// fakeKernel answers the generic netlink controller's family lookup and
// hands every netlens request to handle. It plays the module for the unit
// tests, one level below genltest so that it can set netlink header flags
// (NLM_F_DUMP_INTR) and extended acks.
type fakeKernel struct {
	t       *testing.T
	noFam   bool
	handle  func(req genetlink.Message, nreq netlink.Message) ([]netlink.Message, error)
	lastReq netlink.Message
}

func (k *fakeKernel) dial(t *testing.T) *Client {
	t.Helper()
	c, err := newClient(genetlink.NewConn(nltest.Dial(k.serve)))
	if err != nil {
		t.Fatalf("newClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (k *fakeKernel) serve(reqs []netlink.Message) ([]netlink.Message, error) {
	if len(reqs) == 0 {
		return nil, nil
	}
	nreq := reqs[0]
	k.lastReq = nreq
	var greq genetlink.Message
	if err := greq.UnmarshalBinary(nreq.Data); err != nil {
		k.t.Fatalf("bad request: %v", err)
	}
	if nreq.Header.Type == unix.GENL_ID_CTRL {
		if k.noFam {
			return nltest.Error(int(unix.ENOENT), reqs)
		}
		return k.familyReply(nreq), nil
	}
	if nreq.Header.Type != testFamilyID {
		k.t.Fatalf("request to family %d", nreq.Header.Type)
	}
	msgs, err := k.handle(greq, nreq)
	for i := range msgs {
		if msgs[i].Header.Sequence == 0 {
			msgs[i].Header.Sequence = nreq.Header.Sequence
		}
		if msgs[i].Header.PID == 0 {
			msgs[i].Header.PID = nltest.PID
		}
	}
	return msgs, err
}

func (k *fakeKernel) familyReply(nreq netlink.Message) []netlink.Message {
	ae := netlink.NewAttributeEncoder()
	ae.Uint16(unix.CTRL_ATTR_FAMILY_ID, testFamilyID)
	ae.String(unix.CTRL_ATTR_FAMILY_NAME, familyName)
	ae.Uint32(unix.CTRL_ATTR_VERSION, familyVersion)
	ae.Nested(unix.CTRL_ATTR_MCAST_GROUPS, func(nae *netlink.AttributeEncoder) error {
		nae.Nested(1, func(gae *netlink.AttributeEncoder) error {
			gae.String(unix.CTRL_ATTR_MCAST_GRP_NAME, groupEvents)
			gae.Uint32(unix.CTRL_ATTR_MCAST_GRP_ID, 9)
			return nil
		})
		return nil
	})
	b, _ := ae.Encode()
	gm, _ := genetlink.Message{Header: genetlink.Header{Command: unix.CTRL_CMD_NEWFAMILY, Version: 2}, Data: b}.MarshalBinary()
	return []netlink.Message{{
		Header: netlink.Header{Type: unix.GENL_ID_CTRL, Sequence: nreq.Header.Sequence, PID: nltest.PID},
		Data:   gm,
	}}
}

// reply builds one netlens message with the given attributes.
func reply(cmd command, flags netlink.HeaderFlags, enc func(ae *netlink.AttributeEncoder)) netlink.Message {
	ae := netlink.NewAttributeEncoder()
	if enc != nil {
		enc(ae)
	}
	b, _ := ae.Encode()
	gm, _ := genetlink.Message{Header: genetlink.Header{Command: uint8(cmd), Version: familyVersion}, Data: b}.MarshalBinary()
	return netlink.Message{Header: netlink.Header{Type: testFamilyID, Flags: flags}, Data: gm}
}

// extackError is an error message with an extended ack, as the kernel
// sends it for a rejected request.
func extackError(errno syscall.Errno, msg string, nreq netlink.Message) netlink.Message {
	orig, _ := nreq.MarshalBinary()
	data := append(nlenc.Int32Bytes(-int32(errno)), orig...)
	ae := netlink.NewAttributeEncoder()
	ae.String(unix.NLMSGERR_ATTR_MSG, msg)
	tlv, _ := ae.Encode()
	return netlink.Message{
		Header: netlink.Header{Type: netlink.Error, Flags: netlink.AcknowledgeTLVs, Sequence: nreq.Header.Sequence, PID: nltest.PID},
		Data:   append(data, tlv...),
	}
}

func ack(nreq netlink.Message) netlink.Message {
	orig, _ := nreq.MarshalBinary()
	return netlink.Message{
		Header: netlink.Header{Type: netlink.Error, Sequence: nreq.Header.Sequence, PID: nltest.PID},
		Data:   append(nlenc.Int32Bytes(0), orig[:16]...),
	}
}

func decodeReq(t *testing.T, greq genetlink.Message) map[attr][]byte {
	t.Helper()
	ad, err := netlink.NewAttributeDecoder(greq.Data)
	if err != nil {
		t.Fatal(err)
	}
	out := map[attr][]byte{}
	for ad.Next() {
		out[attr(ad.Type())] = append([]byte{}, ad.Bytes()...)
	}
	if err := ad.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func u8(v uint8) []byte   { return []byte{v} }
func u16(v uint16) []byte { return nlenc.Uint16Bytes(v) }
func u32(v uint32) []byte { return nlenc.Uint32Bytes(v) }
func str(s string) []byte { return append([]byte(s), 0) }

// encodeFull writes every attribute of a rule as the module's fill does.
func encodeFull(ae *netlink.AttributeEncoder, r Rule) {
	ae.Uint32(uint16(attrRuleID), r.ID)
	encodeRule(ae, r, fieldsCreate, false)
	ae.Uint64(uint16(attrPackets), r.Packets)
	ae.Uint64(uint16(attrBytes), r.Bytes)
	if !r.LastHit.IsZero() {
		ae.Uint64(uint16(attrLastHitNS), uint64(r.LastHit.UnixNano()))
	}
}

func TestCreateEncodesAndDecodes(t *testing.T) {
	tests := []struct {
		name   string
		rule   Rule
		revert time.Duration
		want   map[attr][]byte
	}{
		{
			name: "minimal: kernel defaults for zero values",
			rule: Rule{Action: ActionDrop},
			want: map[attr][]byte{attrEnabled: u8(1), attrAction: u8(2), attrPriority: u32(0)},
		},
		{
			name: "everything",
			rule: Rule{
				Disabled: true, Hooks: HookLocalIn | HookForward, Family: FamilyIPv4, Proto: 6,
				Src: netip.MustParsePrefix("192.0.2.0/24"), Dst: netip.MustParsePrefix("198.51.100.7/32"),
				SrcPorts: PortRange{1024, 65535}, DstPorts: PortRange{22, 22},
				InIface: "eth0", OutIface: "eth1", Action: ActionAccept, Priority: 7, Label: "ssh",
			},
			revert: 1500 * time.Millisecond,
			want: map[attr][]byte{
				attrEnabled: u8(0), attrHooks: u32(6), attrFamily: u8(1), attrProto: u8(6),
				attrSrcAddr: {192, 0, 2, 0}, attrSrcPlen: u8(24), attrDstAddr: {198, 51, 100, 7}, attrDstPlen: u8(32),
				attrSportMin: u16(1024), attrSportMax: u16(65535), attrDportMin: u16(22), attrDportMax: u16(22),
				attrIifname: str("eth0"), attrOifname: str("eth1"), attrAction: u8(1), attrPriority: u32(7),
				attrLabel: str("ssh"), attrRevertMS: u32(1500),
			},
		},
		{
			name: "ipv6 source",
			rule: Rule{Src: netip.MustParsePrefix("2001:db8::/32"), Action: ActionCount},
			want: map[attr][]byte{
				attrEnabled: u8(1), attrSrcAddr: netip.MustParseAddr("2001:db8::").AsSlice(), attrSrcPlen: u8(32),
				attrAction: u8(3), attrPriority: u32(0),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := &fakeKernel{t: t}
			stored := tt.rule
			stored.ID = 42
			k.handle = func(greq genetlink.Message, nreq netlink.Message) ([]netlink.Message, error) {
				if command(greq.Header.Command) != cmdCreate {
					t.Fatalf("command %d", greq.Header.Command)
				}
				if diff := cmp.Diff(tt.want, decodeReq(t, greq)); diff != "" {
					t.Errorf("request attributes (-want +got):\n%s", diff)
				}
				return []netlink.Message{reply(cmdCreate, 0, func(ae *netlink.AttributeEncoder) { encodeFull(ae, stored) })}, nil
			}
			got, err := k.dial(t).Create(tt.rule, tt.revert)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(stored, got, cmpOpts...); diff != "" {
				t.Errorf("reply (-want +got):\n%s", diff)
			}
		})
	}
}

func TestChangeSendsOnlySelectedFields(t *testing.T) {
	tests := []struct {
		name   string
		rule   Rule
		fields Field
		want   map[attr][]byte
	}{
		{"disable", Rule{Disabled: true}, FieldDisabled, map[attr][]byte{attrRuleID: u32(5), attrEnabled: u8(0)}},
		{"clear destination", Rule{}, FieldDst, map[attr][]byte{attrRuleID: u32(5), attrDstPlen: u8(0)}},
		{"any port", Rule{}, FieldDstPorts, map[attr][]byte{attrRuleID: u32(5), attrDportMin: u16(0), attrDportMax: u16(0xffff)}},
		{"hooks and label", Rule{Hooks: HookAll, Label: ""}, FieldHooks | FieldLabel,
			map[attr][]byte{attrRuleID: u32(5), attrHooks: u32(0x1f), attrLabel: str("")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := &fakeKernel{t: t}
			k.handle = func(greq genetlink.Message, nreq netlink.Message) ([]netlink.Message, error) {
				if diff := cmp.Diff(tt.want, decodeReq(t, greq)); diff != "" {
					t.Errorf("request attributes (-want +got):\n%s", diff)
				}
				return []netlink.Message{reply(cmdChange, 0, func(ae *netlink.AttributeEncoder) { ae.Uint32(uint16(attrRuleID), 5) })}, nil
			}
			if _, err := k.dial(t).Change(5, tt.rule, tt.fields, 0); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestCommandsWithoutReplyAskForAck(t *testing.T) {
	tests := []struct {
		name string
		cmd  command
		do   func(c *Client) error
		want map[attr][]byte
	}{
		{"delete", cmdDelete, func(c *Client) error { return c.Delete(3) }, map[attr][]byte{attrRuleID: u32(3)}},
		{"flush", cmdFlush, func(c *Client) error { return c.Flush() }, map[attr][]byte{}},
		{"confirm", cmdConfirm, func(c *Client) error { return c.Confirm(9) }, map[attr][]byte{attrTxnID: u32(9)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := &fakeKernel{t: t}
			k.handle = func(greq genetlink.Message, nreq netlink.Message) ([]netlink.Message, error) {
				if command(greq.Header.Command) != tt.cmd {
					t.Errorf("command %d, want %d", greq.Header.Command, tt.cmd)
				}
				if nreq.Header.Flags&netlink.Acknowledge == 0 {
					t.Error("request without NLM_F_ACK")
				}
				if diff := cmp.Diff(tt.want, decodeReq(t, greq)); diff != "" {
					t.Errorf("request attributes (-want +got):\n%s", diff)
				}
				return []netlink.Message{ack(nreq)}, nil
			}
			if err := tt.do(k.dial(t)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name     string
		errno    syscall.Errno
		msg      string
		wantIs   []error
		wantText string
	}{
		{"unknown rule", unix.ENOENT, "unknown rule id", []error{unix.ENOENT}, "unknown rule id"},
		{"limit", unix.ENOSPC, "netlens: rule limit reached (sysctl net.netlens.max_rules)", []error{unix.ENOSPC},
			"netlens: rule limit reached (sysctl net.netlens.max_rules)"},
		{"not admin", unix.EPERM, "", []error{unix.EPERM, collectors.ErrPermission}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := &fakeKernel{t: t}
			k.handle = func(greq genetlink.Message, nreq netlink.Message) ([]netlink.Message, error) {
				return []netlink.Message{extackError(tt.errno, tt.msg, nreq)}, nil
			}
			_, err := k.dial(t).Get(1)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.wantIs {
				if !errors.Is(err, w) {
					t.Errorf("err %v is not %v", err, w)
				}
			}
			if got := KernelMessage(err); got != tt.wantText {
				t.Errorf("KernelMessage = %q, want %q", got, tt.wantText)
			}
			if tt.errno == unix.EPERM && collectors.Classify(err) != model.StateNoPermission {
				t.Errorf("classified as %v, want StateNoPermission", collectors.Classify(err))
			}
		})
	}
}

func TestDialWithoutModule(t *testing.T) {
	k := &fakeKernel{t: t, noFam: true}
	_, err := newClient(genetlink.NewConn(nltest.Dial(k.serve)))
	if !errors.Is(err, collectors.ErrNotSupported) {
		t.Fatalf("err = %v, want ErrNotSupported", err)
	}
}

func TestDumpRetriesInterrupted(t *testing.T) {
	rule := func(id uint32) netlink.Message {
		return reply(cmdGet, netlink.Multi, func(ae *netlink.AttributeEncoder) { encodeFull(ae, Rule{ID: id, Action: ActionDrop}) })
	}
	done := netlink.Message{Header: netlink.Header{Type: netlink.Done, Flags: netlink.Multi}, Data: nlenc.Int32Bytes(0)}
	tests := []struct {
		name        string
		interrupted int // how many dumps come back flagged
		wantIDs     []uint32
		wantErr     bool
	}{
		{"clean", 0, []uint32{1, 2}, false},
		{"interrupted twice", 2, []uint32{1, 2}, false},
		{"always interrupted", 100, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := &fakeKernel{t: t}
			calls := 0
			k.handle = func(greq genetlink.Message, nreq netlink.Message) ([]netlink.Message, error) {
				if nreq.Header.Flags&netlink.Dump != netlink.Dump {
					t.Error("dump without NLM_F_DUMP")
				}
				calls++
				msgs := []netlink.Message{rule(1), rule(2), done}
				if calls <= tt.interrupted {
					msgs[0].Header.Flags |= netlink.DumpInterrupted
				}
				return msgs, nil
			}
			rules, err := k.dial(t).Dump()
			if tt.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				if calls != maxDumpRetries+1 {
					t.Errorf("%d dumps, want %d", calls, maxDumpRetries+1)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []uint32
			for _, r := range rules {
				ids = append(ids, r.ID)
			}
			if diff := cmp.Diff(tt.wantIDs, ids); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCounters(t *testing.T) {
	hooks := []HookCounters{
		{Family: FamilyIPv4, Hook: 1, Seen: 10, Accepted: 8, Dropped: 2, Examined: 40, Policy: ActionDrop, PolicyTxn: 7, PolicyRevertIn: 1500 * time.Millisecond},
		{Family: FamilyIPv6, Hook: 3, Seen: 5, Accepted: 5, Policy: ActionAccept},
	}
	k := &fakeKernel{t: t}
	k.handle = func(greq genetlink.Message, nreq netlink.Message) ([]netlink.Message, error) {
		return []netlink.Message{reply(cmdCounters, 0, func(ae *netlink.AttributeEncoder) {
			ae.Uint32(uint16(attrRuleCount), 3)
			for _, h := range hooks {
				ae.Nested(uint16(attrHookStats), func(nae *netlink.AttributeEncoder) error {
					nae.Uint8(uint16(hsFamily), uint8(h.Family))
					nae.Uint8(uint16(hsHook), h.Hook)
					nae.Uint64(uint16(hsSeen), h.Seen)
					nae.Uint64(uint16(hsAccepted), h.Accepted)
					nae.Uint64(uint16(hsDropped), h.Dropped)
					nae.Uint64(uint16(hsExamined), h.Examined)
					nae.Uint8(uint16(hsPolicy), uint8(h.Policy))
					if h.PolicyTxn != 0 {
						nae.Uint32(uint16(hsTxnID), h.PolicyTxn)
						nae.Uint32(uint16(hsRevertMS), uint32(h.PolicyRevertIn.Milliseconds()))
					}
					return nil
				})
			}
		})}, nil
	}
	got, err := k.dial(t).Counters()
	if err != nil {
		t.Fatal(err)
	}
	want := Counters{Rules: 3, Hooks: hooks}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
}

func TestRevertRange(t *testing.T) {
	k := &fakeKernel{t: t, handle: func(genetlink.Message, netlink.Message) ([]netlink.Message, error) {
		t.Fatal("request sent")
		return nil, nil
	}}
	c := k.dial(t)
	for _, d := range []time.Duration{-time.Second, 2 * time.Hour} {
		if _, err := c.Create(Rule{Action: ActionDrop}, d); err == nil {
			t.Errorf("revert %v accepted", d)
		}
	}
}

package export

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"netlens/model"
	"netlens/snapshot/snapshottest"
)

// fullSnapshot returns a snapshot with every field set, so that the schema
// test sees every property.
func fullSnapshot() model.Snapshot {
	t0 := time.Date(2026, 11, 21, 5, 1, 2, 0, time.UTC)
	s := model.NewStore("web-1", "6.1.0-28-amd64", t0)
	s.Publish(model.SocketsUpdate{At: t0, Sockets: []model.Socket{
		{Proto: model.ProtoTCP, Family: model.FamilyIPv4, Local: netip.MustParseAddrPort("10.0.0.1:22"), Remote: netip.MustParseAddrPort("10.0.0.2:50000"),
			State: model.StateEstablished, SendQ: 1, RecvQ: 2, UID: 0, Inode: 12345, Cookie: 99, Interface: "eth0",
			Procs: []model.Proc{{PID: 42, Comm: "sshd", FD: 3}}, Drops: 7, HasDrops: true,
			TCP: &model.TCPInfo{Len: 232, CAState: model.CARecovery, Retransmits: 1, Backoff: 1, RTO: 204000, ATO: 40000, SndMSS: 1448, RcvMSS: 536,
				Unacked: 10, Sacked: 2, Lost: 1, Retrans: 1, LastDataSent: 4, LastDataRecv: 8, PMTU: 1500, RTT: 20000, RTTVar: 5000,
				SndSsthresh: 20, SndCwnd: 10, Reordering: 3, TotalRetrans: 7, PacingRate: 1e6, MaxPacingRate: 1<<64 - 1, BytesAcked: 1e6,
				BytesReceived: 2e5, SegsOut: 900, SegsIn: 800, NotsentBytes: 100, MinRTT: 15000, DataSegsIn: 300, DataSegsOut: 700,
				DeliveryRate: 9e5, DeliveryRateAppLimited: true, BusyTime: 5e6, RwndLimited: 1e6, SndbufLimited: 2e5, BytesSent: 1.1e6,
				BytesRetrans: 1e4, Congestion: "cubic"},
			Rate: &model.SocketRate{Known: true, Interval: time.Second, RxBps: 1000, TxBps: 2e6, RetransPerSec: 0.5,
				Limits: model.SendLimits{Window: 10 * time.Second, Busy: 8 * time.Second, Rwnd: time.Second, Sndbuf: 2 * time.Second}}},
		{Proto: model.ProtoUDP, Family: model.FamilyIPv6, Local: netip.MustParseAddrPort("[::]:53"), State: model.StateClose},
		{Proto: model.ProtoRAW, Family: model.FamilyIPv6, Local: netip.MustParseAddrPort("[fe80::1%eth0]:58"), State: model.StateClose},
	}})
	for i, v := range []uint64{10, 25} {
		s.Publish(model.CountersUpdate{Collector: "counters", At: t0.Add(time.Duration(i) * time.Second), Counters: []model.RawCounter{
			{Layer: model.LayerTransport, Source: "/proc/net/snmp", Group: "Udp", Name: "RcvbufErrors", Kind: model.KindCounter, Value: v},
			{Layer: model.LayerNIC, Source: "/proc/net/dev", Instance: "eth0", Name: "rx_dropped", Kind: model.KindCounter, Value: 30 - v},
			{Layer: model.LayerSocket, Source: "/proc/net/sockstat", Group: "TCP", Name: "inuse", Kind: model.KindGauge, Value: v},
		}})
	}
	s.Publish(model.SysctlsUpdate{At: t0, Sysctls: []model.Sysctl{
		{Name: "net.core.somaxconn", Value: "4096", Watched: true, Why: "listen backlog cap"},
		{Name: "net.ipv4.tcp_rmem", Value: "4096 131072 6291456"},
	}})
	s.Publish(model.FlowsUpdate{At: t0, Flows: []model.Flow{
		{ID: 7, Family: model.FamilyIPv4, Proto: model.ProtoTCP, ProtoNum: 6,
			Orig:     model.FlowTuple{Src: netip.MustParseAddrPort("192.0.2.7:40000"), Dst: netip.MustParseAddrPort("198.51.100.1:80")},
			Reply:    model.FlowTuple{Src: netip.MustParseAddrPort("10.0.0.5:8080"), Dst: netip.MustParseAddrPort("10.0.0.1:61000")},
			TCPState: model.TCPEstablished, Status: model.StatusSeenReply | model.StatusAssured | model.StatusConfirmed | model.StatusSrcNAT | model.StatusDstNAT,
			Timeout: 431999 * time.Second, Mark: 1, Zone: 3, Helper: "ftp", OrigPackets: 3, OrigBytes: 180, ReplyPackets: 2, ReplyBytes: 120, CountersKnown: true,
			Start: t0.Add(-time.Minute), NAT: model.NATBoth,
			FirstSeen: t0, Updated: t0},
		{ID: 8, Family: model.FamilyIPv6, Proto: model.ProtoICMPv6, ProtoNum: 58,
			Orig:   model.FlowTuple{Src: netip.MustParseAddrPort("[fd00::1]:0"), Dst: netip.MustParseAddrPort("[fd00::2]:0"), ICMP: &model.ICMPKey{Type: 128, Code: 0, ID: 9}},
			Reply:  model.FlowTuple{Src: netip.MustParseAddrPort("[fd00::2]:0"), Dst: netip.MustParseAddrPort("[fd00::1]:0"), ICMP: &model.ICMPKey{Type: 129, Code: 0, ID: 9}},
			Status: model.StatusConfirmed, Timeout: 29 * time.Second, FirstSeen: t0, Updated: t0},
	}})
	s.Publish(model.ConntrackStatsUpdate{Stats: model.ConntrackStats{At: t0, Count: 2, Max: 262144, Buckets: 65536, Accounting: true, Timestamps: true, Events: true,
		PerCPU:    []model.ConntrackCPU{{CPU: 0, Found: 1, Invalid: 2, Ignore: 3, Insert: 4, InsertFailed: 5, Drop: 6, EarlyDrop: 7, Error: 8, SearchRestart: 9, ClashResolve: 10, ChainTooLong: 11}},
		Total:     model.ConntrackCPU{Found: 1, Invalid: 2, Ignore: 3, Insert: 4, InsertFailed: 5, Drop: 6, EarlyDrop: 7, Error: 8, SearchRestart: 9, ClashResolve: 10, ChainTooLong: 11},
		FlowsHeld: 2, FlowsLimit: 65536, FlowsTruncated: true, Dumps: 3, Resyncs: 1, ResyncPending: true, LastDump: t0, DumpDuration: time.Millisecond, Listening: false,
		EventsError: "needs CAP_NET_ADMIN", EventsNew: 10, EventsUpdate: 20, EventsDestroy: 8, EventsLost: 2, Overruns: 1, EventBuffer: 8 << 20, EventQueued: 4096, DecodeErrors: 0}})
	s.Publish(model.StatusUpdate{Status: model.CollectorStatus{Name: "sockets", State: model.StateOK, Interval: time.Second,
		LastDuration: time.Millisecond, LastRun: t0, LastSuccess: t0, Source: "sock_diag", Note: "owners of 3 of 90 processes unreadable"}})
	s.Publish(model.StatusUpdate{Status: model.CollectorStatus{Name: "conntrack", State: model.StateNoPermission, Reason: "needs CAP_NET_ADMIN"}})
	s.Publish(model.CaptureUpdate{Stats: model.CaptureStats{At: t0, Source: "live", Interface: "eth0", Filter: "tcp port 443", Running: true, Started: t0,
		Packets: 1000, Bytes: 900000, PacketsPerSec: 100, BitsPerSec: 720000, RingDrops: 3, RingFreezes: 1, DecodeErrors: 2, NonEthernet: 6, Truncated: 4, Fragments: 5,
		CPUSeconds: 0.5, CPUPercent: 2.5, RingBytes: 4 << 20, StoreBytes: 1 << 20, StorePackets: 1024,
		Protocols: []model.CaptureProto{{Name: "eth", Packets: 1000, Bytes: 900000, PacketsPerSec: 100, BitsPerSec: 720000}, {Name: "tcp", Packets: 990, Bytes: 899000}},
		TopFlows: []model.CaptureFlow{{Key: model.CaptureFlowKey{Proto: model.ProtoTCP, A: netip.MustParseAddrPort("10.0.0.1:443"), B: netip.MustParseAddrPort("[2001:db8::2]:50000")},
			PacketsAToB: 600, BytesAToB: 800000, PacketsBToA: 390, BytesBToA: 99000, PacketsPerSec: 99, BitsPerSec: 719000, FirstSeen: t0, LastSeen: t0}},
		FlowsTracked: 1, FlowsEvicted: 7,
		TopHosts:     []model.CaptureHost{{Addr: netip.MustParseAddr("10.0.0.1"), PacketsSent: 600, BytesSent: 800000, PacketsRecv: 390, BytesRecv: 99000, BitsPerSec: 719000, PacketsPerSec: 99, LastSeen: t0}},
		HostsTracked: 1, HostsEvicted: 0}})
	s.Publish(model.DropTraceUpdate{Trace: model.DropTrace{At: t0, Supported: true, Attach: "tp_btf/kfree_skb", Netns: 4026531840,
		Seen: 30, Attributed: 28, Unattributed: 2, NotAggregated: 1, NotParsed: 1, OtherNetns: 5, MapEntries: 2, MapMax: 16384,
		Reasons: []model.DropTraceReason{{Reason: "NO_SOCKET", Code: 3, Location: "__udp4_lib_rcv+0x9c4", Function: "__udp4_lib_rcv", Layer: model.LayerTransport,
			Packets: 25, Bytes: 2300, Delta: 5, LastSeen: t0}},
		Flows: []model.DropTraceFlow{
			{Reason: "NO_SOCKET", Code: 3, Location: "__udp4_lib_rcv+0x9c4", Function: "__udp4_lib_rcv", Layer: model.LayerTransport, Netns: 4026531840, Ifindex: 1,
				L3: "ipv4", Proto: "udp", Src: netip.MustParseAddr("127.0.0.1"), Dst: netip.MustParseAddr("127.0.0.1"), SrcPort: 40000, DstPort: 7001,
				Parsed: true, Cookie: 99, Packets: 25, Bytes: 2300, Delta: 5, LastSeen: t0},
			{Reason: "IP_RPFILTER", Code: 9, Location: "0xffffffff81a0b0c0", Function: "0xffffffff81a0b0c0", Layer: model.LayerIP, L3: "ipv6", Proto: "icmpv6",
				Src: netip.MustParseAddr("fd00::1"), Dst: netip.MustParseAddr("fd00::2"), ICMPType: 128, Fragment: true, Parsed: true, Packets: 3, Bytes: 300},
			{Reason: "NOT_SPECIFIED", Code: 2, Location: "x+0x1", Function: "x", Layer: model.LayerOther, L3: "0x0806", Packets: 1, Bytes: 60},
		}}})
	s.Publish(model.RulesUpdate{State: model.RulesState{Backend: "kmod", At: t0,
		Rules: []model.Rule{
			{ID: 1, Enabled: true, Hooks: []string{model.HookInput}, Family: model.RuleFamilyBoth, Proto: "tcp", DstPorts: model.PortRange{Min: 22, Max: 22},
				Action: model.ActionAccept, Label: "keep ssh", Packets: 10, Bytes: 600, Rate: 0.5, LastHit: t0},
			{ID: 2, Enabled: false, Hooks: []string{model.HookInput, model.HookForward}, Family: model.FamilyIPv4, Proto: "udp",
				Src: netip.MustParsePrefix("198.51.100.0/24"), Dst: netip.MustParsePrefix("10.0.0.1/32"), SrcPorts: model.PortRange{Min: 1024, Max: 65535},
				DstPorts: model.PortRange{Min: 53, Max: 53}, InIface: "eth0", Action: model.ActionDrop, Priority: 10, Label: "no dns",
				PendingTxn: 7, RevertAt: t0.Add(30 * time.Second)},
			{ID: 1<<31 + 9, Enabled: true, Hooks: []string{model.HookOutput}, Family: model.FamilyIPv6, OutIface: "eth1", Action: model.ActionCount, Foreign: true},
			{ID: 4, Enabled: true, Hooks: []string{model.HookInput}, Family: model.FamilyIPv4, Proto: "tcp", Src: netip.MustParsePrefix("10.0.0.0/8"),
				DstPorts: model.PortRange{Min: 8080, Max: 8080}, CTState: []string{"new", "untracked"}, TCPFlags: "syn/syn,ack",
				Negate: []string{"src", "tcp_flags"}, Action: model.ActionDrop},
			{ID: 5, Enabled: true, Hooks: []string{model.HookInput}, Family: model.FamilyIPv6, Proto: "icmpv6", ICMP: "destination-unreachable/4",
				Action: model.ActionDrop},
		},
		Hooks:   []model.HookVerdicts{{Family: model.FamilyIPv4, Hook: model.HookInput, Seen: 100, Accepted: 90, Dropped: 10}},
		Pending: []model.PendingChange{{Txn: 7, RevertAt: t0.Add(30 * time.Second)}},
		Events:  []model.RulesEvent{{At: t0, Txn: 6, By: "revert helper (pid 42)", Message: "reverted at the deadline"}, {At: t0, Txn: 5, By: "netlens (pid 7)", Message: "cannot claim the state file: read-only file system; retrying", Error: true}},
	}})
	s.Publish(model.IPsecUpdate{IPsec: model.IPsec{At: t0,
		SAs: []model.XfrmSA{{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Proto: "esp", SPI: 0x1001, Mode: "tunnel", ReqID: 1,
			Selector:   model.XfrmSelector{Src: netip.MustParsePrefix("10.1.0.0/24"), Dst: netip.MustParsePrefix("10.2.0.0/24"), Proto: 17, SrcPort: 1, DstPort: 53, Ifindex: 2},
			Algorithms: []model.XfrmAlgorithm{{Kind: "aead", Name: "rfc4106(gcm(aes))", KeyBits: 160, ICVBits: 128}},
			Limits:     model.XfrmLimits{SoftBytes: 1, HardBytes: 2, SoftPackets: 3, HardPackets: 4, SoftAdd: time.Minute, HardAdd: time.Hour, SoftUse: time.Second, HardUse: 2 * time.Second},
			Current:    model.XfrmUse{Bytes: 840, Packets: 10, Added: t0, Used: t0}, LastUsed: t0,
			ReplayWindow: 32, OutOfWindow: 1, Replay: 2, IntegrityFailed: 3, Seq: 9, OSeq: 10, ESN: true}},
		Policies: []model.XfrmPolicy{{Selector: model.XfrmSelector{Src: netip.MustParsePrefix("fd00:1::/64"), Dst: netip.MustParsePrefix("fd00:2::/64")},
			Dir: "out", Action: "allow", Priority: 100, Index: 1, Type: "main",
			Templates: []model.XfrmTemplate{{Src: netip.MustParseAddr("fd00::1"), Dst: netip.MustParseAddr("fd00::2"), Proto: "esp", SPI: 0, ReqID: 1, Mode: "tunnel", Optional: true}},
			Current:   model.XfrmUse{Added: t0}}},
	}})
	s.Publish(model.NetNSUpdate{NetNS: &model.NetNS{Inode: 4026532361, Name: "", Path: "/proc/4242/ns/net", PID: 4242,
		Container: "web-1", Pod: "prod/api-7f9c", Runtime: "containerd", Gone: true}})
	s.Publish(model.InterfacesUpdate{At: t0, Interfaces: snapshottest.Interfaces()})
	return s.Snapshot()
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile("../docs/snapshot.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

func validate(t *testing.T, sch *jsonschema.Schema, b []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("snapshot is not JSON: %v", err)
	}
	return sch.Validate(inst)
}

func TestSnapshotMatchesSchema(t *testing.T) {
	sch := compileSchema(t)
	for name, snap := range map[string]model.Snapshot{
		"full":  fullSnapshot(),
		"empty": model.NewStore("h", "k", time.Unix(0, 0).UTC()).Snapshot(),
	} {
		t.Run(name, func(t *testing.T) {
			b, err := Marshal(snap)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate(t, sch, b); err != nil {
				t.Fatalf("snapshot does not validate:\n%v\n%s", err, b)
			}
		})
	}
}

func TestSchemaRejects(t *testing.T) {
	sch := compileSchema(t)
	good, _ := Marshal(fullSnapshot())
	tests := []struct{ name, from, to string }{
		{"unknown top-level field", `"seq":`, `"extra": 1, "seq":`},
		{"wrong schema version", fmt.Sprintf(`"schema_version": %d`, model.SchemaVersion), `"schema_version": 1`},
		{"bad state", `"state": "ESTAB"`, `"state": "established"`},
		{"bad interface operstate", `"operstate": "up"`, `"operstate": "UP"`},
		{"negative counter", `"value": 25`, `"value": -1`},
		{"bad address", `"local": "10.0.0.1:22"`, `"local": "10.0.0.1"`},
		{"bad rule action", `"action": "accept"`, `"action": "masquerade"`},
		{"bad rule prefix", `"src": "198.51.100.0/24"`, `"src": "198.51.100.0"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := strings.Replace(string(good), tt.from, tt.to, 1)
			if bad == string(good) {
				t.Fatalf("%q not in snapshot", tt.from)
			}
			if err := validate(t, sch, []byte(bad)); err == nil {
				t.Fatal("schema accepted it")
			}
		})
	}
}

// TestDocsDescribeEverySchemaField keeps docs/snapshot.md true: every
// property the schema knows is documented there.
func TestDocsDescribeEverySchemaField(t *testing.T) {
	raw, err := os.ReadFile("../docs/snapshot.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../docs/snapshot.md")
	if err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	names := map[string]bool{}
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if props, ok := v["properties"].(map[string]any); ok {
				for k := range props {
					names[k] = true
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	var schema any
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	walk(schema)
	for n := range names {
		if !regexp.MustCompile("`" + regexp.QuoteMeta(n) + "`").Match(doc) {
			t.Errorf("docs/snapshot.md does not describe field `%s`", n)
		}
	}
}

func TestFileName(t *testing.T) {
	at := time.Date(2026, 11, 21, 5, 1, 2, 0, time.FixedZone("x", 3600))
	tests := []struct{ host, want string }{
		{"web-1", "netlens-web-1-20261121T040102Z.json"},
		{"a/b c", "netlens-a_b_c-20261121T040102Z.json"},
		{"", "netlens-unknown-20261121T040102Z.json"},
	}
	for _, tt := range tests {
		if got := FileName(tt.host, at); got != tt.want {
			t.Errorf("FileName(%q) = %q, want %q", tt.host, got, tt.want)
		}
	}
}

func TestSaveWritesValidFileAndAvoidsClobbering(t *testing.T) {
	dir := t.TempDir()
	snap := fullSnapshot()
	p1, err := Save(dir, snap)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := Save(dir, snap)
	if err != nil {
		t.Fatal(err)
	}
	if p1 == p2 {
		t.Fatalf("second save overwrote %s", p1)
	}
	b, err := os.ReadFile(p1)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate(t, compileSchema(t), b); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("dir holds %d entries, want 2 (no temporary files)", len(entries))
	}
}

func TestWriteFileErrorsLeaveNothing(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	os.WriteFile(notDir, nil, 0o644)
	ro := filepath.Join(dir, "ro")
	os.Mkdir(ro, 0o755)
	if os.Geteuid() == 0 {
		// root ignores mode bits: make the directory truly read-only.
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "ro,size=1m", "netlens-ro", ro).CombinedOutput(); err != nil {
			t.Fatalf("mount read-only tmpfs: %v: %s", err, out)
		}
		t.Cleanup(func() { exec.Command("umount", ro).Run() })
	} else {
		os.Chmod(ro, 0o555)
	}
	tests := []struct {
		name, path string
		is         error
		msg        string
	}{
		{"missing directory", filepath.Join(dir, "nope", "s.json"), os.ErrNotExist, "no such file or directory"},
		{"parent is a file", filepath.Join(notDir, "s.json"), nil, "is not a directory"},
		{"read-only directory", filepath.Join(ro, "s.json"), nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := WriteFile(tt.path, fullSnapshot())
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || !strings.Contains(msg, tt.path) || !strings.Contains(msg, tt.msg) {
				t.Errorf("error %q: want one line naming %s and saying %q", msg, tt.path, tt.msg)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v does not wrap %v", err, tt.is)
			}
			if tt.name == "read-only directory" && !errors.Is(err, syscall.EROFS) && !errors.Is(err, os.ErrPermission) {
				t.Errorf("error %v is neither EROFS nor EPERM", err)
			}
			if _, err := os.Stat(tt.path); !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
				t.Errorf("%s exists after a failed write", tt.path)
			}
			if ents, _ := os.ReadDir(filepath.Dir(tt.path)); len(ents) != 0 && filepath.Dir(tt.path) == ro {
				t.Errorf("leftovers in %s: %v", ro, ents)
			}
		})
	}
}

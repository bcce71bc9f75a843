package ui

import (
	"cmp"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"netlens/internal/proto"
	"netlens/model"
	"netlens/model/drops"
)

// ipsecView is one of the IPsec tab's views.
type ipsecView int

// IPsec views, in the order v cycles through them.
const (
	viewSAs      ipsecView = iota // the security associations (saView)
	viewPolicies                  // the policies (policyView)
	viewXfrmStat                  // /proc/net/xfrm_stat, explained (xfrmStatView)
	numIPsecViews
)

// ipsecPage is the IPsec tab: the kernel's SAs (ip -s xfrm state), its
// policies (ip -s xfrm policy) and the xfrm_stat counters with what
// increments them, one view at a time (v cycles), each a table whose
// selected row enter shows in full in a pane under it. A summary line over the views counts all three.
// Keys are never in the snapshot, so never on screen. Not safe for
// concurrent use.
type ipsecPage struct {
	Common
	view ipsecView
	sas  *saView
	pols *policyView
	stat *xfrmStatView
}

func newIPsecPage(c Common, deps []string) *ipsecPage {
	return &ipsecPage{Common: c, sas: newSAView(c, deps), pols: newPolicyView(c, deps), stat: newXfrmStatView(c)}
}

// Title implements page.
func (p *ipsecPage) Title() string { return "IPsec" }

// Init implements page.
func (p *ipsecPage) Init() tea.Cmd { return nil }

// SetSnapshot implements page.
func (p *ipsecPage) SetSnapshot(s model.Snapshot) {
	p.sas.SetSnapshot(s)
	p.pols.SetSnapshot(s)
	p.stat.SetSnapshot(s)
}

// Sync implements page. Every view is synced: the views line counts
// the rows of all three.
func (p *ipsecPage) Sync() {
	p.sas.Sync()
	p.pols.Sync()
	p.stat.Sync()
}

// SetSize implements page: the views get the page under the tab line.
func (p *ipsecPage) SetSize(w, h int) {
	p.Common.SetSize(w, h)
	h = max(h-1, 1)
	p.sas.SetSize(w, h)
	p.pols.SetSize(w, h)
	p.stat.SetSize(w, h)
}

// SetFilter implements page: the filter applies to every view.
func (p *ipsecPage) SetFilter(f string) {
	p.sas.SetFilter(f)
	p.pols.SetFilter(f)
	p.stat.SetFilter(f)
}

// Filter implements page.
func (p *ipsecPage) Filter() string { return p.sas.Filter() }

// Update implements page.
func (p *ipsecPage) Update(msg tea.Msg) (page, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok && key.Matches(k, p.Keys.View) {
		p.view = (p.view + 1) % numIPsecViews
		p.Sync()
		return p, nil
	}
	if m, ok := msg.(tea.MouseClickMsg); ok {
		m.Y-- // the view line
		msg = m
	}
	switch p.view {
	case viewSAs:
		p.sas.update(msg)
	case viewPolicies:
		p.pols.update(msg)
	default:
		p.stat.update(msg)
	}
	return p, nil
}

// ClosePane implements paneCloser for the view shown.
func (p *ipsecPage) ClosePane() bool {
	switch p.view {
	case viewSAs:
		return p.sas.ClosePane()
	case viewPolicies:
		return p.pols.ClosePane()
	}
	return p.stat.ClosePane()
}

// View implements page: the views line, then the view.
func (p *ipsecPage) View() string {
	snap := &p.sas.snap
	names := [numIPsecViews]string{
		"SAs " + itoa(len(snap.IPsec.SAs)),
		"policies " + itoa(len(snap.IPsec.Policies)),
		"xfrm_stat " + itoa(len(p.stat.rows)),
	}
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteString("  ")
		}
		if ipsecView(i) == p.view {
			b.WriteString("[" + n + "]")
		} else {
			b.WriteString(" " + n + " ")
		}
	}
	line := p.Styles.Dim.Render(fitString(b.String()+"   (v: next view)", p.Width))
	var body string
	switch p.view {
	case viewSAs:
		body = p.sas.View()
	case viewPolicies:
		body = p.pols.View()
	default:
		body = p.stat.View()
	}
	return line + "\n" + body
}

// ShortHelp implements page.
func (p *ipsecPage) ShortHelp() []key.Binding {
	return []key.Binding{p.Keys.shortView, p.Keys.Details}
}

// FullHelp implements page.
func (p *ipsecPage) FullHelp() [][]key.Binding {
	return [][]key.Binding{{p.Keys.View, p.Keys.Details}}
}

// HelpLines is what the full help says about the IPsec tab, in w cells.
func (p *ipsecPage) HelpLines(w int) []string {
	return helpText(w,
		"IPsec: the kernel's SAs (ip -s xfrm state), policies (ip -s xfrm policy) "+
			"and /proc/net/xfrm_stat; v cycles, enter shows the selected row in full, "+
			"/ filters. Hard left: time to the SA's hard lifetime (the kernel deletes "+
			"it then). Replay: packets dropped as replays; ICV fail: integrity check "+
			"failures. Keys are never read past the decoder, so never shown or saved.")
}

// Columns of the SAs table.
const (
	saSrc = iota
	saDst
	saProto
	saSPI
	saMode
	saReqID
	saAlgs
	saBytes
	saPackets
	saLeft
	saReplay
	saICV
)

type saKey struct {
	dst   string
	spi   uint32
	proto string
}

// saView is the IPsec tab's SAs. Not safe for concurrent use.
type saView struct {
	listBase[saKey]
}

func newSAView(c Common, deps []string) *saView {
	v := &saView{}
	v.Common, v.deps = c, deps
	v.detailH = 7
	cols := []column{
		saSrc:     {title: "Src", width: 11, flex: 2, keepTail: true},
		saDst:     {title: "Dst", width: 11, flex: 2, keepTail: true},
		saProto:   {title: "Proto", width: 5},
		saSPI:     {title: "SPI", width: 10},
		saMode:    {title: "Mode", width: 9, drop: 3},
		saReqID:   {title: "ReqID", width: 5, right: true, drop: 4},
		saAlgs:    {title: "Algorithms", width: 12, flex: 3, drop: 2},
		saBytes:   {title: "Bytes", width: 7, right: true},
		saPackets: {title: "Pkts", width: 6, right: true, drop: 1},
		saLeft:    {title: "Hard left", width: 9, right: true},
		saReplay:  {title: "Replay", width: 6, right: true},
		saICV:     {title: "ICV fail", width: 8, right: true},
	}
	ss := func() []model.XfrmSA { return v.snap.IPsec.SAs }
	bySPI := func(a, b int) int {
		s := ss()
		return cmp.Or(cmp.Compare(s[a].SPI, s[b].SPI), s[a].Dst.Compare(s[b].Dst))
	}
	sorts := []sortSpec{
		{name: "dst", col: saDst, cmp: func(a, b int) int { s := ss(); return cmp.Or(s[a].Dst.Compare(s[b].Dst), bySPI(a, b)) }},
		{name: "spi", col: saSPI, cmp: bySPI},
		{name: "bytes", col: saBytes, desc: true, cmp: func(a, b int) int {
			s := ss()
			return cmp.Or(cmp.Compare(s[a].Current.Bytes, s[b].Current.Bytes), bySPI(a, b))
		}},
		{name: "hard left", col: saLeft, cmp: func(a, b int) int {
			s := ss()
			_, ha := s[a].Limits.Expiry(s[a].Current)
			_, hb := s[b].Limits.Expiry(s[b].Current)
			return cmp.Or(cmpExpiry(ha, hb), bySPI(a, b))
		}},
		{name: "replay", col: saReplay, desc: true, cmp: func(a, b int) int {
			s := ss()
			return cmp.Or(cmp.Compare(s[a].Replay+s[a].OutOfWindow, s[b].Replay+s[b].OutOfWindow), bySPI(a, b))
		}},
		{name: "icv fail", col: saICV, desc: true, cmp: func(a, b int) int {
			s := ss()
			return cmp.Or(cmp.Compare(s[a].IntegrityFailed, s[b].IntegrityFailed), bySPI(a, b))
		}},
	}
	v.init(cols, sorts, 0)
	return v
}

// cmpExpiry orders expiry times soonest first, none last.
func cmpExpiry(a, b time.Time) int {
	switch {
	case a.IsZero() && b.IsZero():
		return 0
	case a.IsZero():
		return 1
	case b.IsZero():
		return -1
	}
	return a.Compare(b)
}

func (v *saView) SetSnapshot(s model.Snapshot) { v.setSnapshot(v, s) }
func (v *saView) Sync()                        { v.fresh(); v.sync(v) }
func (v *saView) sameRows(a, b model.Snapshot) bool {
	return sameSlice(a.IPsec.SAs, b.IPsec.SAs)
}
func (v *saView) count() int         { return len(v.snap.IPsec.SAs) }
func (v *saView) include(i int) bool { return true }
func (v *saView) key(i int) saKey {
	s := &v.snap.IPsec.SAs[i]
	return saKey{s.Dst.String(), s.SPI, s.Proto}
}
func (v *saView) appendHaystack(b []byte, i int) []byte {
	for c := saSrc; c <= saICV; c++ {
		b = append(b, v.cell(i, c)...)
		b = append(b, ' ')
	}
	return b
}

// algNames is the SA's algorithms by name: "cbc(aes)+hmac(sha256)".
func algNames(s *model.XfrmSA) string {
	names := make([]string, len(s.Algorithms))
	for i, a := range s.Algorithms {
		names[i] = sanitize(a.Name)
	}
	return strings.Join(names, "+")
}

// hardLeft is the time to an SA's hard lifetime at now: "-" for none,
// "expired" once past it (the kernel is about to delete it).
func hardLeft(l model.XfrmLimits, u model.XfrmUse, now time.Time) string {
	_, hard := l.Expiry(u)
	switch {
	case hard.IsZero():
		return "-"
	case !hard.After(now):
		return "expired"
	}
	return fmtDur(hard.Sub(now))
}

func fmtSPI(spi uint32) string { return fmt.Sprintf("0x%08x", spi) }

func (v *saView) cell(i, c int) string {
	s := &v.snap.IPsec.SAs[i]
	switch c {
	case saSrc:
		return s.Src.String()
	case saDst:
		return s.Dst.String()
	case saProto:
		return s.Proto
	case saSPI:
		return fmtSPI(s.SPI)
	case saMode:
		return s.Mode
	case saReqID:
		return strconv.FormatUint(uint64(s.ReqID), 10)
	case saAlgs:
		return algNames(s)
	case saBytes:
		return fmtCount(s.Current.Bytes, 7)
	case saPackets:
		return fmtCount(s.Current.Packets, 6)
	case saLeft:
		return hardLeft(s.Limits, s.Current, v.snap.IPsec.At)
	case saReplay:
		return fmtCount(uint64(s.Replay)+uint64(s.OutOfWindow), 6)
	case saICV:
		return fmtCount(uint64(s.IntegrityFailed), 8)
	}
	return ""
}

func (v *saView) rowKind(i int) rowKind {
	s := &v.snap.IPsec.SAs[v.idx[i]]
	if s.Replay+s.OutOfWindow+s.IntegrityFailed > 0 || hardLeft(s.Limits, s.Current, v.snap.IPsec.At) == "expired" {
		return rowHot
	}
	return rowPlain
}

// View renders the SAs.
func (v *saView) View() string {
	n := len(v.snap.IPsec.SAs)
	left := itoa(n) + " SAs (ip -s xfrm state)"
	if !v.snap.IPsec.At.IsZero() {
		left += " read " + v.snap.IPsec.At.UTC().Format("15:04:05") + " UTC"
	}
	head := summaryLine(v.Styles, left, v.rightLabel(n), v.Width)
	rows := v.idx
	return v.render(head, n, v.emptyText("SAs", "no SAs: this namespace has no IPsec security associations"),
		func(i, c int) string { return v.cell(rows[i], c) }, v.rowKind, v.detail)
}

// detail is the selected SA in full: everything ip -s xfrm state shows
// but the keys, wrapped to the pane.
func (v *saView) detail(i int) []string {
	s := &v.snap.IPsec.SAs[v.idx[i]]
	var algs []string
	for _, a := range s.Algorithms {
		t := a.Kind + " " + sanitize(a.Name) + " " + itoa(int(a.KeyBits)) + "-bit key"
		if a.ICVBits > 0 {
			t += ", " + itoa(int(a.ICVBits)) + "-bit ICV"
		}
		algs = append(algs, t)
	}
	if len(algs) == 0 {
		algs = []string{"none"}
	}
	esn := ""
	if s.ESN {
		esn = " (ESN)"
	}
	return paneLines([]string{
		fmt.Sprintf("%s -> %s %s spi %s reqid %d %s; selector %s", s.Src, s.Dst, s.Proto, fmtSPI(s.SPI), s.ReqID, s.Mode, fmtSelector(s.Selector)),
		"algorithms: " + strings.Join(algs, "; ") + " (keys are never read)",
		fmt.Sprintf("use: %d bytes, %d packets; added %s, first use %s, last use %s",
			s.Current.Bytes, s.Current.Packets, fmtWhen(s.Current.Added), fmtWhen(s.Current.Used), fmtWhen(s.LastUsed)),
		"limits: " + fmtLimits(s.Limits, s.Current, v.snap.IPsec.At),
		fmt.Sprintf("anti-replay: window %d%s, seq %d, oseq %d; dropped %d replayed, %d out of window, %d failed the ICV (v v: XfrmInStateSeqError, XfrmInStateProtoError)",
			s.ReplayWindow, esn, s.Seq, s.OSeq, s.Replay, s.OutOfWindow, s.IntegrityFailed),
	}, v.Width, v.detailH)
}

// paneLines wraps each paragraph to w cells, the lines after a
// paragraph's first indented, and cuts the whole to h lines.
func paneLines(paras []string, w, h int) []string {
	var out []string
	for _, p := range paras {
		for k, l := range wrap(p, w-2) {
			if k > 0 {
				l = "  " + l
			}
			out = append(out, fitString(l, w))
		}
	}
	if len(out) > h {
		out = append(out[:h-1:h-1], fitString("... (a taller terminal shows the rest)", w))
	}
	return out
}

// fmtWhen is a kernel time in UTC, or "-" for never.
func fmtWhen(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// fmtLimits says an SA's or policy's limits as ip xfrm would, with the
// time left at now.
func fmtLimits(l model.XfrmLimits, u model.XfrmUse, now time.Time) string {
	var parts []string
	lim := func(name string, soft, hard uint64) {
		if soft != 0 || hard != 0 {
			parts = append(parts, fmt.Sprintf("%s soft %s hard %s", name, infOr(soft), infOr(hard)))
		}
	}
	lim("bytes", l.SoftBytes, l.HardBytes)
	lim("packets", l.SoftPackets, l.HardPackets)
	soft, hard := l.Expiry(u)
	if !soft.IsZero() {
		parts = append(parts, "soft expiry "+fmtWhen(soft)+" ("+leftOf(soft, now)+")")
	}
	if !hard.IsZero() {
		parts = append(parts, "hard expiry "+fmtWhen(hard)+" ("+leftOf(hard, now)+")")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}

func infOr(v uint64) string {
	if v == 0 {
		return "(INF)"
	}
	return strconv.FormatUint(v, 10)
}

func leftOf(t, now time.Time) string {
	if !t.After(now) {
		return "passed"
	}
	return fmtDur(t.Sub(now)) + " left"
}

// fmtSelector is a selector as ip xfrm prints it.
func fmtSelector(s model.XfrmSelector) string {
	pfx := func(p fmt.Stringer, ok bool) string {
		if !ok {
			return "any"
		}
		return p.String()
	}
	t := "src " + pfx(s.Src, s.Src.IsValid()) + " dst " + pfx(s.Dst, s.Dst.IsValid())
	if s.Proto != 0 {
		t += " proto " + strconv.Itoa(int(s.Proto))
	}
	if s.SrcPort != 0 {
		t += " sport " + strconv.Itoa(int(s.SrcPort))
	}
	if s.DstPort != 0 {
		t += " dport " + strconv.Itoa(int(s.DstPort))
	}
	if s.Ifindex != 0 {
		t += " ifindex " + strconv.Itoa(int(s.Ifindex))
	}
	return t
}

// shortSelector is a selector for a table cell: "10.1.0.0/24->10.2.0.0/24
// udp/53".
func shortSelector(s model.XfrmSelector) string {
	pfx := func(p netip.Prefix) string {
		if !p.IsValid() || p.Bits() == 0 {
			return "any"
		}
		return p.String()
	}
	t := pfx(s.Src) + "->" + pfx(s.Dst)
	if s.Proto != 0 {
		t += " " + proto.Name(s.Proto)
		if s.DstPort != 0 {
			t += "/" + strconv.Itoa(int(s.DstPort))
		}
	}
	return t
}

// Columns of the policies table.
const (
	polSel = iota
	polDir
	polAction
	polPrio
	polIndex
	polTmpl
	polUse
)

type polKey struct {
	index uint32
	dir   string
}

// policyView is the IPsec tab's policies. Not safe for concurrent use.
type policyView struct {
	listBase[polKey]
}

func newPolicyView(c Common, deps []string) *policyView {
	v := &policyView{}
	v.Common, v.deps = c, deps
	v.detailH = 6
	cols := []column{
		polSel:    {title: "Selector", width: 20, flex: 4},
		polDir:    {title: "Dir", width: 4},
		polAction: {title: "Action", width: 6},
		polPrio:   {title: "Prio", width: 6, right: true},
		polIndex:  {title: "Index", width: 6, right: true, drop: 2},
		polTmpl:   {title: "Templates", width: 12, flex: 3, drop: 1},
		polUse:    {title: "Last use", width: 8},
	}
	ps := func() []model.XfrmPolicy { return v.snap.IPsec.Policies }
	byIndex := func(a, b int) int { p := ps(); return cmp.Compare(p[a].Index, p[b].Index) }
	sorts := []sortSpec{
		{name: "priority", col: polPrio, cmp: func(a, b int) int {
			p := ps()
			return cmp.Or(cmp.Compare(p[a].Dir, p[b].Dir), cmp.Compare(p[a].Priority, p[b].Priority), byIndex(a, b))
		}},
		{name: "index", col: polIndex, cmp: byIndex},
		{name: "last use", col: polUse, desc: true, cmp: func(a, b int) int {
			p := ps()
			return cmp.Or(p[a].Current.Used.Compare(p[b].Current.Used), byIndex(a, b))
		}},
	}
	v.init(cols, sorts, 0)
	return v
}

func (v *policyView) SetSnapshot(s model.Snapshot) { v.setSnapshot(v, s) }
func (v *policyView) Sync()                        { v.fresh(); v.sync(v) }
func (v *policyView) sameRows(a, b model.Snapshot) bool {
	return sameSlice(a.IPsec.Policies, b.IPsec.Policies)
}
func (v *policyView) count() int         { return len(v.snap.IPsec.Policies) }
func (v *policyView) include(i int) bool { return true }
func (v *policyView) key(i int) polKey {
	p := &v.snap.IPsec.Policies[i]
	return polKey{p.Index, p.Dir}
}
func (v *policyView) appendHaystack(b []byte, i int) []byte {
	for c := polSel; c <= polUse; c++ {
		b = append(b, v.cell(i, c)...)
		b = append(b, ' ')
	}
	return b
}

// fmtTemplate is one template: "esp tunnel 10.0.0.1->10.0.0.2 reqid 5".
func fmtTemplate(t model.XfrmTemplate) string {
	s := t.Proto + " " + t.Mode
	if t.Src.IsValid() || t.Dst.IsValid() {
		s += " " + t.Src.String() + "->" + t.Dst.String()
	}
	if t.ReqID != 0 {
		s += " reqid " + strconv.FormatUint(uint64(t.ReqID), 10)
	}
	if t.SPI != 0 {
		s += " spi " + fmtSPI(t.SPI)
	}
	if t.Optional {
		s += " (use)"
	}
	return s
}

func (v *policyView) cell(i, c int) string {
	p := &v.snap.IPsec.Policies[i]
	switch c {
	case polSel:
		return shortSelector(p.Selector)
	case polDir:
		return p.Dir
	case polAction:
		return p.Action
	case polPrio:
		return strconv.FormatUint(uint64(p.Priority), 10)
	case polIndex:
		return strconv.FormatUint(uint64(p.Index), 10)
	case polTmpl:
		ts := make([]string, len(p.Templates))
		for k, t := range p.Templates {
			ts[k] = fmtTemplate(t)
		}
		return strings.Join(ts, "; ")
	case polUse:
		if p.Current.Used.IsZero() {
			return "never"
		}
		return p.Current.Used.UTC().Format("15:04:05")
	}
	return ""
}

func (v *policyView) rowKind(i int) rowKind {
	if v.snap.IPsec.Policies[v.idx[i]].Action == "block" {
		return rowMarked
	}
	return rowPlain
}

// View renders the policies.
func (v *policyView) View() string {
	n := len(v.snap.IPsec.Policies)
	head := summaryLine(v.Styles, itoa(n)+" policies (ip -s xfrm policy)", v.rightLabel(n), v.Width)
	rows := v.idx
	return v.render(head, n, v.emptyText("policies", "no policies: this namespace has no IPsec policy"),
		func(i, c int) string { return v.cell(rows[i], c) }, v.rowKind, v.detail)
}

// detail is the selected policy in full, wrapped to the pane.
func (v *policyView) detail(i int) []string {
	p := &v.snap.IPsec.Policies[v.idx[i]]
	paras := []string{
		fmt.Sprintf("%s dir %s action %s priority %d index %d type %s", fmtSelector(p.Selector), p.Dir, p.Action, p.Priority, p.Index, p.Type),
		fmt.Sprintf("use: %d bytes, %d packets; added %s, last use %s; limits: %s", p.Current.Bytes, p.Current.Packets,
			fmtWhen(p.Current.Added), fmtWhen(p.Current.Used), fmtLimits(p.Limits, p.Current, v.snap.IPsec.At)),
	}
	if len(p.Templates) == 0 {
		paras = append(paras, "templates: none (no transform: the traffic passes or is blocked as it is)")
	}
	for k, t := range p.Templates {
		paras = append(paras, "template "+itoa(k+1)+": "+fmtTemplate(t))
	}
	return paneLines(paras, v.Width, v.detailH)
}

// Columns of the xfrm_stat table.
const (
	xsName = iota
	xsTitle
	xsValue
	xsDelta
)

// xfrmStatView is the IPsec tab's /proc/net/xfrm_stat counters (the
// procnet collector's, layer ipsec), each explained from the drop
// knowledge (model/drops). Not safe for concurrent use.
type xfrmStatView struct {
	listBase[model.CounterKey]
	rows   []drops.FunnelCounter
	rowsOf []model.Counter
}

func newXfrmStatView(c Common) *xfrmStatView {
	v := &xfrmStatView{}
	v.Common, v.deps = c, []string{model.CollectorCounters}
	v.detailH = 8
	cols := []column{
		xsName:  {title: "Counter", width: 22},
		xsTitle: {title: "Meaning", width: 20, flex: 1, drop: 1},
		xsValue: {title: "Value", width: 9, right: true},
		xsDelta: {title: "Delta", width: 6, right: true},
	}
	rs := func() []drops.FunnelCounter { return v.rows }
	sorts := []sortSpec{
		{name: "value", col: xsValue, desc: true, cmp: func(a, b int) int {
			r := rs()
			return cmp.Or(cmp.Compare(r[a].Value, r[b].Value), cmp.Compare(r[b].Name, r[a].Name))
		}},
		{name: "name", col: xsName, cmp: func(a, b int) int { r := rs(); return cmp.Compare(r[a].Name, r[b].Name) }},
		{name: "delta", col: xsDelta, desc: true, cmp: func(a, b int) int { r := rs(); return cmp.Compare(r[a].Delta, r[b].Delta) }},
	}
	v.init(cols, sorts, 0)
	return v
}

func (v *xfrmStatView) SetSnapshot(s model.Snapshot) { v.setSnapshot(v, s) }

// Sync takes the ipsec layer's counters that netlens knows.
func (v *xfrmStatView) Sync() {
	if v.fresh() && !sameSlice(v.rowsOf, v.snap.Counters) {
		v.rows = v.rows[:0]
		for _, fc := range drops.Funnel(v.snap.Counters) {
			if fc.Layer == model.LayerIPsec {
				v.rows = append(v.rows, fc)
			}
		}
		v.rowsOf = v.snap.Counters
	}
	v.sync(v)
}
func (v *xfrmStatView) sameRows(a, b model.Snapshot) bool { return sameSlice(a.Counters, b.Counters) }
func (v *xfrmStatView) count() int                        { return len(v.rows) }
func (v *xfrmStatView) include(i int) bool                { return true }
func (v *xfrmStatView) key(i int) model.CounterKey        { return v.rows[i].Key() }
func (v *xfrmStatView) appendHaystack(b []byte, i int) []byte {
	return append(append(append(b, v.rows[i].Name...), ' '), v.rows[i].Entry.Title...)
}

func (v *xfrmStatView) cell(i, c int) string {
	r := &v.rows[i]
	switch c {
	case xsName:
		return r.Name
	case xsTitle:
		return r.Entry.Title
	case xsValue:
		return fmtCount(r.Value, 9)
	case xsDelta:
		return fmtCount(r.Delta, 6)
	}
	return ""
}

func (v *xfrmStatView) rowKind(i int) rowKind {
	if movedRecently(&v.rows[v.idx[i]].Counter, v.snap.TakenAt, recentWindow) {
		return rowHot
	}
	return rowPlain
}

// View renders the counters.
func (v *xfrmStatView) View() string {
	n := len(v.rows)
	head := summaryLine(v.Styles, itoa(n)+" IPsec counters (/proc/net/xfrm_stat), explained", v.rightLabel(n), v.Width)
	rows := v.idx
	empty := v.emptyText("counters", "no xfrm_stat: the kernel has no CONFIG_XFRM_STATISTICS, or the counters collector has not run")
	return v.render(head, n, empty, func(i, c int) string { return v.cell(rows[i], c) }, v.rowKind, v.detail)
}

// detail is the counter's explanation (explain.go), cut to the pane.
func (v *xfrmStatView) detail(i int) []string {
	lines := explainLines(&v.rows[v.idx[i]], v.snap.Sysctls, v.Width)
	if h := v.detailH; len(lines) > h {
		lines = append(lines[:h-1:h-1], "... (the rest: a taller terminal, or docs/drops.md)")
	}
	return lines
}

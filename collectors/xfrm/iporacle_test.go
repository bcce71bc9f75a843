package xfrm

import (
	"fmt"
	"strconv"
	"strings"
)

// The oracle: what `ip -s xfrm state` and `ip -s xfrm policy` (iproute2)
// print, reduced to the values the collector reads.

// ipSA is one SA as ip -s xfrm state prints it.
type ipSA struct {
	src, dst, proto, mode    string
	spi, reqid, window       uint64
	bytes, packets           uint64
	outOfWindow, replay      uint64
	failed, hardAdd, softAdd uint64
	algs                     []string // "enc cbc(aes)", "auth-trunc hmac(sha256)", "aead rfc4106(gcm(aes))"
	text                     string
}

// ipPolicy is one policy as ip -s xfrm policy prints it.
type ipPolicy struct {
	src, dst, dir, action string
	index, priority       uint64
	bytes, packets        uint64
	used                  bool
	tmplReqIDs            []uint64
}

// records splits ip's output into records: a line that does not start
// with white space begins one.
func records(out string) [][]string {
	var recs [][]string
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if l[0] != '\t' && l[0] != ' ' || len(recs) == 0 {
			recs = append(recs, nil)
		}
		recs[len(recs)-1] = append(recs[len(recs)-1], strings.TrimSpace(l))
	}
	return recs
}

// field returns the word after key in words, or "".
func field(words []string, key string) string {
	for i := 0; i+1 < len(words); i++ {
		if words[i] == key {
			return words[i+1]
		}
	}
	return ""
}

// num parses "0x00001000(4096)", "5(0x00000005)", "84(bytes)," or "32".
func num(s string) (uint64, error) {
	s = strings.TrimSuffix(s, ",")
	if i := strings.IndexByte(s, '('); i >= 0 {
		s = s[:i]
	}
	return strconv.ParseUint(s, 0, 64)
}

func mustNum(s string) uint64 {
	v, err := num(s)
	if err != nil {
		panic(fmt.Sprintf("ip oracle: %q: %v", s, err))
	}
	return v
}

func parseIPStates(out string) ([]ipSA, error) {
	var sas []ipSA
	for _, rec := range records(out) {
		var s ipSA
		s.text = strings.Join(rec, "\n")
		for i, l := range rec {
			w := strings.Fields(l)
			switch {
			case i == 0:
				s.src, s.dst = field(w, "src"), field(w, "dst")
			case w[0] == "proto":
				s.proto, s.mode = w[1], field(w, "mode")
				s.spi, s.reqid = mustNum(field(w, "spi")), mustNum(field(w, "reqid"))
			case w[0] == "replay-window" && i < len(rec)-1 && !strings.HasPrefix(rec[i-1], "stats"):
				s.window = mustNum(w[1])
			case w[0] == "aead" || w[0] == "enc" || w[0] == "auth" || w[0] == "auth-trunc" || w[0] == "comp":
				s.algs = append(s.algs, w[0]+" "+w[1])
			case w[0] == "expire" && w[1] == "add:":
				s.softAdd, s.hardAdd = mustNum(field(w, "soft")), mustNum(field(w, "hard"))
			case strings.HasSuffix(w[0], "(bytes),") && i > 0 && rec[i-1] == "lifetime current:":
				s.bytes, s.packets = mustNum(w[0]), mustNum(w[1])
			case w[0] == "replay-window" && strings.HasPrefix(rec[i-1], "stats"):
				s.outOfWindow, s.replay, s.failed = mustNum(w[1]), mustNum(field(w, "replay")), mustNum(field(w, "failed"))
			}
		}
		sas = append(sas, s)
	}
	return sas, nil
}

func parseIPPolicies(out string) ([]ipPolicy, error) {
	var ps []ipPolicy
	for _, rec := range records(out) {
		var p ipPolicy
		for i, l := range rec {
			w := strings.Fields(l)
			switch {
			case i == 0:
				p.src, p.dst = field(w, "src"), field(w, "dst")
			case w[0] == "dir":
				p.dir, p.action = w[1], field(w, "action")
				p.index, p.priority = mustNum(field(w, "index")), mustNum(field(w, "priority"))
			case strings.HasSuffix(w[0], "(bytes),") && i > 0 && rec[i-1] == "lifetime current:":
				p.bytes, p.packets = mustNum(w[0]), mustNum(w[1])
			case w[0] == "add" && field(w, "use") != "":
				p.used = field(w, "use") != "-"
			case w[0] == "proto" && field(w, "reqid") != "":
				p.tmplReqIDs = append(p.tmplReqIDs, mustNum(field(w, "reqid")))
			}
		}
		ps = append(ps, p)
	}
	return ps, nil
}

package kmod

import (
	"bufio"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const uapiHeader = "../../kernelmod/uapi/netlens.h"

var (
	reEnumStart = regexp.MustCompile(`^enum\s+\w+\s*\{`)
	reEnumEntry = regexp.MustCompile(`^(\w+)\s*(?:=\s*([^,/]+?))?\s*,`)
	reDefine    = regexp.MustCompile(`^#define\s+(NETLENS_\w+)\s+(.+?)\s*(?:/\*.*)?$`)
	reShift     = regexp.MustCompile(`^\(1U?\s*<<\s*(\d+)\)$`)
	reMinusOne  = regexp.MustCompile(`^\((__\w+)\s*-\s*1\)$`)
)

// parseUAPI reads the enums and #defines of the uapi header: numbers into
// nums, string literals into strs. It understands exactly the forms the
// header uses and fails on anything else, so a new form is noticed.
func parseUAPI(t *testing.T, path string) (nums map[string]int64, strs map[string]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open uapi header: %v", err)
	}
	defer f.Close()
	nums, strs = map[string]int64{}, map[string]string{}
	eval := func(v string) int64 {
		v = strings.TrimSpace(v)
		if m := reShift.FindStringSubmatch(v); m != nil {
			n, _ := strconv.Atoi(m[1])
			return 1 << n
		}
		if m := reMinusOne.FindStringSubmatch(v); m != nil {
			n, ok := nums[m[1]]
			if !ok {
				t.Fatalf("%s used before definition", m[1])
			}
			return n - 1
		}
		n, err := strconv.ParseInt(strings.TrimRight(v, "uUlL"), 0, 64)
		if err != nil {
			t.Fatalf("cannot evaluate %q", v)
		}
		return n
	}
	inEnum, next := false, int64(0)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case reEnumStart.MatchString(line):
			inEnum, next = true, 0
		case inEnum && strings.HasPrefix(line, "}"):
			inEnum = false
		case inEnum:
			if m := reEnumEntry.FindStringSubmatch(line); m != nil {
				if m[2] != "" {
					next = eval(m[2])
				}
				nums[m[1]] = next
				next++
			}
		default:
			m := reDefine.FindStringSubmatch(line)
			if m == nil || m[1] == "_UAPI_LINUX_NETLENS_H" {
				continue
			}
			if strings.HasPrefix(m[2], `"`) {
				strs[m[1]] = strings.Trim(m[2], `"`)
				continue
			}
			nums[m[1]] = eval(m[2])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return nums, strs
}

// TestConstantsMatchHeader keeps consts.go equal to the uapi header: every
// name of the header must be mirrored here with the same value.
func TestConstantsMatchHeader(t *testing.T) {
	nums, strs := parseUAPI(t, uapiHeader)
	goNums := map[string]int64{
		"NETLENS_GENL_VERSION":  familyVersion,
		"NETLENS_LABEL_MAX":     LabelMax,
		"NETLENS_REVERT_MS_MAX": revertMSMax,

		"NETLENS_CMD_UNSPEC":   int64(cmdUnspec),
		"NETLENS_CMD_CREATE":   int64(cmdCreate),
		"NETLENS_CMD_DELETE":   int64(cmdDelete),
		"NETLENS_CMD_CHANGE":   int64(cmdChange),
		"NETLENS_CMD_GET":      int64(cmdGet),
		"NETLENS_CMD_COUNTERS": int64(cmdCounters),
		"NETLENS_CMD_FLUSH":    int64(cmdFlush),
		"NETLENS_CMD_CONFIRM":  int64(cmdConfirm),
		"NETLENS_CMD_EVENT":    int64(cmdEvent),
		"NETLENS_CMD_POLICY":   int64(cmdPolicy),
		"NETLENS_CMD_GET_SET":  int64(cmdGetSet),
		"NETLENS_CMD_PACKET":   int64(cmdPacket),
		"__NETLENS_CMD_MAX":    int64(cmdPacket) + 1,
		"NETLENS_CMD_MAX":      int64(cmdPacket),

		"NETLENS_LOG_RATE_DEFAULT": LogRateDefault,
		"NETLENS_LOG_RATE_MAX":     LogRateMax,

		"NETLENS_A_UNSPEC":              int64(attrUnspec),
		"NETLENS_A_PAD":                 int64(attrPad),
		"NETLENS_A_RULE_ID":             int64(attrRuleID),
		"NETLENS_A_RULE_ENABLED":        int64(attrEnabled),
		"NETLENS_A_RULE_HOOKS":          int64(attrHooks),
		"NETLENS_A_RULE_FAMILY":         int64(attrFamily),
		"NETLENS_A_RULE_PROTO":          int64(attrProto),
		"NETLENS_A_RULE_SRC_ADDR":       int64(attrSrcAddr),
		"NETLENS_A_RULE_SRC_PLEN":       int64(attrSrcPlen),
		"NETLENS_A_RULE_DST_ADDR":       int64(attrDstAddr),
		"NETLENS_A_RULE_DST_PLEN":       int64(attrDstPlen),
		"NETLENS_A_RULE_SPORT_MIN":      int64(attrSportMin),
		"NETLENS_A_RULE_SPORT_MAX":      int64(attrSportMax),
		"NETLENS_A_RULE_DPORT_MIN":      int64(attrDportMin),
		"NETLENS_A_RULE_DPORT_MAX":      int64(attrDportMax),
		"NETLENS_A_RULE_IIFNAME":        int64(attrIifname),
		"NETLENS_A_RULE_OIFNAME":        int64(attrOifname),
		"NETLENS_A_RULE_ACTION":         int64(attrAction),
		"NETLENS_A_RULE_PRIORITY":       int64(attrPriority),
		"NETLENS_A_RULE_LABEL":          int64(attrLabel),
		"NETLENS_A_RULE_PACKETS":        int64(attrPackets),
		"NETLENS_A_RULE_BYTES":          int64(attrBytes),
		"NETLENS_A_RULE_LAST_HIT_NS":    int64(attrLastHitNS),
		"NETLENS_A_REVERT_MS":           int64(attrRevertMS),
		"NETLENS_A_TXN_ID":              int64(attrTxnID),
		"NETLENS_A_EVENT":               int64(attrEvent),
		"NETLENS_A_HOOK_STATS":          int64(attrHookStats),
		"NETLENS_A_RULE_COUNT":          int64(attrRuleCount),
		"NETLENS_A_HOOKS_REGISTERED":    int64(attrHooksRegistered),
		"NETLENS_A_RULE_REJECT_WITH":    int64(attrRejectWith),
		"NETLENS_A_RULE_REJECT_CODE":    int64(attrRejectCode),
		"NETLENS_A_RULE_ICMP_TYPE":      int64(attrICMPType),
		"NETLENS_A_RULE_ICMP_CODE":      int64(attrICMPCode),
		"NETLENS_A_RULE_TCP_FLAGS":      int64(attrTCPFlags),
		"NETLENS_A_RULE_TCP_FLAGS_MASK": int64(attrTCPFlagsMask),
		"NETLENS_A_RULE_NEGATE":         int64(attrNegate),
		"NETLENS_A_RULE_CT_STATE":       int64(attrCTState),
		"NETLENS_A_POLICY_FAMILY":       int64(attrPolicyFamily),
		"NETLENS_A_POLICY_HOOK":         int64(attrPolicyHook),
		"NETLENS_A_POLICY_VERDICT":      int64(attrPolicyVerdict),
		"NETLENS_A_RULE_SRC_SET":        int64(attrSrcSet),
		"NETLENS_A_RULE_DST_SET":        int64(attrDstSet),
		"NETLENS_A_RULE_SPORT_SET":      int64(attrSportSet),
		"NETLENS_A_RULE_DPORT_SET":      int64(attrDportSet),
		"NETLENS_A_RULE_SRC_SET_SIZE":   int64(attrSrcSetSize),
		"NETLENS_A_RULE_DST_SET_SIZE":   int64(attrDstSetSize),
		"NETLENS_A_RULE_SPORT_SET_SIZE": int64(attrSportSetSize),
		"NETLENS_A_RULE_DPORT_SET_SIZE": int64(attrDportSetSize),
		"NETLENS_A_SET_FIELD":           int64(attrSetField),
		"NETLENS_A_RULE_LOG":            int64(attrLog),
		"NETLENS_A_RULE_LOG_RATE":       int64(attrLogRate),
		"NETLENS_A_RULE_LOG_DROPPED":    int64(attrLogDropped),
		"NETLENS_A_PKT_HOOK":            int64(attrPktHook),
		"NETLENS_A_PKT_IIF":             int64(attrPktIIF),
		"NETLENS_A_PKT_OIF":             int64(attrPktOIF),
		"NETLENS_A_PKT_VERDICT":         int64(attrPktVerdict),
		"NETLENS_A_PKT_FAMILY":          int64(attrPktFamily),
		"NETLENS_A_PKT_PROTO":           int64(attrPktProto),
		"NETLENS_A_PKT_SRC":             int64(attrPktSrc),
		"NETLENS_A_PKT_DST":             int64(attrPktDst),
		"NETLENS_A_PKT_SPORT":           int64(attrPktSport),
		"NETLENS_A_PKT_DPORT":           int64(attrPktDport),
		"NETLENS_A_PKT_LEN":             int64(attrPktLen),
		"NETLENS_A_PKT_TCP_FLAGS":       int64(attrPktTCPFlags),
		"NETLENS_A_PKT_CT_STATE":        int64(attrPktCTState),
		"NETLENS_A_PKT_TIME_NS":         int64(attrPktTimeNS),
		"NETLENS_A_PKT_ICMP_TYPE":       int64(attrPktICMPType),
		"NETLENS_A_PKT_ICMP_CODE":       int64(attrPktICMPCode),
		"__NETLENS_A_MAX":               int64(attrPktICMPCode) + 1,
		"NETLENS_A_MAX":                 int64(attrPktICMPCode),

		"NETLENS_SET_MAX":         SetMax,
		"NETLENS_A_SET_UNSPEC":    int64(setUnspec),
		"NETLENS_A_SET_PREFIX":    int64(setPrefix),
		"NETLENS_A_SET_PORT":      int64(setPort),
		"__NETLENS_A_SET_MAX":     int64(setPort) + 1,
		"NETLENS_A_SET_MAX":       int64(setPort),
		"NETLENS_A_PFX_UNSPEC":    int64(pfxUnspec),
		"NETLENS_A_PFX_ADDR":      int64(pfxAddr),
		"NETLENS_A_PFX_PLEN":      int64(pfxPlen),
		"__NETLENS_A_PFX_MAX":     int64(pfxPlen) + 1,
		"NETLENS_A_PFX_MAX":       int64(pfxPlen),
		"NETLENS_SET_SRC":         int64(SetSrc),
		"NETLENS_SET_DST":         int64(SetDst),
		"NETLENS_SET_SPORT":       int64(SetSrcPorts),
		"NETLENS_SET_DPORT":       int64(SetDstPorts),
		"__NETLENS_SET_FIELD_MAX": int64(numSetFields),
		"NETLENS_SET_FIELD_MAX":   int64(numSetFields) - 1,

		"NETLENS_NEG_SRC":        int64(NegSrc),
		"NETLENS_NEG_DST":        int64(NegDst),
		"NETLENS_NEG_SPORT":      int64(NegSrcPorts),
		"NETLENS_NEG_DPORT":      int64(NegDstPorts),
		"NETLENS_NEG_IIF":        int64(NegInIface),
		"NETLENS_NEG_OIF":        int64(NegOutIface),
		"NETLENS_NEG_ICMP":       int64(NegICMP),
		"NETLENS_NEG_TCP_FLAGS":  int64(NegTCPFlags),
		"NETLENS_NEG_CT":         int64(NegCT),
		"NETLENS_NEG_ALL":        int64(NegAll),
		"NETLENS_CT_NEW":         int64(CTNew),
		"NETLENS_CT_ESTABLISHED": int64(CTEstablished),
		"NETLENS_CT_RELATED":     int64(CTRelated),
		"NETLENS_CT_INVALID":     int64(CTInvalid),
		"NETLENS_CT_UNTRACKED":   int64(CTUntracked),
		"NETLENS_CT_ALL":         int64(CTAll),

		"NETLENS_A_HS_UNSPEC":    int64(hsUnspec),
		"NETLENS_A_HS_PAD":       int64(hsPad),
		"NETLENS_A_HS_FAMILY":    int64(hsFamily),
		"NETLENS_A_HS_HOOK":      int64(hsHook),
		"NETLENS_A_HS_SEEN":      int64(hsSeen),
		"NETLENS_A_HS_ACCEPTED":  int64(hsAccepted),
		"NETLENS_A_HS_DROPPED":   int64(hsDropped),
		"NETLENS_A_HS_EXAMINED":  int64(hsExamined),
		"NETLENS_A_HS_POLICY":    int64(hsPolicy),
		"NETLENS_A_HS_TXN_ID":    int64(hsTxnID),
		"NETLENS_A_HS_REVERT_MS": int64(hsRevertMS),
		"__NETLENS_A_HS_MAX":     int64(hsRevertMS) + 1,
		"NETLENS_A_HS_MAX":       int64(hsRevertMS),

		"NETLENS_FAMILY_UNSPEC": int64(FamilyUnspec),
		"NETLENS_FAMILY_IPV4":   int64(FamilyIPv4),
		"NETLENS_FAMILY_IPV6":   int64(FamilyIPv6),
		"NETLENS_FAMILY_BOTH":   int64(FamilyBoth),

		"NETLENS_ACTION_UNSPEC": int64(ActionUnspec),
		"NETLENS_ACTION_ACCEPT": int64(ActionAccept),
		"NETLENS_ACTION_DROP":   int64(ActionDrop),
		"NETLENS_ACTION_COUNT":  int64(ActionCount),
		"NETLENS_ACTION_REJECT": int64(ActionReject),

		"NETLENS_REJECT_UNSPEC":        int64(RejectUnspec),
		"NETLENS_REJECT_ICMP_UNREACH":  int64(RejectICMPUnreach),
		"NETLENS_REJECT_TCP_RESET":     int64(RejectTCPReset),
		"NETLENS_REJECT_CODE_DEFAULT4": RejectCodeDefault4,
		"NETLENS_REJECT_CODE_DEFAULT6": RejectCodeDefault6,
		"NETLENS_HOOK_REJECT_OK":       int64(HooksRejectOK),

		"NETLENS_EVENT_UNSPEC":    int64(EventUnspec),
		"NETLENS_EVENT_CREATED":   int64(EventCreated),
		"NETLENS_EVENT_DELETED":   int64(EventDeleted),
		"NETLENS_EVENT_CHANGED":   int64(EventChanged),
		"NETLENS_EVENT_FLUSHED":   int64(EventFlushed),
		"NETLENS_EVENT_CONFIRMED": int64(EventConfirmed),
		"NETLENS_EVENT_REVERTED":  int64(EventReverted),
		"NETLENS_EVENT_POLICY":    int64(EventPolicy),

		"NETLENS_HOOK_PRE_ROUTING":  int64(HookPreRouting),
		"NETLENS_HOOK_LOCAL_IN":     int64(HookLocalIn),
		"NETLENS_HOOK_FORWARD":      int64(HookForward),
		"NETLENS_HOOK_LOCAL_OUT":    int64(HookLocalOut),
		"NETLENS_HOOK_POST_ROUTING": int64(HookPostRouting),
		"NETLENS_HOOK_ALL":          int64(HookAll),
	}
	goStrs := map[string]string{
		"NETLENS_GENL_NAME":          familyName,
		"NETLENS_GENL_MCGRP_EVENTS":  groupEvents,
		"NETLENS_GENL_MCGRP_PACKETS": groupPackets,
	}
	if diff := cmp.Diff(nums, goNums); diff != "" {
		t.Errorf("numeric constants: header vs Go (-header +go):\n%s", diff)
	}
	if diff := cmp.Diff(strs, goStrs); diff != "" {
		t.Errorf("string constants: header vs Go (-header +go):\n%s", diff)
	}
}

package xfrm

// Message types (include/uapi/linux/xfrm.h).
const (
	msgGetSA     = 0x12 // XFRM_MSG_GETSA
	msgGetPolicy = 0x15 // XFRM_MSG_GETPOLICY
)

// Attribute types (enum xfrm_attr_type_t).
const (
	attrAlgAuth      = 1  // XFRMA_ALG_AUTH: struct xfrm_algo
	attrAlgCrypt     = 2  // XFRMA_ALG_CRYPT: struct xfrm_algo
	attrAlgComp      = 3  // XFRMA_ALG_COMP: struct xfrm_algo
	attrTmpl         = 5  // XFRMA_TMPL: array of struct xfrm_user_tmpl
	attrLtimeVal     = 9  // XFRMA_LTIME_VAL: struct xfrm_lifetime_cur
	attrReplayVal    = 10 // XFRMA_REPLAY_VAL: struct xfrm_replay_state
	attrLastUsed     = 15 // XFRMA_LASTUSED: u64 seconds
	attrPolicyType   = 16 // XFRMA_POLICY_TYPE: struct xfrm_userpolicy_type
	attrAlgAEAD      = 18 // XFRMA_ALG_AEAD: struct xfrm_algo_aead
	attrAlgAuthTrunc = 20 // XFRMA_ALG_AUTH_TRUNC: struct xfrm_algo_auth
	attrReplayESNVal = 23 // XFRMA_REPLAY_ESN_VAL: struct xfrm_replay_state_esn
)

// Structure sizes and offsets on 64-bit kernels.
const (
	sizeofSelector    = 56  // struct xfrm_selector
	sizeofLifetimeCfg = 64  // struct xfrm_lifetime_cfg
	sizeofLifetimeCur = 32  // struct xfrm_lifetime_cur
	sizeofUsersaInfo  = 224 // struct xfrm_usersa_info
	sizeofUserpolicy  = 168 // struct xfrm_userpolicy_info
	sizeofUserTmpl    = 64  // struct xfrm_user_tmpl
	sizeofAlgoName    = 64  // alg_name[64]
	sizeofAlgo        = 68  // struct xfrm_algo without its key
	sizeofAlgoAuth    = 72  // struct xfrm_algo_auth / xfrm_algo_aead without their key
	sizeofReplayState = 12  // struct xfrm_replay_state
	sizeofReplayESN   = 24  // struct xfrm_replay_state_esn without its bitmap
	sizeofUserpolType = 4   // struct xfrm_userpolicy_type
	xfrmInf           = ^uint64(0)
	afInet            = 2  // AF_INET
	afInet6           = 10 // AF_INET6
	xfrmStateESN      = 128
	xfrmPolicyMax     = 3 // XFRM_POLICY_MAX: dirs at or above are socket policies
	xfrmPolicyTypeSub = 1 // XFRM_POLICY_TYPE_SUB
)

// Offsets in struct xfrm_usersa_info.
const (
	saID           = 56  // struct xfrm_id: daddr[16], spi (be32), proto
	saSaddr        = 80  // xfrm_address_t
	saLft          = 96  // struct xfrm_lifetime_cfg
	saCurlft       = 160 // struct xfrm_lifetime_cur
	saStats        = 192 // struct xfrm_stats: replay_window, replay, integrity_failed
	saReqID        = 208
	saFamily       = 212
	saMode         = 214
	saReplayWindow = 215
	saFlags        = 216
)

// Offsets in struct xfrm_userpolicy_info.
const (
	polLft      = 56
	polCurlft   = 120
	polPriority = 152
	polIndex    = 156
	polDir      = 160
	polAction   = 161
)

// modeNames are enum xfrm mode (XFRM_MODE_*) as ip xfrm prints them.
var modeNames = []string{"transport", "tunnel", "ro", "in_trigger", "beet", "iptfs"}

// dirNames are the policy directions (XFRM_POLICY_IN, _OUT, _FWD).
var dirNames = []string{"in", "out", "fwd"}

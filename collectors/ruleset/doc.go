// Package ruleset reads the host's nftables ruleset, every table but
// netlens's own, read-only, for the Filters tab.
//
// format.go renders a rule's expressions the way nft(8) lists them, so the
// tab shows the rule an operator wrote (or iptables-nft, Docker, kube-proxy
// or firewalld wrote for them) rather than the kernel's register machine.
// It is pure: what a rule refers to outside itself (anonymous sets,
// interface indexes) it learns from an Env. sets.go keeps the elements of
// anonymous sets from one read to the next, listing them again only when
// the ruleset's generation moves; ifnames.go names interface indexes as
// the namespace read names them, connlabel.go ct label bits as nft
// names them from /etc/connlabel.conf. rules.go dumps a chain's rules and
// exprs.go decodes their expressions, every one of them: google/nftables
// decodes tables, chains and sets, but drops the rule expressions it has
// no case for.
package ruleset

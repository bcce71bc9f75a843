// Package ruleset reads the host's nftables ruleset, every table but
// netlens's own, read-only, for the Filters tab.
//
// format.go renders a rule's expressions the way nft(8) lists them, so the
// tab shows the rule an operator wrote (or iptables-nft, Docker, kube-proxy
// or firewalld wrote for them) rather than the kernel's register machine.
package ruleset

package main

import (
	"fmt"

	"netlens/collectors/kmod"
	"netlens/control/filter/kmodbackend"
	"netlens/model"
)

// checkNetnsSelect: a rule added through the backend `--netns` gives the
// Filters tab and `netlens rules` (kmodbackend.DialNetNS with the
// namespace's file, called from a thread of the host namespace) lands in
// that namespace only: the namespace lists it and drops the traffic it
// matches, the host neither lists it nor drops.
func checkNetnsSelect() error {
	return withClient(func(c *kmod.Client) error {
		const n, port = 10, 4710
		ns, err := newNetns()
		if err != nil {
			return err
		}
		defer ns.Close()
		b, err := kmodbackend.DialNetNS("", ns.fd)
		if err != nil {
			return err
		}
		defer b.Close()
		r, err := b.Add(model.Rule{Enabled: true, Hooks: []string{model.HookInput}, Family: model.FamilyIPv4, Proto: "udp",
			DstPorts: model.PortRange{Min: port, Max: port}, Action: model.ActionDrop, Label: "via-netns"}, 0)
		if err != nil {
			return fmt.Errorf("add through DialNetNS: %w", err)
		}
		host, err := c.Dump()
		if err != nil {
			return err
		}
		for _, hr := range host {
			if hr.Label == "via-netns" {
				return fmt.Errorf("the rule added for the namespace is in the host's rules: %+v", hr)
			}
		}
		if got, err := udpExchange("udp4", fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("127.0.0.1:%d", port), n); err != nil || got != n {
			return fmt.Errorf("host traffic to %d: %d of %d arrived (%v)", port, got, n, err)
		}
		err = ns.do(func() error {
			nc, err := kmod.Dial(nil)
			if err != nil {
				return err
			}
			defer nc.Close()
			rules, err := nc.Dump()
			if err != nil {
				return err
			}
			if len(rules) != 1 || rules[0].Label != "via-netns" || rules[0].ID != r.ID {
				return fmt.Errorf("the namespace's rules, read inside it: %+v; want the one added (id %d)", rules, r.ID)
			}
			if got, err := udpExchange("udp4", fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("127.0.0.1:%d", port), n); err != nil || got != 0 {
				return fmt.Errorf("namespace traffic to %d: %d arrived, want 0 (%v)", port, got, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		listed, err := b.List()
		if err != nil {
			return err
		}
		if len(listed) != 1 || listed[0].Packets < n {
			return fmt.Errorf("the backend lists %+v; want the rule with >= %d packets", listed, n)
		}
		return b.Delete(r.ID, 0)
	})
}

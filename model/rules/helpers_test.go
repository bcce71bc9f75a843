package rules

import "netlens/model"

func ports(p uint16) model.PortRange { return model.PortRange{Min: p, Max: p} }

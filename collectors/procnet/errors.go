package procnet

import "errors"

// ErrParse is wrapped by every error about malformed text in a /proc/net
// file. The wrapping message names the file and the line.
var ErrParse = errors.New("malformed kernel text")

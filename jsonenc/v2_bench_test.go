//go:build goexperiment.jsonv2

package jsonenc

import (
	jsonv1 "encoding/json"
	"encoding/json/v2"
	"testing"
)

// BenchmarkMarshalFlowV2 measures encoding/json/v2 (GOEXPERIMENT=jsonv2)
// on the flow AppendFlow and BenchmarkMarshalFlow encode, with the
// v1-compatible options the output would need.
func BenchmarkMarshalFlowV2(b *testing.B) {
	fl := benchFlow()
	b.ReportAllocs()
	for b.Loop() {
		json.Marshal(fl, jsonv1.DefaultOptionsV1())
	}
}

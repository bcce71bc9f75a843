package droptrace

import "fmt"

// Layout of struct sample in bpf/droptrace.c: the time, the flow key,
// the packet's length, how many header bytes were read, and the bytes.
const (
	sampleBytes = 128 // SAMPLE_BYTES
	sampleSize  = 8 + keySize + 4 + 4 + sampleBytes
)

// sample is a decoded struct sample: one sampled drop.
type sample struct {
	Ns  uint64
	Key flowKey
	Len uint32
	// Data are the bytes from the network header on (at most
	// sampleBytes; fewer when the packet is shorter).
	Data []byte
}

// decodeSample decodes a struct sample from the samples ring. Data is
// a copy.
func decodeSample(b []byte) (sample, error) {
	if len(b) < sampleSize {
		return sample{}, fmt.Errorf("drop sample: %d bytes, want %d", len(b), sampleSize)
	}
	k, err := decodeKey(b[8 : 8+keySize])
	if err != nil {
		return sample{}, fmt.Errorf("drop sample: %w", err)
	}
	off := 8 + keySize
	capLen := byteOrder.Uint32(b[off+4:])
	if capLen > sampleBytes {
		return sample{}, fmt.Errorf("drop sample: %d header bytes, at most %d", capLen, sampleBytes)
	}
	return sample{
		Ns:   byteOrder.Uint64(b[0:]),
		Key:  k,
		Len:  byteOrder.Uint32(b[off:]),
		Data: append([]byte(nil), b[off+8:off+8+int(capLen)]...),
	}, nil
}

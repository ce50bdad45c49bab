package stackout

import (
	"bytes"
	"encoding/json"
	"testing"
)

func BenchmarkParse(b *testing.B) {
	in, err := json.Marshal(sample())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(bytes.NewReader(in)); err != nil {
			b.Fatal(err)
		}
	}
}

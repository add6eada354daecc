package attrib

import (
	"bytes"
	"compress/bzip2"
	"io"
	"os"
	"testing"

	"github.com/spoor-dev/spoor/internal/sharedtest"
)

// BenchmarkReadOFACXML decodes the real 121 MB sdn_advanced.xml held in
// memory (decompressed once, outside the timer): the XML decoder alone.
func BenchmarkReadOFACXML(b *testing.B) {
	path := sharedtest.Lists(b, "ofac_2025-11-19/sdn_advanced.xml.bz2")
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	data, err := io.ReadAll(bzip2.NewReader(f))
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		es, _, err := ReadOFACXML(bytes.NewReader(data), path)
		if err != nil || len(es) != 761 {
			b.Fatalf("%d entries, %v", len(es), err)
		}
	}
}

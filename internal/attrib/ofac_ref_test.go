package attrib

import (
	"bytes"
	"compress/bzip2"
	"encoding/xml"
	"fmt"
	"github.com/spoor-dev/spoor/internal/sharedtest"
	"io"
	"os"
	"reflect"
	"testing"
)

// readOFACXMLFull is the reference reader: every token of the document
// through encoding/xml, the wanted elements decoded in place. ReadOFACXML
// must give the same result.
func readOFACXMLFull(r io.Reader, file string) ([]OFACEntry, string, error) {
	st := newSDNState(file)
	d := xml.NewDecoder(r)
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			line, _ := d.InputPos()
			return nil, "", fmt.Errorf("%s:%d: %v", file, line, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok || !sdnElements[se.Name.Local] {
			continue
		}
		line, _ := d.InputPos()
		var derr error
		switch se.Name.Local {
		case "DateOfIssue":
			var v xmlDate
			derr = d.DecodeElement(&v, &se)
			st.issued = v.iso()
		case "FeatureType", "PartySubType", "PartyType":
			var v xmlIDValue
			derr = d.DecodeElement(&v, &se)
			switch se.Name.Local {
			case "FeatureType":
				st.featureType(v)
			case "PartySubType":
				st.subType[v.ID] = v.Parent
			default:
				st.partyType[v.ID] = v.Value
			}
		case "DistinctParty":
			var p xmlParty
			derr = d.DecodeElement(&p, &se)
			st.party(&p, line)
		case "SanctionsEntry":
			var e xmlEntry
			derr = d.DecodeElement(&e, &se)
			st.entry(&e)
		}
		if derr != nil {
			return nil, "", fmt.Errorf("%s:%d: %v", file, line, derr)
		}
	}
	return st.result()
}

// TestOFACXMLFramerEqualsFullDecode: on the real 121 MB file the framer
// and the full decoder give the same entries.
func TestOFACXMLFramerEqualsFullDecode(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes 121 MB of XML twice")
	}
	fast, issued := ofacXML(t)
	data := sdnBytes(t)
	full, issued2, err := readOFACXMLFull(bytes.NewReader(data), "sdn_advanced.xml")
	if err != nil {
		t.Fatal(err)
	}
	if issued != issued2 || len(fast) != len(full) {
		t.Fatalf("framer %d entries (%s), full decode %d (%s)", len(fast), issued, len(full), issued2)
	}
	for i := range fast {
		a, b := fast[i], full[i]
		b.Line = a.Line // the full decoder reports the line after the start tag
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("entry %d:\nframer %+v\nfull   %+v", i, fast[i], full[i])
		}
	}
}

func FuzzOFACXMLFramer(f *testing.F) {
	f.Add([]byte(sdnSeed))
	f.Add([]byte(`<Sanctions><!-- <DistinctParty> --><![CDATA[<SanctionsEntry>]]><FeatureType ID="1">Digital Currency Address - XBT</FeatureType>` +
		`<DistinctParty a=">"><Profile ID="7"><Feature ID="2" FeatureTypeID='1'><FeatureVersion><VersionDetail>x&amp;y</VersionDetail></FeatureVersion></Feature></Profile></DistinctParty>` +
		`<SanctionsEntry ProfileID="7"><DistinctParty/></SanctionsEntry></Sanctions>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		full, issued, err := readOFACXMLFull(bytes.NewReader(data), "f.xml")
		if err != nil {
			ReadOFACXML(bytes.NewReader(data), "f.xml") // must not panic
			return
		}
		fast, issued2, err := ReadOFACXML(bytes.NewReader(data), "f.xml")
		if err != nil {
			t.Fatalf("framer fails where encoding/xml reads: %v", err)
		}
		for i := range full {
			if i < len(fast) {
				full[i].Line = fast[i].Line
			}
		}
		if issued != issued2 || !reflect.DeepEqual(fast, full) {
			t.Fatalf("framer %+v %s\nfull %+v %s", fast, issued2, full, issued)
		}
	})
}

// BenchmarkReadOFACXMLFull is the reference full encoding/xml decode of the
// real file, the peer of BenchmarkReadOFACXML.
func BenchmarkReadOFACXMLFull(b *testing.B) {
	data := sdnBytes(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		es, _, err := readOFACXMLFull(bytes.NewReader(data), "sdn_advanced.xml")
		if err != nil || len(es) != 761 {
			b.Fatalf("%d entries, %v", len(es), err)
		}
	}
}

// BenchmarkBzip2SDN is the decompression of the real .bz2 alone (Go's
// compress/bzip2), the other part of an import's time.
func BenchmarkBzip2SDN(b *testing.B) {
	path := sharedtest.Lists(b, "ofac_2025-11-19/sdn_advanced.xml.bz2")
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		n, err := io.Copy(io.Discard, bzip2.NewReader(bytes.NewReader(raw)))
		if err != nil || n < 100<<20 {
			b.Fatal(n, err)
		}
	}
}

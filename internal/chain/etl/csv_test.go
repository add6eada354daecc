package etl

import (
	"bytes"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// readAll reads every record with spoor's reader (no field-count check).
func readAll(in string) ([][]string, error) {
	cr := newCSVReader(strings.NewReader(in), "t.csv")
	var out [][]string
	for {
		if err := cr.next(); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		rec := make([]string, len(cr.fields))
		for i, f := range cr.fields {
			rec[i] = string(f)
		}
		out = append(out, rec)
	}
}

// stdlib reads with encoding/csv, the independent reference.
func stdlib(in string) ([][]string, error) {
	r := csv.NewReader(strings.NewReader(in))
	r.FieldsPerRecord = -1
	return r.ReadAll()
}

var csvCases = []struct {
	name, in string
}{
	{"plain", "a,b,c\n1,2,3\n"},
	{"crlf", "a,b\r\n1,2\r\n"},
	{"no final newline", "a,b\n1,2"},
	{"empty fields", "a,,c\n,,\n"},
	{"trailing comma", "a,b,\n"},
	{"quoted comma", "a,\"b,c\",d\n"},
	{"escaped quote", "\"he said \"\"hi\"\"\",x\n"},
	{"newline in quotes", "a,\"line1\nline2\",c\nx,y,z\n"},
	{"crlf in quotes", "a,\"line1\r\nline2\"\r\nx,y\r\n"},
	{"blank lines skipped", "a,b\n\n\n1,2\n"},
	{"quoted empty", "\"\",\"\"\n"},
	{"topics list", "1,0xabc,\"0xddf2,0x0000,0x0001\",data\n"},
	{"lone cr kept", "a\rb,c\n"},
}

func TestCSVAgainstEncodingCSV(t *testing.T) {
	for _, tc := range csvCases {
		t.Run(tc.name, func(t *testing.T) {
			want, err := stdlib(tc.in)
			if err != nil {
				t.Fatalf("encoding/csv rejects the case: %v", err)
			}
			got, err := readAll(tc.in)
			if err != nil {
				t.Fatalf("spoor reader: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got  %q\nwant %q", got, want)
			}
		})
	}
}

func TestCSVErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"bare quote", "a,b\"c\n", "t.csv:1: bare quote in unquoted field 2"},
		{"text after quote", "\"a\"b,c\n", "t.csv:1: unexpected 'b' after closing quote of field 1"},
		{"unclosed", "x\n\"abc\n", "t.csv:2: quoted field not closed before end of file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readAll(tc.in)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if !errors.Is(err, ErrInput) {
				t.Fatalf("error does not match ErrInput")
			}
		})
	}
}

// FuzzCSV checks spoor's reader against encoding/csv on every input the
// standard reader accepts, and that it never panics on the rest.
func FuzzCSV(f *testing.F) {
	for _, tc := range csvCases {
		f.Add(tc.in)
	}
	f.Add("a,\"b\nc\"\"\",d\r\n\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := readAll(in)
		want, werr := stdlib(in)
		if werr != nil || err != nil {
			return // error reporting differs in wording; no panic is the check
		}
		if strings.ContainsRune(in, '\r') {
			return // encoding/csv rewrites lone CRs at line ends; spoor keeps them
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("input %q\ngot  %q\nwant %q", in, got, want)
		}
	})
}

// readAllBytes is readAll over the in-memory chunk reader the chunked
// decoder uses.
func readAllBytes(in string) ([][]string, error) {
	cr := newCSVBytes([]byte(in), "t.csv")
	var out [][]string
	for {
		if err := cr.next(); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		rec := make([]string, len(cr.fields))
		for i, f := range cr.fields {
			rec[i] = string(f)
		}
		out = append(out, rec)
	}
}

// FuzzCSVDifferential holds both of spoor's readers (streaming and
// in-memory) to encoding/csv on arbitrary input: the same records, or an
// error from all three. Carriage returns are left out: encoding/csv drops
// a lone CR before a newline and rewrites CRs inside quotes, ethereum-etl
// never writes either, and spoor keeps the bytes as they are.
func FuzzCSVDifferential(f *testing.F) {
	for _, tc := range csvCases {
		f.Add(tc.in)
	}
	f.Add("a,\"b\nc\"\"\",d\n\n")
	f.Add("a,b\"c\n")
	f.Add("\"a\"b,c\n")
	f.Add("x\n\"abc\n")
	f.Add("\"\"\"\",\"\n\"\n")
	f.Fuzz(func(t *testing.T, in string) {
		if strings.ContainsRune(in, '\r') {
			return
		}
		want, werr := stdlib(in)
		for _, rd := range []struct {
			name string
			read func(string) ([][]string, error)
		}{{"streaming", readAll}, {"in-memory", readAllBytes}} {
			got, err := rd.read(in)
			if (err != nil) != (werr != nil) {
				t.Fatalf("%s reader, input %q: error %v, encoding/csv error %v", rd.name, in, err, werr)
			}
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Line < 1 {
					t.Fatalf("%s reader, input %q: error %v has no line", rd.name, in, err)
				}
				continue
			}
			if !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("%s reader, input %q\ngot  %q\nwant %q", rd.name, in, got, want)
			}
		}
	})
}

// decodeHex (eight digits at a time) against encoding/hex on arbitrary
// strings: the same bytes, or both refuse.
func FuzzDecodeHex(f *testing.F) {
	for _, s := range []string{"00", "0123456789abcdefABCDEF0123456789", "0g", "zz00ff00aa00bb00", "ff/:@`GgFf000000", "\x80\x80", strings.Repeat("Ff", 32)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s)%2 != 0 {
			s = s[1:]
		}
		want, werr := hex.DecodeString(s)
		got := make([]byte, len(s)/2)
		ok := decodeHex(got, []byte(s))
		if ok != (werr == nil) || (ok && !bytes.Equal(got, want)) {
			t.Fatalf("decodeHex(%q) = %x, %v; encoding/hex %x, %v", s, got, ok, want, werr)
		}
	})
}

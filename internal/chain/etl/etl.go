// Package etl reads ethereum-etl / BigQuery-style CSV exports of EVM-style
// account chains (Ethereum, and Tron as Google's dataset writes it) into
// spoor's canonical blocks: blocks, transactions (with receipt status and
// fee), token transfers of any ERC-20/TRC-20 contract, internal ETH transfers
// from traces exports (traces.go), token metadata, and the on-chain facts
// found in log exports. It also holds the EVM log decoding
// (Transfer events, Tether/Circle blacklist events) that the Ethereum and Tron
// node adapters share.
//
// Columns are found by name (extra columns ignored, order free); amounts are
// uint256 decimal strings; every malformed value is reported as an *Error
// naming the file, line and column. Nothing is guessed: a token transfer of a
// failed transaction is dropped and counted, a token with unknown decimals
// is returned with Decimals -1.
//
// The big tables, transactions, token_transfers and traces, are decoded on all
// cores: the file is cut into chunks at record boundaries (never inside a
// quoted field), workers parse chunks into pointer-free rows, and the rows
// are joined in file order, so results and errors are those of a sequential
// read (chunk.go, rows.go).
package etl

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/spoor-dev/spoor/internal/model"
)

// ErrInput marks every error caused by the content of an input file. Match
// with errors.Is; errors.As(*Error) gives the location.
var ErrInput = errors.New("etl: bad input")

// Error is a problem in one input file: where and what.
type Error struct {
	File  string
	Line  int    // 1-based; 0 when the problem is the file as a whole
	Field string // column name, when one is to blame
	Msg   string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ": column %s", e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap makes every *Error match ErrInput.
func (e *Error) Unwrap() error { return ErrInput }

// Kind is the table a file holds.
type Kind uint8

// File kinds, recognised by the start of the file name.
const (
	KindUnknown Kind = iota
	KindBlocks
	KindTransactions
	KindReceipts
	KindTokenTransfers
	KindTokens
	KindLogs
	KindTraces
)

var kindPrefixes = []struct {
	prefix string
	kind   Kind
}{
	// Longer prefixes first: "token_transfers" before "tokens".
	{"token_transfers", KindTokenTransfers},
	{"transactions", KindTransactions},
	{"receipts", KindReceipts},
	{"blocks", KindBlocks},
	{"tokens", KindTokens},
	{"logs", KindLogs},
	{"traces", KindTraces},
}

func (k Kind) String() string {
	for _, p := range kindPrefixes {
		if p.kind == k {
			return p.prefix
		}
	}
	return "unknown"
}

// File is one input file.
type File struct {
	Path string
	Kind Kind
}

// Unit is a set of files decoded together: one ethereum-etl block-range
// partition, or a whole folder when its files are not partitioned by block
// range.
type Unit struct {
	Key   string // the block-range suffix ("_00000000_00099999"), or ""
	Files []File
}

// csvExt reports whether a file name is a CSV (optionally gzip-compressed).
func csvExt(name string) (base string, ok bool) {
	n := strings.ToLower(name)
	for _, ext := range []string{".csv.gz", ".csv"} {
		if strings.HasSuffix(n, ext) {
			return n[:len(n)-len(ext)], true
		}
	}
	return "", false
}

// Classify returns the kind of a file from its name, and the rest of the name
// after the kind prefix (without extension).
func Classify(name string) (Kind, string) {
	base, ok := csvExt(filepath.Base(name))
	if !ok {
		return KindUnknown, ""
	}
	for _, p := range kindPrefixes {
		if strings.HasPrefix(base, p.prefix) {
			return p.kind, base[len(p.prefix):]
		}
	}
	return KindUnknown, ""
}

var rangeSuffix = regexp.MustCompile(`^_(\d+)_(\d+)$`)

// Scan lists the export files under dir (recursively, ethereum-etl's
// start_block=/end_block= folders included) and groups them into units.
// Token files are returned apart: they apply to every unit.
func Scan(dir string) (units []Unit, tokens []File, err error) {
	var files []File
	var suffixes []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		k, suffix := Classify(d.Name())
		if k != KindUnknown && !d.Type().IsRegular() && p != dir {
			// Skipping it would ingest the export without that file.
			what := "a folder"
			if !d.IsDir() {
				what = "not a regular file (" + d.Type().String() + ")"
			}
			return &Error{File: p, Msg: what + ", named like an export file: want the CSV itself"}
		}
		if d.IsDir() {
			return nil
		}
		switch k {
		case KindUnknown:
			return nil
		case KindTokens:
			tokens = append(tokens, File{p, k})
			return nil
		}
		files = append(files, File{p, k})
		suffixes = append(suffixes, suffix)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("etl: scan %s: %w", dir, err)
	}
	if len(files) == 0 && len(tokens) == 0 {
		return nil, nil, &Error{File: dir, Msg: "no export files (want blocks, transactions, receipts, token_transfers, tokens, logs or traces *.csv[.gz])"}
	}
	partitioned := len(files) > 1
	for _, s := range suffixes {
		if !rangeSuffix.MatchString(s) {
			partitioned = false
		}
	}
	if !partitioned {
		if len(files) > 0 {
			units = []Unit{{Files: files}}
		}
		return units, tokens, nil
	}
	byKey := map[string]*Unit{}
	for i, f := range files {
		u := byKey[suffixes[i]]
		if u == nil {
			u = &Unit{Key: suffixes[i]}
			byKey[suffixes[i]] = u
		}
		u.Files = append(u.Files, f)
	}
	for _, u := range byKey {
		units = append(units, *u)
	}
	sort.Slice(units, func(i, j int) bool {
		a, b := rangeSuffix.FindStringSubmatch(units[i].Key), rangeSuffix.FindStringSubmatch(units[j].Key)
		if len(a[1]) != len(b[1]) {
			return len(a[1]) < len(b[1])
		}
		return a[1] < b[1]
	})
	return units, tokens, nil
}

// open opens a file, transparently un-gzipping *.gz.
func open(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(strings.ToLower(path), ".gz") {
		return f, nil
	}
	z, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, &Error{File: path, Msg: "gzip: " + err.Error()}
	}
	return struct {
		io.Reader
		io.Closer
	}{z, f}, nil
}

// Token is a token's metadata as exported (tokens.csv) or configured.
type Token struct {
	Contract []byte // canonical address bytes
	Symbol   string
	Name     string
	Decimals int // -1 when unknown
}

// ReadTokens reads tokens files (`address,symbol,name,decimals,...`).
// Empty decimals mean unknown (-1).
func ReadTokens(c model.Chain, files []File) ([]Token, error) {
	var out []Token
	for _, f := range files {
		r, err := open(f.Path)
		if err != nil {
			return nil, err
		}
		toks, err := readTokens(c, r, f.Path)
		r.Close()
		if err != nil {
			return nil, err
		}
		out = append(out, toks...)
	}
	return out, nil
}

// readTokens decodes one tokens CSV.
func readTokens(c model.Chain, r io.Reader, name string) ([]Token, error) {
	cr := newCSVReader(r, name)
	if err := cr.readHeader(); err != nil {
		return nil, err
	}
	iAddr, err := cr.col("address")
	if err != nil {
		return nil, err
	}
	iSym, iName, iDec := cr.optCol("symbol"), cr.optCol("name"), cr.optCol("decimals")
	var out []Token
	for {
		if err := cr.record(); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		t := Token{Decimals: -1}
		if t.Contract, err = ParseAddress(c, cr.fields[iAddr]); err != nil {
			return nil, cr.errf("address", "%v", err)
		}
		if iSym >= 0 {
			t.Symbol = CleanSymbol(string(cr.fields[iSym]))
		}
		if iName >= 0 {
			t.Name = CleanSymbol(string(cr.fields[iName]))
		}
		if iDec >= 0 && len(cr.fields[iDec]) > 0 {
			d, err := ParseUint(cr.fields[iDec])
			if err != nil || d > 77 {
				return nil, cr.errf("decimals", "want an integer 0..77, got %q", clip(cr.fields[iDec]))
			}
			t.Decimals = int(d)
		}
		out = append(out, t)
	}
}

// CleanSymbol trims a token symbol or name, drops control characters and
// invalid UTF-8, and caps it at 64 bytes (scam tokens use long URL symbols).
func CleanSymbol(s string) string {
	s = strings.ToValidUTF8(strings.TrimSpace(s), "")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > 64 {
		cut := 64
		for cut > 0 && !utf8RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

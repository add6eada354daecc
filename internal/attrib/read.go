package attrib

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Formats the importers read.
const (
	FormatTagPack   = "tagpack"
	FormatActorPack = "actorpack"
	FormatOFACXML   = "ofac-xml"
	FormatOFACText  = "ofac-txt"
	FormatNBCTF     = "nbctf"
	FormatCSV       = "csv"
)

// Formats lists the format names.
var Formats = []string{FormatTagPack, FormatActorPack, FormatOFACXML, FormatOFACText, FormatNBCTF, FormatCSV}

// Options steer a read.
type Options struct {
	Format  string // "" detects
	List    string // list name; "" picks the format's default
	AsOf    string // version date (ISO); "" takes the file's own date, else Now's
	AddedBy string
	Now     time.Time
	// BTCNetwork is the Bitcoin network the list's addresses are for
	// ("" = mainnet; "regtest" for a simulated world).
	BTCNetwork string
}

func (o *Options) today() string {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	return o.Now.UTC().Format("2006-01-02")
}

var dateInName = regexp.MustCompile(`(\d{4}-\d{2}-\d{2})`)

// ReadFile reads a list file (or a folder of OFAC per-asset lists) into a
// batch. Bad records become Problems of the batch; an error means the file
// as a whole could not be read (unreadable, wrong format, malformed syntax).
func ReadFile(path string, o Options) (*Batch, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if o.AsOf != "" {
		d, err := NormDate(o.AsOf)
		if err != nil {
			return nil, fmt.Errorf("--as-of: %v", err)
		}
		o.AsOf = d
	}
	if fi.IsDir() {
		if o.Format != "" && o.Format != FormatOFACText {
			return nil, fmt.Errorf("%s is a folder: only format %s reads folders", path, FormatOFACText)
		}
		return readOFACTextDir(path, o)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	var r io.Reader = io.TeeReader(f, h)
	name := filepath.Base(path)
	if strings.HasSuffix(name, ".bz2") {
		r = bzip2.NewReader(r)
		name = strings.TrimSuffix(name, ".bz2")
	}
	br := bufio.NewReaderSize(r, 1<<16)
	if o.Format == "" {
		head, _ := br.Peek(8192)
		o.Format, err = Detect(name, head)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
	}
	b, err := Read(br, path, o)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, br) // the digest covers the whole file
	b.Digest = hex.EncodeToString(h.Sum(nil))
	return b, nil
}

// Read reads one list from r in format o.Format; file names it in messages.
func Read(r io.Reader, file string, o Options) (*Batch, error) {
	today := o.today()
	b := &Batch{File: file, Format: o.Format, List: o.List, AddedBy: o.AddedBy, btcNet: o.BTCNetwork}
	base := strings.TrimSuffix(strings.TrimSuffix(filepath.Base(file), ".bz2"), filepath.Ext(strings.TrimSuffix(filepath.Base(file), ".bz2")))
	var err error
	switch o.Format {
	case FormatTagPack:
		if b.List == "" {
			b.List = "graphsense/" + base
		}
		err = readTagPack(r, b)
	case FormatActorPack:
		if b.List == "" {
			b.List = "graphsense/" + base
		}
		err = readActorPack(r, b)
	case FormatOFACXML:
		if b.List == "" {
			b.List = "ofac-sdn"
		}
		err = readOFACXML(r, b)
	case FormatOFACText:
		if b.List == "" {
			b.List = "ofac-sdn-txt"
		}
		err = readOFACText(r, b, filepath.Base(file))
	case FormatNBCTF:
		if b.List == "" {
			b.List = "nbctf-il-seizures"
		}
		err = readNBCTF(r, b)
	case FormatCSV:
		if b.List == "" {
			b.List = base
		}
		err = readCSV(r, b)
	default:
		return nil, fmt.Errorf("unknown format %q (want one of %s)", o.Format, strings.Join(Formats, ", "))
	}
	if err != nil {
		return nil, err
	}
	for i := range b.Tags {
		b.Tags[i].List = b.List
	}
	switch {
	case o.AsOf != "":
		b.Version = o.AsOf
	case b.Version != "":
	default:
		if m := dateInName.FindString(file); m != "" {
			if d, err := NormDate(m); err == nil {
				b.Version = d
			}
		}
		if b.Version == "" {
			b.Version = today
		}
	}
	if b.Digest == "" {
		b.Digest = batchDigest(b)
	}
	return b, nil
}

// batchDigest fingerprints a batch's content when no file bytes are at hand.
func batchDigest(b *Batch) string {
	h := sha256.New()
	for _, t := range b.Tags {
		fmt.Fprintf(h, "%s|%s|%s|%s|%s|%s|%s\n", t.Key(), t.Address, t.Category, t.Abuse, t.Actor, t.Source, t.Confidence)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Detect guesses a format from a file name and its first bytes.
func Detect(name string, head []byte) (string, error) {
	lname := strings.ToLower(name)
	trim := bytes.TrimSpace(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")))
	switch {
	case strings.HasSuffix(lname, ".xml") || bytes.HasPrefix(trim, []byte("<?xml")) || bytes.HasPrefix(trim, []byte("<Sanctions")):
		if bytes.Contains(head, []byte("<Sanctions")) || bytes.Contains(head, []byte("sanctionslistservice")) {
			return FormatOFACXML, nil
		}
		return "", fmt.Errorf("XML but not an OFAC sdn_advanced file (no <Sanctions> root in the first bytes)")
	case strings.HasPrefix(lname, "sanctioned_addresses_") && strings.HasSuffix(lname, ".txt"):
		return FormatOFACText, nil
	case strings.HasSuffix(lname, ".yaml") || strings.HasSuffix(lname, ".yml"):
		if regexp.MustCompile(`(?m)^actors:`).Match(head) || strings.Contains(lname, "actorpack") {
			return FormatActorPack, nil
		}
		return FormatTagPack, nil
	}
	first := string(trim)
	if i := strings.IndexByte(first, '\n'); i >= 0 {
		first = first[:i]
	}
	first = strings.ToLower(strings.TrimSpace(first))
	switch {
	case strings.Contains(first, "wallet_address_as_published"):
		return FormatNBCTF, nil
	case strings.HasPrefix(first, "chain,address"):
		return FormatCSV, nil
	case strings.HasPrefix(first, "title:") || strings.HasPrefix(first, "%yaml") || strings.HasPrefix(first, "---"):
		return FormatTagPack, nil
	}
	return "", fmt.Errorf("cannot tell the format (give --format: %s)", strings.Join(Formats, ", "))
}

// readOFACTextDir reads every sanctioned_addresses_<ASSET>.txt of a folder
// as one version of one list.
func readOFACTextDir(dir string, o Options) (*Batch, error) {
	files, err := filepath.Glob(filepath.Join(dir, "sanctioned_addresses_*.txt"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		// Say what the folder holds: a folder of TagPacks or CSVs is a
		// common mistake, and "no OFAC files" alone does not explain it.
		var other []string
		if ents, err := os.ReadDir(dir); err == nil {
			for _, e := range ents {
				if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
					other = append(other, e.Name())
				}
			}
		}
		if len(other) == 0 {
			return nil, fmt.Errorf("%s: an empty folder (a folder is read as OFAC sanctioned_addresses_<ASSET>.txt files)", dir)
		}
		return nil, fmt.Errorf("%s: no sanctioned_addresses_<ASSET>.txt files, the only files read from a folder; it holds %d other file(s), e.g. %s: import each on its own",
			dir, len(other), other[0])
	}
	sort.Strings(files)
	o.Format = FormatOFACText
	all := &Batch{File: dir, Format: FormatOFACText, List: o.List, AddedBy: o.AddedBy}
	h := sha256.New()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(h, "%s %d\n", filepath.Base(f), len(data))
		h.Write(data)
		b, err := Read(bytes.NewReader(data), f, o)
		if err != nil {
			return nil, err
		}
		all.List, all.Version = b.List, b.Version
		all.Tags = append(all.Tags, b.Tags...)
		all.Lines = append(all.Lines, b.Lines...)
		all.Problems = append(all.Problems, b.Problems...)
		all.Scope = append(all.Scope, b.Scope...)
		all.Read += b.Read
	}
	if o.AsOf == "" {
		if m := dateInName.FindString(dir); m != "" {
			if d, err := NormDate(m); err == nil {
				all.Version = d
			}
		}
	}
	all.Digest = hex.EncodeToString(h.Sum(nil))
	return all, nil
}

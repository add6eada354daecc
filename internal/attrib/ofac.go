package attrib

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/spoor-dev/spoor/internal/model"
)

// OFACEntry is one "Digital Currency Address" feature of sdn_advanced.xml
// joined with its SDN entry.
type OFACEntry struct {
	Asset     string   // the ticker of the feature type: XBT, ETH, TRX, USDT, …
	Address   string   // as published
	UID       string   // the profile's (SDN entry's) id
	Name      string   // the primary name
	PartyType string   // Individual, Entity, …
	Programs  []string // SDGT, FTO, IRGC, CYBER4, …
	ListedOn  string   // earliest entry event date (ISO)
	Line      int      // line of the DistinctParty element
	FeatureID string
}

const dcaPrefix = "Digital Currency Address - "

type xmlDate struct {
	Year  int `xml:"Year"`
	Month int `xml:"Month"`
	Day   int `xml:"Day"`
}

func (d xmlDate) iso() string {
	if d.Year == 0 {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
}

type xmlParty struct {
	Profiles []struct {
		ID         string        `xml:"ID,attr"`
		SubType    string        `xml:"PartySubTypeID,attr"`
		Identities []xmlIdentity `xml:"Identity"`
		Features   []struct {
			ID       string `xml:"ID,attr"`
			TypeID   string `xml:"FeatureTypeID,attr"`
			Versions []struct {
				Details []string `xml:"VersionDetail"`
			} `xml:"FeatureVersion"`
		} `xml:"Feature"`
	} `xml:"Profile"`
}

type xmlEntry struct {
	ProfileID string `xml:"ProfileID,attr"`
	Events    []struct {
		Date xmlDate `xml:"Date"`
	} `xml:"EntryEvent"`
	Measures []struct {
		TypeID  string `xml:"SanctionsTypeID,attr"`
		Comment string `xml:"Comment"`
	} `xml:"SanctionsMeasure"`
}

type xmlIDValue struct {
	ID     string `xml:"ID,attr"`
	Parent string `xml:"PartyTypeID,attr"`
	Value  string `xml:",chardata"`
}

// sdnState accumulates what the elements of sdn_advanced.xml say; both
// readers (the framer and the reference full decoder of the tests) feed it.
type sdnState struct {
	file      string
	assetOf   map[string]string // FeatureType ID → asset
	subType   map[string]string // PartySubType ID → PartyType ID
	partyType map[string]string // PartyType ID → name
	out       []OFACEntry
	issued    string
	byProfile map[string][]int // profile → indexes in out
}

func newSDNState(file string) *sdnState {
	return &sdnState{file: file, assetOf: map[string]string{}, subType: map[string]string{},
		partyType: map[string]string{}, byProfile: map[string][]int{}}
}

func (st *sdnState) featureType(v xmlIDValue) {
	if strings.HasPrefix(v.Value, dcaPrefix) {
		st.assetOf[v.ID] = strings.TrimSpace(strings.TrimPrefix(v.Value, dcaPrefix))
	}
}

func (st *sdnState) party(p *xmlParty, line int) {
	for _, pr := range p.Profiles {
		var feats []OFACEntry
		for _, f := range pr.Features {
			asset, ok := st.assetOf[f.TypeID]
			if !ok {
				continue
			}
			for _, v := range f.Versions {
				for _, det := range v.Details {
					if det = strings.TrimSpace(det); det != "" {
						feats = append(feats, OFACEntry{Asset: asset, Address: det, FeatureID: f.ID})
					}
				}
			}
		}
		if len(feats) == 0 {
			continue
		}
		name := primaryName(pr.Identities)
		for _, e := range feats {
			e.UID, e.Name, e.Line = pr.ID, name, line
			e.PartyType = st.partyType[st.subType[pr.SubType]]
			st.byProfile[pr.ID] = append(st.byProfile[pr.ID], len(st.out))
			st.out = append(st.out, e)
		}
	}
}

func (st *sdnState) entry(e *xmlEntry) {
	idx, ok := st.byProfile[e.ProfileID]
	if !ok {
		return
	}
	listed := ""
	for _, ev := range e.Events {
		if s := ev.Date.iso(); s != "" && (listed == "" || s < listed) {
			listed = s
		}
	}
	var progs []string
	for _, m := range e.Measures {
		if m.TypeID == "1" && strings.TrimSpace(m.Comment) != "" {
			progs = append(progs, strings.TrimSpace(m.Comment))
		}
	}
	for _, i := range idx {
		st.out[i].ListedOn = listed
		st.out[i].Programs = append(st.out[i].Programs, progs...)
	}
}

func (st *sdnState) result() ([]OFACEntry, string, error) {
	if len(st.assetOf) == 0 {
		return nil, "", fmt.Errorf("%s: no \"Digital Currency Address\" feature types: not an sdn_advanced.xml", st.file)
	}
	return st.out, st.issued, nil
}

// sdnElements are the elements ReadOFACXML decodes; everything else is
// skipped without being parsed.
var sdnElements = map[string]bool{"DateOfIssue": true, "FeatureType": true, "PartySubType": true,
	"PartyType": true, "DistinctParty": true, "SanctionsEntry": true}

// ReadOFACXML streams an OFAC sdn_advanced.xml and returns every digital
// currency address feature with its entry's name, party type, programs and
// date, in file order, and the list's date of issue.
//
// The file is 121 MB of which a few hundred parties matter, so it is not
// run through a full XML tokenizer: a framer finds the markup (skipping
// comments, CDATA and processing instructions, honouring quotes in
// attributes), cuts out the elements listed in sdnElements, and only those
// that can matter (a DistinctParty with a digital-currency feature type, a
// SanctionsEntry of such a party) are decoded with encoding/xml. The tests
// check the result equals a full encoding/xml decode of the real file and,
// under fuzzing, of arbitrary input.
func ReadOFACXML(r io.Reader, file string) ([]OFACEntry, string, error) {
	st := newSDNState(file)
	fr := &xmlFramer{r: bufio.NewReaderSize(r, 1<<20), line: 1}
	for {
		name, elem, line, err := fr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, "", fmt.Errorf("%s:%d: %v", file, fr.line, err)
		}
		wrap := func(err error) error { return fmt.Errorf("%s:%d: <%s>: %v", file, line, name, err) }
		switch name {
		case "DateOfIssue":
			var v xmlDate
			if err := xml.Unmarshal(elem, &v); err != nil {
				return nil, "", wrap(err)
			}
			st.issued = v.iso()
		case "FeatureType", "PartySubType", "PartyType":
			var v xmlIDValue
			if err := xml.Unmarshal(elem, &v); err != nil {
				return nil, "", wrap(err)
			}
			switch name {
			case "FeatureType":
				st.featureType(v)
			case "PartySubType":
				st.subType[v.ID] = v.Parent
			default:
				st.partyType[v.ID] = strings.TrimSpace(v.Value)
			}
		case "DistinctParty":
			if !hasAttrValue(elem, "FeatureTypeID", st.assetOf) {
				continue
			}
			var p xmlParty
			if err := xml.Unmarshal(elem, &p); err != nil {
				return nil, "", wrap(err)
			}
			st.party(&p, line)
		case "SanctionsEntry":
			if !hasAttrValue(elem[:bytes.IndexByte(elem, '>')+1], "ProfileID", st.byProfile) {
				continue
			}
			var e xmlEntry
			if err := xml.Unmarshal(elem, &e); err != nil {
				return nil, "", wrap(err)
			}
			st.entry(&e)
		}
	}
	return st.result()
}

// hasAttrValue reports whether b holds attribute name with a value that is
// a key of set (a conservative pre-filter: a false positive only costs a
// decode).
func hasAttrValue[V any](b []byte, name string, set map[string]V) bool {
	for {
		i := bytes.Index(b, []byte(name))
		if i < 0 {
			return false
		}
		b = b[i+len(name):]
		j := 0
		for j < len(b) && (b[j] == ' ' || b[j] == '\t' || b[j] == '\n' || b[j] == '\r' || b[j] == '=') {
			j++
		}
		if j >= len(b) || (b[j] != '"' && b[j] != '\'') {
			continue
		}
		q := b[j]
		k := bytes.IndexByte(b[j+1:], q)
		if k < 0 {
			return false
		}
		if _, ok := set[string(b[j+1:j+1+k])]; ok {
			return true
		}
	}
}

// maxElement bounds one captured element (the largest DistinctParty of the
// real list is under 100 kB).
const maxElement = 64 << 20

// xmlFramer cuts the elements named in sdnElements out of an XML stream.
type xmlFramer struct {
	r    *bufio.Reader
	line int
	buf  []byte // the element being captured
	tag  []byte // the markup being read
}

// next returns the next wanted element's name, its bytes (valid until the
// next call) and its first line.
func (f *xmlFramer) next() (string, []byte, int, error) {
	var (
		name  string
		depth int
		start int
	)
	capturing := false
	for {
		chunk, err := f.r.ReadSlice('<')
		if err == bufio.ErrBufferFull {
			f.line += bytes.Count(chunk, []byte{'\n'})
			if capturing {
				f.buf = append(f.buf, chunk...)
			}
			continue
		}
		f.line += bytes.Count(chunk, []byte{'\n'})
		if capturing {
			f.buf = append(f.buf, chunk...)
			if len(f.buf) > maxElement {
				return "", nil, 0, fmt.Errorf("<%s> at line %d is larger than %d bytes", name, start, maxElement)
			}
		}
		if err == io.EOF {
			if capturing {
				return "", nil, 0, fmt.Errorf("<%s> at line %d: %w", name, start, io.ErrUnexpectedEOF)
			}
			return "", nil, 0, io.EOF
		}
		if err != nil {
			return "", nil, 0, err
		}
		tagLine := f.line
		peek, _ := f.r.Peek(9)
		var (
			tag []byte
			end string
		)
		switch {
		case bytes.HasPrefix(peek, []byte("!--")):
			end = "-->"
		case bytes.HasPrefix(peek, []byte("![CDATA[")):
			end = "]]>"
		case bytes.HasPrefix(peek, []byte("?")):
			end = "?>"
		case bytes.HasPrefix(peek, []byte("!")):
			end = ">"
		}
		if end != "" {
			tag, err = f.readUntil(end)
			if err != nil {
				return "", nil, 0, err
			}
			if capturing {
				f.buf = append(f.buf, tag...)
			}
			continue
		}
		tag, err = f.readTag()
		if err != nil {
			return "", nil, 0, err
		}
		closing := len(tag) > 0 && tag[0] == '/'
		n := tagName(tag)
		selfClosing := !closing && len(tag) >= 2 && tag[len(tag)-2] == '/'
		if capturing {
			f.buf = append(f.buf, tag...)
			switch {
			case string(n) != name || selfClosing:
			case closing:
				depth--
				if depth == 0 {
					return name, f.buf, start, nil
				}
			default:
				depth++
			}
			continue
		}
		if closing || !sdnElements[string(n)] {
			continue
		}
		name = string(n)
		f.buf = append(append(f.buf[:0], '<'), tag...)
		if selfClosing {
			return name, f.buf, tagLine, nil
		}
		depth, start, capturing = 1, tagLine, true
	}
}

// readUntil reads through the first occurrence of end.
func (f *xmlFramer) readUntil(end string) ([]byte, error) {
	f.tag = f.tag[:0]
	for {
		chunk, err := f.r.ReadSlice(end[len(end)-1])
		f.tag = append(f.tag, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("unterminated markup (want %q): %w", end, io.ErrUnexpectedEOF)
		}
		if bytes.HasSuffix(f.tag, []byte(end)) {
			f.line += bytes.Count(f.tag, []byte{'\n'})
			return f.tag, nil
		}
	}
}

// readTag reads a tag through its closing '>', honouring quoted values
// (where '>' may appear).
func (f *xmlFramer) readTag() ([]byte, error) {
	f.tag = f.tag[:0]
	var quote byte
	for {
		from := len(f.tag)
		chunk, err := f.r.ReadSlice('>')
		f.tag = append(f.tag, chunk...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("unterminated tag: %w", io.ErrUnexpectedEOF)
		}
		for _, c := range f.tag[from:] {
			switch {
			case quote != 0:
				if c == quote {
					quote = 0
				}
			case c == '"' || c == '\'':
				quote = c
			case c == '<':
				return nil, fmt.Errorf("'<' inside a tag")
			}
		}
		if quote == 0 {
			f.line += bytes.Count(f.tag, []byte{'\n'})
			return f.tag, nil
		}
	}
}

// tagName returns the local name of a tag's bytes (after '<', '/' and any
// namespace prefix).
func tagName(tag []byte) []byte {
	t := bytes.TrimPrefix(tag, []byte("/"))
	i := 0
	for i < len(t) && t[i] != ' ' && t[i] != '>' && t[i] != '/' && t[i] != '\t' && t[i] != '\n' && t[i] != '\r' {
		i++
	}
	n := t[:i]
	if j := bytes.IndexByte(n, ':'); j >= 0 {
		n = n[j+1:]
	}
	return n
}

// xmlIdentity is an identity's aliases; each documented name is its parts.
type xmlIdentity struct {
	Aliases []struct {
		Primary string `xml:"Primary,attr"`
		Names   []struct {
			Parts []struct {
				Values []string `xml:"NamePartValue"`
			} `xml:"DocumentedNamePart"`
		} `xml:"DocumentedName"`
	} `xml:"Alias"`
}

// primaryName is the first documented name of the primary alias.
func primaryName(ids []xmlIdentity) string {
	for _, id := range ids {
		for _, a := range id.Aliases {
			if a.Primary != "true" || len(a.Names) == 0 {
				continue
			}
			var parts []string
			for _, p := range a.Names[0].Parts {
				for _, v := range p.Values {
					if v = strings.TrimSpace(v); v != "" {
						parts = append(parts, v)
					}
				}
			}
			return strings.Join(parts, " ")
		}
	}
	return ""
}

// terrorPrograms are the OFAC programs whose designations are terrorism.
var terrorPrograms = map[string]bool{"SDGT": true, "FTO": true, "SDT": true}

var hex64 = regexp.MustCompile(`^(0x)?[0-9a-fA-F]{64}$`)

func readOFACXML(r io.Reader, b *Batch) error {
	entries, issued, err := ReadOFACXML(r, b.File)
	if err != nil {
		return err
	}
	b.Version = issued
	return importOFACEntries(entries, b)
}

// importOFACEntries turns decoded SDN address features into tags of b.
func importOFACEntries(entries []OFACEntry, b *Batch) error {
	seen := map[string]int{}
	for _, e := range entries {
		b.Read++
		chain, why := ChainFor(e.Asset, e.Address)
		if chain == model.ChainUnknown {
			b.problem(e.Line, Skipped, "SDN %s feature %s: %s address %s: %s", e.UID, e.FeatureID, e.Asset, e.Address, why)
			continue
		}
		t := Tag{Label: e.Name, Category: "sanctions", Source: "OFAC SDN list, entry " + e.UID,
			Currency: e.Asset, Confidence: "authority_data", Ref: e.UID, Programs: e.Programs,
			SourceDate: e.ListedOn, Extra: map[string]string{"party_type": e.PartyType}}
		if e.PartyType == "" {
			t.Extra = nil
		}
		for _, p := range e.Programs {
			if terrorPrograms[p] {
				t.Abuse = "terrorism_financing"
			}
		}
		if t.Label == "" {
			t.Label = "OFAC SDN entry " + e.UID
		}
		where := fmt.Sprintf("SDN %s feature %s", e.UID, e.FeatureID)
		if !importTaggedAddress(b, &t, chain, e.Address, e.Line, where, seen) {
			continue
		}
	}
	return nil
}

// importTaggedAddress validates addr for chain, fills t's subject and adds it
// to b, reporting repairs, rejections and duplicates at line.
func importTaggedAddress(b *Batch, t *Tag, chain model.Chain, addr string, line int, where string, seen map[string]int) bool {
	if where != "" {
		where += ": "
	}
	if hex64.MatchString(strings.TrimSpace(addr)) && chain != model.ETH {
		b.problem(line, Rejected, "%s%s %q is 64 hex digits: a transaction or key, not an address", where, t.Currency, addr)
		return false
	}
	a, err := b.parseAddress(chain, addr)
	if err != nil {
		hint := ""
		for _, c := range model.AllChains {
			if c != chain {
				if _, e := ParseAddress(c, addr); e == nil {
					hint = fmt.Sprintf(" (it is a valid %s address: mislabelled in the source?)", c)
					break
				}
			}
		}
		b.problem(line, Rejected, "%s%s address: %v%s", where, chain, err, hint)
		return false
	}
	if a.Repair != "" {
		b.problem(line, Repaired, "%s%s", where, a.Repair)
	}
	t.Address = a.Text
	t.Subject = Subject{Chain: chain, Kind: SubjectAddress, Bytes: a.Bytes}
	k := t.Key()
	if first, dup := seen[k]; dup {
		b.problem(line, Duplicate, "%s%s %s listed again (first at line %d)", where, t.Currency, a.Text, first)
		return false
	}
	seen[k] = line
	b.add(*t, line)
	return true
}

var ofacTextName = regexp.MustCompile(`^sanctioned_addresses_([A-Za-z0-9]+)\.txt$`)

// readOFACText reads one per-asset list: one address a line.
func readOFACText(r io.Reader, b *Batch, name string) error {
	m := ofacTextName.FindStringSubmatch(name)
	if m == nil {
		return fmt.Errorf("%s: an OFAC per-asset list must be named sanctioned_addresses_<ASSET>.txt", b.File)
	}
	asset := strings.ToUpper(m[1])
	b.Scope = []string{asset}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	seen := map[string]int{}
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		b.Read++
		chain, why := ChainFor(asset, s)
		if chain == model.ChainUnknown {
			b.problem(line, Skipped, "%s address %s: %s", asset, s, why)
			continue
		}
		t := Tag{Label: "OFAC SDN", Category: "sanctions", Currency: asset, Confidence: "authority_data",
			Source: "OFAC SDN list, " + filepath.Base(name)}
		importTaggedAddress(b, &t, chain, s, line, "", seen)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s:%d: %v", b.File, line+1, err)
	}
	return nil
}

// OFACAssets returns the assets of entries with their unique addresses,
// sorted (for comparing the XML with the per-asset lists).
func OFACAssets(entries []OFACEntry) map[string][]string {
	sets := map[string]map[string]bool{}
	for _, e := range entries {
		if sets[e.Asset] == nil {
			sets[e.Asset] = map[string]bool{}
		}
		sets[e.Asset][e.Address] = true
	}
	out := map[string][]string{}
	for a, s := range sets {
		for x := range s {
			out[a] = append(out[a], x)
		}
		sort.Strings(out[a])
	}
	return out
}

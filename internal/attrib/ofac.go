package attrib

import (
	"bufio"
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

// ReadOFACXML streams an OFAC sdn_advanced.xml and returns every digital
// currency address feature with its entry's name, party type, programs and
// date, in file order, and the list's date of issue. Only the elements that
// matter are decoded, one at a time, so memory stays flat on the 121 MB file.
func ReadOFACXML(r io.Reader, file string) ([]OFACEntry, string, error) {
	d := xml.NewDecoder(bufio.NewReaderSize(r, 1<<16))
	assetOf := map[string]string{}   // FeatureType ID → asset
	subType := map[string]string{}   // PartySubType ID → PartyType ID
	partyType := map[string]string{} // PartyType ID → name
	var (
		out    []OFACEntry
		issued string
		sawDCA bool
	)
	byProfile := map[string][]int{} // profile → indexes in out
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
		if !ok {
			continue
		}
		line, _ := d.InputPos()
		wrap := func(err error) error { return fmt.Errorf("%s:%d: <%s>: %v", file, line, se.Name.Local, err) }
		switch se.Name.Local {
		case "DateOfIssue":
			var v xmlDate
			if err := d.DecodeElement(&v, &se); err != nil {
				return nil, "", wrap(err)
			}
			issued = v.iso()
		case "FeatureType":
			var v xmlIDValue
			if err := d.DecodeElement(&v, &se); err != nil {
				return nil, "", wrap(err)
			}
			if strings.HasPrefix(v.Value, dcaPrefix) {
				assetOf[v.ID] = strings.TrimSpace(strings.TrimPrefix(v.Value, dcaPrefix))
				sawDCA = true
			}
		case "PartySubType":
			var v xmlIDValue
			if err := d.DecodeElement(&v, &se); err != nil {
				return nil, "", wrap(err)
			}
			subType[v.ID] = v.Parent
		case "PartyType":
			var v xmlIDValue
			if err := d.DecodeElement(&v, &se); err != nil {
				return nil, "", wrap(err)
			}
			partyType[v.ID] = strings.TrimSpace(v.Value)
		case "DistinctParty":
			var p xmlParty
			if err := d.DecodeElement(&p, &se); err != nil {
				return nil, "", wrap(err)
			}
			for _, pr := range p.Profiles {
				var feats []OFACEntry
				for _, f := range pr.Features {
					asset, ok := assetOf[f.TypeID]
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
					e.PartyType = partyType[subType[pr.SubType]]
					byProfile[pr.ID] = append(byProfile[pr.ID], len(out))
					out = append(out, e)
				}
			}
		case "SanctionsEntry":
			var e xmlEntry
			if err := d.DecodeElement(&e, &se); err != nil {
				return nil, "", wrap(err)
			}
			idx, ok := byProfile[e.ProfileID]
			if !ok {
				continue
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
				out[i].ListedOn = listed
				out[i].Programs = append(out[i].Programs, progs...)
			}
		}
	}
	if !sawDCA {
		return nil, "", fmt.Errorf("%s: no \"Digital Currency Address\" feature types: not an sdn_advanced.xml", file)
	}
	return out, issued, nil
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

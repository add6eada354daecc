// Package attrib is spoor's attribution domain: tags (who an address or
// transaction belongs to, according to whom, how sure), the category
// taxonomy, GraphSense confidence levels, per-chain validation of published
// addresses (with Unicode look-alike repair), named list versions with
// listing and delisting dates, the importers of the lists investigators use
// (GraphSense TagPacks and ActorPacks, OFAC sdn_advanced.xml and per-asset
// lists, Israel NBCTF seizure orders, plain CSV) and the derivation of an
// entity's attribution from its addresses' tags with conflicts surfaced.
//
// Nothing here knows about a storage engine: the store persists Tags and
// applies the Diff this package computes.
package attrib

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spoor-dev/spoor/internal/model"
)

// SubjectKind says what a tag is about.
type SubjectKind uint8

// Persisted: never renumber.
const (
	SubjectAddress SubjectKind = 1
	SubjectTx      SubjectKind = 2
)

// Subject is what a tag is attached to: an address (canonical bytes, see
// package address) or a transaction id on one chain.
type Subject struct {
	Chain model.Chain
	Kind  SubjectKind
	Bytes []byte
}

// Period is one stretch of time an entry was on its list. Dates are ISO
// "YYYY-MM-DD"; DelistedOn is empty while the entry is still listed.
type Period struct {
	ListedOn   string `json:"listed_on"`
	DelistedOn string `json:"delisted_on,omitempty"`
}

// Tag is one attribution statement about one subject, from one list.
//
// A tag's identity within its list is (subject, currency, label): importing
// a list version matches incoming tags to stored ones by that identity.
type Tag struct {
	Subject Subject `json:"-"`
	// Address is the subject as published (after look-alike repair) — the
	// form exported back; Subject.Bytes is its canonical form.
	Address string `json:"address,omitempty"`
	TxHash  string `json:"tx_hash,omitempty"`

	Label      string   `json:"label"`
	Category   string   `json:"category,omitempty"` // taxonomy term (what the owner is)
	Abuse      string   `json:"abuse,omitempty"`    // taxonomy term (what it was used for)
	Actor      string   `json:"actor,omitempty"`
	Source     string   `json:"source,omitempty"` // URL or document
	Currency   string   `json:"currency,omitempty"`
	Network    string   `json:"network,omitempty"`
	Concepts   []string `json:"concepts,omitempty"`
	Context    string   `json:"context,omitempty"`
	Confidence string   `json:"confidence"` // GraphSense level name
	// Ref is the entry's id in its source (OFAC SDN uid, order number).
	Ref string `json:"ref,omitempty"`
	// Programs are sanctions programs (OFAC: SDGT, FTO, IRGC, …).
	Programs []string `json:"programs,omitempty"`
	// SourceDate is the date the source gives (designation, order start,
	// TagPack lastmod); ListedOn is when the list first carried the entry.
	SourceDate string `json:"source_date,omitempty"`
	// Expires is an end the source gives (a seizure order's end date).
	Expires          string `json:"expires,omitempty"`
	IsClusterDefiner string `json:"is_cluster_definer,omitempty"` // "true"/"false" as published
	// Extra keeps fields of the source this model has no place for, so an
	// export gives them back.
	Extra map[string]string `json:"extra,omitempty"`

	List        string `json:"list"`
	ListVersion string `json:"list_version"` // the version that last carried it
	AddedBy     string `json:"added_by,omitempty"`
	AddedAt     string `json:"added_at,omitempty"` // RFC 3339 of the import that first stored it

	ListedOn   string   `json:"listed_on"`
	DelistedOn string   `json:"delisted_on,omitempty"`
	History    []Period `json:"history,omitempty"` // earlier periods, oldest first
}

// Key is the tag's identity inside its list.
func (t *Tag) Key() string {
	return fmt.Sprintf("%d\x00%d\x00%x\x00%s\x00%s", t.Subject.Chain, t.Subject.Kind, t.Subject.Bytes, t.Currency, t.Label)
}

// Class is the tag's one-word taxonomy class: its category, or its abuse
// when it has no category.
func (t *Tag) Class() string {
	if t.Category != "" {
		return t.Category
	}
	return t.Abuse
}

// Active reports whether the tag is currently listed.
func (t *Tag) Active() bool { return t.DelistedOn == "" }

// ListedAt reports whether the entry was on its list on date d (ISO): a
// period counts from its listed_on (inclusive) to its delisted_on (exclusive).
func (t *Tag) ListedAt(d string) bool {
	in := func(p Period) bool {
		return p.ListedOn != "" && p.ListedOn <= d && (p.DelistedOn == "" || d < p.DelistedOn)
	}
	if in(Period{t.ListedOn, t.DelistedOn}) {
		return true
	}
	for _, p := range t.History {
		if in(p) {
			return true
		}
	}
	return false
}

// Score is the tag's confidence score (0 if the level is unknown).
func (t *Tag) Score() int { return ConfidenceScore(t.Confidence) }

// sameContent reports whether two tags with one identity say the same thing
// (ignoring listing dates, versions and who/when added).
func sameContent(a, b *Tag) bool {
	return a.Address == b.Address && a.TxHash == b.TxHash && a.Category == b.Category &&
		a.Abuse == b.Abuse && a.Actor == b.Actor && a.Source == b.Source && a.Network == b.Network &&
		eqStrings(a.Concepts, b.Concepts) && a.Context == b.Context && a.Confidence == b.Confidence &&
		a.Ref == b.Ref && eqStrings(a.Programs, b.Programs) && a.SourceDate == b.SourceDate &&
		a.Expires == b.Expires && a.IsClusterDefiner == b.IsClusterDefiner && eqMap(a.Extra, b.Extra)
}

func eqStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func eqMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Confidence levels of GraphSense, with their scores.
var confidenceScores = map[string]int{
	"override": 100, "ownership": 100, "ledger_immanent": 100,
	"manual_transaction":     90,
	"service_api":            70,
	"forensic_investigation": 70,
	"authority_data":         60,
	"trusted_provider":       50, "service_data": 50, "forensic": 50,
	"untrusted_transaction": 40,
	"web_crawl":             20,
	"heuristic":             10,
	"unknown":               5,
}

// ConfidenceScore returns a level's score, 0 for an unknown level.
func ConfidenceScore(level string) int { return confidenceScores[level] }

// ConfidenceLevels lists the level names, highest score first.
func ConfidenceLevels() []string {
	out := make([]string, 0, len(confidenceScores))
	for k := range confidenceScores {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		si, sj := confidenceScores[out[i]], confidenceScores[out[j]]
		if si != sj {
			return si > sj
		}
		return out[i] < out[j]
	})
	return out
}

// Taxonomy: the categories spoor knows. The first group is spoor's own
// (counter-terrorist-financing work); the rest are GraphSense's entity and
// abuse concepts met in real TagPacks, kept so those packs import whole.
var taxonomy = map[string]string{
	"terrorism_financing": "funds raised or moved for terrorism",
	"terrorism":           "a terrorist organisation or campaign",
	"sanctions":           "a sanctioned party",
	"exchange":            "a centralised exchange",
	"mixing_service":      "a mixer or tumbler",
	"payment_processor":   "a payment processor",
	"gambling":            "a gambling service",
	"darknet_market":      "a darknet market",
	"scam":                "a scam",
	"ransomware":          "ransomware",
	"bridge":              "a cross-chain bridge",
	"swap_service":        "an instant swap service",
	"extremism":           "violent extremism",
	// GraphSense concepts.
	"service": "a service", "miner": "a miner or mining pool", "market": "a market place",
	"wallet_service": "a hosted wallet", "user": "a user", "organization": "an organisation",
	"coinjoin": "a coinjoin", "black_list": "a blacklisted address", "phishing": "phishing",
	"service_hack": "stolen from a service", "investment_fraud": "investment fraud",
	"sextortion": "sextortion", "ponzi_scheme": "a ponzi scheme", "hacker": "a hacker",
	"defi": "a DeFi protocol", "defi_bridge": "a DeFi bridge", "defi_dex": "a decentralised exchange",
	"defi_lending": "a lending protocol", "faucet": "a faucet", "donation": "donations",
	"shop": "a shop", "ico_wallet": "an ICO wallet", "smart_contract": "a smart contract",
	"token": "a token", "entity": "an entity", "perpetrator": "a perpetrator",
}

// aliases map spellings seen in real lists to taxonomy terms.
var aliases = map[string]string{
	"sanction": "sanctions", "terrorist_financing": "terrorism_financing",
	"terror_financing": "terrorism_financing", "mixer": "mixing_service",
	"darknet": "darknet_market", "gaming": "gambling",
}

// NormCategory maps a category name to its taxonomy term ("" stays "").
func NormCategory(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", nil
	}
	if a, ok := aliases[s]; ok {
		s = a
	}
	if _, ok := taxonomy[s]; !ok {
		return "", fmt.Errorf("category %q is not in the taxonomy", s)
	}
	return s, nil
}

// Categories lists the taxonomy terms, sorted.
func Categories() []string {
	out := make([]string, 0, len(taxonomy))
	for k := range taxonomy {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// NormConfidence checks a level name ("" becomes def).
func NormConfidence(s, def string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		s = def
	}
	if _, ok := confidenceScores[s]; !ok {
		return "", fmt.Errorf("confidence %q is not a GraphSense level", s)
	}
	return s, nil
}

// NormDate parses a date in ISO form (YYYY-MM-DD, or a full RFC 3339
// timestamp, of which the date is kept). Day-first forms are refused: they
// are ambiguous in transcriptions.
func NormDate(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.Format("2006-01-02"), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC().Format("2006-01-02"), nil
	}
	if t, err := time.Parse("2006-01-02 15:04:05", s); err == nil {
		return t.Format("2006-01-02"), nil
	}
	return "", fmt.Errorf("date %q: want YYYY-MM-DD", s)
}

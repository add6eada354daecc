package attrib

import (
	"fmt"
	"sort"
	"time"

	"github.com/spoor-dev/spoor/internal/model"
)

// Problem is one input record that was not imported as is: rejected (bad
// address, bad field), skipped (outside spoor's scope: a chain it does not
// cover, an exchange account), repaired (look-alike letters replaced) or a
// duplicate. File and Line locate it.
type Problem struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Kind   string `json:"kind"` // rejected | skipped | repaired | duplicate
	Reason string `json:"reason"`
}

func (p Problem) String() string {
	return fmt.Sprintf("%s:%d: %s: %s", p.File, p.Line, p.Kind, p.Reason)
}

// Problem kinds.
const (
	Rejected  = "rejected"
	Skipped   = "skipped"
	Repaired  = "repaired"
	Duplicate = "duplicate"
)

// KV is one header field of a list (a TagPack header), in file order.
type KV struct {
	Key   string `json:"k"`
	Value string `json:"v"`
}

// Actor is one actor of an ActorPack.
type Actor struct {
	ID            string   `json:"id"`
	Label         string   `json:"label"`
	URI           string   `json:"uri,omitempty"`
	Categories    []string `json:"categories,omitempty"`
	Jurisdictions []string `json:"jurisdictions,omitempty"`
	List          string   `json:"list"`
}

// Batch is one parsed list file: everything an import writes.
type Batch struct {
	File    string
	Format  string
	List    string // list name
	Version string // ISO date of this version of the list
	Digest  string // sha256 of the input bytes
	// Scope limits retirement to tags of these currencies (a per-asset
	// file covers only its asset); nil covers the whole list.
	Scope []string
	// Additive batches never retire (manual tags).
	Additive bool
	AddedBy  string
	Header   []KV // list header (TagPack), for export
	Tags     []Tag
	Lines    []int // input line of each tag
	Actors   []Actor
	Problems []Problem
	Read     int    // records read
	btcNet   string // Bitcoin network of the addresses ("" = mainnet)
}

// parseAddress validates an address of the batch's list (its Bitcoin network).
func (b *Batch) parseAddress(c model.Chain, s string) (Address, error) {
	return ParseAddressOn(c, s, b.btcNet)
}

func (b *Batch) problem(line int, kind, format string, args ...any) {
	b.Problems = append(b.Problems, Problem{File: b.File, Line: line, Kind: kind, Reason: fmt.Sprintf(format, args...)})
}

// add appends a tag read at line.
func (b *Batch) add(t Tag, line int) {
	t.List = b.List
	b.Tags = append(b.Tags, t)
	b.Lines = append(b.Lines, line)
}

// Count returns how many problems of a kind the batch has.
func (b *Batch) Count(kind string) int {
	n := 0
	for _, p := range b.Problems {
		if p.Kind == kind {
			n++
		}
	}
	return n
}

// ListVersion records one imported version of a list.
type ListVersion struct {
	Version    string `json:"version"`
	File       string `json:"file"`
	Format     string `json:"format"`
	Digest     string `json:"digest"`
	ImportedAt string `json:"imported_at"`
	Added      int    `json:"added"`
	Changed    int    `json:"changed"`
	Relisted   int    `json:"relisted"`
	Retired    int    `json:"retired"`
	Rejected   int    `json:"rejected"`
	Skipped    int    `json:"skipped"`
}

// ListInfo is what the store keeps about a named list.
type ListInfo struct {
	Name     string        `json:"name"`
	Format   string        `json:"format"`
	Header   []KV          `json:"header,omitempty"`
	Versions []ListVersion `json:"versions"` // oldest first
}

// Latest returns the newest version (nil if none).
func (l *ListInfo) Latest() *ListVersion {
	if l == nil || len(l.Versions) == 0 {
		return nil
	}
	return &l.Versions[len(l.Versions)-1]
}

// Result is what one import did.
type Result struct {
	File       string    `json:"file"`
	Format     string    `json:"format"`
	List       string    `json:"list"`
	Version    string    `json:"version"`
	Read       int       `json:"read"`
	Added      int       `json:"added"`
	Changed    int       `json:"changed"`
	Unchanged  int       `json:"unchanged"`
	Relisted   int       `json:"relisted"`
	Retired    int       `json:"retired"`
	Rejected   int       `json:"rejected"`
	Skipped    int       `json:"skipped"`
	Repaired   int       `json:"repaired"`
	Duplicates int       `json:"duplicates"`
	Actors     int       `json:"actors,omitempty"`
	NoOp       bool      `json:"no_op"` // the same file was imported before: nothing written
	Problems   []Problem `json:"problems,omitempty"`
}

// ErrOlderVersion is returned when a batch is older than the stored list.
var ErrOlderVersion = fmt.Errorf("attrib: list version older than the stored one")

// Diff computes what importing b into a list that holds existing (all its
// stored tags, active or retired) changes. It returns the tags to write
// (new, changed, relisted and retired ones; unchanged tags are not
// rewritten, so importing the same content twice writes nothing), the
// list's new info and the result. Rules:
//   - a tag new to the list is listed on its source date when that falls
//     after the previous version (or there is none) and not after this
//     version, else on this version's date;
//   - a tag on the list but not in b (within b's scope) is retired:
//     delisted_on = this version's date, and kept;
//   - a retired tag that comes back is relisted; its old period moves to
//     History.
func Diff(info *ListInfo, existing []Tag, b *Batch, now time.Time) ([]Tag, ListInfo, Result, error) {
	res := Result{File: b.File, Format: b.Format, List: b.List, Version: b.Version, Read: b.Read, Problems: b.Problems, Actors: len(b.Actors)}
	for _, p := range b.Problems {
		switch p.Kind {
		case Rejected:
			res.Rejected++
		case Skipped:
			res.Skipped++
		case Repaired:
			res.Repaired++
		case Duplicate:
			res.Duplicates++
		}
	}
	var out ListInfo
	if info != nil {
		out = *info
		out.Versions = append([]ListVersion(nil), info.Versions...)
	} else {
		out = ListInfo{Name: b.List}
	}
	out.Format = b.Format
	if b.Header != nil {
		out.Header = b.Header
	}
	prev := ""
	if lv := out.Latest(); lv != nil && !b.Additive {
		if lv.Digest == b.Digest {
			// The same content as the latest version: nothing to do.
			res.NoOp = true
			res.Unchanged = len(b.Tags)
			return nil, *info, res, nil
		}
		if b.Version < lv.Version {
			return nil, out, res, fmt.Errorf("%w: %s is at %s, %s is %s", ErrOlderVersion, b.List, lv.Version, b.File, b.Version)
		}
		prev = lv.Version
		if lv.Version == b.Version && len(out.Versions) > 1 {
			prev = out.Versions[len(out.Versions)-2].Version
		}
	}
	byKey := make(map[string]*Tag, len(existing))
	for i := range existing {
		byKey[existing[i].Key()] = &existing[i]
	}
	seen := make(map[string]bool, len(b.Tags))
	var put []Tag
	stamp := now.UTC().Format(time.RFC3339)
	for i := range b.Tags {
		t := b.Tags[i]
		t.List = b.List
		k := t.Key()
		if seen[k] {
			continue // the reader reports duplicates
		}
		seen[k] = true
		ex := byKey[k]
		switch {
		case ex == nil:
			t.ListedOn = b.Version
			if t.SourceDate != "" && (prev == "" || t.SourceDate > prev) && t.SourceDate <= b.Version {
				t.ListedOn = t.SourceDate
			}
			t.DelistedOn = ""
			t.AddedAt, t.AddedBy, t.ListVersion = stamp, b.AddedBy, b.Version
			put = append(put, t)
			res.Added++
		case !ex.Active():
			t.History = append(append([]Period(nil), ex.History...), Period{ex.ListedOn, ex.DelistedOn})
			t.ListedOn, t.DelistedOn = b.Version, ""
			t.AddedAt, t.AddedBy, t.ListVersion = ex.AddedAt, ex.AddedBy, b.Version
			put = append(put, t)
			res.Relisted++
		case !sameContent(ex, &t):
			t.ListedOn, t.DelistedOn, t.History = ex.ListedOn, "", ex.History
			t.AddedAt, t.AddedBy, t.ListVersion = ex.AddedAt, ex.AddedBy, b.Version
			put = append(put, t)
			res.Changed++
		default:
			res.Unchanged++
		}
	}
	if !b.Additive {
		scope := map[string]bool{}
		for _, s := range b.Scope {
			scope[s] = true
		}
		keys := make([]string, 0, len(byKey))
		for k := range byKey {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ex := byKey[k]
			if seen[k] || !ex.Active() || (b.Scope != nil && !scope[ex.Currency]) {
				continue
			}
			t := *ex
			t.DelistedOn = b.Version
			put = append(put, t)
			res.Retired++
		}
	}
	lv := ListVersion{Version: b.Version, File: b.File, Format: b.Format, Digest: b.Digest, ImportedAt: stamp,
		Added: res.Added, Changed: res.Changed, Relisted: res.Relisted, Retired: res.Retired, Rejected: res.Rejected, Skipped: res.Skipped}
	if l := out.Latest(); l != nil && l.Version == b.Version {
		out.Versions[len(out.Versions)-1] = lv
	} else {
		out.Versions = append(out.Versions, lv)
	}
	return put, out, res, nil
}

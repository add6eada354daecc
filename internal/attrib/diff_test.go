package attrib

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spoor-dev/spoor/internal/model"
)

func mkTag(addr byte, cur, label string) Tag {
	return Tag{Subject: Subject{Chain: model.ETH, Kind: SubjectAddress, Bytes: []byte{addr}}, Currency: cur, Label: label,
		Category: "sanctions", Confidence: "authority_data", List: "l"}
}

func batchOf(version, digest string, scope []string, tags ...Tag) *Batch {
	return &Batch{File: "f", List: "l", Version: version, Digest: digest, Scope: scope, Tags: tags}
}

// apply runs Diff and folds the written tags into the stored set, as the
// store does.
func apply(t *testing.T, info *ListInfo, stored map[string]Tag, b *Batch) (*ListInfo, Result) {
	t.Helper()
	var ex []Tag
	for _, tg := range stored {
		ex = append(ex, tg)
	}
	put, ni, res, err := Diff(info, ex, b, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range put {
		stored[tg.Key()] = tg
	}
	if res.NoOp {
		return info, res
	}
	return &ni, res
}

func TestDiffVersions(t *testing.T) {
	stored := map[string]Tag{}
	a, b, c := mkTag(1, "ETH", "A"), mkTag(2, "ETH", "B"), mkTag(3, "USDT", "C")
	a.SourceDate = "2020-05-01" // designated before the first version we see
	info, res := apply(t, nil, stored, batchOf("2024-01-01", "d1", nil, a, b, c))
	if res.Added != 3 || stored[a.Key()].ListedOn != "2020-05-01" || stored[b.Key()].ListedOn != "2024-01-01" {
		t.Fatalf("first import: %+v %+v", res, stored)
	}
	// Same content again: nothing to do.
	if _, res := apply(t, info, stored, batchOf("2024-02-01", "d1", nil, a, b, c)); !res.NoOp {
		t.Fatalf("same digest not a no-op: %+v", res)
	}
	// Newer version: b gone, c changed, d new (with a source date before
	// the previous version: listed on this version's date instead).
	c2 := c
	c2.Source = "new source"
	d := mkTag(4, "ETH", "D")
	d.SourceDate = "2023-06-01"
	info, res = apply(t, info, stored, batchOf("2024-06-01", "d2", nil, a, c2, d))
	if res.Added != 1 || res.Changed != 1 || res.Unchanged != 1 || res.Retired != 1 {
		t.Fatalf("second import: %+v", res)
	}
	if got := stored[b.Key()]; got.DelistedOn != "2024-06-01" || !got.ListedAt("2024-05-31") || got.ListedAt("2024-06-01") {
		t.Fatalf("retired b: %+v", got)
	}
	if got := stored[d.Key()]; got.ListedOn != "2024-06-01" {
		t.Fatalf("d listed on %s", got.ListedOn)
	}
	if got := stored[c.Key()]; got.ListedOn != "2024-01-01" || got.Source != "new source" {
		t.Fatalf("changed c: %+v", got)
	}
	// b comes back: relisted, its old period kept.
	info, res = apply(t, info, stored, batchOf("2025-01-01", "d3", nil, a, b, c2, d))
	if res.Relisted != 1 || res.Retired != 0 {
		t.Fatalf("third import: %+v", res)
	}
	got := stored[b.Key()]
	if !got.Active() || got.ListedOn != "2025-01-01" || len(got.History) != 1 || !got.ListedAt("2024-03-01") || got.ListedAt("2024-09-01") || !got.ListedAt("2025-02-01") {
		t.Fatalf("relisted b: %+v", got)
	}
	// A per-asset file retires only within its asset.
	_, res = apply(t, info, stored, batchOf("2025-02-01", "d4", []string{"USDT"}))
	sa, sc := stored[a.Key()], stored[c.Key()]
	if res.Retired != 1 || !sa.Active() || sc.Active() {
		t.Fatalf("scoped import: %+v", res)
	}
	if len(info.Versions) != 3 {
		t.Fatalf("versions %+v", info.Versions)
	}
	// An older version is refused.
	_, _, _, err := Diff(info, nil, batchOf("2023-01-01", "d5", nil, a), time.Now())
	if !errors.Is(err, ErrOlderVersion) {
		t.Fatalf("older version: %v", err)
	}
}

func TestCombine(t *testing.T) {
	ex := func(addr byte, actor, class, conf string) Tag {
		tg := mkTag(addr, "ETH", actor+" wallet")
		tg.Actor, tg.Category, tg.Confidence, tg.List = actor, class, conf, "l-"+actor
		return tg
	}
	// Two addresses of one exchange, one of them sanctioned: one owner, no
	// conflict, the sanction kept as a claim.
	sanc := mkTag(2, "ETH", "GARANTEX")
	sanc.Actor = "garantex"
	att := Combine([]Tag{ex(1, "garantex", "exchange", "service_data"), ex(2, "garantex", "exchange", "service_data"), sanc}, "")
	if att.Owner != "garantex" || att.OwnerClass != "exchange" || len(att.Conflicts) != 0 || len(att.Claims) != 2 || att.Addresses != 2 {
		t.Fatalf("one owner: %+v", att)
	}
	if att.Claims[0].Class != "sanctions" || att.Claims[0].Score != 60 || att.Claims[1].Addresses != 2 {
		t.Fatalf("claims ordered by score: %+v", att.Claims)
	}
	// Two owners: a conflict, no owner chosen.
	att = Combine([]Tag{ex(1, "binance", "exchange", "service_data"), ex(2, "huobi", "exchange", "authority_data")}, "")
	if att.Owner != "" || len(att.Conflicts) != 1 || att.Conflicts[0].Kind != "owner" || !strings.Contains(att.Conflicts[0].Reason, "binance, huobi") {
		t.Fatalf("two owners: %+v", att)
	}
	// One owner, two ownership classes.
	att = Combine([]Tag{ex(1, "x", "exchange", "service_data"), ex(2, "x", "mixing_service", "forensic")}, "")
	if att.Owner != "" || len(att.Conflicts) != 1 || att.Conflicts[0].Kind != "category" {
		t.Fatalf("two classes: %+v", att)
	}
	// Retired tags do not count now, but do at a date they were listed.
	old := ex(3, "kraken", "exchange", "service_data")
	old.ListedOn, old.DelistedOn = "2020-01-01", "2021-01-01"
	cur := ex(1, "binance", "exchange", "service_data")
	cur.ListedOn = "2020-01-01"
	if att := Combine([]Tag{cur, old}, ""); att.Owner != "binance" {
		t.Fatalf("retired counted: %+v", att)
	}
	if att := Combine([]Tag{cur, old}, "2020-06-01"); att.Owner != "" || len(att.Conflicts) != 1 {
		t.Fatalf("at 2020-06-01: %+v", att)
	}
}

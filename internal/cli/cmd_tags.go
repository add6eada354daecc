package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spoor-dev/spoor/internal/attrib"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

func init() {
	register("tags", "attribution: spoor tags import|add|show|stats|lists|export|combine (spoor tags help)", cmdTags)
}

const tagsUsage = `usage:
  spoor tags import FILE|DIR [--format F] [--list NAME] [--as-of YYYY-MM-DD] [--strict]
        formats: tagpack, actorpack, ofac-xml (.xml or .xml.bz2), ofac-txt (a sanctioned_addresses_<ASSET>.txt
        or a folder of them), nbctf, csv (chain,address,label,category,source,confidence); detected when not given
  spoor tags add CHAIN ADDR --label L --category C [--source S] [--confidence LEVEL] [--actor A] [--by NAME] [--list NAME]
  spoor tags show CHAIN ADDR [--at YYYY-MM-DD] [--json]
  spoor tags stats [--json]
  spoor tags lists [--json]                 list versions and what each import changed
  spoor tags export --format tagpack [--list NAME] [--all] [--out FILE]
  spoor tags combine CHAIN ADDR... [--at YYYY-MM-DD] [--json]   attribution of a set of addresses, conflicts listed`

func cmdTags(env *Env, args []string) error {
	if len(args) == 0 {
		return usageErr("want a tags command\n%s", tagsUsage)
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "import":
		return tagsImport(env, rest)
	case "add":
		return tagsAdd(env, rest)
	case "show":
		return tagsShow(env, rest)
	case "stats":
		return tagsStats(env, rest)
	case "lists":
		return tagsLists(env, rest)
	case "export":
		return tagsExport(env, rest)
	case "combine":
		return tagsCombine(env, rest)
	case "help", "-h", "--help":
		fmt.Fprintln(env.Stdout, tagsUsage)
		return nil
	}
	return usageErr("unknown tags command %q\n%s", sub, tagsUsage)
}

func tagsImport(env *Env, args []string) error {
	fs := newFlags(env, "tags import")
	format := fs.String("format", "", "input format (detected when empty)")
	list := fs.String("list", "", "list name (default: per format)")
	asOf := fs.String("as-of", "", "version date of the list (default: the file's own date)")
	strict := fs.Bool("strict", false, "import nothing if any record is rejected")
	by := fs.String("by", os.Getenv("USER"), "who imports")
	btcNet := fs.String("btc-network", "", "Bitcoin network of the list's addresses (default: the store's, else mainnet)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := requireArgs(pos, 1, "spoor tags import FILE"); err != nil {
		return err
	}
	if *format != "" {
		ok := false
		for _, f := range attrib.Formats {
			ok = ok || f == *format
		}
		if !ok {
			return usageErr("--format %q: want one of %s", *format, strings.Join(attrib.Formats, ", "))
		}
	}
	if *asOf != "" {
		if _, err := attrib.NormDate(*asOf); err != nil {
			return usageErr("--as-of: %v", err)
		}
	}
	now := time.Now()
	if *btcNet == "" {
		*btcNet = storeBTCNetwork(env)
	}
	b, err := attrib.ReadFile(pos[0], attrib.Options{Format: *format, List: *list, AsOf: *asOf, AddedBy: *by, Now: now, BTCNetwork: *btcNet})
	if err != nil {
		return err
	}
	if *strict {
		if n := b.Count(attrib.Rejected); n > 0 {
			printProblems(env.Stderr, b.Problems, 50)
			return fmt.Errorf("%s: %d records rejected; --strict: nothing imported", pos[0], n)
		}
	}
	st, err := openStore(env)
	if err != nil {
		return err
	}
	defer closeStore(st)
	if err := refuseRenamedCopy(st, b, pos[0]); err != nil {
		return err
	}
	res, err := st.ImportTags(b, now)
	if err != nil {
		return err
	}
	if env.JSON {
		return writeJSON(env.Stdout, res)
	}
	if res.NoOp {
		fmt.Fprintf(env.Stdout, "%s: same content as the latest version of list %s: nothing changed (%d tags)\n", res.File, res.List, res.Unchanged)
	} else {
		fmt.Fprintf(env.Stdout, "%s (%s) → list %s version %s: read %d; added %d, changed %d, unchanged %d, relisted %d, retired %d; rejected %d, skipped %d, repaired %d, duplicates %d",
			res.File, res.Format, res.List, res.Version, res.Read, res.Added, res.Changed, res.Unchanged, res.Relisted, res.Retired,
			res.Rejected, res.Skipped, res.Repaired, res.Duplicates)
		if res.Actors > 0 {
			fmt.Fprintf(env.Stdout, "; actors %d", res.Actors)
		}
		fmt.Fprintln(env.Stdout)
	}
	printProblems(env.Stdout, res.Problems, 50)
	return nil
}

// printProblems prints up to max problems of each kind, then a count.
func printProblems(w io.Writer, ps []attrib.Problem, max int) {
	shown := map[string]int{}
	total := map[string]int{}
	for _, p := range ps {
		total[p.Kind]++
		if shown[p.Kind] < max {
			shown[p.Kind]++
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
	kinds := make([]string, 0, len(total))
	for k := range total {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		if total[k] > shown[k] {
			fmt.Fprintf(w, "  … and %d more %s (--json lists all)\n", total[k]-shown[k], k)
		}
	}
}

func tagsAdd(env *Env, args []string) error {
	fs := newFlags(env, "tags add")
	label := fs.String("label", "", "label (required)")
	category := fs.String("category", "", "taxonomy category (required): "+strings.Join(attrib.Categories(), ", "))
	abuse := fs.String("abuse", "", "abuse category")
	source := fs.String("source", "", "source: URL or document")
	conf := fs.String("confidence", "forensic_investigation", "GraphSense confidence level")
	actor := fs.String("actor", "", "actor id")
	by := fs.String("by", os.Getenv("USER"), "analyst (default $USER)")
	list := fs.String("list", "manual", "list name")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := requireArgs(pos, 2, "spoor tags add CHAIN ADDR --label L --category C"); err != nil {
		return err
	}
	c, err := parseChainArg(pos[0])
	if err != nil {
		return err
	}
	if *label == "" || *category == "" {
		return usageErr("--label and --category are required")
	}
	if *by == "" {
		return usageErr("--by is required when $USER is unset")
	}
	t := attrib.Tag{Label: *label, Source: *source, Actor: *actor}
	if t.Category, err = attrib.NormCategory(*category); err != nil {
		return usageErr("--category: %v", err)
	}
	if t.Abuse, err = attrib.NormCategory(*abuse); err != nil {
		return usageErr("--abuse: %v", err)
	}
	if t.Confidence, err = attrib.NormConfidence(*conf, ""); err != nil {
		return usageErr("--confidence: %v (levels: %s)", err, strings.Join(attrib.ConfidenceLevels(), ", "))
	}
	a, err := attrib.ParseAddressOn(c, pos[1], storeBTCNetwork(env))
	if err != nil {
		return usageErr("%s address: %v", c, err)
	}
	if a.Repair != "" {
		fmt.Fprintf(env.Stderr, "note: %s\n", a.Repair)
	}
	t.Address = a.Text
	t.Subject = attrib.Subject{Chain: c, Kind: attrib.SubjectAddress, Bytes: a.Bytes}
	now := time.Now()
	b := &attrib.Batch{File: "manual", Format: "manual", List: *list, Version: now.UTC().Format("2006-01-02"),
		Additive: true, AddedBy: *by, Tags: []attrib.Tag{t}, Lines: []int{0}, Read: 1}
	b.Tags[0].List = *list
	b.Digest = fmt.Sprintf("manual:%d", now.UnixNano())
	st, err := openStore(env)
	if err != nil {
		return err
	}
	defer closeStore(st)
	res, err := st.ImportTags(b, now)
	if err != nil {
		return err
	}
	if env.JSON {
		return writeJSON(env.Stdout, res)
	}
	what := "added"
	switch {
	case res.Changed > 0:
		what = "changed"
	case res.Unchanged > 0:
		what = "unchanged"
	case res.Relisted > 0:
		what = "relisted"
	}
	fmt.Fprintf(env.Stdout, "%s %s: %s tag %q (%s, %s) in list %s by %s\n", c, a.Text, what, t.Label, t.Category, t.Confidence, *list, *by)
	return nil
}

// TagView is one tag of `spoor tags show --json`.
type TagView struct {
	Label      string  `json:"label"`
	Category   string  `json:"category"`
	Actor      string  `json:"actor"`
	Source     string  `json:"source"`
	List       string  `json:"list"`
	Confidence string  `json:"confidence"`
	ListedOn   string  `json:"listed_on"`
	DelistedOn *string `json:"delisted_on"`
	Active     bool    `json:"active"`
}

// TagsReport is the JSON of `spoor tags show`.
type TagsReport struct {
	Chain   string    `json:"chain"`
	Address string    `json:"address"`
	Tags    []TagView `json:"tags"`
}

// storeBTCNetwork is the Bitcoin network of the data folder's chain store
// ("" when none is stored yet: mainnet).
func storeBTCNetwork(env *Env) string {
	n, _ := storeBTCNetworkErr(env)
	return n
}

// storeBTCNetworkErr is storeBTCNetwork, failing when a store exists but
// cannot be read (held by another spoor): guessing mainnet then would judge
// a regtest address invalid.
func storeBTCNetworkErr(env *Env) (string, error) {
	st, err := openExisting(env)
	if err != nil {
		if ents, rerr := os.ReadDir(chainDir(env)); rerr == nil && len(ents) > 0 {
			return "", err
		}
		return "", nil
	}
	defer closeStore(st)
	n, err := st.Network(model.BTC)
	if err != nil {
		return "", err // a damaged store, not mainnet
	}
	if n == "mainnet" {
		return "", nil
	}
	return n, nil
}

// parseSubjectArgs parses CHAIN ADDR of a tags command, repairing
// look-alike letters (reported on stderr).
func parseSubjectArgs(env *Env, chainArg, addr string) (model.Chain, attrib.Address, error) {
	c, err := parseChainArg(chainArg)
	if err != nil {
		return 0, attrib.Address{}, err
	}
	net := ""
	if c == model.BTC {
		if net, err = storeBTCNetworkErr(env); err != nil {
			return 0, attrib.Address{}, err
		}
	}
	a, err := attrib.ParseAddressOn(c, addr, net)
	if err != nil {
		if c == model.BTC {
			if hint := btcNetworkHint(addr, net); hint != "" {
				return 0, a, usageErr("%s", hint)
			}
		}
		return 0, a, usageErr("%s address: %v", c, err)
	}
	if a.Repair != "" {
		fmt.Fprintf(env.Stderr, "note: %s\n", a.Repair)
	}
	return c, a, nil
}

func parseAtFlag(at string) (string, error) {
	if at == "" {
		return "", nil
	}
	d, err := attrib.NormDate(at)
	if err != nil {
		return "", usageErr("--at: %v", err)
	}
	return d, nil
}

func tagsShow(env *Env, args []string) error {
	fs := newFlags(env, "tags show")
	atFlag := fs.String("at", "", "show which tags were listed on this date (YYYY-MM-DD)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := requireArgs(pos, 2, "spoor tags show CHAIN ADDR"); err != nil {
		return err
	}
	at, err := parseAtFlag(*atFlag)
	if err != nil {
		return err
	}
	c, a, err := parseSubjectArgs(env, pos[0], pos[1])
	if err != nil {
		return err
	}
	st, err := openExisting(env)
	if err != nil {
		return err
	}
	defer closeStore(st)
	tags, err := st.Tags(attrib.Subject{Chain: c, Kind: attrib.SubjectAddress, Bytes: a.Bytes})
	if err != nil {
		return err
	}
	cd, err := codecFor(st, c)
	if err != nil {
		return err
	}
	rep := TagsReport{Chain: c.String(), Address: cd.MustEncode(a.Bytes), Tags: []TagView{}}
	if c == model.XMR {
		rep.Address = a.Text
	}
	for i := range tags {
		t := &tags[i]
		v := TagView{Label: t.Label, Category: t.Class(), Actor: t.Actor, Source: t.Source, List: t.List,
			Confidence: t.Confidence, ListedOn: t.ListedOn, Active: t.Active()}
		if at != "" {
			v.Active = t.ListedAt(at)
		}
		if t.DelistedOn != "" {
			d := t.DelistedOn
			v.DelistedOn = &d
		}
		rep.Tags = append(rep.Tags, v)
	}
	if env.JSON {
		return writeJSON(env.Stdout, rep)
	}
	if len(rep.Tags) == 0 {
		fmt.Fprintf(env.Stdout, "%s %s: no tags\n", rep.Chain, rep.Address)
		return nil
	}
	fmt.Fprintf(env.Stdout, "%s %s\n", rep.Chain, rep.Address)
	for _, v := range rep.Tags {
		state := "active"
		if !v.Active {
			state = "not listed"
			if at == "" {
				state = "retired"
			}
		}
		if at != "" {
			state += " on " + at
		}
		del := ""
		if v.DelistedOn != nil {
			del = " delisted " + *v.DelistedOn
		}
		fmt.Fprintf(env.Stdout, "  %-10s %-20s %s [%s, %d] list %s listed %s%s", state, v.Category, v.Label, v.Confidence,
			attrib.ConfidenceScore(v.Confidence), v.List, v.ListedOn, del)
		if v.Actor != "" {
			fmt.Fprintf(env.Stdout, " actor %s", v.Actor)
		}
		if v.Source != "" {
			fmt.Fprintf(env.Stdout, "\n             source %s", v.Source)
		}
		fmt.Fprintln(env.Stdout)
	}
	return nil
}

// TagCounts counts tags.
type TagCounts struct {
	Tags    int `json:"tags"`
	Active  int `json:"active"`
	Retired int `json:"retired"`
}

// TagStats is the JSON of `spoor tags stats`.
type TagStats struct {
	Total      TagCounts            `json:"total"`
	ByList     map[string]TagCounts `json:"by_list"`
	ByChain    map[string]TagCounts `json:"by_chain"`
	ByCategory map[string]TagCounts `json:"by_category"`
	Actors     int                  `json:"actors"`
}

func countTag(m map[string]TagCounts, k string, active bool) {
	c := m[k]
	c.Tags++
	if active {
		c.Active++
	} else {
		c.Retired++
	}
	m[k] = c
}

func tagsStats(env *Env, args []string) error {
	fs := newFlags(env, "tags stats")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := requireArgs(pos, 0, "spoor tags stats"); err != nil {
		return err
	}
	st, err := openExisting(env)
	if err != nil {
		return err
	}
	defer closeStore(st)
	s := TagStats{ByList: map[string]TagCounts{}, ByChain: map[string]TagCounts{}, ByCategory: map[string]TagCounts{}}
	if err := st.ListTags("", func(t *attrib.Tag) error {
		act := t.Active()
		s.Total.Tags++
		if act {
			s.Total.Active++
		} else {
			s.Total.Retired++
		}
		countTag(s.ByList, t.List, act)
		countTag(s.ByChain, t.Subject.Chain.String(), act)
		cl := t.Class()
		if cl == "" {
			cl = "(none)"
		}
		countTag(s.ByCategory, cl, act)
		return nil
	}); err != nil {
		return err
	}
	if s.Actors, err = st.ActorCount(); err != nil {
		return err
	}
	if env.JSON {
		return writeJSON(env.Stdout, s)
	}
	fmt.Fprintf(env.Stdout, "tags %d (active %d, retired %d), actors %d\n", s.Total.Tags, s.Total.Active, s.Total.Retired, s.Actors)
	for _, g := range []struct {
		name string
		m    map[string]TagCounts
	}{{"list", s.ByList}, {"chain", s.ByChain}, {"category", s.ByCategory}} {
		keys := make([]string, 0, len(g.m))
		for k := range g.m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(env.Stdout, "by %s:\n", g.name)
		for _, k := range keys {
			c := g.m[k]
			fmt.Fprintf(env.Stdout, "  %-36s %7d  (active %d, retired %d)\n", k, c.Tags, c.Active, c.Retired)
		}
	}
	return nil
}

func tagsLists(env *Env, args []string) error {
	fs := newFlags(env, "tags lists")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := requireArgs(pos, 0, "spoor tags lists"); err != nil {
		return err
	}
	st, err := openExisting(env)
	if err != nil {
		return err
	}
	defer closeStore(st)
	ls, err := st.TagLists()
	if err != nil {
		return err
	}
	if env.JSON {
		if ls == nil {
			ls = []attrib.ListInfo{}
		}
		return writeJSON(env.Stdout, map[string]any{"lists": ls}) // one object, like every --json
	}
	for _, l := range ls {
		fmt.Fprintf(env.Stdout, "%s (%s)\n", l.Name, l.Format)
		for _, v := range l.Versions {
			fmt.Fprintf(env.Stdout, "  %s imported %s from %s: added %d, changed %d, relisted %d, retired %d, rejected %d, skipped %d\n",
				v.Version, v.ImportedAt, v.File, v.Added, v.Changed, v.Relisted, v.Retired, v.Rejected, v.Skipped)
		}
	}
	return nil
}

func tagsExport(env *Env, args []string) error {
	fs := newFlags(env, "tags export")
	format := fs.String("format", "tagpack", "output format (tagpack)")
	list := fs.String("list", "", "export one list (default: all)")
	all := fs.Bool("all", false, "include retired tags")
	out := fs.String("out", "", "write to FILE (default stdout)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := requireArgs(pos, 0, "spoor tags export --format tagpack"); err != nil {
		return err
	}
	if *format != "tagpack" {
		return usageErr("--format %q: only tagpack is written", *format)
	}
	if env.JSON && *out == "" {
		// --json promises one JSON object on stdout; a TagPack is YAML.
		return usageErr("--json: tags export writes a TagPack (YAML), not JSON; drop --json or give --out FILE")
	}
	st, err := openExisting(env)
	if err != nil {
		return err
	}
	defer closeStore(st)
	header := []attrib.KV{{Key: "title", Value: "spoor export"}, {Key: "creator", Value: "spoor"}}
	if *list != "" {
		info, err := st.TagList(*list)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no list %q (spoor tags lists shows them)", *list)
		}
		if err != nil {
			return err
		}
		if len(info.Header) > 0 {
			header = info.Header
		} else {
			header[0].Value = "spoor export of list " + *list
		}
	}
	var tags []attrib.Tag
	if err := st.ListTags(*list, func(t *attrib.Tag) error {
		if *all || t.Active() {
			tags = append(tags, *t)
		}
		return nil
	}); err != nil {
		return err
	}
	w := env.Stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		bw := bufio.NewWriter(f)
		if err := attrib.WriteTagPack(bw, header, tags); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		if env.JSON {
			return writeJSON(env.Stdout, map[string]any{"out": *out, "format": *format, "tags": len(tags)})
		}
		fmt.Fprintf(env.Stdout, "%s: %d tags (%s)\n", *out, len(tags), *format)
		return nil
	}
	return attrib.WriteTagPack(w, header, tags)
}

func tagsCombine(env *Env, args []string) error {
	fs := newFlags(env, "tags combine")
	atFlag := fs.String("at", "", "use the tags listed on this date")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 2 {
		return usageErr("want CHAIN ADDR...")
	}
	at, err := parseAtFlag(*atFlag)
	if err != nil {
		return err
	}
	var addrs [][]byte
	var c model.Chain
	for _, s := range pos[1:] {
		var a attrib.Address
		c, a, err = parseSubjectArgs(env, pos[0], s)
		if err != nil {
			return err
		}
		addrs = append(addrs, a.Bytes)
	}
	st, err := openExisting(env)
	if err != nil {
		return err
	}
	defer closeStore(st)
	tags, err := st.TagsOf(c, addrs)
	if err != nil {
		return err
	}
	att := attrib.Combine(tags, at)
	if env.JSON {
		if att.Claims == nil {
			att.Claims = []attrib.Claim{}
		}
		return writeJSON(env.Stdout, att)
	}
	fmt.Fprintf(env.Stdout, "%d of %d addresses tagged\n", att.Addresses, len(addrs))
	if att.Owner != "" {
		fmt.Fprintf(env.Stdout, "owner: %s (%s)\n", att.Owner, att.OwnerClass)
	}
	for _, cl := range att.Claims {
		fmt.Fprintf(env.Stdout, "  %-20s %-30s score %3d  %d addresses, %d tags, lists %s\n", cl.Class, cl.Owner, cl.Score, cl.Addresses, cl.Tags, strings.Join(cl.Lists, ","))
	}
	for _, cf := range att.Conflicts {
		fmt.Fprintf(env.Stdout, "CONFLICT (%s): %s\n", cf.Kind, cf.Reason)
	}
	return nil
}

// refuseRenamedCopy refuses a list file whose exact bytes were already
// imported under another list name (a renamed copy: the default list name
// comes from the file name): it would tag every address twice, and two lists
// read as two independent sources.
func refuseRenamedCopy(st store.TagStore, b *attrib.Batch, file string) error {
	lists, err := st.TagLists()
	if err != nil {
		return err
	}
	for _, l := range lists {
		for _, v := range l.Versions {
			if l.Name != b.List && v.Digest == b.Digest {
				return fmt.Errorf("%s: the same content was imported as list %s version %s (from %s); as list %s every tag would count twice: give --list %s to add a version to that list",
					file, l.Name, v.Version, v.File, b.List, l.Name)
			}
		}
	}
	return nil
}

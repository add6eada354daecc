package attrib

import (
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spoor-dev/spoor/internal/model"
	"gopkg.in/yaml.v3"
)

// TagPack tag fields (GraphSense). Any of them in the header is inherited by
// every tag that does not set it.
var tagFields = []string{"address", "tx_hash", "label", "source", "currency", "network", "context",
	"confidence", "category", "abuse", "actor", "concepts", "lastmod", "is_cluster_definer"}

func isTagField(k string) bool {
	for _, f := range tagFields {
		if f == k {
			return true
		}
	}
	return false
}

// maxYAML bounds a TagPack read into memory.
const maxYAML = 256 << 20

func decodeYAML(r io.Reader, file string) (*yaml.Node, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxYAML+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	if len(data) > maxYAML {
		return nil, fmt.Errorf("%s: larger than %d bytes", file, maxYAML)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: want a YAML mapping at the top", file, doc.Line)
	}
	return doc.Content[0], nil
}

// fieldValue is one TagPack field: a scalar, or a list of scalars (concepts).
type fieldValue struct {
	scalar string
	list   []string
	isList bool
	line   int
}

func nodeValue(n *yaml.Node) (fieldValue, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		return fieldValue{scalar: n.Value, line: n.Line}, nil
	case yaml.SequenceNode:
		v := fieldValue{isList: true, line: n.Line}
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return v, fmt.Errorf("line %d: a list of scalars expected", c.Line)
			}
			v.list = append(v.list, c.Value)
		}
		return v, nil
	case yaml.AliasNode:
		if n.Alias != nil {
			return nodeValue(n.Alias)
		}
	}
	return fieldValue{}, fmt.Errorf("line %d: a scalar or a list of scalars expected", n.Line)
}

func readTagPack(r io.Reader, b *Batch) error {
	root, err := decodeYAML(r, b.File)
	if err != nil {
		return err
	}
	header := map[string]fieldValue{}
	var tags *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i].Value, root.Content[i+1]
		if k == "tags" {
			if v.Kind != yaml.SequenceNode {
				return fmt.Errorf("%s:%d: tags: want a list", b.File, v.Line)
			}
			tags = v
			continue
		}
		fv, err := nodeValue(v)
		if err != nil {
			return fmt.Errorf("%s: header field %s: %v", b.File, k, err)
		}
		header[k] = fv
		if !isTagField(k) {
			b.Header = append(b.Header, KV{k, fv.scalar})
		}
	}
	if tags == nil {
		return fmt.Errorf("%s: no tags: list (is it an ActorPack? use --format actorpack)", b.File)
	}
	if lm, ok := header["lastmod"]; ok {
		if d, err := NormDate(lm.scalar); err == nil {
			b.Version = d
		}
	}
	seen := map[string]int{}
	for _, tn := range tags.Content {
		b.Read++
		line := tn.Line
		if tn.Kind != yaml.MappingNode {
			b.problem(line, Rejected, "tag is not a mapping")
			continue
		}
		f := map[string]fieldValue{}
		for k, v := range header {
			if isTagField(k) {
				f[k] = v
			}
		}
		extra := map[string]string{}
		bad := ""
		for i := 0; i+1 < len(tn.Content); i += 2 {
			k := tn.Content[i].Value
			fv, err := nodeValue(tn.Content[i+1])
			if err != nil {
				bad = fmt.Sprintf("field %s: %v", k, err)
				break
			}
			if isTagField(k) {
				f[k] = fv
			} else if fv.isList {
				bad = fmt.Sprintf("field %s: a list where a scalar is expected", k)
				break
			} else {
				extra[k] = fv.scalar
			}
		}
		if bad != "" {
			b.problem(line, Rejected, "%s", bad)
			continue
		}
		t, kind, reason := tagFromFields(f, extra, b.btcNet)
		if kind != "" {
			b.problem(line, kind, "%s", reason)
			continue
		}
		if t.Repair != "" {
			b.problem(line, Repaired, "%s", t.Repair)
		}
		k := t.tag.Key()
		if first, dup := seen[k]; dup {
			b.problem(line, Duplicate, "same address, currency and label as line %d", first)
			continue
		}
		seen[k] = line
		b.add(t.tag, line)
	}
	return nil
}

type parsedTag struct {
	tag    Tag
	Repair string
}

func scalarOf(f map[string]fieldValue, k string) (string, string) {
	v, ok := f[k]
	if !ok {
		return "", ""
	}
	if v.isList {
		return "", fmt.Sprintf("field %s: a list where a scalar is expected", k)
	}
	return strings.TrimSpace(v.scalar), ""
}

// tagFromFields builds a tag from TagPack fields (header merged in). It
// returns a problem kind and reason when the tag cannot be imported.
func tagFromFields(f map[string]fieldValue, extra map[string]string, btcNet string) (parsedTag, string, string) {
	var p parsedTag
	t := &p.tag
	get := func(k string) string {
		s, _ := scalarOf(f, k)
		return s
	}
	for _, k := range tagFields {
		if k == "concepts" {
			continue
		}
		if _, bad := scalarOf(f, k); bad != "" {
			return p, Rejected, bad
		}
	}
	t.Address, t.TxHash = get("address"), get("tx_hash")
	t.Label, t.Source, t.Currency, t.Network = get("label"), get("source"), get("currency"), get("network")
	t.Context, t.Actor, t.IsClusterDefiner = get("context"), get("actor"), get("is_cluster_definer")
	if c, ok := f["concepts"]; ok {
		if c.isList {
			t.Concepts = append([]string{}, c.list...)
		} else if c.scalar != "" {
			t.Concepts = []string{c.scalar}
		}
	}
	if len(extra) > 0 {
		t.Extra = extra
	}
	if t.Label == "" {
		return p, Rejected, "no label"
	}
	if strings.ContainsRune(t.Label, 0) || strings.ContainsRune(t.Currency, 0) {
		return p, Rejected, "NUL in label or currency"
	}
	var err error
	if t.Category, err = NormCategory(get("category")); err != nil {
		return p, Rejected, err.Error()
	}
	if t.Abuse, err = NormCategory(get("abuse")); err != nil {
		return p, Rejected, "abuse: " + err.Error()
	}
	if t.Confidence, err = NormConfidence(get("confidence"), "unknown"); err != nil {
		return p, Rejected, err.Error()
	}
	if lm := get("lastmod"); lm != "" {
		if t.SourceDate, err = NormDate(lm); err != nil {
			return p, Rejected, "lastmod: " + err.Error()
		}
	}
	subj := t.Address
	if subj == "" {
		subj = t.TxHash
	}
	if subj == "" || (t.Address != "" && t.TxHash != "") {
		return p, Rejected, "want exactly one of address and tx_hash"
	}
	chain, why := ChainFor(t.Currency, subj)
	if t.Network != "" {
		if c, err := model.ParseChain(t.Network); err == nil {
			chain, why = c, ""
		} else if chain == model.ChainUnknown {
			why = fmt.Sprintf("network %s: chain not supported", t.Network)
		}
	}
	if chain == model.ChainUnknown {
		return p, Skipped, why
	}
	if t.TxHash != "" {
		h := strings.TrimPrefix(strings.TrimPrefix(t.TxHash, "0x"), "0X")
		raw, err := hex.DecodeString(h)
		if err != nil || len(raw) != 32 {
			return p, Rejected, fmt.Sprintf("tx_hash %q: want 64 hex digits", t.TxHash)
		}
		t.Subject = Subject{Chain: chain, Kind: SubjectTx, Bytes: raw}
		return p, "", ""
	}
	a, err := ParseAddressOn(chain, t.Address, btcNet)
	if err != nil {
		return p, Rejected, fmt.Sprintf("%s address: %v", chain, err)
	}
	t.Address = a.Text
	p.Repair = a.Repair
	t.Subject = Subject{Chain: chain, Kind: SubjectAddress, Bytes: a.Bytes}
	return p, "", ""
}

// tagPackFields renders a tag as TagPack fields (name → value; concepts as
// a list).
func tagPackFields(t *Tag) map[string]fieldValue {
	m := map[string]fieldValue{}
	set := func(k, v string) {
		if v != "" {
			m[k] = fieldValue{scalar: v}
		}
	}
	set("address", t.Address)
	set("tx_hash", t.TxHash)
	set("label", t.Label)
	set("source", t.Source)
	set("currency", t.Currency)
	set("network", t.Network)
	set("context", t.Context)
	set("confidence", t.Confidence)
	set("category", t.Category)
	set("abuse", t.Abuse)
	set("actor", t.Actor)
	if len(t.Concepts) > 0 {
		m["concepts"] = fieldValue{isList: true, list: t.Concepts}
	}
	set("lastmod", t.SourceDate)
	set("is_cluster_definer", t.IsClusterDefiner)
	for k, v := range t.Extra {
		set(k, v)
	}
	return m
}

func sameField(a, b fieldValue) bool {
	return a.isList == b.isList && a.scalar == b.scalar && eqStrings(a.list, b.list)
}

// plainFields are written untagged so YAML readers see a boolean or a date
// (GraphSense's schema types them so); every other scalar is a string.
var plainFields = map[string]bool{"is_cluster_definer": true, "lastmod": true}

func keyedFieldNode(k string, v fieldValue) *yaml.Node {
	n := fieldNode(v)
	if plainFields[k] && !v.isList {
		var probe any
		if yaml.Unmarshal([]byte(v.scalar), &probe) == nil {
			switch probe.(type) {
			case bool, time.Time:
				n.Tag = ""
			}
		}
	}
	return n
}

func fieldNode(v fieldValue) *yaml.Node {
	if v.isList {
		n := &yaml.Node{Kind: yaml.SequenceNode}
		for _, s := range v.list {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s})
		}
		return n
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v.scalar}
}

// WriteTagPack writes tags as one TagPack: the header fields given, then
// every tag field whose value all tags share (inherited), then the tags
// with their own fields. Reading the output back gives the same tags.
func WriteTagPack(w io.Writer, header []KV, tags []Tag) error {
	fields := make([]map[string]fieldValue, len(tags))
	names := map[string]bool{}
	for i := range tags {
		fields[i] = tagPackFields(&tags[i])
		for k := range fields[i] {
			names[k] = true
		}
	}
	common := map[string]fieldValue{}
	if len(tags) > 0 {
		for k := range names {
			if k == "address" || k == "tx_hash" || !isTagField(k) {
				continue // subjects and extra fields are never inherited
			}
			v, ok := fields[0][k]
			if !ok {
				continue
			}
			all := true
			for _, f := range fields[1:] {
				if w, ok := f[k]; !ok || !sameField(v, w) {
					all = false
					break
				}
			}
			if all {
				common[k] = v
			}
		}
	}
	root := &yaml.Node{Kind: yaml.MappingNode}
	str := func(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }
	for _, kv := range header {
		if kv.Key == "is_public" && (kv.Value == "true" || kv.Value == "false") {
			root.Content = append(root.Content, str(kv.Key), &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: kv.Value})
			continue
		}
		root.Content = append(root.Content, str(kv.Key), str(kv.Value))
	}
	order := func(m map[string]fieldValue) []string {
		var ks []string
		for _, k := range tagFields {
			if _, ok := m[k]; ok {
				ks = append(ks, k)
			}
		}
		var ex []string
		for k := range m {
			if !isTagField(k) {
				ex = append(ex, k)
			}
		}
		sort.Strings(ex)
		return append(ks, ex...)
	}
	for _, k := range order(common) {
		root.Content = append(root.Content, str(k), keyedFieldNode(k, common[k]))
	}
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	for _, f := range fields {
		tn := &yaml.Node{Kind: yaml.MappingNode}
		for _, k := range order(f) {
			if _, inh := common[k]; inh {
				continue
			}
			tn.Content = append(tn.Content, str(k), keyedFieldNode(k, f[k]))
		}
		seq.Content = append(seq.Content, tn)
	}
	root.Content = append(root.Content, str("tags"), seq)
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return err
	}
	return enc.Close()
}

// readActorPack reads a GraphSense ActorPack: actors with id, label, uri,
// categories and jurisdictions.
func readActorPack(r io.Reader, b *Batch) error {
	root, err := decodeYAML(r, b.File)
	if err != nil {
		return err
	}
	var actors *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i].Value, root.Content[i+1]
		switch {
		case k == "actors":
			if v.Kind != yaml.SequenceNode {
				return fmt.Errorf("%s:%d: actors: want a list", b.File, v.Line)
			}
			actors = v
		case k == "lastmod" && v.Kind == yaml.ScalarNode:
			if d, err := NormDate(v.Value); err == nil {
				b.Version = d
			}
			b.Header = append(b.Header, KV{k, v.Value})
		case v.Kind == yaml.ScalarNode:
			b.Header = append(b.Header, KV{k, v.Value})
		}
	}
	if actors == nil {
		return fmt.Errorf("%s: no actors: list", b.File)
	}
	seen := map[string]int{}
	for _, an := range actors.Content {
		b.Read++
		if an.Kind != yaml.MappingNode {
			b.problem(an.Line, Rejected, "actor is not a mapping")
			continue
		}
		var a Actor
		bad := ""
		for i := 0; i+1 < len(an.Content); i += 2 {
			k, v := an.Content[i].Value, an.Content[i+1]
			switch k {
			case "id", "label", "uri":
				if v.Kind != yaml.ScalarNode {
					bad = k + ": want a scalar"
					continue
				}
				switch k {
				case "id":
					a.ID = strings.TrimSpace(v.Value)
				case "label":
					a.Label = v.Value
				case "uri":
					a.URI = v.Value
				}
			case "categories", "jurisdictions":
				fv, err := nodeValue(v)
				if err != nil {
					bad = k + ": " + err.Error()
					continue
				}
				l := fv.list
				if !fv.isList && fv.scalar != "" {
					l = []string{fv.scalar}
				}
				if k == "categories" {
					a.Categories = l
				} else {
					a.Jurisdictions = l
				}
			}
		}
		switch {
		case bad != "":
			b.problem(an.Line, Rejected, "%s", bad)
		case a.ID == "" || a.Label == "":
			b.problem(an.Line, Rejected, "actor without id or label")
		case seen[a.ID] != 0:
			b.problem(an.Line, Duplicate, "actor %s already at line %d", a.ID, seen[a.ID])
		default:
			seen[a.ID] = an.Line
			a.List = b.List
			b.Actors = append(b.Actors, a)
		}
	}
	return nil
}

package attrib

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spoor-dev/spoor/internal/model"
)

// csvTable reads a CSV file with a header; rows are maps by column name.
type csvTable struct {
	r    *csv.Reader
	cols map[string]int
	file string
}

func newCSVTable(r io.Reader, file string, required []string) (*csvTable, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	head, err := cr.Read()
	if err != nil {
		if err == io.EOF {
			return nil, fmt.Errorf("%s: empty (no header line)", file)
		}
		return nil, fmt.Errorf("%s:1: header: %v", file, err)
	}
	t := &csvTable{r: cr, cols: map[string]int{}, file: file}
	for i, h := range head {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if _, dup := t.cols[h]; dup {
			return nil, fmt.Errorf("%s:1: column %q twice", file, h)
		}
		t.cols[h] = i
	}
	var missing []string
	for _, c := range required {
		if _, ok := t.cols[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s:1: missing columns %s (header %q)", file, strings.Join(missing, ", "), strings.Join(head, ","))
	}
	return t, nil
}

// next returns the next row and its line, io.EOF at the end. A row that
// does not parse as CSV is an error of the file (quotes out of balance make
// every later line ambiguous).
func (t *csvTable) next() (func(string) string, int, error) {
	rec, err := t.r.Read()
	if err == io.EOF {
		return nil, 0, io.EOF
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, 0, fmt.Errorf("%s:%d: column %d: %v", t.file, pe.Line, pe.Column, pe.Err)
		}
		return nil, 0, fmt.Errorf("%s: %v", t.file, err)
	}
	line, _ := t.r.FieldPos(0)
	get := func(c string) string {
		i, ok := t.cols[c]
		if !ok || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	return get, line, nil
}

// readNBCTF reads the Israel NBCTF / Ministry of Defence seizure orders.
// The address is taken as published (wallet_address_as_published) and
// validated here, look-alike letters repaired only where the repair
// validates. Exchange accounts (a platform named) and chains spoor does not
// cover are skipped and counted.
func readNBCTF(r io.Reader, b *Batch) error {
	t, err := newCSVTable(r, b.File, []string{"order_id", "start_date", "wallet_address_as_published", "order_url"})
	if err != nil {
		return err
	}
	seen := map[string]int{}
	latest := ""
	for {
		get, line, err := t.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		b.Read++
		raw := get("wallet_address_as_published")
		if raw == "" {
			raw = get("wallet_address")
		}
		if p := get("platform"); p != "" {
			b.problem(line, Skipped, "account %q at exchange %s: not an on-chain address", raw, p)
			continue
		}
		if strings.ContainsAny(raw, " ()*") {
			b.problem(line, Rejected, "%q is not a bare address (an exchange deposit with a memo or tag?)", raw)
			continue
		}
		tag := Tag{Label: "NBCTF seizure order " + get("order_id"), Ref: get("order_id"),
			Category: "terrorism_financing", Source: get("order_url"), Currency: strings.ToUpper(get("currency")),
			Confidence: "authority_data"}
		if tag.SourceDate, err = NormDate(get("start_date")); err != nil {
			b.problem(line, Rejected, "start_date: %v", err)
			continue
		}
		if tag.Expires, err = NormDate(get("end_date")); err != nil {
			b.problem(line, Rejected, "end_date: %v", err)
			continue
		}
		if d, err := NormDate(get("last_updated")); err == nil && d > latest {
			latest = d
		}
		chain, why := ChainFor(tag.Currency, raw)
		if tag.Currency == "" || tag.Currency == "USDT" || tag.Currency == "USDC" {
			chain, why = ChainFor("", raw)
		}
		if chain == model.ChainUnknown {
			b.problem(line, Skipped, "%q: %s", raw, why)
			continue
		}
		importTaggedAddress(b, &tag, chain, raw, line, "order "+tag.Ref, seen)
	}
	b.Version = latest
	return nil
}

// PlainCSVColumns are the columns of the plain CSV format.
var PlainCSVColumns = []string{"chain", "address", "label", "category", "source", "confidence"}

// readCSV reads chain,address,label,category,source,confidence.
func readCSV(r io.Reader, b *Batch) error {
	t, err := newCSVTable(r, b.File, PlainCSVColumns)
	if err != nil {
		return err
	}
	seen := map[string]int{}
	for {
		get, line, err := t.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		b.Read++
		chain, err := model.ParseChain(get("chain"))
		if err != nil {
			b.problem(line, Skipped, "chain %q: not supported", get("chain"))
			continue
		}
		tag := Tag{Label: get("label"), Source: get("source")}
		if tag.Label == "" || strings.ContainsRune(tag.Label, 0) {
			b.problem(line, Rejected, "label: empty or contains NUL")
			continue
		}
		if tag.Category, err = NormCategory(get("category")); err != nil {
			b.problem(line, Rejected, "%v", err)
			continue
		}
		if tag.Confidence, err = NormConfidence(get("confidence"), "unknown"); err != nil {
			b.problem(line, Rejected, "%v", err)
			continue
		}
		importTaggedAddress(b, &tag, chain, get("address"), line, "", seen)
	}
	return nil
}

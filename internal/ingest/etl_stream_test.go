package ingest

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spoor-dev/spoor/internal/chain/etl"
	"github.com/spoor-dev/spoor/internal/chain/etl/etltest"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// countingStore is the real store with its Apply and Undo calls counted,
// to see that an import wrote batches before it failed or started over.
type countingStore struct {
	store.Store
	applies, undos int
}

func (s *countingStore) Apply(c model.Chain, mode store.ApplyMode, blocks []*model.Block) error {
	s.applies++
	return s.Store.Apply(c, mode, blocks)
}

func (s *countingStore) Undo(c model.Chain, m store.Mark) error {
	s.undos++
	return s.Store.Undo(c, m)
}

// streamRows is enough synthetic rows for the decoder to hand blocks over
// (and the ingest to apply them, in batches of 5,000) well before the end
// of the file.
const streamRows = 200_000

// syntheticLines writes the synthetic export's token_transfers.csv and
// returns its lines (header first).
func syntheticLines(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	xp := filepath.Join(dir, "token_transfers.csv")
	if err := etltest.WriteSynthetic(xp, filepath.Join(dir, "transactions.csv"), streamRows); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(xp)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

func writeLines(t *testing.T, dir string, lines []string) {
	t.Helper()
	writeFile(t, filepath.Join(dir, "token_transfers.csv"), strings.Join(lines, "\n")+"\n")
}

// A bad row late in a big file, after batches of its blocks were applied:
// the error names file, line and field, and the store is as before.
func TestETLLateBadRowAfterApplies(t *testing.T) {
	lines := syntheticLines(t)
	bad := len(lines) - 100 // line bad+1 of the file
	f := strings.Split(lines[bad], ",")
	f[3] = "-5" // value
	lines[bad] = strings.Join(f, ",")
	dir := t.TempDir()
	writeLines(t, dir, lines)

	// The store already holds the first 1,000 rows (so the failed import
	// also skips known transactions, and undo has a base to go back to).
	good := t.TempDir()
	writeLines(t, good, lines[:1001])
	lateBadRowFails(t, good, dir, "token_transfers.csv", "value", bad+1)
}

// lateBadRowFails imports the export in good into a fresh store, then the
// one in dir in batches of 5,000 txs, and checks that the second import
// fails naming file, line and field after 10 batches or more, and leaves
// the store as the first left it.
func lateBadRowFails(t *testing.T, good, dir, file, field string, line int) {
	t.Helper()
	real := openStore(t)
	if _, err := ETL(real, model.Tron, good, Options{}); err != nil {
		t.Fatal(err)
	}
	before := digest(t, real)
	st := &countingStore{Store: real}
	_, err := ETL(st, model.Tron, dir, Options{BatchTxs: 5000})
	var e *etl.Error
	if !errors.As(err, &e) || e.Field != field || e.Line != line || !strings.HasSuffix(e.File, file) {
		t.Fatalf("error %v, want %s line %d, field %s", err, file, line, field)
	}
	if st.applies < 10 {
		t.Fatalf("%d batches applied before the error: the file was not streamed, the error is not late", st.applies)
	}
	if got := digest(t, real); got != before {
		t.Fatal("store changed by a failed ingest")
	}
}

// A row that comes after blocks of its height were applied (rows in block
// order until the end of the file): the import drops the unit's batches and
// applies it again; the store and the counts are those of the same rows in
// order.
func TestETLLateOutOfOrderRow(t *testing.T) {
	lines := syntheticLines(t)
	sorted, late := t.TempDir(), t.TempDir()
	writeLines(t, sorted, lines)
	moved := append(append(append([]string{}, lines[0]), lines[2:]...), lines[1])
	writeLines(t, late, moved)

	want := openStore(t)
	wres, err := ETL(want, model.Tron, sorted, Options{BatchTxs: 5000})
	if err != nil {
		t.Fatal(err)
	}
	real := openStore(t)
	st := &countingStore{Store: real}
	res, err := ETL(st, model.Tron, late, Options{BatchTxs: 5000})
	if err != nil {
		t.Fatal(err)
	}
	if st.undos != 1 || st.applies <= 200_000/5000 {
		t.Fatalf("%d undos, %d applies: want batches applied, dropped once, applied again", st.undos, st.applies)
	}
	if digest(t, real) != digest(t, want) {
		t.Fatal("store differs from the import of the rows in order")
	}
	res.Elapsed, wres.Elapsed = 0, 0
	if !reflect.DeepEqual(res, wres) || !reflect.DeepEqual(res.ETL, wres.ETL) {
		t.Fatalf("result %+v %+v\nwant %+v %+v", res, res.ETL, wres, wres.ETL)
	}
	if res.ETL.Rows != streamRows || res.ETL.NewTransfers != streamRows {
		t.Fatalf("counts %+v", res.ETL)
	}
}

// syntheticBoth writes the synthetic export's token_transfers.csv and
// transactions.csv and returns their lines (headers first).
func syntheticBoth(t *testing.T) (xfers, txs []string) {
	t.Helper()
	dir := t.TempDir()
	xp, tp := filepath.Join(dir, "token_transfers.csv"), filepath.Join(dir, "transactions.csv")
	if err := etltest.WriteSynthetic(xp, tp, streamRows); err != nil {
		t.Fatal(err)
	}
	read := func(p string) []string {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	}
	return read(xp), read(tp)
}

func writeBoth(t *testing.T, dir string, xfers, txs []string) {
	t.Helper()
	writeLines(t, dir, xfers)
	writeFile(t, filepath.Join(dir, "transactions.csv"), strings.Join(txs, "\n")+"\n")
}

// The joined layout (token_transfers.csv and transactions.csv, streamed
// together): a bad transactions row late in the file, after batches were
// applied, gives the error of the row-by-row decode (file, line, field)
// and leaves the store as before.
func TestETLJointLateBadTxRow(t *testing.T) {
	xfers, txs := syntheticBoth(t)
	bad := len(txs) - 100
	f := strings.Split(txs[bad], ",")
	f[7] = "-1" // receipt_gas_used
	txs[bad] = strings.Join(f, ",")
	dir := t.TempDir()
	writeBoth(t, dir, xfers, txs)

	good := t.TempDir()
	writeBoth(t, good, xfers[:1001], txs[:1001])
	lateBadRowFails(t, good, dir, "transactions.csv", "receipt_gas_used", bad+1)
}

// The joined layout with a transactions row that comes after blocks of its
// height were applied: the unit's batches are dropped and applied again;
// store and counts are those of the rows in order, which were applied
// while both files were read.
func TestETLJointLateOutOfOrderTxRow(t *testing.T) {
	xfers, txs := syntheticBoth(t)
	sorted, late := t.TempDir(), t.TempDir()
	writeBoth(t, sorted, xfers, txs)
	moved := append(append(append([]string{}, txs[0]), txs[2:]...), txs[1])
	writeBoth(t, late, xfers, moved)

	want := openStore(t)
	ws := &countingStore{Store: want}
	wres, err := ETL(ws, model.Tron, sorted, Options{BatchTxs: 5000})
	if err != nil {
		t.Fatal(err)
	}
	if ws.undos != 0 {
		t.Fatalf("rows in order: %d undos, %d applies", ws.undos, ws.applies)
	}
	real := openStore(t)
	st := &countingStore{Store: real}
	res, err := ETL(st, model.Tron, late, Options{BatchTxs: 5000})
	if err != nil {
		t.Fatal(err)
	}
	if st.undos != 1 || st.applies <= 200_000/5000 {
		t.Fatalf("%d undos, %d applies: want batches applied, dropped once, applied again", st.undos, st.applies)
	}
	if digest(t, real) != digest(t, want) {
		t.Fatal("store differs from the import of the rows in order")
	}
	res.Elapsed, wres.Elapsed = 0, 0
	if !reflect.DeepEqual(res, wres) || !reflect.DeepEqual(res.ETL, wres.ETL) {
		t.Fatalf("result %+v %+v\nwant %+v %+v", res, res.ETL, wres, wres.ETL)
	}
	if res.ETL.Rows != 2*streamRows || res.ETL.NewTransfers != streamRows {
		t.Fatalf("counts %+v", res.ETL)
	}
}

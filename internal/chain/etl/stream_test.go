package etl

import (
	"fmt"
	"io"
	"math/rand"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/spoor-dev/spoor/internal/chain/etl/etltest"
	"github.com/spoor-dev/spoor/internal/model"
)

// memFile is an export file held in memory.
type memFile struct {
	kind Kind
	data string
}

func memUnit(files []memFile) (Unit, map[string]string) {
	var u Unit
	data := map[string]string{}
	for i, f := range files {
		name := fmt.Sprintf("%s_%d.csv", f.kind, i)
		u.Files = append(u.Files, File{Path: name, Kind: f.kind})
		data[name] = f.data
	}
	return u, data
}

// streamed is what a streaming decode handed over.
type streamed struct {
	res    *Result
	blocks []*model.Block // after the last Reset
	sends  int            // hand-overs, all of them
	early  int            // hand-overs before the files were read to the end
	resets int
	// restarts: the joined decode started over (an error in the files)
	restarts int
	// reused: hand-overs built into the memory of returned ones
	reused int
}

// cloneBlocks copies blocks, their txs and transfers (the address bytes
// are the decoder's, never recycled).
func cloneBlocks(bs []*model.Block) []*model.Block {
	out := make([]*model.Block, len(bs))
	for i, b := range bs {
		c := *b
		c.Txs = slices.Clone(b.Txs)
		for k := range c.Txs {
			c.Txs[k].Transfers = slices.Clone(c.Txs[k].Transfers)
		}
		out[i] = &c
	}
	return out
}

// streamUnit decodes u as a streaming decode with chunks of about chunk
// bytes, handing over every `every` rows; read reads a file. The blocks
// are lent by a Recycler in check mode: each hand-over is copied and
// returned at once, so that the next ones are built into its memory.
func streamUnit(c model.Chain, u Unit, chunk, every int, data map[string]string) (streamed, error) {
	var s streamed
	rc := NewRecycler(true)
	d := NewDecoder(c)
	d.chunk, d.workers, d.streamRows = chunk, 2, every
	if data != nil {
		d.openFile = func(f File) (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(data[f.Path])), nil }
	}
	res, err := d.decodeStream(u, Stream{
		Blocks: func(b []*model.Block) error {
			for i := 1; i < len(b); i++ {
				if b[i].Height <= b[i-1].Height {
					return fmt.Errorf("blocks %d, %d handed over out of order", b[i-1].Height, b[i].Height)
				}
			}
			if n := len(s.blocks); n > 0 && len(b) > 0 && b[0].Height <= s.blocks[n-1].Height {
				return fmt.Errorf("block %d handed over after %d", b[0].Height, s.blocks[n-1].Height)
			}
			s.blocks = append(s.blocks, cloneBlocks(b)...)
			if err := rc.Lent(b); err != nil {
				return err
			}
			if err := rc.Return(b); err != nil {
				return err
			}
			s.sends++
			if !d.finishing { // hand-overs while the files are read are early
				s.early++
			}
			return nil
		},
		Reset: func() error {
			s.blocks = nil
			s.resets++
			return nil
		},
		Recycler: rc,
	})
	s.restarts, s.reused = d.restarts, rc.Reused()
	if err != nil {
		return s, err
	}
	if res.Blocks != nil {
		return s, fmt.Errorf("a streaming decode's Result holds %d blocks", len(res.Blocks))
	}
	s.res = res
	return s, nil
}

// decodeUnitWith is DecodeUnit with the decoder's chunk size and workers set.
func decodeUnitWith(c model.Chain, u Unit, chunk, workers int, data map[string]string) (*Result, error) {
	d := NewDecoder(c)
	d.chunk, d.workers = chunk, workers
	files := append([]File(nil), u.Files...)
	sort.SliceStable(files, func(i, j int) bool { return files[i].Kind < files[j].Kind })
	for _, f := range files {
		var err error
		if data != nil {
			err = d.Read(f.Kind, strings.NewReader(data[f.Path]), f.Path)
		} else {
			err = d.ReadFile(f)
		}
		if err != nil {
			return nil, err
		}
	}
	return d.Finish()
}

// sameStream fails t unless the streaming decode of u gives DecodeUnit's
// result: its blocks, in order, and its counts and facts, or its error.
func sameStream(t *testing.T, c model.Chain, u Unit, data map[string]string, chunk, every int) streamed {
	t.Helper()
	want, werr := decodeUnitWith(c, u, 1<<30, 1, data)
	got, err := streamUnit(c, u, chunk, every, data)
	if (err != nil) != (werr != nil) || (err != nil && err.Error() != werr.Error()) {
		t.Fatalf("chunk %d, every %d rows: streaming error %v\nDecodeUnit error %v", chunk, every, err, werr)
	}
	if err != nil {
		return got
	}
	res := *got.res
	res.Blocks = got.blocks
	if len(res.Blocks) == 0 && len(want.Blocks) == 0 {
		res.Blocks = want.Blocks // no blocks: nil or empty alike
	}
	if !reflect.DeepEqual(&res, want) {
		t.Fatalf("chunk %d, every %d rows: streamed %d blocks (%d hand-overs, %d resets), DecodeUnit %d; results differ:\n got %+v\nwant %+v",
			chunk, every, len(got.blocks), got.sends, got.resets, len(want.Blocks), &res, want)
	}
	return got
}

func txXfers(txs, xfers string) []memFile {
	var fs []memFile
	if txs != "" {
		fs = append(fs, memFile{KindTransactions, txs})
	}
	return append(fs, memFile{KindTokenTransfers, xfers})
}

// Rows in block order are handed over early, in several parts, and the
// parts make up DecodeUnit's blocks, at every chunk size and hand-over
// interval.
func TestStreamSortedMatchesDecodeUnit(t *testing.T) {
	txs, xfers := chunkFiles(300)
	for _, c := range []model.Chain{model.ETH, model.Tron} {
		for _, withTxs := range []bool{false, true} {
			tx := ""
			if withTxs {
				tx = txs
			}
			u, data := memUnit(txXfers(tx, xfers))
			for _, chunk := range []int{64, 300, 4096, 1 << 30} {
				for _, every := range []int{1, 40, 1 << 30} {
					s := sameStream(t, c, u, data, chunk, every)
					if s.resets != 0 || s.restarts != 0 {
						t.Fatalf("sorted rows: %d resets, %d restarts", s.resets, s.restarts)
					}
					if chunk == 300 && every == 40 && s.early < 5 {
						t.Fatalf("sorted rows, chunks of 300 bytes: %d early hand-overs, want many", s.early)
					}
					if s.sends >= 3 && s.reused == 0 {
						t.Fatalf("%d hand-overs, none built into recycled memory", s.sends)
					}
					if every == 1<<30 && s.early != 0 {
						t.Fatalf("%d early hand-overs with none due", s.early)
					}
				}
			}
		}
	}
}

// The synthetic exports of the benchmarks (etltest), read from files.
func TestStreamSyntheticExport(t *testing.T) {
	dir := t.TempDir()
	xp, tp := filepath.Join(dir, "token_transfers.csv"), filepath.Join(dir, "transactions.csv")
	if err := etltest.WriteSynthetic(xp, tp, 30_000); err != nil {
		t.Fatal(err)
	}
	for _, u := range []Unit{
		{Files: []File{{xp, KindTokenTransfers}}},
		{Files: []File{{xp, KindTokenTransfers}, {tp, KindTransactions}}},
	} {
		s := sameStream(t, model.Tron, u, nil, 64<<10, 3000)
		if s.early < 5 || s.resets != 0 || s.res.Transfers != 30_000 {
			t.Fatalf("%d files: %d early hand-overs, %d resets, %d transfers", len(u.Files), s.early, s.resets, s.res.Transfers)
		}
	}
}

// Rows out of block order: nothing handed over early when they are out of
// order from the start, and a Reset then everything again when an early
// row turns up after its block was handed over.
func TestStreamUnsorted(t *testing.T) {
	txs, xfers := chunkFiles(300)
	hdr, body, _ := strings.Cut(xfers, "\n")
	// Lines of a row may span physical lines (quoted notes): cut records
	// at the token address that starts each.
	recs := strings.SplitAfter(body, "\n0x")
	for i := range recs {
		recs[i] = strings.TrimSuffix(recs[i], "0x")
		if i > 0 {
			recs[i] = "0x" + recs[i]
		}
	}
	join := func(r []string) string { return hdr + "\n" + strings.Join(r, "") }
	if join(recs) != xfers {
		t.Fatal("records do not make up the file")
	}

	shuffled := append([]string(nil), recs...)
	rand.New(rand.NewSource(1)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	u, data := memUnit(txXfers("", join(shuffled)))
	if s := sameStream(t, model.ETH, u, data, 300, 10); s.early != 0 || s.resets != 0 {
		t.Fatalf("shuffled rows: %d early hand-overs, %d resets", s.early, s.resets)
	}

	// One late row (block 135) moved up among block 110's: hand-overs stop
	// there (or, when block 135 went early with it, a reset follows);
	// block 135 is never handed over in part.
	early := append([]string(nil), recs[:60]...)
	early = append(append(early, recs[500]), recs[60:500]...)
	early = append(early, recs[501:]...)
	// With the transactions file, whose slots are in block order: only the
	// rows' order stops the hand-overs.
	for _, tx := range []string{"", txs} {
		u, data = memUnit(txXfers(tx, join(early)))
		for chunk := 100; chunk <= 2000; chunk += 100 {
			for _, every := range []int{1, 10, 100} {
				sameStream(t, model.ETH, u, data, chunk, every)
			}
		}
	}

	// One early row (block 101) moved to the end: blocks were handed over,
	// then dropped.
	late := append(append(append([]string(nil), recs[:9]...), recs[10:]...), recs[9])
	for _, withTxs := range []bool{false, true} {
		tx := ""
		if withTxs {
			tx = txs
		}
		u, data := memUnit(txXfers(tx, join(late)))
		s := sameStream(t, model.ETH, u, data, 300, 10)
		if s.early == 0 || s.resets != 1 {
			t.Fatalf("late row: %d early hand-overs, %d resets; want some, then one reset", s.early, s.resets)
		}
	}

	// Transactions out of order (their slots), transfers in order: nothing
	// early.
	th, tb, _ := strings.Cut(txs, "\n")
	tl := strings.SplitAfter(tb, "\n0x")
	for i := range tl {
		tl[i] = strings.TrimSuffix(tl[i], "0x")
		if i > 0 {
			tl[i] = "0x" + tl[i]
		}
	}
	rev := append([]string(nil), tl...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	u, data = memUnit(txXfers(th+"\n"+strings.Join(rev, ""), xfers))
	// The two files are streamed together: with chunks of several rows the
	// order is seen in the first transactions chunk, before anything is
	// handed over; with chunks of a row or two the transfers of the first
	// blocks go before the transactions rows of those blocks turn up, and
	// are dropped then (one reset).
	if s := sameStream(t, model.ETH, u, data, 4096, 10); s.early != 0 || s.resets != 0 {
		t.Fatalf("transactions out of order, chunks of 4 KiB: %d early hand-overs, %d resets", s.early, s.resets)
	}
	for _, chunk := range []int{100, 300, 1000} {
		if s := sameStream(t, model.ETH, u, data, chunk, 10); s.early != 0 && s.resets != 1 {
			t.Fatalf("transactions out of order, chunks of %d bytes: %d early hand-overs, %d resets", chunk, s.early, s.resets)
		}
	}
}

// A unit of every kind (blocks, transactions, receipts, token transfers,
// logs): the logs are read before the token transfers that are streamed,
// facts and all come out the same.
func TestStreamFullUnit(t *testing.T) {
	var fs []memFile
	for k, v := range ethFiles {
		fs = append(fs, memFile{k, v})
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].kind < fs[j].kind })
	u, data := memUnit(fs)
	for _, every := range []int{1, 1 << 30} {
		s := sameStream(t, model.ETH, u, data, 64, every)
		if len(s.res.Facts) != 1 {
			t.Fatalf("facts %+v", s.res.Facts)
		}
	}
}

// Errors, also after blocks were handed over: the same error as DecodeUnit
// (file, line, field, message), also when two files have one.
func TestStreamErrors(t *testing.T) {
	txs, xfers := chunkFiles(300)
	lastRow := xfers[strings.LastIndex(xfers[:len(xfers)-1], "\n")+1:]
	// field sets field i (no quoted notes in the last row) of a row.
	field := func(row string, i int, v string) string {
		f := strings.Split(row, ",")
		f[i] = v
		return strings.Join(f, ",")
	}
	badLogs := memFile{KindLogs, ethFiles[KindLogs] + "7," + t2 + ",1," + hA + ",100," + usdt + ",0x,0xzz\n"}
	for _, tc := range []struct {
		name  string
		files []memFile
		want  string
		early bool // blocks were handed over before the error
	}{
		{"bad value late", txXfers(txs, strings.Replace(xfers, ",280000,", ",-5,", 1)), "column value: negative amount", true},
		{"conflicting duplicate late", txXfers("", xfers+field(lastRow, 4, "7")), "listed twice with different content", true},
		{"block moved late", txXfers("", xfers+field(lastRow, 7, "101")), "is in block 101 here but block 142", true},
		{"bad logs", append(txXfers("", xfers), badLogs), "column topics", true},
		{"bad logs and bad transfers", append(txXfers("", strings.Replace(xfers, ",280000,", ",-5,", 1)), badLogs), "negative amount", true},
		{"no receipt status", txXfers(strings.ReplaceAll(txs, ",receipt_status,", ",receipt_status_x,"), xfers), "no receipt status", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, data := memUnit(tc.files)
			s := sameStream(t, model.ETH, u, data, 300, 10)
			_, err := streamUnit(model.ETH, u, 300, 10, data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if tc.early && s.early == 0 {
				t.Fatal("no blocks handed over before the error: the test does not test a late error")
			}
		})
	}
}

// records cuts an export file of chunkFiles into its header and records
// (a record may span lines: quoted notes); each record starts with "0x".
func records(t testing.TB, file string) (hdr string, recs []string) {
	hdr, body, _ := strings.Cut(file, "\n")
	recs = strings.SplitAfter(body, "\n0x")
	for i := range recs {
		recs[i] = strings.TrimSuffix(recs[i], "0x")
		if i > 0 {
			recs[i] = "0x" + recs[i]
		}
	}
	if hdr+"\n"+strings.Join(recs, "") != file {
		t.Fatal("records do not make up the file")
	}
	return hdr, recs
}

// The joined streaming decode (transactions and token transfers read
// together) gives DecodeUnit's blocks, counts and errors: with
// transactions rows that have no transfers, transfers without a
// transactions row, either file out of order, and a bad transactions row
// late in the file.
func TestStreamJoint(t *testing.T) {
	txs, xfers := chunkFiles(300)
	th, trecs := records(t, txs)
	xh, xrecs := records(t, xfers)
	join := func(h string, r []string) string { return h + "\n" + strings.Join(r, "") }
	keep := func(r []string, drop func(i int) bool) []string {
		var out []string
		for i, x := range r {
			if !drop(i) {
				out = append(out, x)
			}
		}
		return out
	}
	// The transactions of chunkFiles have 1 + i%3 transfers each.
	xferOf := make([]int, 0, len(xrecs)) // transaction of each transfer row
	for i := range 300 {
		for range 1 + i%3 {
			xferOf = append(xferOf, i)
		}
	}
	if len(xferOf) != len(xrecs) {
		t.Fatalf("%d transfer rows, want %d", len(xrecs), len(xferOf))
	}
	noXfers := join(xh, keep(xrecs, func(i int) bool { return xferOf[i]%4 == 0 })) // every 4th tx has none
	noTxRow := join(th, keep(trecs, func(i int) bool { return i%5 == 2 }))         // every 5th has no row
	for _, tc := range []struct {
		name      string
		txs, xfer string
		sorted    bool // both files in block order: early hand-overs, no reset
	}{
		{"all", txs, xfers, true},
		{"transactions without transfers", txs, noXfers, true},
		{"transfers without transactions rows", noTxRow, xfers, true},
		{"both", noTxRow, noXfers, true},
		{"no transfers at all", txs, xh + "\n", true},
		{"transactions moved", join(th, append(append(append([]string(nil), trecs[:30]...), trecs[200:210]...), append(trecs[30:200:200], trecs[210:]...)...)), xfers, false},
		{"transfer moved early", txs, join(xh, append(append([]string{xrecs[400]}, xrecs[:400]...), xrecs[401:]...)), false},
		{"transfer moved late", txs, join(xh, append(append(append([]string(nil), xrecs[:5]...), xrecs[6:]...), xrecs[5])), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, data := memUnit(txXfers(tc.txs, tc.xfer))
			for _, c := range []model.Chain{model.ETH, model.Tron} {
				for _, chunk := range []int{64, 300, 1000, 4096} {
					for _, every := range []int{1, 10, 100} {
						s := sameStream(t, c, u, data, chunk, every)
						if s.restarts != 0 {
							t.Fatalf("chunk %d, every %d: the decode started over %d times without an error", chunk, every, s.restarts)
						}
						if tc.sorted && s.resets != 0 {
							t.Fatalf("chunk %d, every %d: %d resets of rows in block order", chunk, every, s.resets)
						}
						if tc.sorted && chunk <= 1000 && every <= 10 && tc.xfer != xh+"\n" && s.early == 0 {
							t.Fatalf("chunk %d, every %d: nothing handed over early", chunk, every)
						}
					}
				}
			}
		})
	}

	// Errors: DecodeUnit's, after blocks were handed over; the decode
	// starts over once.
	late := len(trecs) - 20
	badTx := func(i int, from, to string) string {
		r := append([]string(nil), trecs...)
		if !strings.Contains(r[i], from) {
			t.Fatalf("transactions row %d has no %q: %q", i, from, r[i])
		}
		r[i] = strings.Replace(r[i], from, to, 1)
		return join(th, r)
	}
	fields := strings.Split(strings.SplitN(trecs[late], "\n", 2)[0], ",")
	dup := append(append([]string(nil), trecs...), strings.Replace(trecs[late], ","+fields[4]+",", ",0x"+strings.Repeat("e", 40)+",", 1))
	for _, tc := range []struct {
		name, txs, xfer, want string
		late                  bool
	}{
		{"bad late transactions row", badTx(late, ",21000,", ",-21000,"), xfers, "column receipt_gas_used", true},
		{"bad late transactions hash", badTx(late, fields[0], "0xzz"), xfers, "column hash", true},
		{"late transactions row in another block", badTx(late, ","+fields[1]+",", ",99,"), xfers, "is in block", true},
		{"transactions row twice, different", join(th, dup), xfers, "listed twice with different content", true},
		{"bad late transactions row and bad early transfer", badTx(late, ",21000,", ",x,"),
			strings.Replace(xfers, ",1000,", ",-1000,", 1), "column receipt_gas_used", false},
		{"bad late transfer", txs, strings.Replace(xfers, ",280000,", ",-5,", 1), "column value", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, data := memUnit(txXfers(tc.txs, tc.xfer))
			for _, chunk := range []int{300, 4096} {
				s := sameStream(t, model.ETH, u, data, chunk, 10)
				_, err := streamUnit(model.ETH, u, chunk, 10, data)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("chunk %d: error %v, want %q", chunk, err, tc.want)
				}
				if s.restarts != 1 {
					t.Fatalf("chunk %d: %d restarts, want 1", chunk, s.restarts)
				}
				// A late error: blocks went early, were dropped (a reset),
				// then the decode started over.
				if tc.late && (s.early == 0 || s.resets == 0) {
					t.Fatalf("chunk %d: %d early hand-overs, %d resets: the error was not late", chunk, s.early, s.resets)
				}
			}
		})
	}
}

// FuzzStreamJoint: the joined streaming decode of any pair of files gives
// DecodeUnit's result or error, at any chunk size and hand-over interval.
func FuzzStreamJoint(f *testing.F) {
	txs, xfers := chunkFiles(20)
	f.Add(txs, xfers, uint16(100), uint8(3))
	f.Add(txs, xfers, uint16(4000), uint8(1))
	th, trecs := records(f, txs)
	rev := append([]string(nil), trecs...)
	slices.Reverse(rev)
	f.Add(th+"\n"+strings.Join(rev, ""), xfers, uint16(200), uint8(2))
	f.Add(strings.Replace(txs, ",21000,", ",-1,", 3), xfers, uint16(150), uint8(1))
	f.Add(ethFiles[KindTransactions], ethFiles[KindTokenTransfers], uint16(64), uint8(1))
	f.Fuzz(func(t *testing.T, txs, xfers string, chunk uint16, every uint8) {
		if txs == "" {
			return // one file: not the joined decode
		}
		u, data := memUnit(txXfers(txs, xfers))
		s := sameStream(t, model.Tron, u, data, int(chunk)+1, int(every)+1)
		if s.res != nil && s.restarts != 0 {
			t.Fatalf("started over %d times, then no error", s.restarts)
		}
	})
}

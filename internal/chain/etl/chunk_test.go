package etl

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/spoor-dev/spoor/internal/model"
)

// decodeWith decodes a transactions file (may be empty) then a
// token_transfers file, cutting both into chunks of about chunk bytes
// parsed by workers goroutines (chunk 0: one chunk per file).
func decodeWith(c model.Chain, txs, xfers string, chunk, workers int) (*Result, error) {
	d := NewDecoder(c)
	d.chunk, d.workers = chunk, workers
	if txs != "" {
		if err := d.Read(KindTransactions, strings.NewReader(txs), "transactions.csv"); err != nil {
			return nil, err
		}
	}
	if err := d.Read(KindTokenTransfers, strings.NewReader(xfers), "token_transfers.csv"); err != nil {
		return nil, err
	}
	return d.Finish()
}

// sameDecode fails t unless decoding in small chunks on two goroutines,
// and streaming the blocks, gives exactly what one chunk gives: the same
// blocks, counts and facts, or the same error (file, line, column and
// message).
func sameDecode(t *testing.T, c model.Chain, txs, xfers string, chunk int) {
	t.Helper()
	// The streaming decode too, handing over every few rows: the blocks it
	// hands over make up the same result.
	u, data := memUnit(txXfers(txs, xfers))
	sameStream(t, c, u, data, chunk, 3)
	want, werr := decodeWith(c, txs, xfers, 1<<30, 1)
	got, err := decodeWith(c, txs, xfers, chunk, 2)
	if (err != nil) != (werr != nil) || (err != nil && err.Error() != werr.Error()) {
		t.Fatalf("chunks of %d bytes: error %v\none chunk: error %v", chunk, err, werr)
	}
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("error %T is not an *etl.Error: %v", err, err)
		}
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("chunks of %d bytes decode differently:\n got %+v\nwant %+v", chunk, got, want)
	}
}

// chunkFiles is an export whose ignored "note" column holds quoted commas,
// quotes and newlines, so that cuts fall inside quoted fields unless the
// chunker avoids them.
func chunkFiles(n int) (txs, xfers string) {
	var tb, xb strings.Builder
	tb.WriteString("hash,block_number,transaction_index,from_address,to_address,value,gas_price,receipt_gas_used,receipt_status,note\n")
	xb.WriteString("token_address,note,from_address,to_address,value,transaction_hash,log_index,block_number,block_timestamp\n")
	for i := range n {
		h := 100 + i/7
		id := fmt.Sprintf("0x%064x", 0xabc000+i)
		note := ""
		switch i % 5 {
		case 1:
			note = `"a, ""quoted""` + "\nnote\n" + `spanning lines"`
		case 3:
			note = `"` + strings.Repeat("x\n", i%11) + `"`
		}
		status := 1
		if i%13 == 0 {
			status = 0
		}
		fmt.Fprintf(&tb, "%s,%d,%d,0x%040x,0x%040x,%d,7,21000,%d,%s\n", id, h, i%7, 0xa0+i%17, 0xb0+i%19, i%3, status, note)
		for l := range 1 + i%3 {
			fmt.Fprintf(&xb, "0x%040x,%s,0x%040x,0x%040x,%d,%s,%d,%d,%d\n", 0xc0+i%2, note, 0xa0+i%17, 0xd0+l, 1000*i+l, id, 10*i+2-l, h, 1_600_000_000+h)
		}
	}
	return tb.String(), xb.String()
}

// Chunked decoding against one chunk, at chunk sizes from smaller than a
// row (every cut must move past quoted newlines) to a few rows.
func TestChunkedDecodeMatches(t *testing.T) {
	txs, xfers := chunkFiles(300)
	for _, c := range []model.Chain{model.ETH, model.Tron} {
		for _, chunk := range []int{7, 64, 300, 4096} {
			sameDecode(t, c, txs, xfers, chunk)
			sameDecode(t, c, "", xfers, chunk)
		}
	}
	// The decode is real: every row of a succeeded transaction is there.
	r, err := decodeWith(model.ETH, txs, xfers, 300, 2)
	if err != nil {
		t.Fatal(err)
	}
	if r.Rows[KindTokenTransfers] != 600 || r.Rows[KindTransactions] != 300 || r.Transfers+r.DroppedFailed < 600 {
		t.Fatalf("rows %v, transfers %d, dropped %d", r.Rows, r.Transfers, r.DroppedFailed)
	}
}

// An error in a late chunk carries the file's line, not the chunk's, and
// the first error wins even when a later chunk is parsed first.
func TestChunkedDecodeErrors(t *testing.T) {
	txs, xfers := chunkFiles(200)
	lines := strings.SplitAfter(xfers, "\n")
	for _, tc := range []struct {
		name string
		edit func(string) string
		want string
	}{
		{"bad value late", func(s string) string { return strings.Replace(s, ",160000,", ",-5,", 1) }, "column value: negative amount"},
		{"two bad rows", func(s string) string {
			s = strings.Replace(s, ",150000,", ",1.5,", 1)
			return strings.Replace(s, ",190000,", ",-5,", 1)
		}, "column value: want an unsigned integer"},
		{"unclosed quote", func(s string) string { return s + `0x1,"open` + "\n" }, "quoted field not closed"},
		{"bare quote", func(s string) string { return strings.Replace(s, ",170000,", `,17"0000,`, 1) }, "bare quote"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := tc.edit(xfers)
			if bad == xfers {
				t.Fatal("edit changed nothing")
			}
			sameDecode(t, model.ETH, txs, bad, 500)
			_, err := decodeWith(model.ETH, txs, bad, 500, 2)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			var e *Error
			if !errors.As(err, &e) || e.Line < len(lines)/2 {
				t.Fatalf("error %v: want a line in the second half of the file's %d", err, len(lines))
			}
		})
	}
}

// A read error after some chunks is reported with the file name and the
// line being read, as by a sequential read.
func TestChunkedReadError(t *testing.T) {
	_, xfers := chunkFiles(200)
	for _, chunk := range []int{300, 1 << 30} {
		d := NewDecoder(model.ETH)
		d.chunk, d.workers = chunk, 2
		r := io.MultiReader(strings.NewReader(xfers[:len(xfers)*2/3]), iotest.ErrReader(errors.New("disk on fire")))
		err := d.Read(KindTokenTransfers, r, "token_transfers.csv")
		var e *Error
		if !errors.As(err, &e) || e.File != "token_transfers.csv" || !strings.Contains(e.Msg, "disk on fire") || e.Line < 100 {
			t.Fatalf("chunk %d: error %v", chunk, err)
		}
	}
}

// FuzzChunkedDecode: on arbitrary files, chunked decoding and the
// streaming decode agree with one chunk, for every chunk size.
func FuzzChunkedDecode(f *testing.F) {
	txs, xfers := chunkFiles(12)
	f.Add(txs, xfers, uint16(50))
	f.Add("", xfers, uint16(1))
	f.Add(ethFiles[KindTransactions], ethFiles[KindTokenTransfers], uint16(100))
	f.Add("", ethFiles[KindTokenTransfers]+`"x`+"\n,\n", uint16(30))
	f.Fuzz(func(t *testing.T, txs, xfers string, chunk uint16) {
		sameDecode(t, model.Tron, txs, xfers, int(chunk)+1)
	})
}

package ingest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/spoor-dev/spoor/internal/address"
	"github.com/spoor-dev/spoor/internal/chain/btc"
	"github.com/spoor-dev/spoor/internal/chain/btc/btctestdata"
	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store/pebblestore"
)

func openStore(t *testing.T) *pebblestore.Store {
	t.Helper()
	s, err := pebblestore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func digest(t *testing.T, s *pebblestore.Store) string {
	t.Helper()
	d, err := s.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// expected is an independent account of blk records: decoded with btcd's
// wire, addresses from btcd's txscript, balances from a plain UTXO map.
type expected struct {
	balance map[string]int64
	txs     map[string]map[string]bool
	nTx     int
	nXfer   int
}

func independent(t *testing.T, data []byte) *expected {
	t.Helper()
	e := &expected{balance: map[string]int64{}, txs: map[string]map[string]bool{}}
	type out struct {
		addr  string
		value int64
	}
	utxo := map[wire.OutPoint]out{}
	blocks := []*wire.MsgBlock{chaincfg.MainNetParams.GenesisBlock}
	for _, rec := range btctestdata.SplitRecords(data) {
		var mb wire.MsgBlock
		if err := mb.Deserialize(bytes.NewReader(rec[8:])); err != nil {
			t.Fatal(err)
		}
		blocks = append(blocks, &mb)
	}
	// blocks1-256 is in height order already; the ingest does not rely on it.
	for _, mb := range blocks {
		for i, tx := range mb.Transactions {
			txid := tx.TxHash()
			seen := map[string]bool{}
			if i > 0 {
				for _, in := range tx.TxIn {
					o, ok := utxo[in.PreviousOutPoint]
					if !ok {
						t.Fatalf("independent: unknown prevout %v", in.PreviousOutPoint)
					}
					delete(utxo, in.PreviousOutPoint)
					e.balance[o.addr] -= o.value
					seen[o.addr] = true
					e.nXfer++
				}
			}
			for j, o := range tx.TxOut {
				_, addrs, _, err := txscript.ExtractPkScriptAddrs(o.PkScript, &chaincfg.MainNetParams)
				if err != nil || len(addrs) != 1 {
					t.Fatalf("independent: tx %s out %d: non-standard script in early blocks", txid, j)
				}
				a := addrs[0]
				if pk, ok := a.(*btcutil.AddressPubKey); ok {
					a = pk.AddressPubKeyHash()
				}
				s := a.EncodeAddress()
				utxo[wire.OutPoint{Hash: txid, Index: uint32(j)}] = out{s, o.Value}
				e.balance[s] += o.Value
				seen[s] = true
				e.nXfer++
			}
			for a := range seen {
				if e.txs[a] == nil {
					e.txs[a] = map[string]bool{}
				}
				e.txs[a][txid.String()] = true
			}
			e.nTx++
		}
	}
	return e
}

// TestIngestRealBlocks ingests mainnet blocks 1-255 (genesis from chain
// parameters) and checks every address against the independent account.
func TestIngestRealBlocks(t *testing.T) {
	path, data := btctestdata.Blocks1To255(t)
	want := independent(t, data)
	s := openStore(t)
	res, err := BTCFiles(s, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 256 || res.Height != 255 || res.Txs != uint64(want.nTx) {
		t.Fatalf("result %+v, want 256 blocks, %d txs", res, want.nTx)
	}
	st, _ := s.Stats()
	if len(st) != 1 || st[0].Blocks != 256 || st[0].Txs != uint64(want.nTx) || st[0].Addresses != uint64(len(want.balance)) || st[0].Transfers != uint64(want.nXfer) {
		t.Fatalf("stats %+v, want %d txs, %d addresses, %d transfers", st, want.nTx, len(want.balance), want.nXfer)
	}
	cd := address.For(model.BTC)
	for a, bal := range want.balance {
		ab, err := cd.Decode(a)
		if err != nil {
			t.Fatal(err)
		}
		sum, err := s.Address(model.BTC, ab)
		if err != nil {
			t.Fatalf("%s: %v", a, err)
		}
		b := sum.Assets[0].Balance()
		if int64(b.Uint64()) != bal || sum.TxCount != uint64(len(want.txs[a])) {
			t.Fatalf("%s: balance %d tx_count %d; independent: %d, %d", a, b.Uint64(), sum.TxCount, bal, len(want.txs[a]))
		}
	}
	// Known facts: the genesis coinbase pays 50 BTC to Satoshi's address;
	// block 170 pays Hal Finney 10 BTC from the block-9 coinbase.
	hal, _ := cd.Decode("1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3")
	if sum, err := s.Address(model.BTC, hal); err != nil || sum.Assets[0].Received.Uint64() != 10_0000_0000 {
		t.Fatalf("Hal Finney's address: %+v %v", sum, err)
	}
	genesis, _ := cd.Decode("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa")
	if sum, err := s.Address(model.BTC, genesis); err != nil || sum.Assets[0].Received.Uint64() != 50_0000_0000 || sum.FirstSeen != 1231006505 {
		t.Fatalf("genesis address: %+v %v", sum, err)
	}
	var id [32]byte
	copy(id[:], mustHex("f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16"))
	tv, err := s.Tx(model.BTC, id)
	if err != nil {
		t.Fatal(err)
	}
	if tv.BlockHeight != 170 || len(tv.Inputs) != 1 || tv.Inputs[0].Value != 50_0000_0000 || cd.MustEncode(tv.Inputs[0].Address) != "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S" ||
		tv.Outputs[0].Value != 10_0000_0000 || tv.Outputs[0].ScriptType != model.ScriptP2PK || tv.Fee.Uint64() != 0 || tv.Outputs[1].SpentBy == nil {
		t.Fatalf("block 170 payment: %+v", tv)
	}
	// Idempotent: the same file again changes nothing.
	before := digest(t, s)
	res, err = BTCFiles(s, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 0 || res.Skipped != 256 || digest(t, s) != before {
		t.Fatalf("second ingest %+v changed the store", res)
	}
}

func mustHex(s string) []byte {
	b := make([]byte, len(s)/2)
	for i := range b {
		var v byte
		for _, c := range s[2*i : 2*i+2] {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= byte(c - '0')
			default:
				v |= byte(c-'a') + 10
			}
		}
		b[i] = v
	}
	return b
}

// TestIngestBadInputLeavesStore ingests part of the chain, then feeds
// damaged files: the error names file and offset (or block), and the store
// is exactly as before each failed ingest.
func TestIngestBadInputLeavesStore(t *testing.T) {
	_, data := btctestdata.Blocks1To255(t)
	recs := btctestdata.SplitRecords(data)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	s := openStore(t)
	if _, err := BTCFiles(s, write("first.dat", bytes.Join(recs[:100], nil)), Options{BatchTxs: 7}); err != nil {
		t.Fatal(err)
	}
	before := digest(t, s)

	// A block whose body is garbage after a valid header (framing intact):
	// earlier blocks of this ingest are applied in batches, then undone.
	corrupt := bytes.Join(recs, nil)
	off := 0
	for _, r := range recs[:200] {
		off += len(r)
	}
	corrupt[off+8+80] = 0xfd // tx count varint now claims far more txs than bytes
	corrupt[off+8+81] = 0xff
	corrupt[off+8+82] = 0xff
	p := write("corrupt.dat", corrupt)
	_, err := BTCFiles(s, p, Options{BatchTxs: 7})
	if err == nil || !errors.Is(err, btc.ErrBadBlockFile) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "block 201") {
		t.Fatalf("corrupt block: err = %v", err)
	}
	if digest(t, s) != before {
		t.Fatal("failed ingest of a corrupt block changed the store")
	}
	// Truncated file: refused before anything is applied.
	_, err = BTCFiles(s, write("trunc.dat", bytes.Join(recs, nil)[:off+100]), Options{})
	var fe *btc.FileError
	if !errors.As(err, &fe) || fe.Offset != int64(off) {
		t.Fatalf("truncated: err = %v", err)
	}
	if digest(t, s) != before {
		t.Fatal("truncated file changed the store")
	}
	// The rest of the chain still continues from where the store is.
	if _, err := BTCFiles(s, write("rest.dat", bytes.Join(recs[100:], nil)), Options{BatchTxs: 7}); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.Mark(model.BTC); m.Height != 255 {
		t.Fatalf("height %d after completing the chain", m.Height)
	}
}

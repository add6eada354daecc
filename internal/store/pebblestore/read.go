package pebblestore

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/spoor-dev/spoor/internal/model"
	"github.com/spoor-dev/spoor/internal/store"
)

// BlockHash implements store.Reader.
func (s *Store) BlockHash(c model.Chain, height uint64) ([32]byte, error) {
	b, err := s.Block(c, height)
	if err != nil {
		return [32]byte{}, err
	}
	return b.Hash, nil
}

// Block implements store.Reader.
func (s *Store) Block(c model.Chain, height uint64) (*store.BlockInfo, error) {
	v, err := s.get(blockKey(byte(c), height))
	if err != nil {
		return nil, err
	}
	rec, err := decodeBlock(height, v)
	if err != nil {
		return nil, err
	}
	return &rec.BlockInfo, nil
}

func (s *Store) addrIDOf(c model.Chain, addr []byte) (uint64, error) {
	v, err := s.get(addrKey(byte(c), addr))
	if err != nil {
		return 0, err
	}
	id, n := binary.Uvarint(v)
	if n <= 0 {
		return 0, fmt.Errorf("%w: address id", errCorrupt)
	}
	return id, nil
}

func (s *Store) addrBytes(c model.Chain, id uint64) ([]byte, error) {
	if id == 0 {
		return nil, nil
	}
	return s.get(addrRevKey(byte(c), id))
}

// asset returns the asset with id on chain c.
func (s *Store) asset(c model.Chain, id uint32) (model.Asset, error) {
	if id == 0 {
		return model.Asset{Chain: c, Symbol: c.NativeSymbol(), Decimals: c.NativeDecimals()}, nil
	}
	v, err := s.get(assetRevKey(byte(c), id))
	if err != nil {
		return model.Asset{}, fmt.Errorf("asset %d: %w", id, err)
	}
	a, err := decodeAssetRec(v)
	if err != nil {
		return model.Asset{}, err
	}
	return model.Asset{Chain: c, ID: model.AssetID(id), Contract: a.Contract, Symbol: a.Symbol, Decimals: a.Decimals}, nil
}

// Address implements store.Reader.
func (s *Store) Address(c model.Chain, addr []byte) (*store.AddressSummary, error) {
	id, err := s.addrIDOf(c, addr)
	if err != nil {
		return nil, err
	}
	v, err := s.get(aggKey(byte(c), id))
	if errors.Is(err, store.ErrNotFound) {
		return &store.AddressSummary{Chain: c, Address: addr, ID: id}, nil
	}
	if err != nil {
		return nil, err
	}
	g, err := decodeAgg(v)
	if err != nil {
		return nil, err
	}
	sum := &store.AddressSummary{Chain: c, Address: addr, ID: id, TxCount: g.TxCount, FirstSeen: g.First, LastSeen: g.Last}
	for _, x := range g.Assets {
		a, err := s.asset(c, x.Asset)
		if err != nil {
			return nil, err
		}
		sum.Assets = append(sum.Assets, store.AssetTotals{Asset: a, Received: x.Received, Sent: x.Sent, TransfersIn: x.NIn, TransfersOut: x.NOut})
	}
	return sum, nil
}

// AddressTxs implements store.Reader.
func (s *Store) AddressTxs(c model.Chain, addr []byte, after uint64, limit int) ([]store.AddressTx, error) {
	id, err := s.addrIDOf(c, addr)
	if err != nil {
		return nil, err
	}
	var out []store.AddressTx
	errStop := errors.New("stop")
	err = s.each(s.db, adjKey(byte(c), id, after+1, 0), adjKey(byte(c), id+1, 0, 0), func(k, v []byte) error {
		if limit > 0 && len(out) >= limit {
			return errStop
		}
		in, o, _, _, err := decodeAdj(v)
		if err != nil {
			return err
		}
		out = append(out, store.AddressTx{
			TxNum: binary.BigEndian.Uint64(k[10:18]),
			Asset: model.AssetID(binary.BigEndian.Uint32(k[18:22])),
			In:    in, Out: o,
		})
		return nil
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	return out, err
}

func (s *Store) txByNum(c model.Chain, n uint64) (*txRec, error) {
	v, err := s.get(txKey(byte(c), n))
	if err != nil {
		return nil, fmt.Errorf("tx number %d: %w", n, err)
	}
	return decodeTx(v)
}

// TxByNum returns a transaction by its number (as listed by AddressTxs).
func (s *Store) TxByNum(c model.Chain, n uint64) (*store.TxView, error) {
	t, err := s.txByNum(c, n)
	if err != nil {
		return nil, err
	}
	return s.view(c, n, t)
}

// Tx implements store.Reader.
func (s *Store) Tx(c model.Chain, txid [32]byte) (*store.TxView, error) {
	v, err := s.get(txidKey(byte(c), &txid))
	if err != nil {
		return nil, err
	}
	n, k := binary.Uvarint(v)
	if k <= 0 {
		return nil, fmt.Errorf("%w: txid index", errCorrupt)
	}
	return s.TxByNum(c, n)
}

func (s *Store) view(c model.Chain, n uint64, t *txRec) (*store.TxView, error) {
	tv := &store.TxView{Chain: c, TxID: t.ID, TxNum: n, BlockHeight: t.Height, Index: t.Index,
		Coinbase: t.Flags&flagCoinbase != 0, Failed: t.Flags&flagFailed != 0, Fee: t.Fee}
	if b, err := s.Block(c, t.Height); err == nil {
		tv.Time = b.Time
	}
	var err error
	if tv.FeePayer, err = s.addrBytes(c, t.FeePayer); err != nil {
		return nil, err
	}
	for _, in := range t.Inputs {
		prev, err := s.txByNum(c, in.PrevTx)
		if err != nil {
			return nil, err
		}
		a, err := s.addrBytes(c, in.Addr)
		if err != nil {
			return nil, err
		}
		tv.Inputs = append(tv.Inputs, store.TxInput{Address: a, Value: in.Value, ScriptType: model.ScriptType(in.Script), PrevTxID: prev.ID, PrevIndex: in.PrevIndex})
	}
	for i, o := range t.Outputs {
		a, err := s.addrBytes(c, o.Addr)
		if err != nil {
			return nil, err
		}
		out := store.TxOutput{Index: uint32(i), Address: a, Value: o.Value, ScriptType: model.ScriptType(o.Script)}
		if v, err := s.get(spentKey(byte(c), n, uint32(i))); err == nil {
			sn, _ := binary.Uvarint(v)
			sp, err := s.txByNum(c, sn)
			if err != nil {
				return nil, err
			}
			id := sp.ID
			out.SpentBy = &id
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		tv.Outputs = append(tv.Outputs, out)
	}
	for _, x := range t.Transfers {
		from, err := s.addrBytes(c, x.From)
		if err != nil {
			return nil, err
		}
		to, err := s.addrBytes(c, x.To)
		if err != nil {
			return nil, err
		}
		a, err := s.asset(c, x.Asset)
		if err != nil {
			return nil, err
		}
		tv.Transfers = append(tv.Transfers, store.TxTransfer{From: from, To: to, Asset: a, Value: x.Value, LogIndex: x.LogIndex})
	}
	return tv, nil
}

// Assets implements store.Reader.
func (s *Store) Assets(c model.Chain) ([]model.Asset, error) {
	out := []model.Asset{{Chain: c, Symbol: c.NativeSymbol(), Decimals: c.NativeDecimals()}}
	err := s.each(s.db, assetRevKey(byte(c), 1), prefixEnd(key(tAssetRev, byte(c), 0)), func(k, v []byte) error {
		a, err := decodeAssetRec(v)
		if err != nil {
			return err
		}
		out = append(out, model.Asset{Chain: c, ID: model.AssetID(binary.BigEndian.Uint32(k[2:6])), Contract: a.Contract, Symbol: a.Symbol, Decimals: a.Decimals})
		return nil
	})
	return out, err
}

// Stats implements store.Reader.
func (s *Store) Stats() ([]store.ChainStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.ChainStats
	for _, c := range model.AllChains {
		st, err := s.state(c)
		if err != nil {
			return nil, err
		}
		m := st.meta
		if !m.HasBlocks && m.Txs == 0 {
			continue
		}
		out = append(out, store.ChainStats{Chain: c, Network: m.Network, Height: m.Height, Blocks: m.Blocks,
			Txs: m.Txs, Addresses: m.NextAddr - 1, Transfers: m.Transfers})
	}
	return out, nil
}

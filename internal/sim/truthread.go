package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
)

// Truth is truth.json read back: for `spoor demo`, for analytics tests that
// score clustering, tracing and detection against a world, and for anyone
// who wants the answers. The schema is in the package documentation.
type Truth struct {
	Version      int              `json:"version"`
	Seed         uint64           `json:"seed"`
	Scale        string           `json:"scale"`
	Start        string           `json:"start"`
	End          string           `json:"end"`
	USDThreshold string           `json:"usd_threshold"`
	Assets       []TruthAsset     `json:"assets"`
	Actors       []TruthActor     `json:"actors"`
	Typologies   []TruthTypology  `json:"typologies"`
	Flows        []TruthFlow      `json:"flows"`
	Openings     []TruthBalance   `json:"openings"`
	Balances     []TruthBalance   `json:"balances"`
	owners       map[string]int32 // "chain:address" → index into Actors
}

// TruthAsset is an asset of the world.
type TruthAsset struct {
	Chain    string `json:"chain"`
	Asset    string `json:"asset"`
	Contract string `json:"contract,omitempty"`
	Decimals int    `json:"decimals"`
}

// TruthAddress is one address an actor controls.
type TruthAddress struct {
	Chain   string `json:"chain"`
	Address string `json:"address"`
}

// TruthActor is an actor and every address it controls.
type TruthActor struct {
	ID        string         `json:"id"`
	Kind      string         `json:"kind"`
	Role      string         `json:"role"`
	Name      string         `json:"name"`
	Addresses []TruthAddress `json:"addresses"`
}

// TruthTransfer is one transfer of a planted typology.
type TruthTransfer struct {
	Chain string `json:"chain"`
	TxID  string `json:"txid"`
	Vout  int32  `json:"vout"`
	From  string `json:"from"`
	To    string `json:"to"`
	Asset string `json:"asset"`
	Value string `json:"value"`
}

// TruthTypology is one planted instance.
type TruthTypology struct {
	ID        string            `json:"id"`
	Kind      string            `json:"kind"`
	TF        bool              `json:"tf"`
	Actors    []string          `json:"actors"`
	Params    map[string]string `json:"params"`
	Transfers []TruthTransfer   `json:"transfers"`
}

// TruthFlow is a TF flow from a campaign to a cash-out deposit address.
type TruthFlow struct {
	ID       string   `json:"id"`
	Campaign string   `json:"campaign"`
	Cashout  string   `json:"cashout"`
	Chain    string   `json:"chain"`
	Asset    string   `json:"asset"`
	From     string   `json:"from"`
	To       string   `json:"to"`
	Value    string   `json:"value"`
	Path     []string `json:"path"`
}

// TruthBalance is an address's balance of one asset in base units.
type TruthBalance struct {
	Chain   string `json:"chain"`
	Address string `json:"address"`
	Asset   string `json:"asset"`
	Balance string `json:"balance"`
}

// ReadTruth reads and checks a truth.json. Errors name the file and, for
// malformed JSON, the line.
func ReadTruth(path string) (*Truth, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	return parseTruth(b, path)
}

// parseTruth decodes truth.json content; path names it in errors.
func parseTruth(b []byte, path string) (*Truth, error) {
	var t Truth
	if err := json.Unmarshal(b, &t); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return nil, fmt.Errorf("sim: %s:%d: %v", path, lineAt(b, se.Offset), err)
		case errors.As(err, &te):
			return nil, fmt.Errorf("sim: %s:%d: field %s: %v", path, lineAt(b, te.Offset), te.Field, err)
		}
		return nil, fmt.Errorf("sim: %s: %w", path, err)
	}
	if t.Version != 1 {
		return nil, fmt.Errorf("sim: %s: truth version %d, this spoor reads version 1", path, t.Version)
	}
	t.owners = map[string]int32{}
	for i, a := range t.Actors {
		for _, ad := range a.Addresses {
			t.owners[ad.Chain+":"+ad.Address] = int32(i)
		}
	}
	return &t, nil
}

func lineAt(b []byte, off int64) int {
	off = min(max(off, 0), int64(len(b)))
	return 1 + bytes.Count(b[:off], []byte{'\n'})
}

// Owner returns the actor that controls an address (chain "btc", "tron",
// "eth"; address in display form).
func (t *Truth) Owner(chain, address string) (*TruthActor, bool) {
	i, ok := t.owners[chain+":"+address]
	if !ok {
		return nil, false
	}
	return &t.Actors[i], true
}

// Actor returns the actor with an id.
func (t *Truth) Actor(id string) (*TruthActor, bool) {
	for i := range t.Actors {
		if t.Actors[i].ID == id {
			return &t.Actors[i], true
		}
	}
	return nil, false
}

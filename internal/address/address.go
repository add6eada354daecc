// Package address converts addresses between their canonical byte form (what
// spoor stores) and the display forms users type and read: Bitcoin base58check
// and bech32/bech32m, Tron base58check "T…", hex "41…" and EVM "0x…", and
// Ethereum EIP-55 checksummed hex. Every parser validates checksums.
package address

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/base58"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/spoor-dev/spoor/internal/model"
	"golang.org/x/crypto/sha3"
)

// ErrInvalid marks every address that fails to parse or validate.
var ErrInvalid = errors.New("address: invalid")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// Bitcoin canonical bytes: one kind byte, then the hash. The kind equals the
// model.ScriptType whose address form it is (P2PK is stored as P2PKH).
const (
	BTCKindP2PKH  = byte(model.ScriptP2PKH)
	BTCKindP2SH   = byte(model.ScriptP2SH)
	BTCKindP2WPKH = byte(model.ScriptP2WPKH)
	BTCKindP2WSH  = byte(model.ScriptP2WSH)
	BTCKindP2TR   = byte(model.ScriptP2TR)
	// BTCKindScript is a pseudo-address: sha256 of a non-standard output script.
	BTCKindScript = byte(model.ScriptNonStandard)
)

// ScriptPrefix starts the display form of a Bitcoin pseudo-address.
const ScriptPrefix = "script-"

// BTCEncode renders canonical Bitcoin address bytes for the network.
func BTCEncode(b []byte, params *chaincfg.Params) (string, error) {
	if len(b) < 1 {
		return "", invalid("empty bitcoin address")
	}
	h := b[1:]
	var (
		a   btcutil.Address
		err error
	)
	switch b[0] {
	case BTCKindP2PKH:
		a, err = btcutil.NewAddressPubKeyHash(h, params)
	case BTCKindP2SH:
		a, err = btcutil.NewAddressScriptHashFromHash(h, params)
	case BTCKindP2WPKH:
		a, err = btcutil.NewAddressWitnessPubKeyHash(h, params)
	case BTCKindP2WSH:
		a, err = btcutil.NewAddressWitnessScriptHash(h, params)
	case BTCKindP2TR:
		a, err = btcutil.NewAddressTaproot(h, params)
	case BTCKindScript:
		return ScriptPrefix + hex.EncodeToString(h), nil
	default:
		return "", invalid("bitcoin address kind %d", b[0])
	}
	if err != nil {
		return "", invalid("bitcoin address: %v", err)
	}
	return a.EncodeAddress(), nil
}

// BTCDecode parses a Bitcoin address (or a spoor pseudo-address) for the network.
func BTCDecode(s string, params *chaincfg.Params) ([]byte, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, ScriptPrefix) {
		h, err := hex.DecodeString(s[len(ScriptPrefix):])
		if err != nil || len(h) != 32 {
			return nil, invalid("pseudo-address %q: want %s + 64 hex digits", s, ScriptPrefix)
		}
		return append([]byte{BTCKindScript}, h...), nil
	}
	a, err := btcutil.DecodeAddress(s, params)
	if err != nil {
		return nil, invalid("bitcoin address %q: %v", s, err)
	}
	if !a.IsForNet(params) {
		return nil, invalid("bitcoin address %q is not for network %s", s, params.Name)
	}
	switch a := a.(type) {
	case *btcutil.AddressPubKeyHash:
		return append([]byte{BTCKindP2PKH}, a.Hash160()[:]...), nil
	case *btcutil.AddressPubKey:
		return append([]byte{BTCKindP2PKH}, a.AddressPubKeyHash().Hash160()[:]...), nil
	case *btcutil.AddressScriptHash:
		return append([]byte{BTCKindP2SH}, a.Hash160()[:]...), nil
	case *btcutil.AddressWitnessPubKeyHash:
		return append([]byte{BTCKindP2WPKH}, a.WitnessProgram()...), nil
	case *btcutil.AddressWitnessScriptHash:
		return append([]byte{BTCKindP2WSH}, a.WitnessProgram()...), nil
	case *btcutil.AddressTaproot:
		return append([]byte{BTCKindP2TR}, a.WitnessProgram()...), nil
	}
	return nil, invalid("bitcoin address %q: unsupported kind %T", s, a)
}

// TronPrefix is the first byte of every Tron mainnet address.
const TronPrefix = 0x41

// TronEncode renders 21 canonical bytes (0x41 ‖ 20) as base58check "T…".
func TronEncode(b []byte) (string, error) {
	if len(b) != 21 || b[0] != TronPrefix {
		return "", invalid("tron address bytes: want 21 bytes starting 0x41, got %d bytes", len(b))
	}
	return base58.CheckEncode(b[1:], TronPrefix), nil
}

// TronDecode parses any Tron form: base58check "T…", hex "41…" (42 digits),
// or EVM "0x…" (40 digits). It returns the 21 canonical bytes.
func TronDecode(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "T") && len(s) == 34:
		payload, ver, err := base58.CheckDecode(s)
		if err != nil {
			return nil, invalid("tron address %q: %v", s, err)
		}
		if ver != TronPrefix || len(payload) != 20 {
			return nil, invalid("tron address %q: version 0x%02x, %d-byte payload", s, ver, len(payload))
		}
		return append([]byte{TronPrefix}, payload...), nil
	case len(s) == 42 && (strings.HasPrefix(s, "41")):
		b, err := hex.DecodeString(s)
		if err != nil {
			return nil, invalid("tron hex address %q: %v", s, err)
		}
		return b, nil
	case len(s) == 42 && (strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X")):
		b, err := hex.DecodeString(s[2:])
		if err != nil {
			return nil, invalid("tron EVM address %q: %v", s, err)
		}
		return append([]byte{TronPrefix}, b...), nil
	}
	return nil, invalid("tron address %q: want T… (34 chars), 41… (42 hex) or 0x… (40 hex)", s)
}

// TronFromEVM turns 20 EVM bytes (as in logs) into canonical Tron bytes.
func TronFromEVM(b []byte) []byte { return append([]byte{TronPrefix}, b...) }

// ETHEncode renders 20 bytes as EIP-55 mixed-case hex.
func ETHEncode(b []byte) (string, error) {
	if len(b) != 20 {
		return "", invalid("ethereum address bytes: want 20, got %d", len(b))
	}
	return eip55(hex.EncodeToString(b)), nil
}

func eip55(lowerHex string) string {
	h := sha3.NewLegacyKeccak256()
	h.Write([]byte(lowerHex))
	sum := h.Sum(nil)
	out := []byte("0x" + lowerHex)
	for i := 0; i < len(lowerHex); i++ {
		c := lowerHex[i]
		if c >= 'a' && c <= 'f' {
			nib := sum[i/2]
			if i%2 == 0 {
				nib >>= 4
			}
			if nib&0xf >= 8 {
				out[i+2] = c - 'a' + 'A'
			}
		}
	}
	return string(out)
}

// ETHDecode parses "0x" + 40 hex digits. All-lower or all-upper input is
// accepted as is; mixed case must carry a valid EIP-55 checksum.
func ETHDecode(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) != 42 || !(strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X")) {
		return nil, invalid("ethereum address %q: want 0x + 40 hex digits", s)
	}
	digits := s[2:]
	b, err := hex.DecodeString(digits)
	if err != nil {
		return nil, invalid("ethereum address %q: %v", s, err)
	}
	if digits != strings.ToLower(digits) && digits != strings.ToUpper(digits) {
		if eip55(strings.ToLower(digits)) != "0x"+digits {
			return nil, invalid("ethereum address %q: bad EIP-55 checksum", s)
		}
	}
	return b, nil
}

// Codec renders and parses the addresses of one chain.
type Codec struct {
	Chain  model.Chain
	Params *chaincfg.Params // Bitcoin network; nil means mainnet
}

// BTCParams returns a Bitcoin network's parameters by the name btcd gives it
// ("mainnet", "testnet3", "regtest", "signet", "simnet"); anything else is
// mainnet.
func BTCParams(name string) *chaincfg.Params {
	for _, p := range []*chaincfg.Params{&chaincfg.MainNetParams, &chaincfg.TestNet3Params, &chaincfg.RegressionNetParams, &chaincfg.SigNetParams, &chaincfg.SimNetParams} {
		if p.Name == name {
			return p
		}
	}
	return &chaincfg.MainNetParams
}

// For returns the codec of a chain on its main network.
func For(c model.Chain) Codec { return Codec{Chain: c} }

func (c Codec) btcParams() *chaincfg.Params {
	if c.Params == nil {
		return &chaincfg.MainNetParams
	}
	return c.Params
}

// Encode renders canonical bytes in the chain's display form.
func (c Codec) Encode(b []byte) (string, error) {
	switch c.Chain {
	case model.BTC:
		return BTCEncode(b, c.btcParams())
	case model.Tron:
		return TronEncode(b)
	case model.ETH:
		return ETHEncode(b)
	case model.XMR:
		return string(b), nil
	}
	return "", invalid("no codec for chain %s", c.Chain)
}

// MustEncode is Encode for bytes the store produced; it never fails on them
// and falls back to hex otherwise.
func (c Codec) MustEncode(b []byte) string {
	s, err := c.Encode(b)
	if err != nil {
		return "0x" + hex.EncodeToString(b)
	}
	return s
}

// Decode parses a display form into canonical bytes.
func (c Codec) Decode(s string) ([]byte, error) {
	switch c.Chain {
	case model.BTC:
		return BTCDecode(s, c.btcParams())
	case model.Tron:
		return TronDecode(s)
	case model.ETH:
		return ETHDecode(s)
	case model.XMR:
		return []byte(strings.TrimSpace(s)), nil
	}
	return nil, invalid("no codec for chain %s", c.Chain)
}

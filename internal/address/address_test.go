package address

import (
	"encoding/hex"
	"errors"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/spoor-dev/spoor/internal/model"
)

func TestTronVector(t *testing.T) {
	const b58, hx = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "41a614f803b6fd780986a42c78ec9c7f77e6ded13c"
	for _, in := range []string{b58, hx, "0x" + hx[2:]} {
		b, err := TronDecode(in)
		if err != nil {
			t.Fatalf("decode %s: %v", in, err)
		}
		if got := hex.EncodeToString(b); got != hx {
			t.Fatalf("decode %s = %s, want %s", in, got, hx)
		}
		s, err := TronEncode(b)
		if err != nil || s != b58 {
			t.Fatalf("encode = %q, %v; want %s", s, err, b58)
		}
	}
	// one changed character breaks the checksum
	if _, err := TronDecode("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad checksum accepted: %v", err)
	}
}

func TestEIP55(t *testing.T) {
	// vectors from EIP-55
	for _, s := range []string{
		"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
		"0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
		"0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
		"0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
	} {
		b, err := ETHDecode(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		got, _ := ETHEncode(b)
		if got != s {
			t.Fatalf("encode = %s, want %s", got, s)
		}
	}
	if _, err := ETHDecode("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad EIP-55 checksum accepted: %v", err)
	}
	if _, err := ETHDecode("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed"); err != nil {
		t.Fatalf("lower-case address rejected: %v", err)
	}
}

func TestBTCRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		s    string
		kind byte
	}{
		{"1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", BTCKindP2PKH},
		{"3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", BTCKindP2SH},
		{"bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", BTCKindP2WPKH},
		{"bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3", BTCKindP2WSH},
		{"bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", BTCKindP2TR},
		{ScriptPrefix + "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", BTCKindScript},
	} {
		b, err := BTCDecode(tc.s, &chaincfg.MainNetParams)
		if err != nil {
			t.Fatalf("%s: %v", tc.s, err)
		}
		if b[0] != tc.kind {
			t.Fatalf("%s: kind %d want %d", tc.s, b[0], tc.kind)
		}
		got, err := For(model.BTC).Encode(b)
		if err != nil || got != tc.s {
			t.Fatalf("round trip %s -> %s (%v)", tc.s, got, err)
		}
	}
	if _, err := BTCDecode("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", &chaincfg.MainNetParams); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad checksum accepted: %v", err)
	}
	if _, err := BTCDecode("mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn", &chaincfg.MainNetParams); !errors.Is(err, ErrInvalid) {
		t.Fatalf("testnet address accepted on mainnet: %v", err)
	}
}

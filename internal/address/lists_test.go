package address

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"math/big"
	"os"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/spoor-dev/spoor/internal/sharedtest"
	"golang.org/x/crypto/sha3"
)

// b58check decodes base58check with math/big and sha256 only: an
// implementation independent of the codec's (btcutil's base58).
func b58check(s string) ([]byte, bool) {
	const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
	n := new(big.Int)
	for _, r := range s {
		i := strings.IndexRune(alphabet, r)
		if i < 0 {
			return nil, false
		}
		n.Mul(n, big.NewInt(58)).Add(n, big.NewInt(int64(i)))
	}
	b := n.Bytes()
	for _, r := range s {
		if r != '1' {
			break
		}
		b = append([]byte{0}, b...)
	}
	if len(b) < 5 {
		return nil, false
	}
	body, sum := b[:len(b)-4], b[len(b)-4:]
	h1 := sha256.Sum256(body)
	h2 := sha256.Sum256(h1[:])
	return body, bytes.Equal(h2[:4], sum)
}

// eip55 applies the EIP-55 rule directly: a hex letter is upper case when
// the matching nibble of keccak256(lower-case hex) is >= 8.
func eip55Independent(b []byte) string {
	lower := hex.EncodeToString(b)
	h := sha3.NewLegacyKeccak256()
	h.Write([]byte(lower))
	sum := h.Sum(nil)
	out := []byte(lower)
	for i, c := range out {
		nib := sum[i/2] >> 4
		if i%2 == 1 {
			nib = sum[i/2] & 0xf
		}
		if c >= 'a' && nib >= 8 {
			out[i] = c - 32
		}
	}
	return "0x" + string(out)
}

func readLines(t *testing.T, p string) []string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// checkTron decodes a real Tron address in all three forms, re-encodes it
// exactly, and agrees with the independent base58check decoder.
func checkTron(t *testing.T, where, s string) {
	t.Helper()
	b, err := TronDecode(s)
	if err != nil {
		t.Errorf("%s: %s: %v", where, s, err)
		return
	}
	if got, err := TronEncode(b); err != nil || got != s {
		t.Errorf("%s: %s re-encodes as %q (%v)", where, s, got, err)
	}
	ind, ok := b58check(s)
	if !ok || !bytes.Equal(ind, b) {
		t.Errorf("%s: %s: independent decoder gives %x (checksum ok %v), codec %x", where, s, ind, ok, b)
	}
	for _, other := range []string{hex.EncodeToString(b), "0x" + hex.EncodeToString(b[1:])} {
		if b2, err := TronDecode(other); err != nil || !bytes.Equal(b2, b) {
			t.Errorf("%s: %s as %s decodes to %x (%v)", where, s, other, b2, err)
		}
	}
}

func checkETH(t *testing.T, where, s string) {
	t.Helper()
	b, err := ETHDecode(s)
	if err != nil {
		t.Errorf("%s: %s: %v", where, s, err)
		return
	}
	got, err := ETHEncode(b)
	want := eip55Independent(b)
	if err != nil || got != want {
		t.Errorf("%s: %s encodes as %q, independent EIP-55 %q", where, s, got, want)
	}
	if s != strings.ToLower(s) && got != s {
		t.Errorf("%s: checksummed %s re-encodes as %s", where, s, got)
	}
}

// TestOFACListsRoundTrip: every Tron, Ethereum (and, in the USDT lists,
// Omni-on-Bitcoin) address of the real OFAC lists decodes and re-encodes
// exactly.
func TestOFACListsRoundTrip(t *testing.T) {
	counts := map[string]int{}
	for _, rel := range []string{
		"ofac_2025-11-19/sanctioned_addresses_TRX.txt", "ofac_2025-11-19/sanctioned_addresses_USDT.txt",
		"ofac_2025-11-19/sanctioned_addresses_ETH.txt", "ofac_2024-09-27/sanctioned_addresses_TRX.txt",
		"ofac_2024-09-27/sanctioned_addresses_USDT.txt",
	} {
		for i, s := range readLines(t, sharedtest.Lists(t, rel)) {
			where := rel + ":" + itoa(i+1)
			switch {
			case strings.HasPrefix(s, "T"):
				checkTron(t, where, s)
				counts["tron"]++
			case strings.HasPrefix(s, "0x"):
				checkETH(t, where, s)
				counts["eth"]++
			default:
				b, err := BTCDecode(s, &chaincfg.MainNetParams)
				if err != nil {
					t.Errorf("%s: %s: %v", where, s, err)
					continue
				}
				if got, err := BTCEncode(b, &chaincfg.MainNetParams); err != nil || got != s {
					t.Errorf("%s: %s re-encodes as %q (%v)", where, s, got, err)
				}
				counts["btc"]++
			}
		}
	}
	// Tron 29 + 78 + 6 + 11; Ethereum 8 + 77 + 8; Bitcoin (Omni USDT) 7 + 7.
	if counts["tron"] != 124 || counts["eth"] != 93 || counts["btc"] != 14 {
		t.Fatalf("address counts %v", counts)
	}
}

// TestNBCTFTronRoundTrip: the 686 Tron wallet addresses of Israel's NBCTF
// seizure orders (normalised column wallet_address) decode and re-encode
// exactly; the look-alike letters of wallet_address_as_published are
// refused where they differ.
func TestNBCTFTronRoundTrip(t *testing.T) {
	f, err := os.Open(sharedtest.Lists(t, "nbctf_il_mod_crypto_wallets_nopii.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	n, lookalike := 0, 0
	for i, r := range rows[1:] {
		if r[col["chain_guess"]] != "tron" {
			continue
		}
		where := "nbctf:" + itoa(i+2)
		s := r[col["wallet_address"]]
		checkTron(t, where, s)
		n++
		if pub := r[col["wallet_address_as_published"]]; pub != s {
			lookalike++
			if b, err := TronDecode(pub); err == nil {
				t.Errorf("%s: look-alike %q accepted as %x", where, pub, b)
			}
		}
	}
	if n != 686 {
		t.Fatalf("%d Tron rows, want 686", n)
	}
	if lookalike == 0 {
		t.Fatalf("no look-alike rows among the Tron addresses: the test checks nothing there")
	}
}

func itoa(i int) string { return big.NewInt(int64(i)).String() }

package attrib

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/spoor-dev/spoor/internal/address"
	"github.com/spoor-dev/spoor/internal/model"
)

// lookalikes maps letters of other scripts that look like Latin letters to
// the Latin letters they may stand for, the likelier first. Cyrillic, Greek
// and Armenian letters and Latin small capitals are all seen in published
// seizure orders (94 rows of the NBCTF list).
var lookalikes = map[rune]string{
	// Greek capitals and small letters.
	'Α': "A", 'Β': "B", 'Ε': "E", 'Ζ': "Z", 'Η': "H", 'Ι': "I", 'Κ': "K", 'Μ': "M",
	'Ν': "N", 'Ο': "O", 'Ρ': "P", 'Τ': "T", 'Υ': "Y", 'Χ': "X", 'Ϲ': "C", 'Ϳ': "J",
	'α': "a", 'ι': "i", 'κ': "k", 'ν': "v", 'ο': "o", 'ρ': "p", 'υ': "u", 'ϲ': "c", 'ϳ': "j",
	// Cyrillic capitals.
	'А': "A", 'В': "B", 'Е': "E", 'К': "K", 'М': "M", 'Н': "H", 'О': "O", 'Р': "P",
	'С': "C", 'Т': "T", 'Х': "X", 'У': "Y", 'Ү': "Y", 'Ѕ': "S", 'І': "I", 'Ј': "J",
	'Ԍ': "G", 'Ԛ': "Q", 'Ԝ': "W", 'Ӏ': "I",
	// Cyrillic small letters (those shaped like small capitals may be either case).
	'а': "a", 'е': "e", 'о': "o", 'р': "p", 'с': "c", 'у': "y", 'х': "x", 'ѕ': "s",
	'і': "i", 'ј': "j", 'ԁ': "d", 'ԛ': "q", 'ԝ': "w", 'һ': "h", 'ү': "y",
	'к': "kK", 'м': "mM", 'т': "tT", 'в': "bB", 'н': "hH",
	// Armenian.
	'Ս': "U", 'Օ': "O", 'հ': "h", 'ո': "n", 'ս': "u", 'օ': "o", 'զ': "q", 'ց': "g",
	// Latin small capitals and similar.
	'ᴀ': "aA", 'ʙ': "bB", 'ᴄ': "cC", 'ᴅ': "dD", 'ᴇ': "eE", 'ɢ': "gG", 'ʜ': "hH", 'ɪ': "iI",
	'ᴊ': "jJ", 'ᴋ': "kK", 'ʟ': "lL", 'ᴍ': "mM", 'ɴ': "nN", 'ᴏ': "oO", 'ᴑ': "oO", 'ᴘ': "pP",
	'ʀ': "rR", 'ꜱ': "sS", 'ᴛ': "tT", 'ᴜ': "uU", 'ᴠ': "vV", 'ᴡ': "wW", 'ʏ': "yY", 'ᴢ': "zZ",
}

// invisible runes are dropped from published addresses (copy-paste debris).
func invisible(r rune) bool {
	return r == '\u200b' || r == '\u200c' || r == '\u200d' || r == '\ufeff' || r == '\u00a0' || r == '\u2060'
}

// maxCandidates bounds the repairs tried for one address.
const maxCandidates = 1 << 10

// Address is a validated published address.
type Address struct {
	Chain model.Chain
	Bytes []byte // canonical
	Text  string // the published form, repaired
	// Repair says what was changed ("" if nothing): each replaced letter
	// with its Unicode name and position.
	Repair string
}

// ParseAddress validates a published address of chain c. Letters of other
// scripts that look like Latin ones are replaced only when exactly one
// replacement gives an address that validates (checksum included); the
// change is reported in Repair. Anything else is an error naming the reason.
func ParseAddress(c model.Chain, s string) (Address, error) { return ParseAddressOn(c, s, "") }

// ParseAddressOn is ParseAddress with Bitcoin addresses read for the named
// network ("regtest", "testnet3"…; "" is mainnet). Canonical bytes do not
// carry the network, so a list must say which one its addresses are for.
func ParseAddressOn(c model.Chain, s, btcNet string) (Address, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Address{}, fmt.Errorf("empty address")
	}
	if !utf8.ValidString(s) {
		return Address{}, fmt.Errorf("address %q is not valid UTF-8", s)
	}
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		b, err := decodeChain(c, s, btcNet)
		if err != nil {
			return Address{}, err
		}
		return Address{Chain: c, Bytes: b, Text: s}, nil
	}
	// Build the candidate alphabet per position.
	var (
		opts  []string
		notes []string
		pos   int
	)
	for _, r := range s {
		switch {
		case r < 0x80:
			opts = append(opts, string(r))
		case invisible(r):
			notes = append(notes, fmt.Sprintf("dropped U+%04X at %d", r, pos))
			pos++
			continue
		case r >= 0xff01 && r <= 0xff5e: // fullwidth ASCII
			opts = append(opts, string(r-0xff01+'!'))
			notes = append(notes, fmt.Sprintf("fullwidth U+%04X→%c at %d", r, r-0xff01+'!', pos))
		default:
			l, ok := lookalikes[r]
			if !ok {
				return Address{}, fmt.Errorf("address %q: character %q (U+%04X) at %d is not Latin and not a known look-alike", s, r, r, pos)
			}
			opts = append(opts, l)
			notes = append(notes, fmt.Sprintf("%s U+%04X at %d", scriptOf(r), r, pos))
		}
		pos++
	}
	n := 1
	for _, o := range opts {
		n *= len(o)
		if n > maxCandidates {
			return Address{}, fmt.Errorf("address %q: too many look-alike letters to repair", s)
		}
	}
	var (
		found   []Address
		lastErr error
	)
	idx := make([]int, len(opts))
	for k := 0; k < n; k++ {
		var sb strings.Builder
		for i, o := range opts {
			sb.WriteByte(o[idx[i]])
		}
		cand := sb.String()
		if b, err := decodeChain(c, cand, btcNet); err == nil {
			found = append(found, Address{Chain: c, Bytes: b, Text: cand})
		} else {
			lastErr = err
		}
		for i := len(idx) - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < len(opts[i]) {
				break
			}
			idx[i] = 0
		}
	}
	switch len(found) {
	case 0:
		return Address{}, fmt.Errorf("address %q has look-alike letters (%s) and no repair validates: %v", s, strings.Join(notes, ", "), lastErr)
	case 1:
		a := found[0]
		a.Repair = fmt.Sprintf("look-alike letters replaced (%s): %q → %q", strings.Join(notes, ", "), s, a.Text)
		return a, nil
	}
	return Address{}, fmt.Errorf("address %q: %d different repairs validate; ambiguous", s, len(found))
}

func scriptOf(r rune) string {
	switch {
	case r >= 0x370 && r <= 0x3ff:
		return "Greek"
	case r >= 0x400 && r <= 0x52f:
		return "Cyrillic"
	case r >= 0x530 && r <= 0x58f:
		return "Armenian"
	}
	return "Latin small capital"
}

func decodeChain(c model.Chain, s, btcNet string) ([]byte, error) {
	if c == model.XMR {
		if err := address.XMRValidate(s); err != nil {
			return nil, err
		}
		return []byte(s), nil
	}
	cd := address.For(c)
	if c == model.BTC && btcNet != "" {
		cd.Params = address.BTCParams(btcNet)
	}
	b, err := cd.Decode(s)
	if err != nil && c == model.BTC {
		// Valid on another network: say so, not "unknown address type".
		have := btcNet
		if have == "" {
			have = "mainnet"
		}
		for _, n := range []string{"mainnet", "testnet3", "regtest", "signet"} {
			if n == have {
				continue
			}
			if _, e := (address.Codec{Chain: model.BTC, Params: address.BTCParams(n)}).Decode(s); e == nil {
				return nil, fmt.Errorf("%s is a Bitcoin %s address, but the Bitcoin network here is %s (the store's; --btc-network sets it for an import)", s, n, have)
			}
		}
	}
	return b, err
}

// ChainFor decides which chain a published address of a currency (a ticker
// as lists write it: XBT, BTC, ETH, TRX, USDT…) lives on. Tokens that exist
// on several chains (USDT, USDC) are placed by the address's form. It
// returns ChainUnknown with a reason when spoor does not cover the chain.
func ChainFor(currency, addr string) (model.Chain, string) {
	cur := strings.ToUpper(strings.TrimSpace(currency))
	a := strings.TrimSpace(addr)
	switch cur {
	case "BTC", "XBT":
		return model.BTC, ""
	case "ETH":
		return model.ETH, ""
	case "TRX", "TRON":
		return model.Tron, ""
	case "XMR":
		return model.XMR, ""
	case "USDT", "USDC", "":
		switch {
		case strings.HasPrefix(a, "0x") || strings.HasPrefix(a, "0X"):
			return model.ETH, ""
		case strings.HasPrefix(a, "T") || strings.HasPrefix(a, "Т") || strings.HasPrefix(a, "Τ"):
			return model.Tron, ""
		case strings.HasPrefix(a, "1") || strings.HasPrefix(a, "3") || strings.HasPrefix(strings.ToLower(a), "bc1"):
			return model.BTC, "" // Omni layer on Bitcoin
		}
		if cur == "" {
			return model.ChainUnknown, "address form of no supported chain"
		}
		return model.ChainUnknown, fmt.Sprintf("%s address of a chain spoor does not cover", cur)
	}
	return model.ChainUnknown, fmt.Sprintf("currency %s: chain not supported", cur)
}

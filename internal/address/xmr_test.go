package address

import (
	"errors"
	"testing"
)

func TestXMRValidate(t *testing.T) {
	// The Monero general fund donation address (getmonero.org).
	const good = "44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A"
	if err := XMRValidate(good); err != nil {
		t.Fatalf("valid address rejected: %v", err)
	}
	for name, s := range map[string]string{
		"one letter changed": good[:50] + "Z" + good[51:],
		"truncated":          good[:94],
		"not base58":         good[:10] + "0" + good[11:],
		"empty":              "",
	} {
		if err := XMRValidate(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: accepted (%v)", name, err)
		}
	}
}

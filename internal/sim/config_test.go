package sim

import (
	"strings"
	"testing"
)

// TransfersConfig refuses sizes the simulator cannot honour before anything
// is written: too few for the planted typologies, or so many that the number
// is a typo (QA: --transfers 99999999999999 filled 1.6 GB in a minute).
func TestTransfersConfigBounds(t *testing.T) {
	for _, c := range []struct {
		n       int64
		wantErr string
	}{
		{-5, "too few"},
		{0, "too few"},
		{4_999, "too few"},
		{5_000, ""},
		{MaxTransfers, ""},
		{MaxTransfers + 1, "too many"},
		{99_999_999_999_999, "too many"},
	} {
		cfg, err := TransfersConfig(c.n, 1)
		if c.wantErr == "" {
			if err != nil || cfg.Transfers != c.n {
				t.Errorf("%d: %+v, %v", c.n, cfg.Transfers, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("%d: error %v, want %q", c.n, err, c.wantErr)
		}
	}
}

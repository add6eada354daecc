package ingest

import (
	"testing"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/spoor-dev/spoor/internal/model"
)

// TestItemDescribe: a decoded block says where it came from only when a
// batch fails, in the words the eager description used.
func TestItemDescribe(t *testing.T) {
	h, err := chainhash.NewHashFromStr("000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		it   item
		want string
	}{
		{item{blk: &model.Block{Height: 0}, src: "blk00000.dat at byte offset 0", hash: h},
			"blk00000.dat at byte offset 0 (block 0 000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f)"},
		{item{blk: &model.Block{Height: 7}, where: "node http://x block 7"}, "node http://x block 7"},
		{item{blk: &model.Block{Height: 7}, src: "s"}, ""},
	} {
		if got := tc.it.describe(); got != tc.want {
			t.Errorf("describe() = %q, want %q", got, tc.want)
		}
	}
}

package cli

import "testing"

func TestCoinUnits(t *testing.T) {
	for _, tc := range []struct {
		base string
		dec  int
		want string
	}{
		{"150000000", 8, "1.5"},
		{"1", 8, "0.00000001"},
		{"0", 8, "0"},
		{"100000000", 8, "1"},
		{"218436051408911565918", 18, "218.436051408911565918"},
		{"115792089237316195423570985008687907853269984665640564039457584007913129639935", 18,
			"115792089237316195423570985008687907853269984665640564039457.584007913129639935"},
		{"10000000000", 6, "10000"},
		{"42", 0, "42"},
		{"42", -1, "42 (base units)"},
	} {
		if got := coinUnits(tc.base, tc.dec); got != tc.want {
			t.Errorf("coinUnits(%s, %d) = %s, want %s", tc.base, tc.dec, got, tc.want)
		}
	}
}

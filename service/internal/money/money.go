// Package money holds amounts as integer cents. The Flask original kept
// prices in floats, so 19.99 * 100 became 1998.9999999999998 and sums drifted
// (fault 9); here no amount is ever a float.
package money

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Cents is an amount in hundredths of the currency unit.
type Cents int64

// Max is the largest price a form may set: 1,000,000.00. It keeps
// quantity x price far inside int64 and catches a mistyped extra digit.
const Max Cents = 100_000_000

// Errors returned by Parse.
var (
	ErrEmpty    = errors.New("enter an amount")
	ErrFormat   = errors.New("use digits with at most 2 decimals, like 12.50")
	ErrNegative = errors.New("the amount must not be negative")
	ErrTooLarge = fmt.Errorf("the amount must be at most %s", Max)
)

// Parse reads a non-negative decimal amount with at most two decimals
// ("12", "12.5", "12.50", " 0.99 ") into cents. It accepts no sign but a
// leading minus (to say ErrNegative; "-0" is no amount and gets ErrFormat),
// no exponent, no thousands separators, and nothing above Max. Leading
// zeros don't count against Max ("0001.00" is 1.00).
func Parse(s string) (Cents, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, ErrEmpty
	}
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		// Negative only if what follows is an amount other than 0.
		if c, err := Parse(rest); err == nil && c > 0 || errors.Is(err, ErrTooLarge) {
			return 0, ErrNegative
		}
		return 0, ErrFormat
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || !digits(whole) || (hasDot && (frac == "" || len(frac) > 2 || !digits(frac))) {
		return 0, ErrFormat
	}
	if len(strings.TrimLeft(whole, "0")) > 9 {
		return 0, ErrTooLarge
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, ErrFormat
	}
	var f int64
	if hasDot {
		f, _ = strconv.ParseInt(frac, 10, 64)
		if len(frac) == 1 {
			f *= 10
		}
	}
	c := Cents(w*100 + f)
	if c > Max {
		return 0, ErrTooLarge
	}
	return c, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String formats c with two decimals: 1999 -> "19.99", 5 -> "0.05",
// -150 -> "-1.50".
func (c Cents) String() string {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	return fmt.Sprintf("%s%d.%02d", sign, int64(c)/100, int64(c)%100)
}

// Times returns c multiplied by n, or an error if the product overflows int64.
func (c Cents) Times(n int64) (Cents, error) {
	if n != 0 && (int64(c)*n)/n != int64(c) {
		return 0, errors.New("money: amount overflows")
	}
	return Cents(int64(c) * n), nil
}

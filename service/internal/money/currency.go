package money

import (
	"fmt"

	"golang.org/x/text/currency"
)

// DefaultCurrency is the currency amounts are in when none is configured:
// the euro, the currency of the Spanish original the store was ported from.
const DefaultCurrency = "EUR"

// ParseCurrency reads an ISO 4217 alphabetic code ("EUR", "usd") into the
// currency every amount is shown in. The code must name a currency in use
// as legal tender today (so not XXX, XTS, XAU or XDR) whose standard minor
// unit is a hundredth (ISO 4217's "minor unit" 2), because Cents are
// hundredths: a JPY or BHD price would be shown with the wrong decimals.
// The list of currencies and their minor units is CLDR's, through
// golang.org/x/text/currency. The error says what was wrong and what is
// expected.
func ParseCurrency(code string) (currency.Unit, error) {
	u, err := currency.ParseISO(code)
	if err != nil {
		return currency.Unit{}, fmt.Errorf("%q is not an ISO 4217 currency code (want three letters like EUR or USD)", code)
	}
	if !tender(u) {
		return currency.Unit{}, fmt.Errorf("%s is not a currency in use (ISO 4217 codes for funds, metals, testing or no currency are refused)", u)
	}
	if scale, _ := currency.Standard.Rounding(u); scale != 2 {
		return currency.Unit{}, fmt.Errorf("%s has %d decimals; amounts are kept in hundredths, so the currency must have 2 (like EUR or USD)", u, scale)
	}
	return u, nil
}

// tender reports whether u is a currency some region uses as legal tender
// today, per CLDR.
func tender(u currency.Unit) bool {
	for it := currency.Query(); it.Next(); {
		if it.Unit() == u && it.IsTender() {
			return true
		}
	}
	return false
}

// In formats c in cur the one way every amount is shown: two decimals, a
// no-break space and the ISO 4217 code, like "129.98 EUR" (the space is
// U+00A0 so amount and code never wrap apart on a narrow screen). The code
// rather than a symbol because a symbol is ambiguous ("$" is a dozen
// currencies, "kr" several) and its place and spacing depend on the
// reader's locale, while the code after the amount reads the same way
// everywhere.
func (c Cents) In(cur currency.Unit) string {
	return c.String() + "\u00a0" + cur.String()
}

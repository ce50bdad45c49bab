package money

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/text/currency"
)

// Fault 9: every amount a form can hold survives the round trip exactly.
// A float-based parser fails here at 0.29, 19.99, 1.15 and many others.
func TestParseFormatRoundTripsEveryCentValue(t *testing.T) {
	for c := Cents(0); c <= 1_000_000; c++ {
		got, err := Parse(c.String())
		if err != nil || got != c {
			t.Fatalf("Parse(%q) = %d, %v; want %d", c.String(), got, err, c)
		}
	}
	if got, err := Parse(Max.String()); err != nil || got != Max {
		t.Fatalf("Parse(Max) = %d, %v", got, err)
	}
}

func TestParse(t *testing.T) {
	ok := map[string]Cents{"0": 0, "12": 1200, "12.5": 1250, "12.50": 1250, " 19.99 ": 1999, "0.05": 5, "007.10": 710, "00000000001.00": 100, "0001000000.00": Max}
	for in, want := range ok {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	bad := map[string]error{
		"": ErrEmpty, "  ": ErrEmpty, "abc": ErrFormat, "1.005": ErrFormat, "1e3": ErrFormat,
		"1,000": ErrFormat, "+5": ErrFormat, ".5": ErrFormat, "5.": ErrFormat, "NaN": ErrFormat,
		"Inf": ErrFormat, "0x10": ErrFormat, "-1": ErrNegative, "-0.01": ErrNegative, "-99999999999": ErrNegative,
		"-0": ErrFormat, "-0.00": ErrFormat, "-": ErrFormat, "-abc": ErrFormat, "--5": ErrFormat, "00001000000.01": ErrTooLarge,
		"1000000.01": ErrTooLarge, "99999999999999999999": ErrTooLarge, "1e309": ErrFormat,
	}
	for in, want := range bad {
		if got, err := Parse(in); !errors.Is(err, want) {
			t.Errorf("Parse(%q) = %d, %v; want %v", in, got, err, want)
		}
	}
}

func TestTimes(t *testing.T) {
	if got, err := Cents(1999).Times(3); err != nil || got != 5997 {
		t.Fatalf("19.99 x 3 = %v, %v", got, err)
	}
	if _, err := Cents(1 << 62).Times(4); err == nil {
		t.Fatal("overflow not reported")
	}
}

func TestParseCurrency(t *testing.T) {
	for in, want := range map[string]string{"EUR": "EUR", "usd": "USD", "Gbp": "GBP", "XCD": "XCD"} {
		if u, err := ParseCurrency(in); err != nil || u.String() != want {
			t.Errorf("ParseCurrency(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	bad := map[string]string{
		"":     "not an ISO 4217 currency code",
		"€":    "not an ISO 4217 currency code",
		"EURO": "not an ISO 4217 currency code",
		"ZZZ":  "not an ISO 4217 currency code",
		" EUR": "not an ISO 4217 currency code",
		"XXX":  "not a currency in use",
		"XTS":  "not a currency in use",
		"XAU":  "not a currency in use",
		"XDR":  "not a currency in use",
		"JPY":  "has 0 decimals",
		"BHD":  "has 3 decimals",
	}
	for in, want := range bad {
		if u, err := ParseCurrency(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseCurrency(%q) = %v, %v; want an error saying %q", in, u, err, want)
		}
	}
}

func TestIn(t *testing.T) {
	eur, _ := ParseCurrency("EUR")
	usd, _ := ParseCurrency("USD")
	for _, c := range []struct {
		c    Cents
		cur  currency.Unit
		want string
	}{{12998, eur, "129.98\u00a0EUR"}, {5, usd, "0.05\u00a0USD"}, {0, eur, "0.00\u00a0EUR"}, {Max, eur, "1000000.00\u00a0EUR"}} {
		if got := c.c.In(c.cur); got != c.want {
			t.Errorf("%d.In(%v) = %q, want %q", c.c, c.cur, got, c.want)
		}
	}
}

// The documented default is itself a valid currency.
func TestDefaultCurrencyIsValid(t *testing.T) {
	if u, err := ParseCurrency(DefaultCurrency); err != nil || u.String() != "EUR" {
		t.Fatalf("ParseCurrency(DefaultCurrency) = %v, %v", u, err)
	}
}

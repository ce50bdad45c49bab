package web

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// Over every code point: a required field made of one rune (three times) is
// accepted exactly when that rune is visible, and no rune Unicode calls
// default-ignorable, no space, mark, control, format, private-use or
// unassigned code point is ever visible. The categories come from Go's
// Unicode tables, whole, not from a list of examples.
func TestRequiredFieldNeedsAVisibleRune(t *testing.T) {
	never := []*unicode.RangeTable{unicode.Z, unicode.M, unicode.C, unicode.Other_Default_Ignorable_Code_Point, unicode.Variation_Selector}
	accepted := 0
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		f := newForm(url.Values{"title": {strings.Repeat(string(r), 3)}})
		f.text("title", true, maxTitle)
		ok := f.Valid()
		if ok {
			accepted++
		}
		if unicode.In(r, never...) && ok {
			t.Errorf("U+%04X (category %s) alone was accepted as a title", r, category(r))
		}
		if ok != visible(r) && strings.TrimSpace(string(r)) != "" {
			t.Errorf("U+%04X: accepted %v, visible %v", r, ok, visible(r))
		}
	}
	for _, r := range []rune{'\U0001D159', '\uFFFC', '\u3164', '\u2800', '\u034F', '\u115F', '\u1160', '\uFFA0', '\u200B', '\u00AD'} {
		if visible(r) {
			t.Errorf("U+%04X counts as visible", r)
		}
	}
	for _, r := range []rune{'A', 'é', '字', '٣', '!', '€', '☃', '😀', 'ㄱ'} {
		if !visible(r) {
			t.Errorf("%q (U+%04X) does not count as visible", r, r)
		}
	}
	if accepted < 100_000 {
		t.Errorf("only %d code points accepted alone", accepted)
	}
	// An ignorable rune can't hide in a visible name either.
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) {
			continue
		}
		f := newForm(url.Values{"title": {"Alice book" + string(r)}})
		if f.text("title", true, maxTitle); f.Valid() {
			t.Errorf(`"Alice book" + U+%04X accepted`, r)
		}
	}
}

func category(r rune) string {
	for name, tab := range unicode.Categories {
		if len(name) == 2 && unicode.Is(tab, r) {
			return name
		}
	}
	return fmt.Sprint("unassigned")
}

// invisibleSets are Unicode's property sets of code points that show as
// nothing (Default_Ignorable_Code_Point, derived as defaultIgnorable,
// covers Cf, Variation_Selector with the Mongolian free variation
// selectors, and Other_Default_Ignorable_Code_Point), and the blank symbols.
func everyInvisible() []rune {
	var rs []rune
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if defaultIgnorable(r) || unicode.Is(unicode.Variation_Selector, r) || blankSymbol(r) {
			rs = append(rs, r)
		}
	}
	return rs
}

// No invisible code point may stand in an email address: "admin" + U+FE0F
// + "@example.com" would show in /admin/users as admin@example.com.
func TestEmailRefusesEveryInvisibleRune(t *testing.T) {
	all := everyInvisible()
	for _, want := range []rune{0xFE00, 0xFE0F, 0xE0100, 0xE01EF, 0x180B, 0x180F, 0x2800, 0x1D159, 0xFFFC, 0x200D, 0x00AD} {
		if !slices.Contains(all, want) {
			t.Fatalf("U+%04X is missing from the invisible sets", want)
		}
	}
	for _, r := range all {
		f := newForm(url.Values{"email": {"admin" + string(r) + "x@example.com"}})
		if v := f.email("email"); f.Valid() {
			t.Errorf("email with U+%04X accepted as %q", r, v)
		}
	}
	f := newForm(url.Values{"email": {"admin@example.com"}})
	if f.email("email"); !f.Valid() {
		t.Fatalf("a plain address refused: %v", f.Errors)
	}
}

// A default-ignorable code point at either end of a field has no effect
// there, so it would make a value that passes for another: over the whole
// property set, "Alice book" with one at its end or start is refused. One
// that ends a sequence is kept.
func TestIgnorableAtTheEndsIsRefused(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !defaultIgnorable(r) {
			continue
		}
		for _, in := range []string{"Alice book" + string(r), string(r) + "Alice book", "Alice book" + string(r) + " " + string(r)} {
			f := newForm(url.Values{"title": {in}})
			if v := f.text("title", true, maxTitle); f.Valid() {
				t.Errorf("%+q accepted as %+q, which passes for \"Alice book\"", in, v)
			}
		}
	}
	for _, keep := range []string{"I \u2764\uFE0F", "Go \U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F", "\u0645\u06CC\u200C\u062E\u0648\u0627\u0647\u0645"} {
		f := newForm(url.Values{"title": {keep}})
		if v := f.text("title", true, maxTitle); !f.Valid() || v != keep {
			t.Errorf("%+q: stored as %+q, %v", keep, v, f.Errors)
		}
	}
}

// An error names a character the user typed, at the position they typed
// it: not a U+034F that NFC inserted (after 30 combining marks in a row,
// UAX #15's Stream-Safe Text Format), nor a position NFC shifted by
// composing "e" + U+0301 into one character.
func TestEmailErrorNamesWhatWasTyped(t *testing.T) {
	cases := []struct{ in, want, not string }{
		{"zz" + strings.Repeat("\u0344", 100) + "@example.com", "too many combining marks", "U+034F"},
		{"e\u0301e\u0301\u200Bx@example.com", "U+200B, character 5", ""},
		{"e\u0301e\u0301\uFE0Fx@example.com", "U+FE0F, character 5", ""},
	}
	for _, c := range cases {
		f := newForm(url.Values{"email": {c.in}})
		f.email("email")
		msg := f.Errors["email"]
		if !strings.Contains(msg, c.want) || c.not != "" && strings.Contains(msg, c.not) {
			t.Errorf("%+q: %q, want it to say %q", c.in, msg, c.want)
		}
	}
}

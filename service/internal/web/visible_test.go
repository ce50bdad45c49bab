package web

import (
	"fmt"
	"net/url"
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
	for _, r := range []rune{'\u3164', '\u2800', '\u034F', '\u115F', '\u1160', '\uFFA0', '\u200B', '\u00AD'} {
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

package web

import (
	"fmt"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/bookstore-aws/bookstore/service/internal/money"
	"github.com/bookstore-aws/bookstore/service/internal/store"
)

// Limits on form input. Lengths are in characters and match the columns in
// the store's migrations; the numeric caps catch typos and overflow.
const (
	maxName        = 100
	maxEmail       = 254 // RFC 5321's path limit
	maxTitle       = 200
	maxAuthor      = 200
	maxDescription = 2000
	minPassword    = 8
	maxPassword    = 72 // bcrypt ignores bytes past 72
	maxStock       = 100_000
	maxQuantity    = 1_000
)

// form holds a submitted form's values and its errors by field name; pages
// re-render it so the user sees what they typed next to what was wrong.
type form struct {
	values url.Values
	Errors fieldErrors
}

type fieldErrors map[string]string

// Get returns the error for field, or "".
func (e fieldErrors) Get(field string) string { return e[field] }

func newForm(v url.Values) *form {
	if v == nil {
		v = url.Values{}
	}
	return &form{values: v, Errors: fieldErrors{}}
}

// Get returns the trimmed value of field (passwords are never echoed: their
// inputs have no value attribute).
func (f *form) Get(field string) string { return strings.TrimSpace(f.values.Get(field)) }

// Set sets a value shown when the form is rendered.
func (f *form) Set(field, value string) { f.values.Set(field, value) }

func (f *form) Valid() bool { return len(f.Errors) == 0 }

func (f *form) fail(field, msg string) {
	if _, ok := f.Errors[field]; !ok {
		f.Errors[field] = msg
	}
}

// text checks that field is present (if required, with a visible
// character: see visible), valid UTF-8, at most max characters, and free of
// characters that don't print (see notPrinting), and returns it. It is for
// one-line fields.
func (f *form) text(field string, required bool, max int) string {
	return f.checkText(field, required, max, false, nil)
}

// textArea is text for a multi-line field: it also allows \n, \r and \t.
func (f *form) textArea(field string, required bool, max int) string {
	return f.checkText(field, required, max, true, nil)
}

// checkText checks field as it will be stored: trimmed, then normalized by
// normalize (nil: as typed), so that no limit is checked on a value shorter
// than the one the column receives (NFC and lower-casing can lengthen text:
// U+0958 becomes two code points, U+0130 too).
func (f *form) checkText(field string, required bool, max int, multiline bool, normalize func(string) string) string {
	v := f.Get(field)
	typed := v
	if normalize != nil && utf8.ValidString(v) {
		v = normalize(v)
	}
	switch {
	case required && v == "":
		f.fail(field, "This field is required.")
	case !utf8.ValidString(v):
		f.fail(field, "This field contains invalid characters.")
	case utf8.RuneCountInString(v) > max:
		f.fail(field, "This field is too long (maximum is "+strconv.Itoa(max)+" characters).")
	default:
		// Characters are checked as typed, so that the position named is
		// the user's; then as normalized, where NFC may have inserted a
		// U+034F after every 30 combining marks in a row (UAX #15's
		// Stream-Safe Text Format), which nobody typed.
		n, shows := 0, false
		for _, r := range typed {
			n++
			if what := notPrinting(r, multiline); what != "" {
				f.fail(field, fmt.Sprintf("This field contains %s (U+%04X, character %d), which is not allowed; remove it.", what, r, n))
				return v
			}
		}
		for _, r := range v {
			if notPrinting(r, multiline) != "" {
				f.fail(field, "This field has too many combining marks in a row (at most 30).")
				return v
			}
			shows = shows || visible(r)
		}
		// A title of one Hangul filler would show as a blank link.
		if required && !shows {
			f.fail(field, "This field is required; what it holds does not show.")
			return v
		}
		if r, at := ignorableAtAnEnd(typed); at > 0 {
			f.fail(field, fmt.Sprintf("This field starts or ends with a character that does not show (U+%04X, character %d); remove it.", r, at))
		}
	}
	return v
}

// visible reports whether r shows as ink: its Unicode General_Category is
// a letter (L), number (N), punctuation (P) or symbol (S), it is not a
// Default_Ignorable_Code_Point (see defaultIgnorable), and it is not a
// blank symbol (see blankSymbol). Spaces (Z), marks (M) alone, controls,
// format, private-use and unassigned code points (C) don't count. A
// required field must hold at least one visible rune.
func visible(r rune) bool {
	return unicode.In(r, unicode.L, unicode.N, unicode.P, unicode.S) && !invisible(r)
}

// invisible reports whether r renders as nothing wherever it stands: a
// Default_Ignorable_Code_Point or a blank symbol.
func invisible(r rune) bool { return defaultIgnorable(r) || blankSymbol(r) }

// blankSymbol reports whether r is one of the symbols (category So) that
// Unicode's own code charts describe as having no ink of their own, which
// no property marks: U+2800 BRAILLE PATTERN BLANK (all dots unraised),
// U+1D159 MUSICAL SYMBOL NULL NOTEHEAD (an invisible base for combining
// marks) and U+FFFC OBJECT REPLACEMENT CHARACTER (a stand-in for an
// embedded object, which plain text never has).
func blankSymbol(r rune) bool { return r == '\u2800' || r == '\U0001D159' || r == '\uFFFC' }

// ignorableAtAnEnd returns the first Default_Ignorable code point at
// either end of v that has no effect there, and its position (1-based;
// 0: none). "Alice book" + ZWJ (or a soft hyphen, LRM, a variation selector
// after a letter) would pass for "Alice book". Allowed are those that end a
// sequence: a variation selector after a symbol (an emoji's presentation,
// U+2764 U+FE0F) and the tags of a subdivision flag (U+1F3F4, tags,
// U+E007F; Unicode TR #51).
func ignorableAtAnEnd(v string) (rune, int) {
	rs := []rune(v)
	if len(rs) == 0 {
		return 0, 0
	}
	if defaultIgnorable(rs[0]) {
		return rs[0], 1
	}
	n := len(rs)
	r := rs[n-1]
	switch {
	case !defaultIgnorable(r):
		return 0, 0
	case unicode.Is(unicode.Variation_Selector, r) && n >= 2 && unicode.Is(unicode.S, rs[n-2]):
		return 0, 0
	case r == 0xE007F:
		i := n - 1
		for i > 0 && rs[i-1] >= 0xE0020 && rs[i-1] <= 0xE007E {
			i--
		}
		if i < n-1 && i > 0 && rs[i-1] == 0x1F3F4 {
			return 0, 0
		}
	}
	return r, n
}

// defaultIgnorable is Unicode's derived property Default_Ignorable_Code_Point
// (DerivedCoreProperties.txt): Other_Default_Ignorable_Code_Point, Cf and
// Variation_Selector, minus White_Space, U+FFF9..U+FFFB, U+13430..U+1343F
// and Prepended_Concatenation_Mark. Renderers show these as nothing; among
// them are the Hangul fillers (U+115F, U+1160, U+3164, U+FFA0) and the
// combining grapheme joiner (U+034F).
func defaultIgnorable(r rune) bool {
	if unicode.Is(unicode.White_Space, r) || r >= 0xFFF9 && r <= 0xFFFB || r >= 0x13430 && r <= 0x1343F ||
		unicode.Is(unicode.Prepended_Concatenation_Mark, r) {
		return false
	}
	return unicode.In(r, unicode.Other_Default_Ignorable_Code_Point, unicode.Cf, unicode.Variation_Selector)
}

// notPrinting names r if a text field may not hold it, else returns "".
// Refused: the C0 and C1 control characters and DEL (Unicode category Cc;
// a NUL or an ESC sequence reaching a log or a terminal), except \n, \r
// and \t in multi-line fields; the line and paragraph separators; the
// bidirectional embeddings, overrides and isolates (Unicode UAX #9), which
// can make text display in another order than it is stored ("Trojan
// Source"); the interlinear annotation characters; and noncharacters.
// Also refused: every other invisible format character (category Cf: the
// zero-width space, the byte order mark, the word joiner...), which can
// make two names look the same, except those real text needs (see
// neededFormat), and for the same reason the other characters Unicode
// marks as ignorable in rendering (Other_Default_Ignorable_Code_Point: the
// Hangul fillers, the combining grapheme joiner...). Variation selectors
// stay: emoji need them. Private-use and unassigned code points are allowed: they
// show (as a glyph or a box), and refusing unassigned ones would refuse
// emoji newer than Go's Unicode tables.
func notPrinting(r rune, multiline bool) string {
	switch {
	case r == '\n' || r == '\r' || r == '\t':
		if multiline {
			return ""
		}
		return "a line break or tab"
	case unicode.Is(unicode.Cc, r):
		return "a control character"
	case r == '\u2028' || r == '\u2029':
		return "a line or paragraph separator"
	case r >= '\u202A' && r <= '\u202E', r >= '\u2066' && r <= '\u2069':
		return "a bidirectional override character"
	case r >= '\uFFF9' && r <= '\uFFFB':
		return "an annotation character"
	case r >= '\uFDD0' && r <= '\uFDEF', r&0xFFFE == 0xFFFE:
		return "a noncharacter"
	case unicode.Is(unicode.Cf, r) && !neededFormat(r):
		return "an invisible formatting character"
	case unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r):
		// Hangul fillers, the grapheme joiner...: "Alice book" + U+3164
		// would pass for "Alice book".
		return "a character that does not show"
	}
	return ""
}

// neededFormat reports whether r is one of the format characters real text
// needs: the soft hyphen, the zero-width non-joiner (Persian) and joiner
// (emoji sequences), the left-to-right, right-to-left and Arabic letter
// marks, and the tag characters of subdivision flags (Unicode TR #51).
func neededFormat(r rune) bool {
	switch {
	case r == '\u00AD', r == '\u200C', r == '\u200D', r == '\u200E', r == '\u200F', r == '\u061C':
		return true
	case r >= 0xE0020 && r <= 0xE007F:
		return true
	}
	return false
}

// email checks that field holds one plain address (name@domain) and
// returns it as store.NormalizeEmail spells it, since the store compares
// addresses byte for byte.
func (f *form) email(field string) string {
	v := f.checkText(field, true, maxEmail, false, store.NormalizeEmail)
	if _, bad := f.Errors[field]; bad {
		return ""
	}
	// Invisible characters, even those a name may hold, would let
	// "admin\u00AD@example.com" or "admin\uFE0F@example.com" pass for
	// another user.
	for i, r := range []rune(f.Get(field)) { // as typed: i is the user's position
		if unicode.Is(unicode.Cf, r) || invisible(r) {
			f.fail(field, fmt.Sprintf("This email address contains an invisible character (U+%04X, character %d); remove it.", r, i+1))
			return ""
		}
	}
	a, err := mail.ParseAddress(v)
	_, domain, _ := strings.Cut(v, "@")
	if err != nil || a.Address != v || a.Name != "" || !strings.Contains(domain, ".") {
		f.fail(field, "Enter an email address like name@example.com.")
		return ""
	}
	return v
}

// integer checks that field is a whole number in [min, max].
func (f *form) integer(field string, min, max int) int {
	v := f.Get(field)
	n, err := strconv.Atoi(v)
	switch {
	case v == "":
		f.fail(field, "This field is required.")
	case err != nil:
		f.fail(field, "Enter a whole number.")
	case n < min:
		f.fail(field, "Enter a number no less than "+strconv.Itoa(min)+".")
	case n > max:
		f.fail(field, "Enter a number no more than "+strconv.Itoa(max)+".")
	default:
		return n
	}
	return 0
}

// price checks that field is an amount (see money.Parse).
func (f *form) price(field string) money.Cents {
	c, err := money.Parse(f.Get(field))
	if err != nil {
		msg := err.Error()
		f.fail(field, strings.ToUpper(msg[:1])+msg[1:]+".")
		return 0
	}
	return c
}

// oneOf checks that field is one of choices.
func (f *form) oneOf(field string, choices []string) string {
	v := f.Get(field)
	for _, c := range choices {
		if v == c {
			return v
		}
	}
	f.fail(field, "Choose one of the options.")
	return ""
}

package stackout

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, every error
// must be an *Error, and whatever it accepts must hold the invariants the
// checks rely on.
func FuzzParse(f *testing.F) {
	good, _ := json.Marshal(sample())
	f.Add(string(good))
	f.Add(`{}`)
	f.Add(``)
	f.Add(`null`)
	f.Add(`{"url":"[secret]"}`)
	f.Add(strings.Replace(string(good), `"https://example.com"`, `"http://alb.example.com"`, 1))
	f.Add(strings.Replace(string(good), `"ns-1.awsdns-01.org"`, `{"4dabf18193072939515e22adb298388d":"1b47061264138c4ac30d75fd1eb44270","plaintext":"\"x\""}`, 1))
	f.Fuzz(func(t *testing.T, in string) {
		o, err := Parse(strings.NewReader(in))
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is %T, want *Error", err, err)
			}
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if o.URL == "" || o.ALBDNSName == "" {
			t.Fatalf("accepted without url or albDnsName: %+v", o)
		}
		if o.HasDomain() {
			if len(o.NameServers) == 0 || o.WWWURL == "" {
				t.Fatalf("domain %q accepted without name servers or wwwUrl", o.Domain)
			}
			if o.Domain != strings.ToLower(o.Domain) || strings.HasSuffix(o.Domain, ".") {
				t.Fatalf("domain not normalised: %q", o.Domain)
			}
			for _, r := range o.ValidationRecords {
				if !strings.EqualFold(r.Type, "CNAME") || r.Name == "" || r.Value == "" {
					t.Fatalf("bad validation record accepted: %+v", r)
				}
			}
		}
	})
}

package stackout

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// sample is what the stack prints for a domain with the monolith on.
func sample() map[string]any {
	return map[string]any{
		"url":            "https://example.com",
		"wwwUrl":         "https://www.example.com",
		"albDnsName":     "bookstore-alb-1234567890.eu-west-1.elb.amazonaws.com",
		"albZoneId":      "Z32O12XQLNTSW2",
		"certificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/1f2e3d4c",
		"validationRecords": []any{
			map[string]any{"name": "_a1b2.example.com.", "type": "CNAME", "value": "_c3d4.xyz.acm-validations.aws."},
			map[string]any{"name": "_e5f6.www.example.com.", "type": "CNAME", "value": "_a7b8.xyz.acm-validations.aws."},
		},
		"hostedZoneId":   "Z0123456789ABCDEFGHIJ",
		"nameServers":    []any{"ns-1.awsdns-01.org", "ns-2.awsdns-02.co.uk", "ns-3.awsdns-03.com", "ns-4.awsdns-04.net"},
		"dbEndpoint":     "bookstore.abc.eu-west-1.rds.amazonaws.com:3306",
		"dbSecretArn":    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-1",
		"efsId":          "fs-0123456789abcdef0",
		"imageRef":       "123456789012.dkr.ecr.eu-west-1.amazonaws.com/bookstore@sha256:" + strings.Repeat("a", 64),
		"asgName":        "app-asg-1",
		"swarmManagerIp": "203.0.113.10",
		"swarmUrl":       "https://swarm.example.com",
		"legacyUrl":      "https://legacy.example.com",
	}
}

func encode(t *testing.T, m map[string]any) string {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseSample(t *testing.T) {
	o, err := Parse(strings.NewReader(encode(t, sample())))
	if err != nil {
		t.Fatal(err)
	}
	if o.Domain != "example.com" || !o.HasDomain() {
		t.Errorf("Domain = %q", o.Domain)
	}
	if len(o.NameServers) != 4 || o.NameServers[1] != "ns-2.awsdns-02.co.uk" {
		t.Errorf("NameServers = %v", o.NameServers)
	}
	want := Record{Name: "_e5f6.www.example.com.", Type: "CNAME", Value: "_a7b8.xyz.acm-validations.aws."}
	if len(o.ValidationRecords) != 2 || o.ValidationRecords[1] != want {
		t.Errorf("ValidationRecords = %+v", o.ValidationRecords)
	}
	if o.SwarmManagerIP != "203.0.113.10" || o.LegacyURL != "https://legacy.example.com" || o.EFSID != "fs-0123456789abcdef0" {
		t.Errorf("strings not kept: %+v", o)
	}
}

// PowerShell's `pulumi stack output --json > outputs.json` starts the file with
// a UTF-8 byte order mark.
func TestParseIgnoresAByteOrderMark(t *testing.T) {
	want, err := Parse(strings.NewReader(encode(t, sample())))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(strings.NewReader("\ufeff" + encode(t, sample())))
	if err != nil {
		t.Fatalf("with a BOM: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("with a BOM: %+v, want %+v", got, want)
	}
	// Only at the start: anywhere else it is still not JSON.
	if _, err := Parse(strings.NewReader(" \ufeff" + encode(t, sample()))); err == nil {
		t.Error("a BOM after whitespace was accepted")
	}
}

// withoutDomain turns sample into what a stack without a domain prints.
func withoutDomain(m map[string]any) {
	m["url"] = "http://bookstore-alb-1234567890.eu-west-1.elb.amazonaws.com"
	for _, k := range []string{"wwwUrl", "certificateArn", "hostedZoneId", "swarmUrl", "legacyUrl"} {
		m[k] = ""
	}
	m["validationRecords"] = []any{}
	m["nameServers"] = []any{}
}

// noDomain is withoutDomain, then then.
func noDomain(then func(map[string]any)) func(map[string]any) {
	return func(m map[string]any) { withoutDomain(m); then(m) }
}

func TestParseWithoutDomain(t *testing.T) {
	m := sample()
	withoutDomain(m)
	m["url"] = "http://BOOKSTORE-alb-1234567890.eu-west-1.elb.amazonaws.com/"
	o, err := Parse(strings.NewReader(encode(t, m)))
	if err != nil {
		t.Fatal(err)
	}
	if o.HasDomain() {
		t.Errorf("Domain = %q, want none", o.Domain)
	}
}

func TestParseDomainIsLowerCased(t *testing.T) {
	m := sample()
	m["url"] = "https://Example.COM/"
	m["wwwUrl"] = "https://WWW.example.com"
	o, err := Parse(strings.NewReader(encode(t, m)))
	if err != nil {
		t.Fatal(err)
	}
	if o.Domain != "example.com" {
		t.Errorf("Domain = %q", o.Domain)
	}
}

func TestParseSecretShapes(t *testing.T) {
	m := sample()
	// Pulumi's secret envelope: the plaintext is JSON inside a string.
	m["nameServers"] = map[string]any{sigKey: secretSig, "plaintext": `["ns-1.awsdns-01.org","ns-2.awsdns-02.co.uk"]`}
	// The Automation API's OutputValue.
	m["swarmUrl"] = map[string]any{"value": "https://swarm.example.com", "secret": false}
	// Masked, encrypted: fine for keys the checks never read.
	m["dbSecretArn"] = "[secret]"
	m["dbEndpoint"] = map[string]any{sigKey: secretSig, "ciphertext": "AAAA"}
	o, err := Parse(strings.NewReader(encode(t, m)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o.NameServers, []string{"ns-1.awsdns-01.org", "ns-2.awsdns-02.co.uk"}) {
		t.Errorf("NameServers = %v", o.NameServers)
	}
	if o.SwarmURL != "https://swarm.example.com" {
		t.Errorf("SwarmURL = %q", o.SwarmURL)
	}
}

func TestParseErrors(t *testing.T) {
	type mut func(m map[string]any)
	set := func(k string, v any) mut { return func(m map[string]any) { m[k] = v } }
	cases := []struct {
		name  string
		input string // used when mut is nil
		mut   mut
		key   string // the key the error must name; "" for whole-input errors
		words string // and a phrase it must contain
	}{
		{name: "empty", input: "", words: "empty input"},
		{name: "blank", input: " \n\t", words: "empty input"},
		{name: "garbage", input: "Current stack is dev:\n  url  https://example.com", words: "not a JSON object"},
		{name: "truncated", input: `{"url": "https://exa`, words: "not a JSON object"},
		{name: "array", input: `["url"]`, words: "not a JSON object"},
		{name: "null", input: `null`, words: "got null"},
		{name: "number", input: `42`, words: "not a JSON object"},
		{name: "two objects", input: `{} {}`, words: "after the JSON object"},
		{name: "too large", input: `"` + strings.Repeat("x", MaxInputBytes) + `"`, words: "more than"},
		{name: "missing key", mut: func(m map[string]any) { delete(m, "albDnsName") }, key: "albDnsName", words: "missing"},
		{name: "all keys missing", input: `{}`, key: strings.Join(Keys, ", "), words: "missing"},
		{name: "null value", mut: set("efsId", nil), key: "efsId", words: "got null"},
		{name: "number for string", mut: set("albZoneId", 7), key: "albZoneId", words: "got a number"},
		{name: "string for list", mut: set("nameServers", "ns-1.awsdns-01.org"), key: "nameServers", words: "list of strings"},
		{name: "number in list", mut: set("nameServers", []any{"ns-1.awsdns-01.org", 3}), key: "nameServers[1]", words: "got a number"},
		{name: "record not object", mut: set("validationRecords", []any{"x"}), key: "validationRecords[0]", words: "must be an object"},
		{name: "record missing value", mut: set("validationRecords", []any{map[string]any{"name": "_a.example.com", "type": "CNAME"}}), key: "validationRecords[0].value", words: "missing"},
		{name: "record wrong type", mut: set("validationRecords", []any{map[string]any{"name": "_a.example.com", "type": "TXT", "value": "x"}}), key: "validationRecords[0].type", words: "CNAME"},
		{name: "record bad name", mut: set("validationRecords", []any{map[string]any{"name": "_a example.com", "type": "CNAME", "value": "x.aws"}}), key: "validationRecords[0].name", words: "not a DNS name"},
		{name: "masked needed", mut: set("nameServers", "[secret]"), key: "nameServers", words: "--show-secrets"},
		{name: "encrypted needed", mut: set("url", map[string]any{sigKey: secretSig, "ciphertext": "AAAA"}), key: "url", words: "--show-secrets"},
		{name: "bad secret sig", mut: set("url", map[string]any{sigKey: "nope", "plaintext": `"https://example.com"`}), key: "url", words: "bad signature"},
		{name: "secret plaintext not json", mut: set("url", map[string]any{sigKey: secretSig, "plaintext": `https://example.com`}), key: "url", words: "not JSON"},
		{name: "empty url", mut: set("url", ""), key: "url", words: "must not be empty"},
		{name: "malformed url", mut: set("url", "https://exa mple.com"), key: "url", words: "not a URL"},
		{name: "url without scheme", mut: set("url", "example.com"), key: "url", words: "scheme"},
		{name: "url ftp", mut: set("url", "ftp://example.com"), key: "url", words: "scheme"},
		{name: "url with path", mut: set("url", "https://example.com/shop"), key: "url", words: "scheme://host only"},
		{name: "url with port", mut: set("url", "https://example.com:8443"), key: "url", words: "no port"},
		{name: "url ip", mut: set("url", "https://192.0.2.1"), key: "url", words: "IP address"},
		{name: "url single label", mut: set("url", "https://localhost"), key: "url", words: "parent zone"},
		{name: "url bad label", mut: set("url", "https://-bad.example.com"), key: "url", words: "not a DNS name"},
		{name: "www other host", mut: set("wwwUrl", "https://shop.example.com"), key: "wwwUrl", words: "https://www.example.com"},
		{name: "www empty", mut: set("wwwUrl", ""), key: "wwwUrl", words: "https://www.example.com"},
		{name: "www http", mut: set("wwwUrl", "http://www.example.com"), key: "wwwUrl", words: "https://www.example.com"},
		{name: "swarm outside zone", mut: set("swarmUrl", "https://swarm.example.org"), key: "swarmUrl", words: "hosted zone"},
		{name: "legacy suffix trick", mut: set("legacyUrl", "https://legacyexample.com"), key: "legacyUrl", words: "hosted zone"},
		{name: "no name servers", mut: set("nameServers", []any{}), key: "nameServers", words: "is empty"},
		{name: "name server ip", mut: set("nameServers", []any{"205.251.192.1"}), key: "nameServers[0]", words: "IP address"},
		{name: "alb empty", mut: set("albDnsName", ""), key: "albDnsName", words: "must not be empty"},
		{name: "swarm ip bad", mut: set("swarmManagerIp", "203.0.113"), key: "swarmManagerIp", words: "not an IP"},
		{name: "record outside the domain", mut: set("validationRecords", []any{map[string]any{"name": "_a1b2.example.org.", "type": "CNAME", "value": "_c3d4.xyz.acm-validations.aws."}}), key: "validationRecords[0].name", words: "not a name under example.com"},
		{name: "record suffix trick", mut: set("validationRecords", []any{map[string]any{"name": "_a1b2.badexample.com", "type": "CNAME", "value": "_c3d4.xyz.acm-validations.aws."}}), key: "validationRecords[0].name", words: "not a name under example.com"},
		{name: "non-ASCII named whole", mut: set("albDnsName", "bücher.elb.amazonaws.com"), key: "albDnsName", words: `'ü' in label "bücher"`},
		{name: "http mode url is not the alb", mut: noDomain(func(m map[string]any) { m["url"] = "http://other-alb.elb.amazonaws.com" }), key: "url", words: "http://<albDnsName>"},
		{name: "http mode url with port", mut: noDomain(func(m map[string]any) { m["url"] = m["url"].(string) + ":8080" }), key: "url", words: "http://<albDnsName>"},
		{name: "http mode www url", mut: noDomain(set("wwwUrl", "https://www.example.com")), key: "wwwUrl", words: "must be empty"},
		{name: "http mode swarm url", mut: noDomain(set("swarmUrl", "swarm")), key: "swarmUrl", words: "must be empty"},
		{name: "http mode legacy url", mut: noDomain(set("legacyUrl", "https://legacy.example.com")), key: "legacyUrl", words: "must be empty"},
		{name: "http mode records", mut: noDomain(set("validationRecords", sample()["validationRecords"])), key: "validationRecords", words: "no certificate"},
		{name: "http mode name servers", mut: noDomain(set("nameServers", []any{"ns-1.awsdns-01.org"})), key: "nameServers", words: "no hosted zone"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := c.input
			if c.mut != nil {
				m := sample()
				c.mut(m)
				in = encode(t, m)
			}
			_, err := Parse(strings.NewReader(in))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v (%T), want *Error", err, err)
			}
			if e.Key != c.key {
				t.Errorf("key = %q, want %q (err: %v)", e.Key, c.key, err)
			}
			if !strings.Contains(err.Error(), c.words) {
				t.Errorf("err = %q, want it to contain %q", err, c.words)
			}
		})
	}
}

// Package stackout reads the stack's outputs as `pulumi stack output --json`
// prints them and checks them against the contract in docs/architecture.md ("outputs").
//
// Every key of the contract must be present with the right JSON type; a key
// that does not apply is an empty string or an empty list, never absent or
// null. Values the verifier relies on (URLs, host names, the validation
// records, the name servers) are also checked for shape, so a bad stack
// output is reported as input, not as a failing live check.
package stackout

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// MaxInputBytes bounds what Parse reads. A stack's outputs are a few KiB; more
// than this is not stack output.
const MaxInputBytes = 1 << 20

// Keys are the outputs the stack exports (docs/architecture.md, the contract, "outputs"), in the order
// errors mention them.
var Keys = []string{
	"url", "wwwUrl", "albDnsName", "albZoneId", "certificateArn", "validationRecords",
	"hostedZoneId", "nameServers", "dbEndpoint", "dbSecretArn", "efsId", "imageRef",
	"asgName", "swarmManagerIp", "swarmUrl", "legacyUrl",
}

// Record is one ACM DNS validation record: a CNAME from Name to Value.
// Names are kept as the stack printed them; compare them with dns.CanonicalName.
type Record struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Outputs is the parsed and checked stack output.
type Outputs struct {
	URL               string
	WWWURL            string
	ALBDNSName        string
	ALBZoneID         string
	CertificateARN    string
	ValidationRecords []Record
	HostedZoneID      string
	NameServers       []string
	DBEndpoint        string
	DBSecretARN       string
	EFSID             string
	ImageRef          string
	ASGName           string
	SwarmManagerIP    string
	SwarmURL          string
	LegacyURL         string

	// Domain is the host of URL, lower case without a trailing dot, when URL is
	// https://<domain>; empty when the stack has no domain (URL is http://<ALB>).
	Domain string
}

// HasDomain reports whether the stack serves a domain of its own. Without
// one, only the health checks over plain HTTP apply.
func (o Outputs) HasDomain() bool { return o.Domain != "" }

// Error is a problem with one key of the input. Key is empty when the input as
// a whole is wrong (not JSON, not an object, too large).
type Error struct {
	Key string
	Msg string
}

func (e *Error) Error() string {
	if e.Key == "" {
		return "stack outputs: " + e.Msg
	}
	return fmt.Sprintf("stack outputs: %s: %s", e.Key, e.Msg)
}

func keyErr(key, format string, args ...any) error {
	return &Error{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Pulumi's own marks for secrets. The CLI prints maskedSecret in place of a
// secret output unless --show-secrets is given; state and the REST API wrap a
// secret in an object whose sigKey holds secretSig.
const (
	maskedSecret = "[secret]"
	sigKey       = "4dabf18193072939515e22adb298388d"
	secretSig    = "1b47061264138c4ac30d75fd1eb44270"
)

// needed are the keys the checks read. A masked secret in any other key is
// accepted: its value is never used.
var needed = map[string]bool{
	"url": true, "wwwUrl": true, "albDnsName": true, "validationRecords": true,
	"nameServers": true, "swarmManagerIp": true, "swarmUrl": true, "legacyUrl": true,
}

// Parse reads one JSON object of stack outputs from r (at most MaxInputBytes)
// and checks it. Besides plain values it accepts secret-shaped ones: Pulumi's
// secret envelope with a "plaintext" field, and the Automation API's
// {"value": …, "secret": bool}. A value masked as "[secret]" (the CLI without
// --show-secrets) or still encrypted is an error for a key the checks need.
// Unknown keys are ignored so that a newer stack still verifies.
//
// Every error is an *Error naming the key at fault.
func Parse(r io.Reader) (Outputs, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxInputBytes+1))
	if err != nil {
		return Outputs{}, &Error{Msg: "reading: " + err.Error()}
	}
	if len(data) > MaxInputBytes {
		return Outputs{}, &Error{Msg: fmt.Sprintf("more than %d bytes: not the output of `pulumi stack output --json`", MaxInputBytes)}
	}
	// Windows PowerShell's `>` writes UTF-8 with a byte order mark; RFC 8259
	// allows a parser to ignore it.
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if len(bytes.TrimSpace(data)) == 0 {
		return Outputs{}, &Error{Msg: "empty input: pipe `pulumi stack output --json` in, or pass -f FILE"}
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return Outputs{}, &Error{Msg: "not a JSON object: " + jsonErr(err)}
	}
	if raw == nil {
		return Outputs{}, &Error{Msg: "not a JSON object: got null"}
	}
	if _, err := dec.Token(); err != io.EOF {
		return Outputs{}, &Error{Msg: "unexpected data after the JSON object"}
	}

	var o Outputs
	strs := map[string]*string{
		"url": &o.URL, "wwwUrl": &o.WWWURL, "albDnsName": &o.ALBDNSName, "albZoneId": &o.ALBZoneID,
		"certificateArn": &o.CertificateARN, "hostedZoneId": &o.HostedZoneID, "dbEndpoint": &o.DBEndpoint,
		"dbSecretArn": &o.DBSecretARN, "efsId": &o.EFSID, "imageRef": &o.ImageRef, "asgName": &o.ASGName,
		"swarmManagerIp": &o.SwarmManagerIP, "swarmUrl": &o.SwarmURL, "legacyUrl": &o.LegacyURL,
	}
	var missing []string
	for _, k := range Keys {
		if _, ok := raw[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return Outputs{}, keyErr(strings.Join(missing, ", "),
			"missing; the stack must export every output of the contract (empty when it does not apply)")
	}
	for _, k := range Keys {
		v, err := unwrapSecret(k, raw[k])
		if err != nil {
			return Outputs{}, err
		}
		switch k {
		case "validationRecords":
			o.ValidationRecords, err = decodeRecords(k, v)
		case "nameServers":
			o.NameServers, err = decodeStrings(k, v)
		default:
			*strs[k], err = decodeString(k, v)
		}
		if err != nil {
			return Outputs{}, err
		}
	}
	if err := o.check(); err != nil {
		return Outputs{}, err
	}
	return o, nil
}

func jsonErr(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("%v (at byte %d)", err, syn.Offset)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "the input ends before the JSON object does"
	}
	return err.Error()
}

// unwrapSecret returns the plain JSON value behind key's raw value.
func unwrapSecret(key string, v json.RawMessage) (json.RawMessage, error) {
	var s string
	if json.Unmarshal(v, &s) == nil && s == maskedSecret && needed[key] {
		return nil, keyErr(key, `is "[secret]": the CLI masked it; run `+"`pulumi stack output --json --show-secrets`")
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(v, &obj) != nil {
		return v, nil
	}
	if sig, ok := obj[sigKey]; ok {
		var got string
		if json.Unmarshal(sig, &got) != nil || got != secretSig {
			return nil, keyErr(key, "malformed Pulumi secret: bad signature")
		}
		pt, ok := obj["plaintext"]
		if !ok {
			if !needed[key] {
				return json.RawMessage(`""`), nil
			}
			return nil, keyErr(key, "is an encrypted secret; run `pulumi stack output --json --show-secrets`")
		}
		// Pulumi stores the plaintext as a JSON document inside a JSON string.
		var inner string
		if err := json.Unmarshal(pt, &inner); err != nil {
			return nil, keyErr(key, "malformed Pulumi secret: plaintext must be a string")
		}
		if !json.Valid([]byte(inner)) {
			return nil, keyErr(key, "malformed Pulumi secret: plaintext is not JSON")
		}
		return json.RawMessage(inner), nil
	}
	if val, ok := obj["value"]; ok && len(obj) == 2 {
		if sec, ok := obj["secret"]; ok {
			var b bool
			if json.Unmarshal(sec, &b) == nil {
				return val, nil
			}
		}
	}
	return v, nil
}

func typeName(v json.RawMessage) string {
	t := bytes.TrimSpace(v)
	if len(t) == 0 {
		return "nothing"
	}
	switch t[0] {
	case '"':
		return "a string"
	case '[':
		return "a list"
	case '{':
		return "an object"
	case 'n':
		return "null"
	case 't', 'f':
		return "a boolean"
	default:
		return "a number"
	}
}

func decodeString(key string, v json.RawMessage) (string, error) {
	var s string
	if typeName(v) != "a string" || json.Unmarshal(v, &s) != nil {
		return "", keyErr(key, "must be a string (empty when it does not apply), got %s", typeName(v))
	}
	return strings.TrimSpace(s), nil
}

func decodeStrings(key string, v json.RawMessage) ([]string, error) {
	var list []json.RawMessage
	if typeName(v) != "a list" || json.Unmarshal(v, &list) != nil {
		return nil, keyErr(key, "must be a list of strings (empty when it does not apply), got %s", typeName(v))
	}
	out := make([]string, 0, len(list))
	for i, e := range list {
		s, err := decodeString(fmt.Sprintf("%s[%d]", key, i), e)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func decodeRecords(key string, v json.RawMessage) ([]Record, error) {
	var list []json.RawMessage
	if typeName(v) != "a list" || json.Unmarshal(v, &list) != nil {
		return nil, keyErr(key, `must be a list of {"name","type","value"} objects, got %s`, typeName(v))
	}
	out := make([]Record, 0, len(list))
	for i, e := range list {
		k := fmt.Sprintf("%s[%d]", key, i)
		var obj map[string]json.RawMessage
		if typeName(e) != "an object" || json.Unmarshal(e, &obj) != nil {
			return nil, keyErr(k, `must be an object {"name","type","value"}, got %s`, typeName(e))
		}
		var rec Record
		for _, f := range []struct {
			name string
			dst  *string
		}{{"name", &rec.Name}, {"type", &rec.Type}, {"value", &rec.Value}} {
			fv, ok := obj[f.name]
			if !ok {
				return nil, keyErr(k+"."+f.name, "missing")
			}
			s, err := decodeString(k+"."+f.name, fv)
			if err != nil {
				return nil, err
			}
			*f.dst = s
		}
		out = append(out, rec)
	}
	return out, nil
}

// check validates the values the checks rely on and derives Domain.
func (o *Outputs) check() error {
	u, err := parseURL("url", o.URL)
	if err != nil {
		return err
	}
	if u == nil {
		return keyErr("url", "must not be empty")
	}
	switch u.Scheme {
	case "http":
		// No domain: the stack serves plain HTTP on the ALB's DNS name, and
		// the outputs about the domain are empty (docs/configuration.md, "Stack outputs").
		if err := checkHost("albDnsName", o.ALBDNSName, false); err != nil {
			return err
		}
		alb := strings.TrimSuffix(o.ALBDNSName, ".")
		if u.Port() != "" || !strings.EqualFold(strings.TrimSuffix(u.Hostname(), "."), alb) {
			return keyErr("url", "without a domain it must be http://<albDnsName>, here http://%s, got %q", alb, o.URL)
		}
		for _, kv := range [][2]string{{"wwwUrl", o.WWWURL}, {"swarmUrl", o.SwarmURL}, {"legacyUrl", o.LegacyURL}} {
			if kv[1] != "" {
				return keyErr(kv[0], "must be empty when url has no domain (%s), got %q", o.URL, kv[1])
			}
		}
		if len(o.ValidationRecords) > 0 {
			return keyErr("validationRecords", "must be empty when url has no domain (%s): there is no certificate", o.URL)
		}
		if len(o.NameServers) > 0 {
			return keyErr("nameServers", "must be empty when url has no domain (%s): there is no hosted zone", o.URL)
		}
		return nil
	case "https":
	default:
		return keyErr("url", "scheme must be https (with a domain) or http (without one), got %q", u.Scheme)
	}
	if u.Port() != "" {
		return keyErr("url", "%q: an https URL of a domain has no port", o.URL)
	}
	domain := strings.ToLower(u.Hostname())
	if err := checkHost("url", domain, false); err != nil {
		return err
	}
	if !strings.Contains(domain, ".") {
		return keyErr("url", "%q is not a domain with a parent zone to delegate from", domain)
	}
	o.Domain = domain

	w, err := parseURL("wwwUrl", o.WWWURL)
	if err != nil {
		return err
	}
	if w == nil || w.Scheme != "https" || !strings.EqualFold(w.Host, "www."+domain) {
		return keyErr("wwwUrl", "must be https://www.%s when url is https://%s, got %q", domain, domain, o.WWWURL)
	}
	for _, kv := range [][2]string{{"swarmUrl", o.SwarmURL}, {"legacyUrl", o.LegacyURL}} {
		s, err := parseURL(kv[0], kv[1])
		if err != nil {
			return err
		}
		if s == nil {
			continue
		}
		h := strings.ToLower(s.Hostname())
		if s.Scheme != "https" || s.Port() != "" || !strings.HasSuffix(h, "."+domain) {
			return keyErr(kv[0], "must be https://<name>.%s (a name in the stack's hosted zone), got %q", domain, kv[1])
		}
		if err := checkHost(kv[0], h, false); err != nil {
			return err
		}
	}
	if err := checkHost("albDnsName", o.ALBDNSName, false); err != nil {
		return err
	}
	if len(o.NameServers) == 0 {
		return keyErr("nameServers", "is empty, but url has a domain: the stack must export the hosted zone's name servers")
	}
	for i, ns := range o.NameServers {
		if err := checkHost(fmt.Sprintf("nameServers[%d]", i), ns, false); err != nil {
			return err
		}
	}
	for i, r := range o.ValidationRecords {
		k := fmt.Sprintf("validationRecords[%d]", i)
		if !strings.EqualFold(r.Type, "CNAME") {
			return keyErr(k+".type", "ACM DNS validation uses CNAME records, got %q", r.Type)
		}
		if err := checkHost(k+".name", r.Name, true); err != nil {
			return err
		}
		// ACM asks for a name under each name the certificate covers, all
		// of them in the stack's hosted zone.
		if n := strings.ToLower(strings.TrimSuffix(r.Name, ".")); !strings.HasSuffix(n, "."+domain) {
			return keyErr(k+".name", "%q is not a name under %s, the domain of url", r.Name, domain)
		}
		if err := checkHost(k+".value", r.Value, true); err != nil {
			return err
		}
	}
	if o.SwarmManagerIP != "" {
		if _, err := netip.ParseAddr(o.SwarmManagerIP); err != nil {
			return keyErr("swarmManagerIp", "%q is not an IP address", o.SwarmManagerIP)
		}
	}
	return nil
}

// parseURL returns nil for an empty value, or an absolute http(s) URL with a
// host and nothing after it but an optional "/".
func parseURL(key, s string) (*url.URL, error) {
	if s == "" {
		return nil, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, keyErr(key, "%q is not a URL: %v", s, errors.Unwrap(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, keyErr(key, "%q: scheme must be http or https", s)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, keyErr(key, "%q has no host", s)
	}
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, keyErr(key, "%q: expected scheme://host only", s)
	}
	return u, nil
}

// checkHost accepts a DNS host name with an optional trailing dot: labels of
// letters, digits and hyphens (RFC 1123 §2.1), 1-63 bytes each, 253 in all
// (RFC 1035 §2.3.4). underscore also admits "_" as used by ACM's validation
// names (RFC 2181 §11 allows any label; ACM's are "_" + hex). IP addresses are
// refused: every name here must be resolvable.
func checkHost(key, h string, underscore bool) error {
	if h == "" {
		return keyErr(key, "must not be empty")
	}
	name := strings.TrimSuffix(h, ".")
	if len(name) > 253 {
		return keyErr(key, "%q is longer than 253 characters", h)
	}
	if net.ParseIP(name) != nil {
		return keyErr(key, "%q is an IP address; a DNS name is expected", h)
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 {
			return keyErr(key, "%q is not a DNS name: every label must be 1-63 characters", h)
		}
		// By rune, so that a non-ASCII character is named whole.
		for i, c := range label {
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
				(c == '-' && i > 0 && i < len(label)-1) || (c == '_' && underscore)
			if !ok {
				return keyErr(key, "%q is not a DNS name: %q in label %q", h, c, label)
			}
		}
	}
	return nil
}

package rehearsal

import (
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// zoneServer is an authoritative server for one test zone on 127.0.0.1
// (UDP and TCP on one port): every name in it has the A record 127.0.0.1,
// the zone has an SOA and the NS records nameServers, all with the AA bit.
// pebble-challtestsrv cannot be it for the verifier: it answers without the
// AA bit and NOTIMP to NS queries, which verify rightly refuses from a
// hosted zone's server. It stays Pebble's resolver.
func zoneServer(t *testing.T, zone string, nameServers []string) string {
	t.Helper()
	zone = dns.Fqdn(zone)
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		name := strings.ToLower(q.Question[0].Name)
		if !dns.IsSubDomain(zone, name) {
			m.Rcode = dns.RcodeRefused
			_ = w.WriteMsg(m)
			return
		}
		m.Authoritative = true
		hdr := func(t uint16) dns.RR_Header {
			return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: 60}
		}
		switch q.Question[0].Qtype {
		case dns.TypeA:
			m.Answer = append(m.Answer, &dns.A{Hdr: hdr(dns.TypeA), A: net.IPv4(127, 0, 0, 1)})
		case dns.TypeNS:
			if name == zone {
				for _, ns := range nameServers {
					m.Answer = append(m.Answer, &dns.NS{Hdr: hdr(dns.TypeNS), Ns: dns.Fqdn(ns)})
				}
			}
		case dns.TypeSOA:
			if name == zone {
				m.Answer = append(m.Answer, &dns.SOA{Hdr: hdr(dns.TypeSOA), Ns: dns.Fqdn(nameServers[0]), Mbox: "hostmaster." + zone,
					Serial: 1, Refresh: 7200, Retry: 900, Expire: 1209600, Minttl: 60})
			}
		}
		_ = w.WriteMsg(m)
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	udp, tcp := &dns.Server{PacketConn: pc, Handler: h}, &dns.Server{Listener: l, Handler: h}
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	t.Cleanup(func() { _ = udp.Shutdown(); _ = tcp.Shutdown() })
	return pc.LocalAddr().String()
}

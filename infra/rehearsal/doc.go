// Package rehearsal runs the stack's scenarios on real parts on one machine:
// its tests render the hosts' user data and run it against a real Docker
// engine, NGINX, certbot and an ACME server. It has no code of its own.
package rehearsal

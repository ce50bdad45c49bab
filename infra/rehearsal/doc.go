// Package rehearsal runs what the stack ships on real engines, here: the
// rendered host artifacts (user data) on a real Docker Engine with the real
// Compose plugin, behind a real load balancer (Debian's HAProxy, configured
// from the values edge declares), pulling the image by digest from a real OCI
// registry (distribution, in-process on 127.0.0.1) that requires a login;
// and the monolith: the rendered NGINX configs on Debian's nginx with a
// certificate from Pebble, Let's Encrypt's test CA, through certbot.
//
// Everything is in its tests (TestRehearsal…): `go test -run Rehearsal ./...`
// runs them alone. What they need from the machine (Docker Engine, Compose
// v2.32.4, podman with the base images, HAProxy, the mysql stand-in image) is
// looked up first; when something is missing a test is skipped naming it, or
// fails under BOOKSTORE_TEST_STRICT=1 (CI). Each test logs its figures on a
// line that begins with "rehearsal:".
//
// The Docker Engine is shared: every container, network, volume and compose
// project a test creates carries a per-run prefix, and the test removes only
// what it created. The package imports no Pulumi provider SDK.
package rehearsal

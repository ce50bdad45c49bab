package rehearsal

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestRehearsalFleetRegistry pushes the image to the stand-in for ECR the way
// the image component does and pulls it by digest the way hosts do, and shows
// that the registry refuses both without a login and a login with a wrong
// password.
func TestRehearsalFleetRegistry(t *testing.T) {
	t.Parallel() // the package runs past go test's 10 min default one test after another
	src := rehearsalImage(t)
	reg := startRegistry(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const repository = "bookstore"

	anonymous := newDockerClient(t)
	tag := reg.Host + "/" + repository + ":anonymous"
	if _, err := anonymous.run(ctx, "", "tag", src, tag); err != nil {
		t.Fatal(err)
	}
	_, err := anonymous.run(ctx, "", "push", "--quiet", tag)
	anonymous.run(context.Background(), "", "rmi", tag)
	if !errUnauthorized(err) {
		t.Fatalf("push without a login: %v, want the registry to refuse it (unauthorized)", err)
	}
	if err := anonymous.login(ctx, reg.Host, reg.Password+"x"); !errUnauthorized(err) {
		t.Fatalf("login with a wrong password: %v, want it refused", err)
	}

	stack := newDockerClient(t)
	if err := stack.login(ctx, reg.Host, reg.Password); err != nil {
		t.Fatalf("login with the right password: %v", err)
	}
	start := time.Now()
	ref := stack.push(t, src, reg.Host, repository, "rehearsal")
	pushed := time.Since(start)
	if !strings.HasPrefix(ref, reg.Host+"/"+repository+"@sha256:") {
		t.Fatalf("pushed image reference %q, want %s/%s@sha256:…", ref, reg.Host, repository)
	}

	host := newDockerClient(t)
	if _, err := host.run(ctx, "", "pull", "--quiet", ref); !errUnauthorized(err) {
		t.Fatalf("pull by digest without a login: %v, want the registry to refuse it", err)
	}
	if err := host.login(ctx, reg.Host, reg.Password); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if _, err := host.run(ctx, "", "pull", "--quiet", ref); err != nil {
		t.Fatalf("pull by digest after the login: %v", err)
	}
	pulled := time.Since(start)
	defer host.run(context.Background(), "", "rmi", ref)
	got, err := host.run(ctx, "", "image", "inspect", "--format", "{{.Id}}", ref)
	if err != nil {
		t.Fatal(err)
	}
	want, err := host.run(ctx, "", "image", "inspect", "--format", "{{.Id}}", src)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("pulled %s is image %s, want the pushed %s", ref, strings.TrimSpace(got), strings.TrimSpace(want))
	}
	t.Logf("rehearsal: registry %s (login required: push, pull and a wrong password refused); push %s, pull by digest %s; %s",
		reg.Host, pushed.Round(time.Millisecond), pulled.Round(time.Millisecond), ref)
}

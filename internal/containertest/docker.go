package containertest

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	dockerOnce sync.Once
	dockerWhy  string

	loadMu sync.Mutex
	loaded = map[string]error{}
)

// NeedDocker checks, once per test binary, for a Docker Engine that answers
// and the Compose v2 plugin at composeVersion (e.g. "2.32.4", what the fleet
// hosts pin; "" accepts any). It skips t (fails it under
// BOOKSTORE_TEST_STRICT=1) naming what is missing.
func NeedDocker(t testing.TB, composeVersion string) {
	t.Helper()
	dockerOnce.Do(func() { dockerWhy = dockerPrereqs() })
	if dockerWhy != "" {
		Missing(t, dockerWhy)
	}
	if composeVersion == "" {
		return
	}
	out, err := Docker(context.Background(), "compose", "version", "--short")
	if got := strings.TrimPrefix(strings.TrimSpace(out), "v"); err != nil || got != composeVersion {
		Missing(t, fmt.Sprintf("docker compose %s wanted, found %q (%v): run ../shared/tools/container-env.sh --docker, "+
			"which builds that version into /usr/local/lib/docker/cli-plugins", composeVersion, got, err))
	}
}

func dockerPrereqs() string {
	if _, err := exec.LookPath("docker"); err != nil {
		return "docker CLI not installed: run .ci/run, or ../shared/tools/container-env.sh --docker (Debian's docker.io)"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := Docker(ctx, "version", "--format", "{{.Server.Version}}"); err != nil {
		return fmt.Sprintf("Docker Engine does not answer (%v): start dockerd, or run ../shared/tools/container-env.sh --docker", err)
	}
	return ""
}

// LoadIntoDocker copies ref from podman's storage into Docker's, as
// `podman save --format docker-archive REF | docker load` (Docker's BuildKit
// would fetch the Dockerfile's syntax frontend from a registry, so images are
// built with podman). It does nothing when Docker already holds the same image
// id under ref, and runs at most once per ref per test binary. A failure fails t.
func LoadIntoDocker(t testing.TB, ref string) {
	t.Helper()
	loadMu.Lock()
	defer loadMu.Unlock()
	err, done := loaded[ref]
	if !done {
		err = load(ref)
		loaded[ref] = err
	}
	if err != nil {
		t.Fatal(err)
	}
}

func load(ref string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	want, err := Podman(ctx, "image", "inspect", "--format", "{{.Id}}", ref)
	if err != nil {
		return err
	}
	have, _ := Docker(ctx, "image", "inspect", "--format", "{{.Id}}", ref)
	if strings.TrimSpace(have) == "sha256:"+strings.TrimSpace(want) {
		return nil
	}
	save := exec.CommandContext(ctx, "podman", "save", "--format", "docker-archive", ref)
	pipe, err := save.StdoutPipe()
	if err != nil {
		return err
	}
	var saveErr strings.Builder
	save.Stderr = &saveErr
	if err := save.Start(); err != nil {
		return fmt.Errorf("podman save %s: %w", ref, err)
	}
	loadCmd := exec.CommandContext(ctx, "docker", "load")
	loadCmd.Stdin = pipe
	_, loadErr := Run(loadCmd)
	if err := save.Wait(); err != nil {
		return fmt.Errorf("podman save %s: %w\n%s", ref, err, Tail(saveErr.String(), 20))
	}
	if loadErr != nil {
		return fmt.Errorf("docker load of %s: %w", ref, loadErr)
	}
	return nil
}

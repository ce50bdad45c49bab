package containertest

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// ImageRef is the tag the tests build the root Dockerfile into, in podman's
// storage and, once LoadIntoDocker ran, in Docker's.
const ImageRef = "localhost/bookstore:e2e"

// The two bases of the Dockerfile, by the names podman stores them under.
const (
	BuildBase = "docker.io/library/golang:1.26-bookworm"
	RunBase   = "gcr.io/distroless/static-debian12:nonroot"
)

var (
	podmanOnce sync.Once
	podmanWhy  string

	buildOnce sync.Once
	buildErr  error
	buildTook time.Duration
)

// NeedPodman checks, once per test binary, for what building the image needs:
// podman and both base images in its local storage. It skips t (fails it
// under BOOKSTORE_TEST_STRICT=1) naming what is missing.
func NeedPodman(t testing.TB) {
	t.Helper()
	podmanOnce.Do(func() { podmanWhy = podmanPrereqs() })
	if podmanWhy != "" {
		Missing(t, podmanWhy)
	}
}

func podmanPrereqs() string {
	if _, err := exec.LookPath("podman"); err != nil {
		return "podman not installed: run .ci/run, or ../shared/tools/container-env.sh on a machine without a registry"
	}
	for _, ref := range []string{BuildBase, RunBase} {
		if err := exec.Command("podman", "image", "exists", ref).Run(); err != nil {
			return fmt.Sprintf("base image %s is not in podman's local storage: run ../shared/tools/container-env.sh "+
				"(builds local stand-ins), or `podman pull %s` where a registry is reachable", ref, ref)
		}
	}
	return ""
}

// BuildImage builds the root Dockerfile into ImageRef with podman, once per
// test binary, and returns how long that build took (the same figure on every
// call). A failed build fails t.
//
// The build runs with --network=none: its modules come from a file:// proxy made of
// the host's module cache, mounted read-only. `go list -deps` first makes the host
// cache hold every module the service's build needs (fetched the host's usual way).
// Layers and the Dockerfile's cache mounts persist in podman's storage, so a second
// build with an unchanged service takes seconds.
func BuildImage(t testing.TB) time.Duration {
	t.Helper()
	NeedPodman(t)
	root := RepoRoot(t)
	buildOnce.Do(func() {
		start := time.Now()
		buildErr = build(root)
		buildTook = time.Since(start)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildTook
}

func build(root string) error {
	if err := readBuildContext(root); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	list := exec.CommandContext(ctx, "go", "list", "-deps", "-tags", "noembedded", "./service")
	list.Dir = root
	list.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := list.CombinedOutput(); err != nil {
		return fmt.Errorf("go list -deps ./service (fills the module cache the image build reads): %w\n%s", err, Tail(string(out), 20))
	}
	modcache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		return fmt.Errorf("go env GOMODCACHE: %w", err)
	}
	proxyDir := filepath.Join(strings.TrimSpace(string(modcache)), "cache", "download")
	_, err = Podman(ctx, "build",
		"--format", "docker", // OCI images drop HEALTHCHECK
		"--network", "none",
		"--volume", proxyDir+":/goproxy:ro",
		"--build-arg", "GOPROXY=file:///goproxy",
		"-t", ImageRef,
		"-f", filepath.Join(root, "Dockerfile"),
		root)
	if err != nil {
		return fmt.Errorf("image build: %w", err)
	}
	return nil
}

// readBuildContext reads every file the image is built from. podman reads them
// in another process, which go test's result cache does not see; reading them
// here makes a change to any of them re-run the calling package instead of
// reporting a cached pass.
func readBuildContext(root string) error {
	for _, f := range []string{"Dockerfile", ".dockerignore", "go.mod", "go.sum"} {
		if _, err := os.ReadFile(filepath.Join(root, f)); err != nil {
			return err
		}
	}
	return filepath.WalkDir(filepath.Join(root, "service"), func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && d.Name() == "e2e":
			return filepath.SkipDir
		case d.Type().IsRegular():
			_, err = os.ReadFile(path)
		}
		return err
	})
}

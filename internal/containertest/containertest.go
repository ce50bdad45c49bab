// Package containertest is what the tests that run the project's container
// image share: the BOOKSTORE_TEST_STRICT rule for missing tools, the image built
// from the root Dockerfile with podman (once per test binary), and the same
// image loaded into Docker Engine for the tests that need Docker itself
// (compose, a registry push, the fleet rehearsal).
//
// What a test needs from the machine is looked up first; when something is
// missing the test is skipped with a message that says what and how to get it,
// or fails when BOOKSTORE_TEST_STRICT=1 (CI). .ci/run sets all of it up.
package containertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Strict reports BOOKSTORE_TEST_STRICT=1: a missing tool fails the test
// instead of skipping it (CI sets it).
func Strict() bool { return os.Getenv("BOOKSTORE_TEST_STRICT") == "1" }

// Missing skips t because what the test needs is not there, or fails it under
// BOOKSTORE_TEST_STRICT=1. why says what is missing and how to get it.
func Missing(t testing.TB, why string) {
	t.Helper()
	if Strict() {
		t.Fatalf("%s (not skipped: BOOKSTORE_TEST_STRICT=1)", why)
	}
	t.Skip(why)
}

// RepoRoot is the directory of the module's go.mod, where the Dockerfile and
// docker-compose.yml are.
func RepoRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		t.Fatal("go env GOMOD: not inside the module")
	}
	return filepath.Dir(mod)
}

// RandomHex returns n random bytes as 2n hex digits, for unique names.
func RandomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// Tail returns the last n lines of s.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Run runs cmd and returns its stdout; the error names the command and carries
// the last 40 lines of its stderr.
func Run(cmd *exec.Cmd) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, Tail(stderr.String(), 40))
	}
	return stdout.String(), nil
}

// Podman runs podman with args and returns its stdout; the error carries stderr.
func Podman(ctx context.Context, args ...string) (string, error) {
	return Run(exec.CommandContext(ctx, "podman", args...))
}

// Docker runs the docker CLI with args and returns its stdout; the error
// carries stderr.
func Docker(ctx context.Context, args ...string) (string, error) {
	return Run(exec.CommandContext(ctx, "docker", args...))
}

// FreePort returns a loopback TCP port nobody listens on right now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// CoverPNG is a small real PNG (24×32 pixels), so the service's content
// sniffing sees an image.
func CoverPNG(t testing.TB) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 24, 32))
	for y := range 32 {
		for x := range 24 {
			img.Set(x, y, color.RGBA{R: uint8(40 + 6*x), G: 90, B: uint8(200 - 5*y), A: 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

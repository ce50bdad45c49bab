package rehearsal

import (
	"os"
	"os/exec"
	"testing"
)

// TEMPORARY until the shared rehearsal scaffolding (branch fleet9) lands:
// skip/strict and the image come from there.

func requireTools(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			if os.Getenv("BOOKSTORE_TEST_STRICT") == "1" {
				t.Fatalf("%s not found; BOOKSTORE_TEST_STRICT=1 makes this a failure", n)
			}
			t.Skipf("%s not found", n)
		}
	}
}

func requireMonolithApp(t *testing.T) *monolithApp {
	t.Helper()
	requireTools(t, "docker")
	if err := exec.Command("docker", "compose", "version").Run(); err != nil {
		t.Skip("docker compose: ", err)
	}
	return &monolithApp{image: "localhost/swarm10-bookstore:dev"}
}

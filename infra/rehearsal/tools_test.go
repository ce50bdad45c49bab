package rehearsal

import (
	"fmt"
	"os/exec"
	"testing"

	"github.com/bookstore-aws/bookstore/infra/userdata"
	"github.com/bookstore-aws/bookstore/internal/containertest"
)

// requireTools skips t (fails it under BOOKSTORE_TEST_STRICT=1) when one of
// the Debian commands names is not on PATH.
func requireTools(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			containertest.Missing(t, fmt.Sprintf("%s not found: apt-get install %s (Debian 12); .ci/run installs it", n, n))
		}
	}
}

// requireMonolithApp needs Docker with the Compose version the monolith
// pins, and the service image built and loaded into Docker.
func requireMonolithApp(t *testing.T) *monolithApp {
	t.Helper()
	containertest.NeedDocker(t, userdata.ComposeVersion)
	return &monolithApp{image: rehearsalImage(t)}
}

package lbspec

import (
	"strings"
	"testing"
	"time"
)

func TestForward(t *testing.T) {
	got, err := Forward(100, 0, true)
	if err != nil || len(got) != 2 || got[0] != (WeightedTargetGroup{AppTargetGroup, 100}) || got[1] != (WeightedTargetGroup{SwarmTargetGroup, 0}) {
		t.Errorf("Forward(100, 0, true) = %v, %v; want app 100, swarm 0", got, err)
	}
	got, err = Forward(100, 0, false)
	if err != nil || len(got) != 1 || got[0] != (WeightedTargetGroup{AppTargetGroup, 100}) {
		t.Errorf("Forward(100, 0, false) = %v, %v; want app 100 alone", got, err)
	}
	for _, w := range []struct {
		app, swarm int
		hasSwarm   bool
	}{{0, 0, true}, {-1, 10, true}, {10, MaxWeight + 1, true}, {10, 5, false}, {0, 0, false}} {
		if got, err := Forward(w.app, w.swarm, w.hasSwarm); err == nil {
			t.Errorf("Forward(%d, %d, %v) = %v, want an error", w.app, w.swarm, w.hasSwarm, got)
		}
	}
}

// The window in which a dead target still gets requests: three failed
// checks 15 s apart, the last timing out after 5 s.
func TestDetectionWindow(t *testing.T) {
	if got := TargetHealthCheck.DetectionWindow(); got != 35*time.Second {
		t.Errorf("DetectionWindow = %s, want 35s", got)
	}
}

// The policy's promise (forward secrecy, AEAD only) holds for every TLS 1.2
// cipher listed.
func TestSSLPolicyForwardSecrecy(t *testing.T) {
	if len(SSLPolicy.Ciphers) == 0 || len(SSLPolicy.CipherSuites) == 0 {
		t.Fatalf("%s lists no ciphers", SSLPolicy.Name)
	}
	for _, c := range SSLPolicy.Ciphers {
		if !strings.HasPrefix(c, "ECDHE-") || !strings.Contains(c, "-GCM-") {
			t.Errorf("%s: cipher %s is not ECDHE with AES-GCM", SSLPolicy.Name, c)
		}
	}
	if DeregistrationDelay <= 25*time.Second {
		t.Errorf("DeregistrationDelay %s does not outlast the service's DRAIN_TIMEOUT (25s)", DeregistrationDelay)
	}
}

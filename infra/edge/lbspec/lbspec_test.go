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

// The window in which a dead target still gets requests: the failed checks
// but the last an Interval apart, the last timing out.
func TestDetectionWindow(t *testing.T) {
	h := HealthCheck{Interval: 15 * time.Second, Timeout: 5 * time.Second, UnhealthyThreshold: 3}
	if got := h.DetectionWindow(); got != 35*time.Second {
		t.Errorf("DetectionWindow of 3 checks 15 s apart with a 5 s timeout = %s, want 35s", got)
	}
}

// The targets' check is within the ALB's limits, and a dead target stops
// getting requests within 10 s (the ALB retries nothing before that).
func TestTargetHealthCheckIsFastAndValid(t *testing.T) {
	h := TargetHealthCheck
	if h.Interval < 5*time.Second || h.Interval > 300*time.Second || h.Timeout < 2*time.Second || h.Timeout >= h.Interval ||
		h.HealthyThreshold < 2 || h.HealthyThreshold > 10 || h.UnhealthyThreshold < 2 || h.UnhealthyThreshold > 10 {
		t.Errorf("%+v is outside the ALB's limits (interval 5-300 s, timeout 2 s to less than the interval, thresholds 2-10)", h)
	}
	if got := h.DetectionWindow(); got > 10*time.Second {
		t.Errorf("a dead target keeps getting requests for %s; want at most 10s", got)
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

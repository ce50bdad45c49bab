package dbconn

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// Secret ARNs live in us-east-1; newFakeSecretsManager sets AWS_REGION to
// another region, and the fake rejects requests not signed for us-east-1.
const (
	testRegion = "us-east-1"
	testARN    = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!db-11111111-2222-AbCdEf"
)

// closedPortSettings points at 127.0.0.1:1, where nothing listens: the tests
// using it fail before connecting, while reading the secret.
func closedPortSettings() Settings {
	return Settings{Mode: ModeSecret, Host: "127.0.0.1", Port: 1, Name: "bookstore", SecretARN: testARN}
}

func TestSecretErrors(t *testing.T) {
	const pw = "hunter2-Secret"
	tests := []struct {
		name    string
		setup   func(f *fakeSecretsManager)
		wantErr error
		want    string
	}{
		{"not found", func(f *fakeSecretsManager) {}, ErrSecretNotFound, "ResourceNotFoundException"},
		{"not JSON", func(f *fakeSecretsManager) { f.put(testARN, `{"username":"admin","password":"`+pw) }, ErrSecretFormat, "invalid JSON at byte"},
		{"plain password", func(f *fakeSecretsManager) { f.put(testARN, pw) }, ErrSecretFormat, "invalid JSON"},
		{"JSON array", func(f *fakeSecretsManager) { f.put(testARN, `["admin","`+pw+`"]`) }, ErrSecretFormat, "not a JSON object"},
		{"password not a string", func(f *fakeSecretsManager) { f.put(testARN, `{"username":"admin","password":87654321}`) }, ErrSecretFormat, "not a JSON object of strings"},
		{"missing username", func(f *fakeSecretsManager) { f.put(testARN, `{"password":"`+pw+`"}`) }, ErrSecretFormat, `"username" is missing`},
		{"missing password", func(f *fakeSecretsManager) { f.put(testARN, `{"username":"admin"}`) }, ErrSecretFormat, `"password" is missing`},
		{"empty password", func(f *fakeSecretsManager) { f.put(testARN, `{"username":"admin","password":""}`) }, ErrSecretFormat, `"password" is missing or empty`},
		{"binary secret", func(f *fakeSecretsManager) { f.putBinary(testARN, []byte(pw)) }, ErrSecretFormat, "binary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeSecretsManager(t, testRegion)
			tt.setup(f)
			db, err := Open(t.Context(), closedPortSettings(), nil)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer db.Close()
			err = db.PingContext(t.Context())
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Ping error %v, want %v", err, tt.wantErr)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) || !strings.Contains(msg, testARN) {
				t.Errorf("error %q should contain %q and the ARN", msg, tt.want)
			}
			if strings.Contains(msg, pw) || strings.Contains(msg, "87654321") {
				t.Errorf("error %q echoes the secret", msg)
			}
			if n := f.calls.Load(); n != 1 {
				t.Errorf("GetSecretValue called %d times, want 1", n)
			}
		})
	}
}

// Many goroutines connecting at once on a cold start share one read.
func TestSecretReadIsShared(t *testing.T) {
	f := newFakeSecretsManager(t, testRegion)
	f.putCredentials(testARN, "admin", "pw-1")
	f.delay = 200 * time.Millisecond
	c, err := newSecretConnector(t.Context(), closedPortSettings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// One caller gives up early; the shared read must still serve the rest.
	quitter, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := c.current(quitter); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller: err %v, want context.Canceled", err)
	}

	const n = 64
	got := make([]*credentials, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { got[i], errs[i] = c.current(t.Context()) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if got[i] != got[0] || got[i].user != "admin" {
			t.Fatalf("caller %d got %+v, want the shared credentials of admin", i, got[i])
		}
	}
	if calls := f.calls.Load(); calls != 1 {
		t.Errorf("GetSecretValue called %d times for %d concurrent callers, want 1", calls, n+1)
	}
}

// A read that fails is not cached: the next connection tries again.
func TestSecretReadFailureNotCached(t *testing.T) {
	f := newFakeSecretsManager(t, testRegion)
	c, err := newSecretConnector(t.Context(), closedPortSettings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.current(t.Context()); !errors.Is(err, ErrSecretNotFound) {
		t.Fatalf("err %v, want ErrSecretNotFound", err)
	}
	f.putCredentials(testARN, "admin", "pw-1")
	creds, err := c.current(t.Context())
	if err != nil || creds.user != "admin" {
		t.Fatalf("after the secret appeared: %+v, %v", creds, err)
	}
	if calls := f.calls.Load(); calls != 2 {
		t.Errorf("GetSecretValue called %d times, want 2", calls)
	}
}

// A caller whose rejected credentials were already replaced by another
// caller's re-read gets the new ones without a call; re-reads of the same
// credentials are spaced by minRefreshInterval.
func TestSecretRefreshGenerations(t *testing.T) {
	f := newFakeSecretsManager(t, testRegion)
	f.putCredentials(testARN, "admin", "pw-1")
	c, err := newSecretConnector(t.Context(), closedPortSettings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Now()
	c.now = func() time.Time { return clock }
	step := func(what string, stale *credentials, wantCalls int64) *credentials {
		t.Helper()
		got, err := c.refresh(t.Context(), stale)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if n := f.calls.Load(); n != wantCalls {
			t.Fatalf("%s: %d GetSecretValue calls, want %d", what, n, wantCalls)
		}
		return got
	}
	gen1, err := c.current(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	f.putCredentials(testARN, "admin", "pw-2")
	gen2 := step("first re-read", gen1, 2)
	if gen2 == gen1 || gen2.versionID == gen1.versionID {
		t.Fatalf("re-read returned the old credentials (version %s)", gen2.versionID)
	}
	if got := step("late caller with gen1", gen1, 2); got != gen2 {
		t.Errorf("late caller got version %s, want gen2's %s", got.versionID, gen2.versionID)
	}
	if got := step("gen2 rejected at once", gen2, 2); got != gen2 {
		t.Errorf("within minRefreshInterval: got version %s, want gen2 itself", got.versionID)
	}
	clock = clock.Add(minRefreshInterval)
	if got := step("gen2 rejected later", gen2, 3); got == gen2 {
		t.Error("after minRefreshInterval the secret was not read again")
	}
}

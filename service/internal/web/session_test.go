package web

import (
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
)

// A signed-in session idle past sessionIdleTimeout is signed out; a busy
// one records its time at most once per sessionSeenEvery, so its requests
// don't each write the session.
func TestCheckIdle(t *testing.T) {
	sm := scs.New()
	sm.Store = memstore.New()
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		name     string
		seen     time.Time // zero: none recorded
		signedIn bool
		modified bool
	}{
		{"just seen", now.Add(-30 * time.Second), true, false},
		{"seen a minute ago", now.Add(-sessionSeenEvery), true, true},
		{"idle 11 h", now.Add(-11 * time.Hour), true, true},
		{"idle 12 h 1 s", now.Add(-sessionIdleTimeout - time.Second), false, true},
		{"from before the rule", time.Time{}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, err := sm.Load(t.Context(), "")
			if err != nil {
				t.Fatal(err)
			}
			sm.Put(ctx, "userID", int64(7))
			if !tc.seen.IsZero() {
				sm.Put(ctx, "seen", tc.seen.Unix())
			}
			// Commit and load again, as the next request would.
			token, _, err := sm.Commit(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if ctx, err = sm.Load(t.Context(), token); err != nil {
				t.Fatal(err)
			}
			if got := checkIdle(ctx, sm, now); got != tc.signedIn {
				t.Errorf("checkIdle = %v, want %v", got, tc.signedIn)
			}
			if got := sm.Status(ctx) == scs.Modified; got != tc.modified {
				t.Errorf("session modified = %v, want %v", got, tc.modified)
			}
			if signedIn := sm.GetInt64(ctx, "userID") != 0; signedIn != tc.signedIn {
				t.Errorf("userID kept = %v, want %v", signedIn, tc.signedIn)
			}
		})
	}
}

package containertest

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// WaitReady polls GET base+"/readyz" every interval until it answers 200,
// ctx ends, gone returns an error (the process or container behind base has
// died: that error is returned at once), or timeout passes. gone may be nil.
// The error names the last answer seen.
func WaitReady(ctx context.Context, base string, timeout, interval time.Duration, gone func() error) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for time.Now().Before(deadline) && ctx.Err() == nil {
		resp, err := client.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if gone != nil {
			if err := gone(); err != nil {
				return err
			}
		}
		time.Sleep(interval)
	}
	return fmt.Errorf("GET %s/readyz not 200 after %s (last: %s)", base, timeout, last)
}

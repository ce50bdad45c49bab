package check

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/bookstore-aws/bookstore/infra/verify/stackout"
)

// Wait runs the checks until they all pass, ctx is done, or d has passed
// since the first run began; between runs it sleeps interval (seconds to
// minutes) and hands the report to progress when progress is not nil. When
// d runs out, pending rows become failures: propagation that has not ended
// by then is a problem. The error is Run's.
func Wait(ctx context.Context, out stackout.Outputs, opts Options, d, interval time.Duration, progress func(Report, time.Duration)) (Report, error) {
	deadline := time.Now().Add(d)
	for attempt := 1; ; attempt++ {
		rep, err := Run(ctx, out, opts)
		if err != nil {
			return rep, err
		}
		rep.Attempts = attempt
		left := time.Until(deadline)
		if rep.Status == Pass || ctx.Err() != nil {
			return rep, nil
		}
		if left <= 0 {
			rep.expire(d)
			return rep, nil
		}
		if progress != nil {
			progress(rep, left)
		}
		t := time.NewTimer(min(interval, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return rep, nil
		case <-t.C:
		}
	}
}

func (r *Report) expire(d time.Duration) {
	for i := range r.Checks {
		if r.Checks[i].Status == Pending {
			r.Checks[i].Status = Fail
			r.Checks[i].Hint = strings.TrimSpace(fmt.Sprintf("%s (still pending when --wait %s ran out)", r.Checks[i].Hint, d))
		}
	}
	r.finish(r.Finished)
}

// ProgressLine is one line for stderr while waiting: counts, the first rows
// that do not pass yet, and the time left.
func ProgressLine(r Report, left time.Duration) string {
	var waiting []string
	for _, c := range r.Checks {
		if c.Status != Pass {
			waiting = append(waiting, c.Check+" "+c.Name)
		}
	}
	if len(waiting) > 3 {
		waiting = append(waiting[:3], fmt.Sprintf("+%d more", len(waiting)-3))
	}
	return fmt.Sprintf("attempt %d: %d/%d pass, %d pending, %d fail; waiting on %s; %s left",
		r.Attempts, r.Summary.Pass, len(r.Checks), r.Summary.Pending, r.Summary.Fail,
		strings.Join(waiting, ", "), left.Round(time.Second))
}

// WriteText writes r for people: one row per check with its status, kind,
// name and what was seen; a row that does not pass is followed by what was
// expected and a hint. The columns are aligned; values are kept on one line.
func WriteText(w io.Writer, r Report) error {
	var b strings.Builder
	if r.Domain != "" {
		fmt.Fprintf(&b, "Deployment of %s\n", r.Domain)
	} else {
		fmt.Fprintf(&b, "Deployment at %s\n", r.URL)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	b.WriteString("\n")
	ws, wk, wn := len("pending"), len("CHECK"), len("NAME")
	for _, c := range r.Checks {
		wk, wn = max(wk, len(c.Check)), max(wn, len(c.Name))
	}
	indent := strings.Repeat(" ", ws+2+wk+2)
	fmt.Fprintf(&b, "%-*s  %-*s  %-*s  %s\n", ws, "STATUS", wk, "CHECK", wn, "NAME", "SEEN")
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "%-*s  %-*s  %-*s  %s\n", ws, c.Status, wk, c.Check, wn, c.Name, oneLine(c.Seen))
		if c.Status != Pass {
			fmt.Fprintf(&b, "%sexpected: %s\n", indent, oneLine(c.Expected))
			fmt.Fprintf(&b, "%shint:     %s\n", indent, oneLine(c.Hint))
		}
	}
	attempts := ""
	if r.Attempts > 1 {
		attempts = fmt.Sprintf(" after %d attempts", r.Attempts)
	}
	fmt.Fprintf(&b, "\n%d checks: %d pass, %d pending, %d fail%s: %s\n",
		len(r.Checks), r.Summary.Pass, r.Summary.Pending, r.Summary.Fail, attempts, strings.ToUpper(string(r.Status)))
	_, err := io.WriteString(w, b.String())
	return err
}

// oneLine keeps a value on its row: tabs and newlines would break the table.
func oneLine(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Join(strings.Fields(s), " ")
}

// WriteJSON writes r as one indented JSON object, for machines. Lists are
// never null.
func WriteJSON(w io.Writer, r Report) error {
	if r.Checks == nil {
		r.Checks = []Result{}
	}
	if r.Notes == nil {
		r.Notes = []string{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

package rehearsal

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bookstore-aws/bookstore/internal/containertest"
)

// load is a closed-loop load through the balancer: Workers shoppers, each
// signed in, each looping GET /book/catalog and, every BuyEvery-th round, a
// purchase of one unit of BookID (POST /buy, /delivery, /payment). A request
// fails on a transport error or a status that is not 2xx/3xx. It stops at
// Stop, after MaxRequests or after MaxDuration, whichever comes first.
type load struct {
	Workers     int
	BuyEvery    int
	BookID      string
	MaxRequests int
	MaxDuration time.Duration

	mu       sync.Mutex
	requests int
	failures []failure
	stop     chan struct{}
	done     sync.WaitGroup
	started  time.Time
	ended    time.Time
}

// failure is one failed request: when it was sent and answered, and what.
type failure struct {
	Sent, Done time.Time
	What       string
}

// start signs the shoppers in (an error there is returned: it is setup, not
// load) and starts the loops.
func (l *load) start(newShopper func() *shopper, runID string) error {
	l.stop = make(chan struct{})
	shoppers := make([]*shopper, l.Workers)
	for w := range shoppers {
		s := newShopper()
		if err := s.signUp(fmt.Sprintf("Load %d", w), fmt.Sprintf("load-%s-%d@rehearsal.test", runID, w), "rehearsal load password"); err != nil {
			return fmt.Errorf("shopper %d: %w", w, err)
		}
		shoppers[w] = s
	}
	l.started = time.Now()
	deadline := l.started.Add(l.MaxDuration)
	for _, s := range shoppers {
		l.done.Add(1)
		go func() {
			defer l.done.Done()
			for round := 1; ; round++ {
				select {
				case <-l.stop:
					return
				default:
				}
				if time.Now().After(deadline) || !l.take() {
					return
				}
				if round%l.BuyEvery == 0 {
					l.buy(s)
				} else {
					l.catalog(s)
				}
			}
		}()
	}
	return nil
}

// take counts one request, or reports that MaxRequests is reached.
func (l *load) take() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.requests >= l.MaxRequests {
		return false
	}
	l.requests++
	return true
}

func (l *load) fail(sent time.Time, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures = append(l.failures, failure{Sent: sent, Done: time.Now(), What: fmt.Sprintf(format, args...)})
}

// ok reports whether r is an answer the load counts as served.
func ok(r reply, err error) bool { return err == nil && r.Status >= 200 && r.Status < 400 }

func (l *load) catalog(s *shopper) string {
	sent := time.Now()
	r, err := s.get("/book/catalog")
	if !ok(r, err) {
		l.fail(sent, "GET /book/catalog: %d %v", r.Status, err)
		return ""
	}
	return r.Body
}

var (
	deliveryPath = regexp.MustCompile(`^/delivery/(\d+)$`)
	paymentPath  = regexp.MustCompile(`^/payment/(\d+)$`)
)

// buy is four requests, the checkout's order: the catalog (for the form),
// POST /buy, POST /delivery (the provider with id 1), POST /payment.
func (l *load) buy(s *shopper) {
	page := l.catalog(s)
	if page == "" {
		return
	}
	action := "/buy/" + l.BookID
	fields := containertest.HiddenFields(page, "/book/catalog", action)
	fields.Set("quantity", "1")
	if !l.take() {
		return
	}
	sent := time.Now()
	r, err := s.post(action, fields, nil)
	m, perr := expectRedirect("POST "+action, r, err, deliveryPath)
	if !ok(r, err) || perr != nil {
		l.fail(sent, "%v (status %d)", perr, r.Status)
		return
	}
	if !l.take() {
		return
	}
	deliver := "/delivery/" + m[1]
	sent = time.Now()
	r, err = s.post(deliver, url.Values{"provider": {"1"}}, nil)
	if _, perr := expectRedirect("POST "+deliver, r, err, paymentPath); !ok(r, err) || perr != nil {
		l.fail(sent, "%v (status %d)", perr, r.Status)
		return
	}
	if !l.take() {
		return
	}
	pay := "/payment/" + m[1]
	sent = time.Now()
	r, err = s.post(pay, url.Values{"method": {"Credit Card"}}, nil)
	if !ok(r, err) {
		l.fail(sent, "POST %s: %d %v", pay, r.Status, err)
	}
}

// halt stops the loops and waits for the requests in flight.
func (l *load) halt() {
	close(l.stop)
	l.done.Wait()
	l.ended = time.Now()
}

// snapshot returns the requests sent so far and the failures.
func (l *load) snapshot() (int, []failure) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.requests, append([]failure(nil), l.failures...)
}

// summary describes failures for a message: their count by kind, first few.
func summary(fs []failure) string {
	kinds := map[string]int{}
	for _, f := range fs {
		k := f.What
		if len(k) > 80 {
			k = k[:80]
		}
		kinds[k]++
	}
	var out []string
	for k, n := range kinds {
		out = append(out, fmt.Sprintf("%d× %s", n, k))
	}
	sort.Strings(out)
	if len(out) > 8 {
		out = append(out[:8], "…")
	}
	return strings.Join(out, "; ")
}

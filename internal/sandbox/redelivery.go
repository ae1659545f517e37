package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// WebhookAttempt is one POST of a webhook by a simulator, as an observer
// set with OnWebhookAttempt sees it, after it is answered (or failed).
type WebhookAttempt struct {
	URL     string // as posted: never with a fragment
	Attempt int    // 1 for the first try, 2 for the first retry…
	Status  int    // the HTTP status, 0 when there was no answer
	Err     error  // nil when the receiver took it
	Retry   bool   // the simulator will try again
}

// attemptObserver holds an optional observer of webhook attempts. Tests
// use it to end a simulated outage right after the first failure, without
// timing anything.
type attemptObserver struct {
	mu sync.Mutex
	fn func(WebhookAttempt)
}

func (o *attemptObserver) set(fn func(WebhookAttempt)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.fn = fn
}

func (o *attemptObserver) observe(a WebhookAttempt) {
	o.mu.Lock()
	fn := o.fn
	o.mu.Unlock()
	if fn != nil {
		fn(a)
	}
}

// Twilio's webhook connection overrides, appended to a webhook URL as a
// fragment (twilio.com/docs/usage/webhooks/webhooks-connection-overrides):
//
//	ct  connect timeout, ms, 100–10000, default 5000
//	rt  read timeout, ms, 100–15000, default 15000
//	tt  total time for all attempts, ms, 100–15000, default (and most) 15000
//	rc  retry count, 0–5, default 1
//	rp  retry policy: which failures are retried, a comma-separated list of
//	    ct (connection failed or timed out), rt (no answer in time), 4xx,
//	    5xx, all. Twilio's page does not give the default in the text we
//	    have; Segment's Twilio messaging destination (segmentio/
//	    action-destinations, engage/twilio/destinationDefinition.ts) lists
//	    the same values with default "ct", and Plivo's copy of the scheme
//	    defaults to "ct,rt". The simulator takes the stricter "ct": without
//	    an rp, an answer of 500 is not retried.
//
// An invalid override is Twilio error 11243 for rp ("HTTP retry policy is
// invalid", twilio.com/docs/api/errors/11243); the simulator refuses any
// invalid override the same way and delivers nothing.
type twOverrides struct {
	ct, rt, tt time.Duration
	rc         int
	rp         map[string]bool
}

var defaultTwOverrides = twOverrides{
	ct: 5 * time.Second, rt: 15 * time.Second, tt: 15 * time.Second,
	rc: 1, rp: map[string]bool{"ct": true},
}

// parseTwOverrides reads the fragment of a webhook URL ("" is the defaults).
func parseTwOverrides(fragment string) (twOverrides, error) {
	o := defaultTwOverrides
	o.rp = map[string]bool{"ct": true}
	if fragment == "" {
		return o, nil
	}
	vals, err := url.ParseQuery(fragment)
	if err != nil {
		return o, fmt.Errorf("connection overrides %q: %v", fragment, err)
	}
	ms := func(key string, lo, hi int, into *time.Duration) error {
		v, ok := vals[key]
		if !ok {
			return nil
		}
		n, err := strconv.Atoi(v[0])
		if len(v) != 1 || err != nil || n < lo || n > hi {
			return fmt.Errorf("connection override %s=%s: want %d to %d", key, strings.Join(v, ","), lo, hi)
		}
		*into = time.Duration(n) * time.Millisecond
		return nil
	}
	if err := errors.Join(ms("ct", 100, 10000, &o.ct), ms("rt", 100, 15000, &o.rt), ms("tt", 100, 15000, &o.tt)); err != nil {
		return o, err
	}
	if v, ok := vals["rc"]; ok {
		n, err := strconv.Atoi(v[0])
		if len(v) != 1 || err != nil || n < 0 || n > 5 {
			return o, fmt.Errorf("connection override rc=%s: want 0 to 5", strings.Join(v, ","))
		}
		o.rc = n
	}
	if v, ok := vals["rp"]; ok {
		o.rp = map[string]bool{}
		for _, p := range strings.Split(strings.Join(v, ","), ",") {
			switch p = strings.TrimSpace(p); p {
			case "ct", "rt", "4xx", "5xx":
				o.rp[p] = true
			case "all":
				o.rp = map[string]bool{"ct": true, "rt": true, "4xx": true, "5xx": true}
			default:
				return o, fmt.Errorf("Twilio error 11243: HTTP retry policy is invalid: rp=%s", strings.Join(v, ","))
			}
		}
	}
	return o, nil
}

// twFailureClass names a failed attempt in the terms of rp: "ct" when no
// connection was made, "rt" when the answer did not come in time, "4xx"
// or "5xx" for the status; "" for a success or another failure.
func twFailureClass(connected bool, status int, err error) string {
	switch {
	case status >= 400 && status <= 499:
		return "4xx"
	case status >= 500 && status <= 599:
		return "5xx"
	case err != nil && status == 0 && !connected:
		return "ct"
	case err != nil && status == 0:
		return "rt"
	}
	return ""
}

// postOnce makes one webhook POST with a deadline and says whether a
// connection was made and what was answered.
func postOnce(ctx context.Context, client *http.Client, req *http.Request, deadline time.Duration) (connected bool, status int, err error) {
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { connected = true }}
	req = req.WithContext(httptrace.WithClientTrace(ctx, trace))
	resp, err := client.Do(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && !connected {
			return false, 0, fmt.Errorf("%w: connect timeout: %v", errWebhookRefused, err)
		}
		return connected, 0, fmt.Errorf("%w: %v", errWebhookRefused, err)
	}
	defer resp.Body.Close()
	if _, err := drain(resp); err != nil {
		return true, resp.StatusCode, fmt.Errorf("%w: read answer: %v", errWebhookRefused, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return true, resp.StatusCode, fmt.Errorf("%w: %s answered %s", errWebhookRefused, req.URL.Redacted(), resp.Status)
	}
	return true, resp.StatusCode, nil
}

func drain(resp *http.Response) (int64, error) {
	return io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
}

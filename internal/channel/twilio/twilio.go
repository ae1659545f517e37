// Package twilio is the Twilio adapter of the channel contract: sends and
// credential checks through twilio-go, webhook parsing and X-Twilio-Signature
// checks through twilio-go's request validator, and media downloads.
package twilio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	twilio "github.com/twilio/twilio-go"
	"github.com/twilio/twilio-go/client"
	api "github.com/twilio/twilio-go/rest/api/v2010"

	"parley/internal/channel"
)

// Client talks to one Twilio account.
type Client struct {
	sid, token string
	sender     string // E.164
	transport  http.RoundTripper
	media      *http.Client
}

// New returns a client for the account. transport carries every request
// (nil: the default); the sandbox passes one that reaches its simulator.
func New(accountSID, authToken, sender string, transport http.RoundTripper) *Client {
	if transport == nil {
		transport = http.DefaultTransport
	}
	return &Client{
		sid: accountSID, token: authToken, sender: sender, transport: transport,
		// Media URLs redirect to a CDN; Go drops the Authorization header
		// on the cross-host hop, as it should.
		media: &http.Client{Timeout: 2 * time.Minute, Transport: transport},
	}
}

// rest is a twilio-go client whose requests end with ctx: twilio-go's
// calls take no context, so it is carried by the transport.
func (c *Client) rest(ctx context.Context) *twilio.RestClient {
	rc, _ := c.restWatched(ctx)
	return rc
}

// restWatched is rest with the HTTP status of the last answer: twilio-go
// does not say it when an error body cannot be decoded.
func (c *Client) restWatched(ctx context.Context) (*twilio.RestClient, *int) {
	status := new(int)
	cl := &client.Client{
		Credentials: client.NewCredentials(c.sid, c.token),
		HTTPClient: &http.Client{
			Timeout:   15 * time.Second,
			Transport: ctxTransport{ctx: ctx, next: c.transport, status: status},
			// As twilio-go's own client: API answers are never redirects to follow.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	cl.SetAccountSid(c.sid)
	return twilio.NewRestClientWithParams(twilio.ClientParams{Client: cl}), status
}

type ctxTransport struct {
	ctx    context.Context
	next   http.RoundTripper
	status *int
}

func (t ctxTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r.WithContext(t.ctx))
	if resp != nil {
		*t.status = resp.StatusCode
	}
	return resp, err
}

// Verify fetches the account with the credentials.
func (c *Client) Verify(ctx context.Context) error {
	rc, status := c.restWatched(ctx)
	acct, err := rc.Api.FetchAccount(c.sid)
	if err != nil {
		// Reading an account changes nothing: whatever the outcome, it
		// may be tried again.
		se := sendError(err, *status)
		if se.Unknown {
			se.Unknown, se.Retryable = false, true
		}
		return se
	}
	if acct.Status != nil && *acct.Status != "active" {
		return &channel.SendError{Code: "account-" + *acct.Status, Message: "The Twilio account is " + *acct.Status + "."}
	}
	return nil
}

// Send creates a message: text, one file, or a template (ContentSid with
// ContentVariables; Body and MediaUrl must then be absent).
func (c *Client) Send(ctx context.Context, m channel.Outgoing) (channel.SendResult, error) {
	p := &api.CreateMessageParams{}
	p.SetFrom("whatsapp:" + c.sender)
	p.SetTo("whatsapp:" + m.To)
	if err := ctx.Err(); err != nil {
		return channel.SendResult{}, &channel.SendError{Message: "The send was stopped before it reached Twilio", Retryable: true, Err: err}
	}
	if m.StatusCallback != "" {
		p.SetStatusCallback(m.StatusCallback)
	}
	switch {
	case m.TemplateID != "":
		p.SetContentSid(m.TemplateID)
		values, err := templateValues(m)
		if err != nil {
			return channel.SendResult{}, err
		}
		if len(values) > 0 {
			vars, err := json.Marshal(values)
			if err != nil {
				return channel.SendResult{}, fmt.Errorf("template variables: %w", err)
			}
			p.SetContentVariables(string(vars))
		}
	default:
		if m.Body != "" {
			p.SetBody(m.Body)
		}
		if m.MediaURL != "" {
			p.SetMediaUrl([]string{m.MediaURL})
		}
	}
	rc, status := c.restWatched(ctx)
	msg, err := rc.Api.CreateMessage(p)
	if err != nil {
		return channel.SendResult{}, sendError(err, *status)
	}
	if msg.Sid == nil {
		return channel.SendResult{}, &channel.SendError{Message: "Twilio answered without a message id: " + unknownOutcome, Unknown: true}
	}
	return channel.SendResult{ProviderMessageID: *msg.Sid, Status: statusOf(msg.Status)}, nil
}

// templateValues are a template's content variables: the agent's values
// and, for a media header the agent supplied, the end of its link after
// the template's fixed start (Twilio takes template media only as a
// content variable: MediaUrl beside ContentSid is refused,
// twilio.com/docs/api/errors/63030).
func templateValues(m channel.Outgoing) (map[string]string, error) {
	if !m.TemplateMedia.NeedsFile() {
		return m.Variables, nil
	}
	rest, ok := strings.CutPrefix(m.MediaURL, m.TemplateMedia.Prefix)
	if !ok || rest == "" {
		return nil, &channel.SendError{
			Message: "This template's media must be a link starting with " + m.TemplateMedia.Prefix,
			Err:     fmt.Errorf("twilio send: media %q outside the template's %q", m.MediaURL, m.TemplateMedia.Prefix),
		}
	}
	values := make(map[string]string, len(m.Variables)+1)
	for k, v := range m.Variables {
		values[k] = v
	}
	values[m.TemplateMedia.Var] = rest
	return values, nil
}

// unknownOutcome ends the words of every failure after which the message
// may have gone out.
const unknownOutcome = "Twilio may or may not have taken the message"

// sendError classifies a twilio-go error, given the HTTP status of the
// answer (0 when none came). Twilio's own JSON errors keep their code. A
// 4xx is a refusal; a 429 is safe to retry (nothing was taken); a 5xx
// leaves the outcome unknown. A connection that could not be made is safe
// to retry; one that broke or timed out after the request went out, and an
// answer that cannot be read, leave the outcome unknown.
func sendError(err error, status int) *channel.SendError {
	var rest *client.TwilioRestError
	if errors.As(err, &rest) {
		code := strconv.Itoa(rest.Code)
		se := &channel.SendError{Code: code, Message: channel.Explain(code, rest.Message), Err: err}
		switch {
		case rest.Status == http.StatusTooManyRequests:
			se.Retryable = true
		case rest.Status >= 500:
			se.Unknown = true
			se.Message = fmt.Sprintf("Twilio failed (HTTP %d): %s", rest.Status, unknownOutcome)
		}
		return se
	}
	var op *net.OpError
	var dns *net.DNSError
	switch {
	case errors.As(err, &op) && op.Op == "dial", errors.As(err, &dns):
		return &channel.SendError{Message: "Twilio could not be reached", Retryable: true, Err: err}
	case status == http.StatusTooManyRequests:
		return &channel.SendError{Code: "20429", Message: channel.Explain("20429", ""), Retryable: true, Err: err}
	case status >= 500:
		return &channel.SendError{Message: fmt.Sprintf("Twilio failed (HTTP %d): %s", status, unknownOutcome), Unknown: true, Err: err}
	case status >= 400:
		return &channel.SendError{Message: fmt.Sprintf("Twilio refused the message (HTTP %d) with an answer Parley could not read", status), Err: err}
	case status != 0:
		// twilio-go could not decode a success (a proxy's page, a
		// truncated answer).
		return &channel.SendError{Message: "Twilio gave an answer Parley could not read: " + unknownOutcome, Unknown: true, Err: err}
	}
	return &channel.SendError{Message: "The connection to Twilio broke or timed out: " + unknownOutcome, Unknown: true, Err: err}
}

// lookupLimit bounds how many of the recipient's latest messages Lookup
// reads, in pages of Twilio's largest size (1,000); more than that since
// the send means Parley cannot tell. 200 was too few: the fault suite's
// R3 and R4 send hundreds of replies to one client within minutes, and
// replies whose lookup could not tell waited out River's backoff.
const (
	lookupLimit    = 2000
	lookupPageSize = 1000
)

// clockSkew is how far Twilio's clock may be behind Parley's.
const clockSkew = time.Minute

// Lookup lists the messages from the sender to m.To, newest first, and
// keeps the outbound ones created since since (less clockSkew) with m's
// text and, for a file, a media count. Twilio's Message resource has no
// ContentSid: a template is recognised by its filled text, which Twilio
// keeps as the body. The list is filtered by To and From only: DateSent
// filters only days, and a message still queued has no date_sent.
func (c *Client) Lookup(ctx context.Context, m channel.Outgoing, since time.Time) ([]channel.SendResult, error) {
	p := &api.ListMessageParams{}
	p.SetTo("whatsapp:" + m.To)
	p.SetFrom("whatsapp:" + c.sender)
	p.SetPageSize(lookupPageSize)
	p.SetLimit(lookupLimit)
	list, err := c.rest(ctx).Api.ListMessage(p)
	if err != nil {
		return nil, fmt.Errorf("twilio: list messages to %s: %w", m.To, err)
	}
	from := since.Add(-clockSkew)
	type found struct {
		channel.SendResult
		at time.Time
	}
	var matches []found
	reachedSince := len(list) < lookupLimit
	for _, msg := range list {
		if msg.Sid == nil || msg.DateCreated == nil {
			return nil, fmt.Errorf("twilio: listed message without sid or date")
		}
		at, err := time.Parse(time.RFC1123Z, *msg.DateCreated)
		if err != nil {
			return nil, fmt.Errorf("twilio: listed message %s: date %q: %w", *msg.Sid, *msg.DateCreated, err)
		}
		if at.Before(from) {
			reachedSince = true
			continue
		}
		if sameMessage(msg, m) {
			matches = append(matches, found{channel.SendResult{ProviderMessageID: *msg.Sid, Status: statusOf(msg.Status)}, at})
		}
	}
	if !reachedSince {
		return nil, fmt.Errorf("twilio: more than %d messages to %s since %s", lookupLimit, m.To, from.Format(time.RFC3339))
	}
	slices.SortStableFunc(matches, func(a, b found) int { return a.at.Compare(b.at) })
	out := make([]channel.SendResult, len(matches))
	for i, f := range matches {
		out[i] = f.SendResult
	}
	return out, nil
}

// Status fetches the message (GET Messages/{Sid}) and reads its status and
// error as a status callback would carry them.
func (c *Client) Status(ctx context.Context, sid string) (channel.Status, error) {
	msg, err := c.rest(ctx).Api.FetchMessage(sid, &api.FetchMessageParams{})
	if err != nil {
		return channel.Status{}, fmt.Errorf("twilio: fetch message %s: %w", sid, err)
	}
	st := channel.Status{ProviderMessageID: sid, Status: statusOf(msg.Status)}
	if st.Status == channel.StatusFailed {
		if msg.ErrorCode != nil {
			st.ErrorCode = strconv.Itoa(*msg.ErrorCode)
		}
		if msg.ErrorMessage != nil {
			st.ErrorText = *msg.ErrorMessage
		}
	}
	return st, nil
}

// sameMessage tells whether a listed message is m as Twilio keeps it.
func sameMessage(msg api.ApiV2010Message, m channel.Outgoing) bool {
	if msg.Direction == nil || *msg.Direction != "outbound-api" || msg.Body == nil {
		return false
	}
	hasMedia := msg.NumMedia != nil && *msg.NumMedia != "" && *msg.NumMedia != "0"
	if m.TemplateID == "" && hasMedia != (m.MediaURL != "") {
		return false
	}
	return strings.TrimSpace(*msg.Body) == strings.TrimSpace(m.Body)
}

// mediaGoneRetries are the waits before asking again for a media URL that
// answered 404: a file just received may not be served yet for a moment,
// but one still missing after these is gone (deleted from the account, or
// never kept), and the fetch job is not retried for an hour for it.
var mediaGoneRetries = []time.Duration{300 * time.Millisecond, time.Second}

// FetchMedia downloads an inbound file with Basic auth, following Twilio's
// redirect to its CDN, and refuses files over max without keeping them. A
// URL that answers 404 after a short retry is channel.ErrMediaGone.
func (c *Client) FetchMedia(ctx context.Context, url string, max int64) (channel.Media, error) {
	for i := 0; ; i++ {
		m, err := c.fetchMedia(ctx, url, max)
		if !errors.Is(err, errMediaNotFound) {
			return m, err
		}
		if i == len(mediaGoneRetries) {
			return channel.Media{}, fmt.Errorf("%w (Twilio answered 404 %d times)", channel.ErrMediaGone, i+1)
		}
		select {
		case <-ctx.Done():
			return channel.Media{}, ctx.Err()
		case <-time.After(mediaGoneRetries[i]):
		}
	}
}

var errMediaNotFound = errors.New("media not found")

func (c *Client) fetchMedia(ctx context.Context, url string, max int64) (channel.Media, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return channel.Media{}, fmt.Errorf("media request: %w", err)
	}
	req.SetBasicAuth(c.sid, c.token)
	resp, err := c.media.Do(req)
	if err != nil {
		return channel.Media{}, fmt.Errorf("fetch media: %w", err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return channel.Media{}, errMediaNotFound
	case resp.StatusCode != http.StatusOK:
		return channel.Media{}, fmt.Errorf("fetch media: %s", resp.Status)
	}
	data, err := channel.ReadMedia(resp, max)
	if err != nil {
		return channel.Media{}, err
	}
	return channel.Media{ContentType: resp.Header.Get("Content-Type"), Filename: channel.DispositionFilename(resp.Header), Data: data}, nil
}

// statusOf is a message's status in Parley's words; queued when Twilio's
// is missing or new to Parley.
func statusOf(s *string) string {
	if s != nil {
		if st := normalizeStatus(*s); st != "" {
			return st
		}
	}
	return channel.StatusQueued
}

func normalizeStatus(s string) string {
	switch s {
	case "accepted", "queued", "sending", "scheduled":
		return channel.StatusQueued
	case "sent":
		return channel.StatusSent
	case "delivered":
		return channel.StatusDelivered
	case "read":
		return channel.StatusRead
	case "failed", "undelivered", "canceled":
		return channel.StatusFailed
	}
	return ""
}

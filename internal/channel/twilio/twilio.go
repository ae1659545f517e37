// Package twilio is the Twilio adapter of the channel contract: sends and
// credential checks through twilio-go, webhook parsing and X-Twilio-Signature
// checks through twilio-go's request validator, and media downloads.
package twilio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
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
	cl := &client.Client{
		Credentials: client.NewCredentials(c.sid, c.token),
		HTTPClient: &http.Client{
			Timeout:   15 * time.Second,
			Transport: ctxTransport{ctx: ctx, next: c.transport},
			// As twilio-go's own client: API answers are never redirects to follow.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	cl.SetAccountSid(c.sid)
	return twilio.NewRestClientWithParams(twilio.ClientParams{Client: cl})
}

type ctxTransport struct {
	ctx  context.Context
	next http.RoundTripper
}

func (t ctxTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.next.RoundTrip(r.WithContext(t.ctx))
}

// Verify fetches the account with the credentials.
func (c *Client) Verify(ctx context.Context) error {
	acct, err := c.rest(ctx).Api.FetchAccount(c.sid)
	if err != nil {
		return sendError(err)
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
	if m.StatusCallback != "" {
		p.SetStatusCallback(m.StatusCallback)
	}
	switch {
	case m.TemplateID != "":
		p.SetContentSid(m.TemplateID)
		if len(m.Variables) > 0 {
			vars, err := json.Marshal(m.Variables)
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
	msg, err := c.rest(ctx).Api.CreateMessage(p)
	if err != nil {
		return channel.SendResult{}, sendError(err)
	}
	if msg.Sid == nil {
		return channel.SendResult{}, &channel.SendError{Message: "Twilio answered without a message id", Retryable: true}
	}
	res := channel.SendResult{ProviderMessageID: *msg.Sid, Status: channel.StatusQueued}
	if msg.Status != nil {
		if st := normalizeStatus(*msg.Status); st != "" {
			res.Status = st
		}
	}
	return res, nil
}

// sendError classifies a twilio-go error: Twilio's own JSON errors keep
// their code; 5xx, 429 and network failures may be retried; anything else
// (including an answer that is not Twilio's JSON) is explained as it is.
func sendError(err error) error {
	var rest *client.TwilioRestError
	if errors.As(err, &rest) {
		code := strconv.Itoa(rest.Code)
		return &channel.SendError{
			Code:      code,
			Message:   channel.Explain(code, rest.Message),
			Retryable: rest.Status >= 500 || rest.Status == http.StatusTooManyRequests,
			Err:       err,
		}
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &channel.SendError{Message: "Twilio could not be reached; the message will be retried", Retryable: true, Err: err}
	}
	// twilio-go wraps a body it cannot decode; a proxy's error page or a
	// truncated answer is transient more often than not.
	return &channel.SendError{Message: "Twilio gave an answer Parley could not read", Retryable: true, Err: err}
}

// FetchMedia downloads an inbound file with Basic auth, following Twilio's
// redirect to its CDN, and refuses files over max without keeping them.
func (c *Client) FetchMedia(ctx context.Context, url string, max int64) (channel.Media, error) {
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
	if resp.StatusCode != http.StatusOK {
		return channel.Media{}, fmt.Errorf("fetch media: %s", resp.Status)
	}
	data, err := channel.ReadMedia(resp, max)
	if err != nil {
		return channel.Media{}, err
	}
	return channel.Media{ContentType: resp.Header.Get("Content-Type"), Data: data}, nil
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

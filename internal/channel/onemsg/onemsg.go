// Package onemsg is the 1msg.io adapter of the channel contract: credential
// checks, sends, template lists and webhook URL management through 1msg's
// channel API (https://api.1msg.io/<instance>/<method>?token=…), webhook
// parsing, and media downloads. Wire facts are in research/onemsg.md; the
// section numbers in comments refer to it.
package onemsg

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"parley/internal/channel"
)

// requestTimeout bounds every API request; a send that takes longer has
// an unknown outcome.
const requestTimeout = 15 * time.Second

// maxAnswer bounds how much of an API answer is read (a long template
// list is the largest).
const maxAnswer = 16 << 20

// Client talks to one 1msg channel (instance).
type Client struct {
	api   string // the channel's API URL, https://api.1msg.io/<instance>, no trailing slash
	token string
	phone string // the channel's number, E.164
	http  *http.Client
	media *http.Client
}

// adminError is a mistake in what the admin typed, in words for them.
type adminError string

func (e adminError) Error() string { return string(e) }

const badAPIURL adminError = "Paste the API URL exactly as 1msg shows it, like https://api.1msg.io/1234567/"

// instanceRe is a channel (instance) id: ODI371267300, VID182868781, 359900.
var instanceRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// e164Re is a phone number as Parley stores it.
var e164Re = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// NormalizeAPIURL checks an API URL as the admin pasted it from 1msg,
// "https://api.1msg.io/ODI371267300/", and returns it in the form Parley
// stores: scheme, host and instance id, without a trailing slash. The
// error is a sentence for the admin.
func NormalizeAPIURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" || u.User != nil {
		return "", badAPIURL
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return "", adminError("Paste the API URL without anything after the channel id (the token goes in its own field), like https://api.1msg.io/1234567/")
	}
	id := strings.TrimSuffix(strings.TrimPrefix(u.EscapedPath(), "/"), "/")
	if !instanceRe.MatchString(id) {
		return "", badAPIURL
	}
	return u.Scheme + "://" + strings.ToLower(u.Host) + "/" + id, nil
}

// New returns a client for the channel at apiURL (see NormalizeAPIURL),
// with its API token and its number, E.164. transport carries every
// request (nil: the default); the sandbox passes one that reaches its
// simulator. The error is a sentence for the admin.
func New(apiURL, token, phone string, transport http.RoundTripper) (*Client, error) {
	api, err := NormalizeAPIURL(apiURL)
	if err != nil {
		return nil, err
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, adminError("Paste the channel's API token from 1msg.")
	}
	phone = strings.TrimSpace(phone)
	if !e164Re.MatchString(phone) {
		return nil, adminError("Enter the phone number of the 1msg channel with its country code, like +14155238886.")
	}
	if transport == nil {
		transport = http.DefaultTransport
	}
	return &Client{
		api: api, token: token, phone: phone,
		http: &http.Client{
			Timeout:   requestTimeout,
			Transport: transport,
			// API answers are never redirects to follow; a redirect would
			// also carry the token in its query to another place.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		// Media links are temporary public links (S3); they may redirect.
		media: &http.Client{Timeout: 2 * time.Minute, Transport: transport},
	}, nil
}

// call makes one API request, GET when payload is nil and otherwise a POST
// of payload as JSON, and returns the HTTP status and the answer. An error
// is the transport's: the request may or may not have reached 1msg.
func (c *Client) call(ctx context.Context, method string, payload any) (int, []byte, error) {
	sep := "?"
	if strings.Contains(method, "?") {
		sep = "&"
	}
	target := c.api + "/" + method + sep + "token=" + url.QueryEscape(c.token)
	verb, body := http.MethodGet, io.Reader(nil)
	if payload != nil {
		b, err := json.Marshal(payload)
		if err != nil {
			return 0, nil, fmt.Errorf("1msg %s request: %w", method, err)
		}
		verb, body = http.MethodPost, bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, verb, target, body)
	if err != nil {
		return 0, nil, fmt.Errorf("1msg %s request: %w", method, err)
	}
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// url.Error quotes the URL, token included: keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, nil, fmt.Errorf("1msg %s: %w", method, err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("1msg %s: read answer: %w", method, err)
	}
	if len(answer) > maxAnswer {
		return resp.StatusCode, nil, fmt.Errorf("1msg %s: answer larger than %d bytes", method, maxAnswer)
	}
	return resp.StatusCode, answer, nil
}

// Verify checks the channel with 1msg: the token and instance are accepted,
// the WhatsApp number is connected (GET /status: "connected" or
// "connecting"), and it is the number Parley was given (GET /me).
func (c *Client) Verify(ctx context.Context) error {
	var st struct {
		Status text `json:"status"`
	}
	if err := c.get(ctx, "status", &st); err != nil {
		return err
	}
	switch status := strings.ToLower(strings.TrimSpace(string(st.Status))); status {
	case "connected", "connecting":
	case "":
		return &channel.SendError{Message: "1msg did not say whether the channel is connected"}
	case "disconnected":
		return &channel.SendError{Message: "The 1msg channel is disconnected: reconnect the number in 1msg"}
	default: // uninitialized, unregistered…
		return &channel.SendError{Message: "The 1msg channel is " + status + ": finish connecting the number in 1msg"}
	}
	var me struct {
		Phone text `json:"phone"`
	}
	if err := c.get(ctx, "me", &me); err != nil {
		return err
	}
	// A profile without a number cannot be compared; 1msg always gives it
	// ([SPEC] /me), so an empty one is not worth refusing the channel.
	if got, want := digits(string(me.Phone)), digits(c.phone); got != "" && got != want {
		return &channel.SendError{Message: "1msg says this channel's number is +" + got + ", not +" + want}
	}
	return nil
}

// get makes a read request and decodes its JSON answer into out.
func (c *Client) get(ctx context.Context, method string, out any) error {
	return c.read(ctx, method, nil, out)
}

// read makes a request that is safe to repeat (a read, or a POST that
// replaces a setting) and decodes its JSON answer into out. Every failure
// is a *channel.SendError; network failures and 1msg's server errors are
// retryable.
func (c *Client) read(ctx context.Context, method string, payload, out any) error {
	status, body, err := c.call(ctx, method, payload)
	if err != nil {
		if ctx.Err() != nil || isTimeout(err) {
			return &channel.SendError{Message: "1msg did not answer in time", Retryable: true, Err: err}
		}
		return &channel.SendError{Message: "1msg could not be reached", Retryable: true, Err: err}
	}
	if status != http.StatusOK {
		return c.failure(method, status, body, false)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return &channel.SendError{Message: "1msg gave an answer Parley could not read", Err: fmt.Errorf("1msg %s: %w", method, err)}
	}
	return nil
}

// failure explains an answer other than HTTP 200. A send's outcome is
// unknown when 1msg fails with a 5xx, so only reads are retried then;
// 429 is retried either way (1msg did not take the request).
func (c *Client) failure(method string, status int, body []byte, send bool) *channel.SendError {
	words, code := providerError(body)
	words = c.redact(words)
	err := fmt.Errorf("1msg %s: HTTP %d: %s", method, status, words)
	switch {
	case status == http.StatusUnauthorized:
		return &channel.SendError{Code: "401", Message: said("1msg refused the token", words) + " Check the channel's API token.", Err: err}
	case status == http.StatusNotFound:
		msg := "1msg does not know this channel: check the channel id in the API URL"
		if words != "" {
			msg += " (1msg says: " + strings.TrimRight(words, ".") + ")"
		}
		return &channel.SendError{Code: "404", Message: msg, Err: err}
	case status == http.StatusTooManyRequests:
		return &channel.SendError{Code: "429", Message: "1msg is limiting how fast Parley may call it; the request will be retried", Retryable: true, Err: err}
	case status >= 500 && send:
		return &channel.SendError{Message: fmt.Sprintf("1msg failed (HTTP %d): %s", status, unknownOutcome), Unknown: true, Err: err}
	case status >= 500:
		return &channel.SendError{Message: fmt.Sprintf("1msg failed (HTTP %d); try again in a moment", status), Retryable: true, Err: err}
	case status == http.StatusForbidden:
		// Trial and blocked channels answer 403 with plain text (§5): a
		// trial channel sends only to its own number.
		return &channel.SendError{Code: "403", Message: said(TrialRefusal, words), Err: err}
	case send:
		// 400 and the rest: 1msg's (or Meta's) words about the message.
		return &channel.SendError{Code: code, Message: channel.Explain(code, words), Err: err}
	}
	return &channel.SendError{Code: code, Message: said(fmt.Sprintf("1msg refused the request (HTTP %d)", status), words), Err: err}
}

// TrialRefusal is 1msg's 403 in plain words: a trial (or blocked)
// channel, which sends only to its own number.
const TrialRefusal = "1msg refused: this channel is on trial or its subscription is blocked, and a trial 1msg channel sends messages only to its own number. Parley needs a paid channel: pay for the channel in your 1msg account. 1msg says"

// said is a sentence that ends with 1msg's own words, when it gave some:
// "1msg refused the token: Wrong token … parameter."
func said(what, words string) string {
	if words == "" {
		return what + "."
	}
	if !strings.HasSuffix(words, ".") && !strings.HasSuffix(words, "!") && !strings.HasSuffix(words, "?") {
		words += "."
	}
	return what + ": " + words
}

// redact hides the token in 1msg's words: its 401 answer quotes the token
// it was given, and error messages are shown to agents.
func (c *Client) redact(s string) string {
	if c.token == "" || !strings.Contains(s, c.token) {
		return s
	}
	hint := "…"
	if len(c.token) >= 12 {
		hint += strings.ToValidUTF8(c.token[len(c.token)-4:], "")
	}
	return strings.ReplaceAll(s, c.token, hint)
}

// Webhooks returns the channel's webhook URLs (GET /webhook). 1msg gives
// one URL, a list, a comma-separated string, or null (§2).
func (c *Client) Webhooks(ctx context.Context) ([]string, error) {
	var ans struct {
		WebhookURL json.RawMessage `json:"webhookUrl"`
	}
	if err := c.get(ctx, "webhook", &ans); err != nil {
		return nil, err
	}
	var raw []string
	var one string
	switch {
	case len(ans.WebhookURL) == 0 || string(ans.WebhookURL) == "null":
	case json.Unmarshal(ans.WebhookURL, &one) == nil:
		raw = strings.Split(one, ",")
	case json.Unmarshal(ans.WebhookURL, &raw) == nil:
	default:
		return nil, &channel.SendError{Message: "1msg gave a webhook list Parley could not read", Err: fmt.Errorf("1msg webhook: webhookUrl %s", ans.WebhookURL)}
	}
	urls := []string{}
	for _, u := range raw {
		if u = strings.TrimSpace(u); u != "" {
			urls = append(urls, u)
		}
	}
	return urls, nil
}

// SetWebhooks replaces the channel's webhook URLs (POST /webhook). 1msg
// keeps at most 5 and replaces the whole list, so callers pass the URLs
// already there (1msg's own inbox among them) with theirs.
func (c *Client) SetWebhooks(ctx context.Context, urls []string) error {
	if urls == nil {
		urls = []string{}
	}
	var ans struct {
		Set     json.RawMessage `json:"set"`
		Message text            `json:"message"`
	}
	if err := c.read(ctx, "webhook", map[string]any{"webhookUrl": urls}, &ans); err != nil {
		return err
	}
	if set, ok := flag(ans.Set); !ok || !set {
		msg := "1msg did not save the webhook URLs"
		if s := strings.TrimSpace(string(ans.Message)); s != "" {
			msg += ": " + s
		}
		return &channel.SendError{Message: msg, Err: fmt.Errorf("1msg webhook: set %s, message %q", ans.Set, ans.Message)}
	}
	return nil
}

// digits keeps the digits of s.
func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Package channel is the provider-neutral contract between Parley and the
// WhatsApp providers: what an incoming webhook means (client messages,
// delivery statuses), what an outgoing send carries, and the one place that
// turns providers' error codes into words an agent understands. The Twilio
// and 1msg adapters implement it; the conversation domain uses only this.
package channel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
)

// Limits from WhatsApp and the providers.
const (
	MaxInboundFileBytes  = 25 << 20 // clients may send files up to 25 MB
	MaxOutboundFileBytes = 16 << 20 // agents may send files up to 16 MB (Twilio's limit)
)

// Provider is one connected provider account.
type Provider interface {
	// Verify checks the credentials with the provider.
	Verify(ctx context.Context) error
	// Send delivers one outgoing message. A *SendError says why it failed,
	// whether trying again is safe (Retryable: it surely did not go out)
	// or whether the provider may have taken it (Unknown).
	Send(ctx context.Context, m Outgoing) (SendResult, error)
	// Lookup asks the provider which messages it holds that match m (same
	// recipient, same text or file) and were created at or after since:
	// their ids and statuses, oldest first. After a send whose outcome is
	// unknown it tells whether the message went out. An error means the
	// provider could not tell.
	Lookup(ctx context.Context, m Outgoing, since time.Time) ([]SendResult, error)
	// FetchMedia downloads an inbound file, at most max bytes; a larger
	// file returns ErrTooLarge with the size when known.
	FetchMedia(ctx context.Context, url string, max int64) (Media, error)
	// Templates lists the templates approved for WhatsApp, as the
	// provider has them now.
	Templates(ctx context.Context) (Templates, error)
}

// Template is a message template WhatsApp approved: the only thing that
// may be sent outside the 24-hour window, and the way to start a
// conversation.
type Template struct {
	ID       string // Twilio ContentSid; 1msg template name
	Name     string
	Language string // WhatsApp's language code: en, es, pt_BR…
	// Body is the text, with {{1}}, {{2}}… where the variables go.
	Body      string
	Variables []Variable // in the order they are numbered
	Buttons   []string   // quick-reply buttons the client can tap
}

// Variable is a placeholder of a template, with the provider's hint (its
// sample value) to tell the agent what belongs there.
type Variable struct {
	Key  string `json:"key"`
	Hint string `json:"hint,omitempty"`
}

// Templates is a provider's template list: the approved templates sorted
// by name and language, and the names of those it listed but that could
// not be read (missing text or id), for the agent to know they exist.
type Templates struct {
	List       []Template
	Unreadable []string
}

// Media is a downloaded file.
type Media struct {
	ContentType string
	Filename    string // from the answer's Content-Disposition, when given
	Data        []byte
}

// ErrMediaGone says the provider no longer has an inbound file (1msg's
// links expire): trying again cannot help.
var ErrMediaGone = errors.New("the provider no longer has the file")

// TooLargeError says a file exceeds a limit.
type TooLargeError struct{ Size int64 }

func (e *TooLargeError) Error() string { return "file too large" }

// Inbound is a message a client wrote (or, for echoes, one sent from the
// business's own phone).
type Inbound struct {
	ProviderMessageID string
	// From is the client's number, E.164; empty when WhatsApp hides it and
	// only UserID names the client.
	From string
	// UserID is the client's business-scoped user id (BSUID, Meta's id for
	// users who hide their number: "US.13491208655302741918"), as received.
	UserID string
	// WaID is WhatsApp's id of the client (Twilio's WaId: the number's
	// digits as WhatsApp knows it, which may differ from From).
	WaID string
	// Username is the client's WhatsApp username, when they have one.
	Username    string
	ProfileName string
	// To is the business number the client wrote to, E.164, when the
	// provider says (Twilio's To); empty otherwise.
	To       string
	Body     string
	Media    []MediaRef
	Location *Location
	// ButtonText and ButtonPayload are a tap on a button: its title and
	// the payload the business gave it.
	ButtonText    string
	ButtonPayload string
	// QuotedID is the provider's id of the message this one replies to (a
	// swipe-reply, or a button under that message).
	QuotedID string
	// Referral is the click-to-WhatsApp ad the client came from.
	Referral *Referral
	// Contacts are shared contact cards.
	Contacts []Contact
	// Unsupported names a kind of message Parley cannot show (a reaction,
	// a poll, an order…): it is stored and shown as such, never dropped.
	Unsupported string
	// At is when the client sent it, as the provider says; zero when it
	// does not say (the time of arrival is used).
	At time.Time
}

// Sender is the key the client is known by: the number, else the BSUID.
func (in Inbound) Sender() string {
	if in.From != "" {
		return in.From
	}
	return in.UserID
}

// MediaRef is a file the provider holds for us to fetch.
type MediaRef struct {
	URL         string
	ContentType string
	Filename    string // the file's name, when the provider gives it
}

// Location is a shared map point.
type Location struct {
	Latitude, Longitude string
	Address, Label      string
}

// Referral is a click-to-WhatsApp ad (or post) the client tapped to start
// writing (Twilio's Referral* parameters, Meta's referral object).
type Referral struct {
	Headline   string `json:"headline,omitempty"`
	Body       string `json:"body,omitempty"`
	SourceURL  string `json:"source_url,omitempty"`
	SourceType string `json:"source_type,omitempty"` // ad, post
	SourceID   string `json:"source_id,omitempty"`
	MediaURL   string `json:"media_url,omitempty"`
	CtwaClid   string `json:"ctwa_clid,omitempty"`
}

// Contact is a shared contact card.
type Contact struct {
	Name   string   `json:"name"`
	Phones []string `json:"phones,omitempty"`
	Emails []string `json:"emails,omitempty"`
	Org    string   `json:"org,omitempty"`
}

// Status is a delivery status report for a message we sent.
type Status struct {
	ProviderMessageID string
	Status            string // sent, delivered, read, failed
	ErrorCode         string
	ErrorText         string // the provider's own words, when it gives them
}

// Delivery statuses of outgoing messages, in the order they move.
const (
	StatusQueued    = "queued"
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusRead      = "read"
	StatusFailed    = "failed"
)

// Outgoing is one message to a client.
type Outgoing struct {
	To string // E.164
	// Body is the text, or a file's caption. For a template it is the
	// filled text the client reads: not sent (the provider has the
	// template), but how Lookup recognises the message.
	Body           string
	MediaURL       string // a URL the provider can fetch
	MediaType      string
	Filename       string
	TemplateID     string            // Twilio ContentSid / 1msg template (the adapter's Template.ID)
	Variables      map[string]string // template variables by name ("1", "2" …)
	Buttons        []string          // reply buttons under a text (1msg sendButton; ≤ 3, ≤ 20 characters each)
	StatusCallback string
}

// SendResult is the provider's answer to a send it accepted.
type SendResult struct {
	ProviderMessageID string
	Status            string
}

// SendError is a send the provider refused or that could not reach it.
type SendError struct {
	Code    string // the provider's code, if any
	Message string // plain words for the agent (see Explain)
	// Retryable: the message surely did not go out (no connection, 429),
	// so sending again is safe.
	Retryable bool
	// Unknown: the message may have gone out (a timeout, a connection
	// broken after the request was sent, a 5xx, an answer that cannot be
	// read). Sending again could reach the client twice: ask Lookup first.
	Unknown bool
	Err     error
}

func (e *SendError) Error() string {
	if e.Code != "" {
		return e.Code + ": " + e.Message
	}
	return e.Message
}

func (e *SendError) Unwrap() error { return e.Err }

// WindowClosedMessage is what agents read when the 24-hour window is closed.
const WindowClosedMessage = "The 24-hour window is closed: only an approved template can be sent"

// ReadMedia reads a downloaded file's body, at most max bytes: a larger
// file is a *TooLargeError with its size (counted, not kept) when the
// provider did not say it up front.
func ReadMedia(resp *http.Response, max int64) ([]byte, error) {
	if resp.ContentLength > max {
		return nil, &TooLargeError{Size: resp.ContentLength}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, fmt.Errorf("read media: %w", err)
	}
	if int64(len(data)) > max {
		size := int64(len(data))
		if n, err := io.Copy(io.Discard, resp.Body); err == nil {
			size += n
		}
		return nil, &TooLargeError{Size: size}
	}
	return data, nil
}

// DispositionFilename is the file name a download's Content-Disposition
// gives, without any directory part; "" when it gives none.
func DispositionFilename(h http.Header) string {
	_, params, err := mime.ParseMediaType(h.Get("Content-Disposition"))
	if err != nil {
		return ""
	}
	name := strings.TrimSpace(params["filename"])
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	return name
}

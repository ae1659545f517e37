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

// Parley's own limits on files; WhatsApp's and the providers' are in
// limits.go.
const (
	MaxInboundFileBytes = 25 << 20 // clients may send files up to 25 MB
	// MaxOutboundFileBytes caps an agent's upload: the file is held in
	// memory, and it is Twilio's cap on a whole message.
	MaxOutboundFileBytes = 16 << 20
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
	// Status asks where a message the provider accepted stands now, for
	// one whose status callbacks stopped coming (the provider gave up
	// posting them). An error means the provider could not tell.
	Status(ctx context.Context, providerMessageID string) (Status, error)
	// FetchMedia downloads an inbound file, at most max bytes; a larger
	// file returns ErrTooLarge with the size when known.
	FetchMedia(ctx context.Context, url string, max int64) (Media, error)
	// Templates lists the templates approved for WhatsApp, as the
	// provider has them now.
	Templates(ctx context.Context) (Templates, error)
}

// Template is a message template WhatsApp approved: the only thing that
// may be sent outside the 24-hour window, and the way to start a
// conversation. It carries what the client will see (a media header, a
// text header, the body, a footer, buttons) so the agent can preview it.
type Template struct {
	ID       string `json:"id"` // Twilio ContentSid; 1msg "<namespace>/<name>/<language>…"
	Name     string `json:"name"`
	Language string `json:"language"` // WhatsApp's language code: en, es, pt_BR…
	// Kind is the provider's type of template, for the agent: "twilio/media",
	// "whatsapp/authentication", "image header"…; empty for plain text.
	Kind string `json:"kind,omitempty"`
	// Media is the media header (an image, a document, a video or a map
	// point above the text), or nil.
	Media *TemplateMedia `json:"media,omitempty"`
	// HeaderText is a text header, shown bold above the body.
	HeaderText string `json:"header_text,omitempty"`
	// Body is the text, with {{1}}, {{2}}… where the variables go.
	Body string `json:"body"`
	// Footer is the small grey line under the body.
	Footer    string     `json:"footer,omitempty"`
	Variables []Variable `json:"variables,omitempty"` // in the order they are numbered
	Buttons   []string   `json:"buttons,omitempty"`   // quick-reply buttons the client can tap
	// Links are the other buttons: links, calls and copy-code buttons.
	Links []TemplateButton `json:"links,omitempty"`
	// Unsendable, when set, says why Parley cannot send this template
	// ("List picker templates cannot be sent from Parley"): it is shown
	// and named, but cannot be picked.
	Unsendable string `json:"unsendable,omitempty"`
}

// Kinds of media header.
const (
	MediaImage    = "image"
	MediaDocument = "document"
	MediaVideo    = "video"
	MediaLocation = "location"
)

// TemplateMedia is a template's media header.
type TemplateMedia struct {
	Kind string `json:"kind"` // image, document, video, location
	// URL is the media the template always sends, or the provider's
	// sample of it (to preview) when the agent supplies it.
	URL string `json:"url,omitempty"`
	// Var is the variable that carries the media's link; empty when the
	// media is fixed and nothing is asked of the agent.
	Var string `json:"var,omitempty"`
	// Prefix is the fixed start of the link that Var completes (Twilio's
	// "https://cdn.example.com/{{1}}"); empty when the agent gives a whole
	// link or a file.
	Prefix string `json:"prefix,omitempty"`
}

// NeedsFile says whether the agent supplies this header's media.
func (m *TemplateMedia) NeedsFile() bool { return m != nil && m.Var != "" }

// Kinds of template button besides quick replies.
const (
	ButtonURL      = "url"
	ButtonPhone    = "phone"
	ButtonCopyCode = "copy_code"
	ButtonOther    = "other"
)

// TemplateButton is a template's link, call or copy-code button.
type TemplateButton struct {
	Kind  string `json:"kind"` // url, phone, copy_code, other
	Text  string `json:"text"`
	URL   string `json:"url,omitempty"`   // a link's, possibly ending with {{n}}
	Phone string `json:"phone,omitempty"` // a call button's number
	Code  string `json:"code,omitempty"`  // a fixed code to copy
	// Var is the variable the button takes (the end of a link, the code
	// to copy); it is one of the template's Variables.
	Var string `json:"var,omitempty"`
	// Index is the button's position among all of the template's buttons
	// (WhatsApp's index for the button's parameter).
	Index int `json:"index"`
}

// Variable is a placeholder of a template, with the provider's hint (its
// sample value) to tell the agent what belongs there.
type Variable struct {
	Key  string `json:"key"`
	Hint string `json:"hint,omitempty"`
}

// Templates is a provider's template list: the approved templates sorted
// by name and language (those Parley cannot send among them, with their
// reason), the names of those it listed but that could not be read
// (missing text or id), for the agent to know they exist, and whether the
// list was cut at a limit.
type Templates struct {
	List       []Template
	Unreadable []string
	// Cut is set when Parley read only part of the provider's list.
	Cut *TemplatesCut
}

// TemplatesCut says how much of a provider's template list was read.
type TemplatesCut struct {
	Read  int // entries read (approved or not)
	Total int // entries the provider has, 0 when it does not say
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
	Body       string
	MediaURL   string // a URL the provider can fetch
	MediaType  string
	Filename   string
	TemplateID string            // Twilio ContentSid / 1msg template (the adapter's Template.ID)
	Variables  map[string]string // template variables by name ("1", "2" …)
	// TemplateMedia is the template's media header whose link (MediaURL)
	// the agent supplied; TemplateLinks are its buttons that take a
	// variable. The adapter puts them where its provider wants them.
	TemplateMedia  *TemplateMedia
	TemplateLinks  []TemplateButton
	Buttons        []string // reply buttons under a text (1msg sendButton; ≤ 3, ≤ 20 characters each)
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

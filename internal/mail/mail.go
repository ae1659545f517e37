// Package mail sends Parley's own mails to agents (invitations, password
// resets, email confirmations) over SMTP (PARLEY_SMTP_URL), with
// wneessen/go-mail.
package mail

import (
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"net/url"
	"strconv"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// ErrNotConfigured is what Send returns when PARLEY_SMTP_URL is unset.
var ErrNotConfigured = errors.New("mail is not configured (PARLEY_SMTP_URL)")

// Mailer sends mails; the zero value (and nil) sends none: ErrNotConfigured.
type Mailer struct {
	opts []gomail.Option
	host string
	from string
}

// New reads an SMTP URL:
//
//	smtps://USER:PASSWORD@HOST:465            TLS from the start
//	smtp://USER:PASSWORD@HOST:587             STARTTLS, required
//	smtp://HOST:1025?tls=none                 no TLS (a local server such as Mailpit)
//
// with an optional from= parameter, the sender (default parley@ the host of
// baseURL). An empty URL gives a Mailer that sends nothing.
func New(smtpURL, baseURL string) (*Mailer, error) {
	if smtpURL == "" {
		return &Mailer{}, nil
	}
	u, err := url.Parse(smtpURL)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
		return nil, errors.New("must be smtp://[USER:PASSWORD@]HOST[:PORT] or smtps://…")
	}
	q := u.Query()
	opts := []gomail.Option{gomail.WithTimeout(20 * time.Second)}
	port := 587
	switch {
	case u.Scheme == "smtps":
		port = 465
		opts = append(opts, gomail.WithSSL())
	case q.Get("tls") == "none":
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case q.Get("tls") == "" || q.Get("tls") == "required":
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default:
		return nil, fmt.Errorf("tls=%q: give none or required", q.Get("tls"))
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("port %q is not a number", p)
		}
	}
	opts = append(opts, gomail.WithPort(port))
	if u.User != nil && u.User.Username() != "" {
		pw, _ := u.User.Password()
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(u.User.Username()), gomail.WithPassword(pw))
	}
	from := q.Get("from")
	if from == "" {
		host := "localhost"
		if b, err := url.Parse(baseURL); err == nil && b.Hostname() != "" {
			host = b.Hostname()
		}
		from = "Parley <parley@" + host + ">"
	}
	if _, err := netmail.ParseAddress(from); err != nil {
		return nil, fmt.Errorf("from=%q is not a mail address", from)
	}
	return &Mailer{opts: opts, host: u.Hostname(), from: from}, nil
}

// Enabled says whether mails are sent at all.
func (m *Mailer) Enabled() bool { return m != nil && m.host != "" }

// Send sends one plain-text mail.
func (m *Mailer) Send(ctx context.Context, to, subject, text string) error {
	if !m.Enabled() {
		return ErrNotConfigured
	}
	msg := gomail.NewMsg()
	if err := msg.From(m.from); err != nil {
		return fmt.Errorf("mail from %q: %w", m.from, err)
	}
	if err := msg.To(to); err != nil {
		return fmt.Errorf("mail to %q: %w", to, err)
	}
	msg.Subject(subject)
	msg.SetBodyString(gomail.TypeTextPlain, text)
	c, err := gomail.NewClient(m.host, m.opts...)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("send mail %q to %s: %w", subject, to, err)
	}
	return nil
}

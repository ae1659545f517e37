// Package mailpit runs Mailpit (github.com/axllent/mailpit), a local mail
// server with a web inbox, the way internal/postgres runs a private
// Postgres: `parley dev` starts one so a newcomer sees the mails Parley
// sends, and the tests start one and read the mails through its HTTP API.
package mailpit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Version is the Mailpit that `make mailpit-bin` (and Install) installs.
const Version = "v1.33.1"

// Module is what `go install` installs.
const Module = "github.com/axllent/mailpit"

// CachePath is where Install puts the binary: the user's cache directory
// (~/.cache/parley/mailpit-VERSION/mailpit).
func CachePath() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("mailpit: no cache directory: %w", err)
	}
	return filepath.Join(dir, "parley", "mailpit-"+Version, "mailpit"), nil
}

// Find returns the Mailpit binary: $PARLEY_MAILPIT, then the cache path,
// then mailpit on PATH.
func Find() (string, error) {
	if p := os.Getenv("PARLEY_MAILPIT"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("PARLEY_MAILPIT: %w", err)
		}
		return p, nil
	}
	if p, err := CachePath(); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p, nil
	}
	return "", errors.New("mailpit not found: run `make mailpit-bin` (go install " + Module + "@" + Version + " into the cache), or set PARLEY_MAILPIT to its path")
}

// Install builds Mailpit into the cache path with the go command, unless it
// is there already, and returns its path.
func Install(ctx context.Context) (string, error) {
	p, err := CachePath()
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	cmd := exec.CommandContext(ctx, "go", "install", Module+"@"+Version)
	cmd.Env = append(os.Environ(), "GOBIN="+filepath.Dir(p))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr // it takes a while: show why
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go install %s@%s: %w", Module, Version, err)
	}
	return p, nil
}

// Server is a running Mailpit.
type Server struct {
	SMTPAddr string // host:port of its SMTP server
	WebURL   string // its inbox and HTTP API
	cmd      *exec.Cmd
	done     chan struct{}
}

// Options say where a Mailpit listens and keeps its mails.
type Options struct {
	SMTPAddr, WebAddr string // "" picks a free loopback port
	Database          string // "" keeps the mails in a temporary file
}

// Start runs the Mailpit binary bin until Stop (or until this process
// dies: the kernel kills it then) and waits until it answers.
func Start(ctx context.Context, bin string, opts Options) (*Server, error) {
	var err error
	if opts.SMTPAddr == "" {
		if opts.SMTPAddr, err = freeAddr(); err != nil {
			return nil, err
		}
	}
	if opts.WebAddr == "" {
		if opts.WebAddr, err = freeAddr(); err != nil {
			return nil, err
		}
	}
	args := []string{"--smtp", opts.SMTPAddr, "--listen", opts.WebAddr, "--quiet", "--disable-version-check",
		"--smtp-auth-accept-any", "--smtp-auth-allow-insecure"}
	if opts.Database != "" {
		args = append(args, "--database", opts.Database)
	}
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var stderr strings.Builder
	cmd.Stderr, cmd.Stdout = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start mailpit: %w", err)
	}
	s := &Server{SMTPAddr: opts.SMTPAddr, WebURL: "http://" + opts.WebAddr, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.WebURL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("mailpit exited: %s", stderr.String())
		case <-ctx.Done():
			s.Stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.Stop()
			return nil, fmt.Errorf("mailpit did not answer on %s: %s", s.WebURL, stderr.String())
		}
	}
}

// SMTPURL is the PARLEY_SMTP_URL that sends to this Mailpit (on loopback,
// without TLS).
func (s *Server) SMTPURL() string { return "smtp://" + s.SMTPAddr + "?tls=none" }

// Stop ends Mailpit.
func (s *Server) Stop() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Address is a mailbox of a message.
type Address struct {
	Name    string `json:"Name"`
	Address string `json:"Address"`
}

// Message is a mail Mailpit received, as its API gives it.
type Message struct {
	ID      string    `json:"ID"`
	From    Address   `json:"From"`
	To      []Address `json:"To"`
	Subject string    `json:"Subject"`
	Text    string    `json:"Text"` // the plain-text body (only from Message)
}

// Search returns the messages matching a Mailpit search query (e.g.
// `to:"ada@acme.test"`), newest first, without their bodies.
func (s *Server) Search(ctx context.Context, query string) ([]Message, error) {
	var out struct {
		Messages []Message `json:"messages"`
	}
	err := s.get(ctx, "/api/v1/search?query="+url.QueryEscape(query), &out)
	return out.Messages, err
}

// Message returns one message with its body.
func (s *Server) Message(ctx context.Context, id string) (Message, error) {
	var m Message
	err := s.get(ctx, "/api/v1/message/"+url.PathEscape(id), &m)
	return m, err
}

func (s *Server) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.WebURL+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("mailpit %s: %w", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("mailpit %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

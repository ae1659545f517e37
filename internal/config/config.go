// Package config reads Parley's settings from the environment (and flags that
// override it) into one Config, and validates them with errors that name the
// variable at fault.
package config

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"parley/internal/mail"
)

// Config is everything the server needs to start.
type Config struct {
	DatabaseURL string // DATABASE_URL: the serving role (parley_app), which cannot escalate
	Addr        string // PARLEY_ADDR
	BaseURL     string // PARLEY_BASE_URL: the public URL; webhook URLs are built from it
	SecretKey   []byte // PARLEY_SECRET_KEY: 32 bytes (hex or base64) for AES-256-GCM
	LogLevel    slog.Level
	LogFormat   string // "json" or "text"
	Sandbox     bool   // PARLEY_SANDBOX: simulated providers and customer phones
	// MediaURL is where attachments are stored (PARLEY_MEDIA_URL):
	// file://DIR or s3://BUCKET?region=…&endpoint=…; PARLEY_MEDIA_DIR, the
	// older setting, names a directory.
	MediaURL string
	// OwnerDatabaseURL (PARLEY_OWNER_DATABASE_URL) is the schema owner's:
	// when set, serve migrates with it and sets the serving role up; when
	// not, `parley migrate` must have done so.
	OwnerDatabaseURL string
	// SMTPURL (PARLEY_SMTP_URL) is where Parley's own mails to agents go
	// (internal/mail.New says its form); empty sends none.
	SMTPURL string
	// TrustProxyHeaders makes the server honour X-Forwarded-For for client
	// addresses (rate limits, logs). Off unless the operator says a proxy is in front.
	TrustProxyHeaders bool
	// MetricsAddr (PARLEY_METRICS_ADDR), when set, is a second listen
	// address that serves /metrics alone; the public one then has none.
	MetricsAddr string
	// MediaLinkTTL (PARLEY_MEDIA_LINK_TTL) is how long a signed public
	// media link works (default 7 days).
	MediaLinkTTL time.Duration
}

// DefaultMediaLinkTTL is how long a public media link works by default.
const DefaultMediaLinkTTL = 7 * 24 * time.Hour

// Error is a configuration problem: one line that names the variable.
type Error struct {
	Var string
	Msg string
}

func (e *Error) Error() string { return e.Var + ": " + e.Msg }

// Load reads the environment through getenv, then lets flags in args
// override it. It returns the first problem found.
func Load(getenv func(string) string, args []string) (Config, error) {
	return load(getenv, args, false)
}

// LoadDev is Load for `parley dev`: without PARLEY_BASE_URL (or --base-url)
// the base URL is the listen address's own, http://localhost:PORT, so that
// changing PARLEY_ADDR alone moves both.
func LoadDev(getenv func(string) string, args []string) (Config, error) {
	return load(getenv, args, true)
}

func load(getenv func(string) string, args []string, dev bool) (Config, error) {
	c := Config{
		DatabaseURL: getenv("DATABASE_URL"),
		Addr:        or(getenv("PARLEY_ADDR"), ":8080"),
		BaseURL:     getenv("PARLEY_BASE_URL"),
		LogFormat:   or(getenv("PARLEY_LOG_FORMAT"), "json"),
		MediaURL:    getenv("PARLEY_MEDIA_URL"),
	}
	if c.MediaURL == "" {
		c.MediaURL = DirURL(or(getenv("PARLEY_MEDIA_DIR"), "./.data/media"))
	}
	c.OwnerDatabaseURL = getenv("PARLEY_OWNER_DATABASE_URL")
	c.SMTPURL = getenv("PARLEY_SMTP_URL")
	secret := getenv("PARLEY_SECRET_KEY")
	level := or(getenv("PARLEY_LOG_LEVEL"), "info")
	sandbox := getenv("PARLEY_SANDBOX")
	trust := getenv("PARLEY_TRUST_PROXY_HEADERS")
	c.MetricsAddr = getenv("PARLEY_METRICS_ADDR")
	mediaTTL := getenv("PARLEY_MEDIA_LINK_TTL")

	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "Postgres URL (DATABASE_URL)")
	fs.StringVar(&c.OwnerDatabaseURL, "owner-database-url", c.OwnerDatabaseURL, "the schema owner's Postgres URL, for migrations (PARLEY_OWNER_DATABASE_URL)")
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address (PARLEY_ADDR)")
	fs.StringVar(&c.BaseURL, "base-url", c.BaseURL, "public base URL (PARLEY_BASE_URL)")
	fs.StringVar(&level, "log-level", level, "debug, info, warn or error (PARLEY_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "json or text (PARLEY_LOG_FORMAT)")
	fs.StringVar(&c.MediaURL, "media-url", c.MediaURL, "attachment store: file://DIR or s3://BUCKET?region=…&endpoint=… (PARLEY_MEDIA_URL)")
	mediaDir := fs.String("media-dir", "", "attachment directory, the older form of --media-url (PARLEY_MEDIA_DIR)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", c.MetricsAddr, "separate listen address for /metrics (PARLEY_METRICS_ADDR)")
	fs.StringVar(&mediaTTL, "media-link-ttl", mediaTTL, "how long public media links work, e.g. 168h (PARLEY_MEDIA_LINK_TTL)")
	sandboxFlag := fs.Bool("sandbox", false, "serve simulated providers and customer phones (PARLEY_SANDBOX)")
	if err := fs.Parse(args); err != nil {
		return c, &Error{Var: "flags", Msg: err.Error()}
	}

	if *mediaDir != "" {
		c.MediaURL = DirURL(*mediaDir)
	}
	var err error
	if c.Sandbox, err = parseBool("PARLEY_SANDBOX", sandbox); err != nil {
		return c, err
	}
	c.Sandbox = c.Sandbox || *sandboxFlag
	if c.TrustProxyHeaders, err = parseBool("PARLEY_TRUST_PROXY_HEADERS", trust); err != nil {
		return c, err
	}
	if c.DatabaseURL == "" {
		return c, &Error{"DATABASE_URL", "is required: the serving role's URL (e.g. postgres://parley_app:PASSWORD@localhost:5432/parley)"}
	}
	if _, err := url.Parse(c.DatabaseURL); err != nil || !strings.HasPrefix(c.DatabaseURL, "postgres") {
		return c, &Error{"DATABASE_URL", "must be a postgres:// URL"}
	}
	if _, err := mail.New(c.SMTPURL, c.BaseURL); err != nil {
		return c, &Error{"PARLEY_SMTP_URL", err.Error()}
	}
	if c.OwnerDatabaseURL != "" {
		if _, err := url.Parse(c.OwnerDatabaseURL); err != nil || !strings.HasPrefix(c.OwnerDatabaseURL, "postgres") {
			return c, &Error{"PARLEY_OWNER_DATABASE_URL", "must be a postgres:// URL"}
		}
	}
	if c.BaseURL == "" && dev {
		if c.BaseURL, err = LocalURL(c.Addr); err != nil {
			return c, &Error{"PARLEY_ADDR", err.Error() + " (or set PARLEY_BASE_URL)"}
		}
	}
	if c.BaseURL == "" {
		return c, &Error{"PARLEY_BASE_URL", "is required: the public URL agents and providers reach (e.g. https://help.example.com)"}
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, &Error{"PARLEY_BASE_URL", fmt.Sprintf("%q is not an http(s) URL with a host", c.BaseURL)}
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.SecretKey, err = ParseSecretKey(secret); err != nil {
		return c, &Error{"PARLEY_SECRET_KEY", err.Error()}
	}
	if mu, err := url.Parse(c.MediaURL); err != nil || (mu.Scheme != "file" && mu.Scheme != "s3") || (mu.Scheme == "s3" && mu.Host == "") {
		return c, &Error{"PARLEY_MEDIA_URL", fmt.Sprintf("%q is not file://DIR or s3://BUCKET?region=…", c.MediaURL)}
	}
	if err := c.LogLevel.UnmarshalText([]byte(level)); err != nil {
		return c, &Error{"PARLEY_LOG_LEVEL", fmt.Sprintf("%q is not one of debug, info, warn, error", level)}
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		return c, &Error{"PARLEY_LOG_FORMAT", fmt.Sprintf("%q is not json or text", c.LogFormat)}
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			return c, &Error{"PARLEY_METRICS_ADDR", fmt.Sprintf("%q is not a host:port listen address (e.g. 127.0.0.1:9090)", c.MetricsAddr)}
		}
		if c.MetricsAddr == c.Addr {
			return c, &Error{"PARLEY_METRICS_ADDR", "must differ from PARLEY_ADDR: it is a separate, private listener"}
		}
	}
	c.MediaLinkTTL = DefaultMediaLinkTTL
	if mediaTTL != "" {
		d, err := time.ParseDuration(mediaTTL)
		if err != nil || d < time.Minute || d > 365*24*time.Hour {
			return c, &Error{"PARLEY_MEDIA_LINK_TTL", fmt.Sprintf("%q is not a duration between 1m and 8760h (e.g. 168h for 7 days)", mediaTTL)}
		}
		c.MediaLinkTTL = d
	}
	return c, nil
}

// LocalURL is the http URL of this machine at the listen address addr:
// localhost when addr names no host or every interface (":8090",
// "0.0.0.0:8090"), the host itself otherwise.
func LocalURL(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("%q is not a host:port listen address", addr)
	}
	p, err := net.LookupPort("tcp", port)
	if err != nil || p == 0 {
		return "", fmt.Errorf("%q has no fixed port to build the base URL from", addr)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(p)), nil
}

// DirURL is the file:// URL of the directory dir (relative to the working
// directory unless absolute).
func DirURL(dir string) string {
	if filepath.IsAbs(dir) {
		return (&url.URL{Scheme: "file", Path: filepath.ToSlash(dir)}).String()
	}
	return (&url.URL{Scheme: "file", Host: ".", Path: "/" + strings.TrimPrefix(filepath.ToSlash(filepath.Clean(dir)), "./")}).String()
}

// SecureCookies says whether cookies get the Secure flag: only when the
// public URL is https, so plain-http development still signs in.
func (c Config) SecureCookies() bool { return strings.HasPrefix(c.BaseURL, "https://") }

// ParseSecretKey accepts 32 bytes written as 64 hex digits or as base64.
func ParseSecretKey(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("is required: 32 random bytes as 64 hex digits (openssl rand -hex 32)")
	}
	if b, err := hex.DecodeString(s); err == nil && len(b) == 32 {
		return b, nil
	}
	if b, err := base64.StdEncoding.DecodeString(s); err == nil && len(b) == 32 {
		return b, nil
	}
	return nil, errors.New("must be 32 bytes as 64 hex digits or base64 (openssl rand -hex 32)")
}

func parseBool(name, v string) (bool, error) {
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, &Error{name, fmt.Sprintf("%q is not true or false", v)}
	}
	return b, nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

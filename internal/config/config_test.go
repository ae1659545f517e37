package config_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"parley/internal/config"
)

const key = "0000000000000000000000000000000000000000000000000000000000000001"

func env(m map[string]string) func(string) string {
	base := map[string]string{
		"DATABASE_URL":      "postgres://parley@localhost/parley",
		"PARLEY_BASE_URL":   "https://help.example.com/",
		"PARLEY_SECRET_KEY": key,
	}
	for k, v := range m {
		base[k] = v
	}
	return func(k string) string { return base[k] }
}

func TestLoadDefaultsAndFlags(t *testing.T) {
	c, err := config.Load(env(nil), []string{"--addr", "127.0.0.1:9000", "--sandbox"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9000" || !c.Sandbox || c.BaseURL != "https://help.example.com" || !c.SecureCookies() || len(c.SecretKey) != 32 {
		t.Fatalf("config = %+v", c)
	}
}

// A metrics listener on the public address would not be private; a media
// link's lifetime is a duration, 7 days unless said.
func TestMetricsAddrAndMediaLinkTTL(t *testing.T) {
	if _, err := config.Load(env(map[string]string{"PARLEY_ADDR": ":9000", "PARLEY_METRICS_ADDR": ":9000"}), nil); err == nil || !strings.Contains(err.Error(), "PARLEY_METRICS_ADDR: must differ") {
		t.Errorf("metrics on the public address: %v", err)
	}
	c, err := config.Load(env(map[string]string{"PARLEY_METRICS_ADDR": "127.0.0.1:9090"}), nil)
	if err != nil || c.MetricsAddr != "127.0.0.1:9090" || c.MediaLinkTTL != 7*24*time.Hour {
		t.Errorf("%+v %v", c, err)
	}
	if c, err := config.Load(env(map[string]string{"PARLEY_MEDIA_LINK_TTL": "36h"}), nil); err != nil || c.MediaLinkTTL != 36*time.Hour {
		t.Errorf("36h: %v %v", c.MediaLinkTTL, err)
	}
	if _, err := config.Load(env(map[string]string{"PARLEY_MEDIA_LINK_TTL": "0s"}), nil); err == nil {
		t.Error("a media link that never works was accepted")
	}
}

func TestLoadNamesTheBadVariable(t *testing.T) {
	cases := map[string]map[string]string{
		"DATABASE_URL":          {"DATABASE_URL": ""},
		"PARLEY_BASE_URL":       {"PARLEY_BASE_URL": "help.example.com"},
		"PARLEY_SECRET_KEY":     {"PARLEY_SECRET_KEY": "too-short"},
		"PARLEY_LOG_LEVEL":      {"PARLEY_LOG_LEVEL": "loud"},
		"PARLEY_LOG_FORMAT":     {"PARLEY_LOG_FORMAT": "xml"},
		"PARLEY_SANDBOX":        {"PARLEY_SANDBOX": "maybe"},
		"PARLEY_METRICS_ADDR":   {"PARLEY_METRICS_ADDR": "metrics"},
		"PARLEY_MEDIA_LINK_TTL": {"PARLEY_MEDIA_LINK_TTL": "forever"},
		"PARLEY_MEDIA_URL":      {"PARLEY_MEDIA_URL": "ftp://files.example.com/media"},
	}
	for want, m := range cases {
		_, err := config.Load(env(m), nil)
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Var != want || strings.Contains(ce.Error(), "\n") {
			t.Errorf("%v: error %v, want one line naming %s", m, err, want)
		}
	}
}

// TestLoadDevBaseURLFollowsAddr: `PARLEY_ADDR=:8090 make run` must serve
// and reach itself on 8090, unless PARLEY_BASE_URL says otherwise.
func TestLoadDevBaseURLFollowsAddr(t *testing.T) {
	cases := []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"PARLEY_ADDR": ":8090"}, nil, "http://localhost:8090"},
		{map[string]string{"PARLEY_ADDR": "localhost:8080"}, nil, "http://localhost:8080"},
		{map[string]string{"PARLEY_ADDR": "0.0.0.0:8091"}, nil, "http://localhost:8091"},
		{map[string]string{"PARLEY_ADDR": "127.0.0.1:9000"}, nil, "http://127.0.0.1:9000"},
		{map[string]string{"PARLEY_ADDR": "[::1]:9001"}, nil, "http://[::1]:9001"},
		{nil, []string{"--addr", ":8092"}, "http://localhost:8092"},
		{map[string]string{"PARLEY_ADDR": ":8090", "PARLEY_BASE_URL": "https://help.example.com/"}, nil, "https://help.example.com"},
		{map[string]string{"PARLEY_ADDR": ":8090"}, []string{"--base-url", "http://dev.example.com:8080"}, "http://dev.example.com:8080"},
	}
	for _, c := range cases {
		m := map[string]string{"PARLEY_BASE_URL": ""}
		for k, v := range c.env {
			m[k] = v
		}
		cfg, err := config.LoadDev(env(m), c.args)
		if err != nil || cfg.BaseURL != c.want {
			t.Errorf("LoadDev(%v, %v): base URL %q, %v; want %q", c.env, c.args, cfg.BaseURL, err, c.want)
		}
	}
	// `parley serve` still needs the public URL said.
	if _, err := config.Load(env(map[string]string{"PARLEY_BASE_URL": "", "PARLEY_ADDR": ":8090"}), nil); err == nil {
		t.Error("Load without PARLEY_BASE_URL succeeded")
	}
	// An address with no fixed port cannot give a base URL.
	for _, addr := range []string{":0", "nonsense"} {
		_, err := config.LoadDev(env(map[string]string{"PARLEY_BASE_URL": "", "PARLEY_ADDR": addr}), nil)
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Var != "PARLEY_ADDR" || strings.Contains(ce.Error(), "\n") {
			t.Errorf("LoadDev with PARLEY_ADDR %q: error %v, want one line naming PARLEY_ADDR", addr, err)
		}
	}
}

// Attachments go to ./.data/media unless PARLEY_MEDIA_URL (or the older
// PARLEY_MEDIA_DIR) names another place.
func TestLoadMediaURL(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, nil, "file://./.data/media"},
		{map[string]string{"PARLEY_MEDIA_DIR": "/var/lib/parley"}, nil, "file:///var/lib/parley"},
		{map[string]string{"PARLEY_MEDIA_URL": "s3://parley-media?region=eu-west-1"}, nil, "s3://parley-media?region=eu-west-1"},
		{nil, []string{"--media-url", "s3://m?endpoint=http://127.0.0.1:8333&region=us-east-1&use_path_style=true"}, "s3://m?endpoint=http://127.0.0.1:8333&region=us-east-1&use_path_style=true"},
	} {
		c, err := config.Load(env(tc.env), tc.args)
		if err != nil || c.MediaURL != tc.want {
			t.Errorf("%v %v: media URL %q (%v), want %q", tc.env, tc.args, c.MediaURL, err, tc.want)
		}
	}
}

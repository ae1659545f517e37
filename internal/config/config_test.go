package config_test

import (
	"errors"
	"strings"
	"testing"

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

func TestLoadNamesTheBadVariable(t *testing.T) {
	cases := map[string]map[string]string{
		"DATABASE_URL":      {"DATABASE_URL": ""},
		"PARLEY_BASE_URL":   {"PARLEY_BASE_URL": "help.example.com"},
		"PARLEY_SECRET_KEY": {"PARLEY_SECRET_KEY": "too-short"},
		"PARLEY_LOG_LEVEL":  {"PARLEY_LOG_LEVEL": "loud"},
		"PARLEY_LOG_FORMAT": {"PARLEY_LOG_FORMAT": "xml"},
		"PARLEY_SANDBOX":    {"PARLEY_SANDBOX": "maybe"},
	}
	for want, m := range cases {
		_, err := config.Load(env(m), nil)
		var ce *config.Error
		if !errors.As(err, &ce) || ce.Var != want || strings.Contains(ce.Error(), "\n") {
			t.Errorf("%v: error %v, want one line naming %s", m, err, want)
		}
	}
}

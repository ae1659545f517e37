package sandbox

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestNotSeededAnswers503: the server listens before SeedDemo has run, so
// /sandbox/info and /sandbox/phone must say the demo is not there yet
// instead of answering an empty list ("integrations": null).
func TestNotSeededAnswers503(t *testing.T) {
	s := New("http://localhost:8080", slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now)
	if err := s.Ready(); err == nil {
		t.Error("Ready before SeedDemo: nil")
	}

	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/sandbox/info", nil))
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("/sandbox/info body %q: %v", rec.Body, err)
	}
	msg, _ := body["error"].(string)
	if _, has := body["integrations"]; rec.Code != http.StatusServiceUnavailable || has || !strings.Contains(msg, "not seeded yet") {
		t.Errorf("/sandbox/info before seeding: %d %s", rec.Code, rec.Body)
	}
	if rec.Header().Get("Retry-After") == "" {
		t.Error("/sandbox/info before seeding: no Retry-After")
	}

	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/sandbox/phone", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "not seeded yet") {
		t.Errorf("/sandbox/phone before seeding: %d %s", rec.Code, rec.Body)
	}
}

package httpserver_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestClientsSearchAndProfileHistory(t *testing.T) {
	t.Parallel()
	d := startDemo(t)
	d.customerWrites(t, "+15557654321", "first chat")
	d.customerWrites(t, "+4930123456", "hallo")
	for _, q := range []string{"+1 (555) 765-4321", "15557654321", "765-4321"} {
		status, body := d.env.Get(t, d.client, "/clients?"+url.Values{"q": {q}}.Encode())
		if status != http.StatusOK || !strings.Contains(body, "+15557654321") || strings.Contains(body, "+4930123456") {
			t.Errorf("search %q: %d, want only the matching client", q, status)
		}
	}
	if _, body := d.env.Get(t, d.client, "/clients?q=nobody"); !strings.Contains(body, "No clients found.") {
		t.Error("a search for nobody found someone")
	}
	chat := d.liveChats(t)[0]
	status, body := d.env.Get(t, d.client, fmt.Sprintf("/clients/%d", chat.ClientID))
	if status != http.StatusOK || !strings.Contains(body, "whatsapp") || !strings.Contains(body, fmt.Sprintf("#%d", chat.Number)) {
		t.Fatalf("profile: %d", status)
	}
}

package onemsg_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"parley/internal/channel"
)

// EnsureDelivery turns on delivery statuses and guaranteed webhooks on a
// channel that has them off, keeps its webhook list, and reads back what
// 1msg now has.
func TestEnsureDelivery(t *testing.T) {
	e := newEnv(t)
	e.sim.SetAckNotifications(testInstance, false)
	hooks := e.sim.Webhooks(testInstance)
	ctx := context.Background()
	if st, err := e.client.Settings(ctx); err != nil || st.AckNotifications || st.GuaranteedHooks {
		t.Fatalf("settings of a channel with acks off: %+v, %v", st, err)
	}
	st, err := e.client.EnsureDelivery(ctx)
	if err != nil || !st.AckNotifications || !st.GuaranteedHooks {
		t.Fatalf("EnsureDelivery: %+v, %v", st, err)
	}
	if !e.sim.AckNotifications(testInstance) || !e.sim.GuaranteedHooks(testInstance) {
		t.Error("the simulator's channel has them off")
	}
	if got := e.sim.Webhooks(testInstance); !slices.Equal(got, hooks) {
		t.Errorf("webhooks changed: %v, want %v", got, hooks)
	}
	// Already on: nothing to change.
	if st, err := e.client.EnsureDelivery(ctx); err != nil || !st.AckNotifications {
		t.Errorf("second EnsureDelivery: %+v, %v", st, err)
	}
}

// A 1msg that answers the settings call but keeps acks off is an error in
// plain words; GET /settings that fails is the usual 1msg error.
func TestEnsureDeliveryThatDidNotTake(t *testing.T) {
	var posts int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/settings") && r.Method == http.MethodPost:
			posts++
			_, _ = w.Write([]byte(`{"webhookUrl":null,"ackNotificationsOn":false,"update":{}}`))
		case strings.HasSuffix(r.URL.Path, "/settings"):
			_, _ = w.Write([]byte(`{"webhookUrl":null,"ackNotificationsOn":0}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c := mustNew(t, srv.URL+"/"+testInstance+"/", testToken, testPhone)
	_, err := c.EnsureDelivery(context.Background())
	var se *channel.SendError
	if !errors.As(err, &se) || !strings.Contains(se.Message, "did not turn on delivery statuses") || posts != 1 {
		t.Errorf("err %v after %d POSTs", err, posts)
	}

	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"down"}`, http.StatusBadGateway)
	}))
	defer broken.Close()
	c = mustNew(t, broken.URL+"/"+testInstance+"/", testToken, testPhone)
	if _, err := c.Settings(context.Background()); !errors.As(err, &se) || !se.Retryable {
		t.Errorf("a 502 on GET /settings: %v", err)
	}
}

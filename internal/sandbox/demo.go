package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"parley/internal/integration"
	"parley/internal/problem"
	"parley/internal/rule"
	"parley/internal/tenant"
	"parley/web"
)

// The demo tenant's admin and its sandbox Twilio account, printed by
// `make run` and served by /sandbox/info. Sandbox values only.
const (
	DemoCompany  = "Demo Company"
	DemoName     = "Dana Demo"
	DemoEmail    = "demo@parley.test"
	DemoPassword = "parley-demo-password"

	DemoTwilioAccountSID = "AC00000000000000000000000000000001"
	DemoTwilioAuthToken  = "sandboxauthtoken0000000000000001"
	DemoTwilioSender     = "+15550001111"

	DemoOneMsgInstance = "demo1msg"
	DemoOneMsgToken    = "sandbox1msgtoken0000000000000001"
	DemoOneMsgPhone    = "+15550002222"
)

// Sandbox is the simulated world of `make run` and of end-to-end tests: the
// provider simulators, mounted under /sandbox/, and the customer phone page.
type Sandbox struct {
	Twilio  *Twilio
	OneMsg  *OneMsg
	baseURL string
	log     *slog.Logger
	mux     *http.ServeMux

	mu   sync.Mutex
	demo []demoIntegration // nil until SeedDemo has seeded the demo tenant
}

type demoIntegration struct {
	Provider   string `json:"provider"`
	WebhookURL string `json:"webhook_url"`
	AccountSID string `json:"account_sid,omitempty"`
	AuthToken  string `json:"auth_token,omitempty"`
	APIURL     string `json:"api_url,omitempty"`
	Token      string `json:"token,omitempty"`
	Sender     string `json:"sender"`
	instance   string
}

// New builds the sandbox for a Parley served at baseURL; now is the
// simulators' clock (Parley's own, so tests move both).
func New(baseURL string, log *slog.Logger, now func() time.Time) *Sandbox {
	s := &Sandbox{baseURL: baseURL, log: log, mux: http.NewServeMux()}
	s.Twilio = NewTwilio(TwilioOptions{PublicURL: baseURL + "/sandbox/twilio", StatusDelay: DefaultStatusDelay, Logger: log, Now: now})
	s.mux.Handle("/sandbox/twilio/", http.StripPrefix("/sandbox/twilio", s.Twilio.Handler()))
	s.OneMsg = NewOneMsg(OneMsgOptions{PublicURL: baseURL + "/sandbox/1msg", AckDelay: DefaultStatusDelay, Logger: log, Now: now})
	s.mux.Handle("/sandbox/1msg/", http.StripPrefix("/sandbox/1msg", s.OneMsg.Handler()))
	s.mux.HandleFunc("GET /sandbox/info", s.info)
	s.mux.HandleFunc("GET /sandbox/phone", s.phone)
	return s
}

// ServeHTTP serves everything under /sandbox/.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Transport sends provider API calls to the simulators instead of the
// providers' hosts; the adapters are otherwise unchanged.
func (s *Sandbox) Transport() http.RoundTripper {
	return TwilioTransport(s.baseURL+"/sandbox/twilio", OneMsgTransport(s.baseURL+"/sandbox/1msg", nil))
}

// SeedDemo makes sure the demo tenant, its admin and its sandbox Twilio
// integration exist, and registers the integration with the simulator.
// It is safe to run at every start; the server must already be listening,
// since connecting checks the credentials over HTTP like in production.
func (s *Sandbox) SeedDemo(ctx context.Context, tenants *tenant.Service, integrations *integration.Service, rules *rule.Service) error {
	admin, err := tenants.Authenticate(ctx, DemoEmail, DemoPassword)
	if problem.Is(err, problem.Unauthorized) {
		admin, err = tenants.SignUp(ctx, tenant.SignUpForm{Company: DemoCompany, Name: DemoName, Email: DemoEmail, Password: DemoPassword, Verified: true})
		if err == nil {
			err = rules.SeedExamples(ctx, admin.TenantID)
		}
	}
	if err != nil {
		return fmt.Errorf("seed demo tenant: %w", err)
	}
	groups, err := tenants.Groups(ctx, admin.TenantID)
	if err != nil || len(groups) == 0 {
		return fmt.Errorf("seed demo integrations: no group: %w", err)
	}
	list, err := integrations.List(ctx, admin.TenantID)
	if err != nil {
		return err
	}
	find := func(provider, account string) *integration.Integration {
		for i := range list {
			if list[i].Provider == provider && list[i].Account == account {
				return &list[i]
			}
		}
		return nil
	}

	s.Twilio.AddAccount(DemoTwilioAccountSID, DemoTwilioAuthToken, "Parley sandbox")
	s.Twilio.SeedDemoTemplates(DemoTwilioAccountSID)
	// A media template whose media Parley serves: WhatsApp approved it
	// with a link under Parley's public media address and a variable end
	// (twilio.com/docs/content/twilio-media), so an agent's attached file
	// can fill it.
	s.Twilio.AddTemplate(DemoTwilioAccountSID, Template{
		FriendlyName: "order_receipt", Language: "en",
		Variables: map[string]string{"1": "Customer name", "2": "Order number", "3": "receipt.pdf"},
		Types: map[string]any{"twilio/media": map[string]any{
			"body":  "Hi {{1}}, here is the receipt for your order {{2}}.",
			"media": []any{s.baseURL + "/media/public/{{3}}"},
		}},
	})
	tw := find(integration.Twilio, DemoTwilioAccountSID)
	if tw == nil {
		created, err := integrations.ConnectTwilio(ctx, admin.TenantID, integration.TwilioForm{
			AccountSID: DemoTwilioAccountSID, AuthToken: DemoTwilioAuthToken, Sender: DemoTwilioSender, DefaultGroupID: groups[0].ID,
		})
		if err != nil {
			return fmt.Errorf("seed demo Twilio integration: %w", err)
		}
		tw = &created
	}
	hook := integrations.WebhookURL(*tw)
	s.Twilio.AddSender(DemoTwilioAccountSID, tw.Sender, hook)

	// The 1msg channel: connecting registers Parley's webhook with the
	// simulator, as with 1msg; a simulator that restarted is told again.
	s.OneMsg.AddInstance(DemoOneMsgInstance, DemoOneMsgToken, DemoOneMsgPhone)
	s.OneMsg.SeedDemoTemplates(DemoOneMsgInstance)
	apiURL := OneMsgAPIURL(DemoOneMsgInstance)
	om := find(integration.OneMsg, strings.TrimSuffix(apiURL, "/"))
	if om == nil {
		created, err := integrations.ConnectOneMsg(ctx, admin.TenantID, integration.OneMsgForm{
			APIURL: apiURL, Token: DemoOneMsgToken, Phone: DemoOneMsgPhone, DefaultGroupID: groups[0].ID,
		})
		if err != nil {
			return fmt.Errorf("seed demo 1msg integration: %w", err)
		}
		om = &created
	} else if err := integrations.RegisterWebhook(ctx, *om); err != nil {
		return fmt.Errorf("register the demo 1msg webhook: %w", err)
	}
	s.mu.Lock()
	s.demo = []demoIntegration{
		{Provider: "twilio", WebhookURL: hook, AccountSID: DemoTwilioAccountSID, AuthToken: DemoTwilioAuthToken, Sender: tw.Sender},
		{Provider: "onemsg", WebhookURL: integrations.WebhookURL(*om), APIURL: apiURL, Token: DemoOneMsgToken, Sender: om.Sender, instance: DemoOneMsgInstance},
	}
	s.mu.Unlock()
	return nil
}

// errNotSeeded is what Ready, /sandbox/info and /sandbox/phone say while the
// server already listens but SeedDemo has not finished.
var errNotSeeded = errors.New("the demo tenant is not seeded yet: try again in a moment")

// Ready says whether SeedDemo has seeded the demo tenant and its
// integrations.
func (s *Sandbox) Ready() error {
	if s.demoIntegrations() == nil {
		return errNotSeeded
	}
	return nil
}

func (s *Sandbox) demoIntegrations() []demoIntegration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.demo
}

// info answers the demo login and the sandbox integrations, for scripts
// and the phone page; 503 until the demo tenant is seeded.
func (s *Sandbox) info(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	demo := s.demoIntegrations()
	if demo == nil {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": errNotSeeded.Error()})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"login":        map[string]string{"email": DemoEmail, "password": DemoPassword},
		"integrations": demo,
	})
}

func (s *Sandbox) phone(w http.ResponseWriter, r *http.Request) {
	demo := s.demoIntegrations()
	if demo == nil {
		w.Header().Set("Retry-After", "1")
		http.Error(w, errNotSeeded.Error(), http.StatusServiceUnavailable)
		return
	}
	var list []web.PhoneIntegration
	for _, d := range demo {
		pi := web.PhoneIntegration{
			Provider: d.Provider, Sender: d.Sender, API: "/sandbox/twilio",
			Label: DemoCompany + " — WhatsApp via Twilio (" + d.Sender + ")",
		}
		if d.Provider == "onemsg" {
			pi.API, pi.Instance = "/sandbox/1msg", d.instance
			pi.Label = DemoCompany + " — WhatsApp via 1msg (" + d.Sender + ")"
		}
		list = append(list, pi)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := web.PhonePage(list).Render(r.Context(), w); err != nil {
		s.log.Error("render phone page", "err", err)
	}
}

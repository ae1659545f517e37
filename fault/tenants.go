package main

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"parley/internal/conversation"
	"parley/internal/integration"
	"parley/internal/macro"
	"parley/internal/sandbox"
	"parley/internal/tenant"
)

// other is a second tenant with a little of everything, every text of
// which carries marker: any byte of it on a page of the demo tenant is a
// leak.
type other struct {
	tenantID   uuid.UUID
	marker     string
	email      string
	password   string
	authToken  string
	sender     string
	hook       string // its Twilio integration's webhook URL
	oneMsgHook string
}

const otherAccountSID = "AC00000000000000000000000000000b0b"

// otherTenant sets the second tenant up once, through the services of the
// in-process app (the replicas store the customers' messages).
func (w *world) otherTenant(ctx context.Context) (*other, error) {
	if w.b != nil {
		return w.b, nil
	}
	o := &other{marker: "zqleak" + randHex(6), password: "other-tenant-password", authToken: randHex(16), sender: "+15550003333"}
	o.email = "admin-" + o.marker + "@example.com"
	// Every table's ids start apart, so that no id of the other tenant is
	// also an id of another kind in the demo tenant (the identities are
	// per table; small ones collide across tables).
	for i, k := range idKinds {
		if _, err := w.pool.Exec(ctx, fmt.Sprintf(`ALTER TABLE %s ALTER COLUMN id RESTART WITH %d`, k.table, (i+1)*1_000_000)); err != nil {
			return nil, err
		}
	}
	a := w.app
	admin, err := a.Tenants.SignUp(ctx, tenant.SignUpForm{Company: "Company " + o.marker, Name: "Admin " + o.marker, Email: o.email, Password: o.password})
	if err != nil {
		return nil, fmt.Errorf("sign the other tenant up: %w", err)
	}
	o.tenantID = admin.TenantID
	// As the signup page does.
	if err := a.Rules.SeedExamples(ctx, admin.TenantID); err != nil {
		return nil, err
	}
	tid := admin.TenantID
	groups, err := a.Tenants.Groups(ctx, tid)
	if err != nil {
		return nil, err
	}
	w.sim.Twilio.AddAccount(otherAccountSID, o.authToken, "Other "+o.marker)
	ig, err := a.Integrations.ConnectTwilio(ctx, tid, integration.TwilioForm{AccountSID: otherAccountSID, AuthToken: o.authToken, Sender: o.sender, DefaultGroupID: groups[0].ID})
	if err != nil {
		return nil, fmt.Errorf("connect the other tenant's Twilio: %w", err)
	}
	o.hook = a.Integrations.WebhookURL(ig)
	w.sim.Twilio.AddSender(otherAccountSID, o.sender, o.hook)
	w.sim.OneMsg.AddInstance("other"+o.marker, "tok"+o.marker, "+15550004444")
	om, err := a.Integrations.ConnectOneMsg(ctx, tid, integration.OneMsgForm{APIURL: sandbox.OneMsgAPIURL("other" + o.marker), Token: "tok" + o.marker,
		Phone: "+15550004444", DefaultGroupID: groups[0].ID})
	if err != nil {
		return nil, fmt.Errorf("connect the other tenant's 1msg: %w", err)
	}
	o.oneMsgHook = a.Integrations.WebhookURL(om)

	// Two customers write (through a replica), an agent answers with a
	// file, notes, a macro of each kind, a group, an agent, an
	// invitation, a merge.
	var cases []int64
	for i, phone := range []string{"+15557770001", "+15557770002"} {
		sid := newSid()
		form := twilioInbound(sid, phone, o.sender, fmt.Sprintf("Private message %d %s", i, o.marker))
		form.Set("AccountSid", otherAccountSID)
		form.Set("ProfileName", "Client "+o.marker)
		if st, err := postTwilio(ctx, w.replicas[0].url, hookPath(o.hook), form, o.authToken, o.hook); err != nil || st != http.StatusOK {
			return nil, fmt.Errorf("the other tenant's customer writes: %d %v", st, err)
		}
		var id int64
		if err := w.pool.QueryRow(ctx, `SELECT case_id FROM messages WHERE provider_message_id = $1`, sid).Scan(&id); err != nil {
			return nil, err
		}
		cases = append(cases, id)
	}
	if _, err := a.Conversations.SendReply(ctx, tid, admin.ID, cases[0], conversation.Reply{Body: "Answer " + o.marker,
		File: conversation.UploadOf("secret-"+o.marker+".pdf", "application/pdf", []byte("%PDF-1.4\n% "+o.marker+"\n%%EOF\n"))}); err != nil {
		return nil, fmt.Errorf("the other tenant answers: %w", err)
	}
	if err := a.Conversations.AddNote(ctx, tid, admin.ID, cases[1], "Note "+o.marker); err != nil {
		return nil, err
	}
	macros := macro.NewService(a.DB)
	if _, err := macros.Create(ctx, tid, macro.Owner{}, macro.Form{Title: "General " + o.marker, Body: "Body " + o.marker}); err != nil {
		return nil, err
	}
	if _, err := macros.Create(ctx, tid, macro.Owner{Agent: admin.ID}, macro.Form{Title: "Mine " + o.marker, Body: "Body " + o.marker}); err != nil {
		return nil, err
	}
	if _, err := a.Tenants.CreateGroup(ctx, tid, "Group "+o.marker); err != nil {
		return nil, err
	}
	if _, _, err := a.Tenants.CreateAgent(ctx, tid, tenant.NewAgentForm{Email: "agent-" + o.marker + "@example.com", Name: "Agent " + o.marker, Role: "agent", Password: "agent-password-" + o.marker}); err != nil {
		return nil, fmt.Errorf("create the other tenant's agent: %w", err)
	}
	if _, _, err := a.Tenants.CreateAgent(ctx, tid, tenant.NewAgentForm{Email: "invited-" + o.marker + "@example.com", Name: "Invited " + o.marker, Role: "agent", Invite: true}); err != nil {
		return nil, fmt.Errorf("invite to the other tenant: %w", err)
	}
	var clients []int64
	rows, err := w.pool.Query(ctx, `SELECT id FROM clients WHERE tenant_id = $1 ORDER BY id`, tid)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id int64
		_ = rows.Scan(&id)
		clients = append(clients, id)
	}
	rows.Close()
	if err := a.Conversations.EndChat(ctx, tid, cases[1], tenant.DefaultStatuses[0], "Admin "+o.marker); err != nil {
		return nil, fmt.Errorf("end the other tenant's second chat: %w", err)
	}
	if len(clients) >= 2 {
		if _, err := a.Clients.Merge(ctx, tid, admin.ID, clients[0], clients[1], map[string]string{"name": "survivor", "whatsapp": "survivor"}); err != nil {
			return nil, fmt.Errorf("merge the other tenant's clients: %w", err)
		}
	}
	w.b = o
	return o, nil
}

package integration

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"parley/internal/channel"
	"parley/internal/channel/onemsg"
	"parley/internal/credential"
	"parley/internal/phone"
	"parley/internal/problem"
)

// OneMsgForm is what an admin fills to connect 1msg.
type OneMsgForm struct {
	// APIURL is the channel's API URL as 1msg shows it,
	// https://api.1msg.io/<instance>/.
	APIURL, Token string
	// Phone is the number the WhatsApp account is linked to.
	Phone          string
	DefaultGroupID int64
	// Webhook is the form's PendingWebhook.Carried.
	Webhook string
}

// maxOneMsgWebhooks is how many webhook URLs 1msg keeps for a channel.
const maxOneMsgWebhooks = 5

// ConnectOneMsg checks the channel with 1msg (status and profile), adds
// Parley's webhook URL to the channel's list — keeping every URL already
// there, 1msg's own inbox among them — and saves the integration. Nothing
// is saved if 1msg refuses or cannot be reached.
func (s *Service) ConnectOneMsg(ctx context.Context, tid uuid.UUID, f OneMsgForm) (Integration, error) {
	fields := problem.Fields{}
	api, err := onemsg.NormalizeAPIURL(f.APIURL)
	if err != nil {
		fields.Add("api_url", err.Error())
	}
	f.Token = strings.TrimSpace(f.Token)
	if f.Token == "" || len(f.Token) > 2000 {
		fields.Add("token", "Paste the channel's API token from 1msg.")
	}
	number, err := phone.Normalize(f.Phone, "")
	if err != nil {
		fields.Add("phone", "Enter the phone number your WhatsApp account is linked to, with its country code, like +14155238886.")
	}
	if err := s.checkGroup(ctx, tid, f.DefaultGroupID, fields); err != nil {
		return Integration{}, err
	}
	if err := fields.Err(); err != nil {
		return Integration{}, err
	}
	token, err := s.webhookToken(tid, OneMsg, f.Webhook)
	if err != nil {
		return Integration{}, err
	}
	c, err := onemsg.New(api, f.Token, number, s.Transport)
	if err != nil {
		return Integration{}, problem.Field("api_url", err.Error())
	}
	if err := c.Verify(ctx); err != nil {
		return Integration{}, oneMsgProblem(err)
	}
	var ig Integration
	err = s.channelChange(ctx, api, number, func() error {
		// Before the channel's webhooks are touched: a channel another
		// integration holds stays as it is.
		if err := s.channelHeld(ctx, tid, OneMsg, api, number); err != nil {
			return err
		}
		hook := s.webhookURL(OneMsg, token)
		if err := s.setUpChannel(ctx, c, hook); err != nil {
			return err
		}
		var err error
		ig, err = s.insertWithToken(ctx, tid, OneMsg, token, api, f.Token, number, f.DefaultGroupID)
		if err != nil && !s.tokenTaken(ctx, token) {
			// Best effort: nothing was saved. A hook an integration holds
			// (the same form sent twice, and the other one won) stays.
			_ = s.unregisterWebhook(ctx, c, hook)
		}
		return err
	})
	return ig, err
}

// channelChange runs fn, a change of a 1msg channel's webhook URLs, as
// the only one on that channel (across replicas and workspaces): 1msg
// sets the whole list at once, so two changes that both read it and
// each write their own would lose one's URL.
func (s *Service) channelChange(ctx context.Context, api, number string, fn func() error) error {
	return s.db.WithLock(ctx, "1msg channel "+api+" "+number, fn)
}

// UpdateOneMsg changes the phone number and default group and, when a new
// token is given, replaces it after 1msg accepts it.
func (s *Service) UpdateOneMsg(ctx context.Context, tid uuid.UUID, id int64, f OneMsgForm) error {
	cur, err := s.Get(ctx, tid, id)
	if err != nil {
		return err
	}
	fields := problem.Fields{}
	number, err := phone.Normalize(f.Phone, "")
	if err != nil {
		fields.Add("phone", "Enter the phone number your WhatsApp account is linked to, with its country code, like +14155238886.")
	}
	if err := s.checkGroup(ctx, tid, f.DefaultGroupID, fields); err != nil {
		return err
	}
	if err := fields.Err(); err != nil {
		return err
	}
	sealed, hint := cur.credentials, cur.CredentialsHint
	token := strings.TrimSpace(f.Token)
	if token == "" {
		if token, err = s.Secret(cur); err != nil {
			return err
		}
	}
	c, err := onemsg.New(cur.Account, token, number, s.Transport)
	if err != nil {
		return err
	}
	if strings.TrimSpace(f.Token) != "" || number != cur.Sender {
		if err := c.Verify(ctx); err != nil {
			return oneMsgProblem(err)
		}
	}
	if strings.TrimSpace(f.Token) != "" {
		if sealed, err = s.sealer.Seal(token, cur.WebhookToken); err != nil {
			return err
		}
		hint = credential.Hint(token)
	}
	return s.change(ctx, tid, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE integrations SET sender = $2, default_group_id = $3, credentials = $4, credentials_hint = $5 WHERE id = $1`,
			id, number, f.DefaultGroupID, sealed, hint)
		return err
	})
}

// oneMsgProblem explains, with 1msg's own words, why 1msg refused.
func oneMsgProblem(err error) error {
	var se *channel.SendError
	if !errors.As(err, &se) {
		return problem.New(problem.Unavailable, "1msg could not check the channel: "+err.Error())
	}
	switch {
	case se.Code == "401":
		return problem.Field("token", se.Message)
	case se.Retryable:
		return problem.New(problem.Unavailable, "1msg could not be reached to check the channel. Nothing was saved; try again in a moment.")
	}
	return problem.New(problem.Unavailable, se.Message)
}

// setUpChannel makes a 1msg channel work with Parley: delivery statuses
// and guaranteed webhook delivery turned on (and checked), and hook among
// the channel's webhook URLs, the others kept. The webhook list is read
// before the settings change and merged in again afterwards, so that a
// settings call that dropped a URL cannot lose one.
func (s *Service) setUpChannel(ctx context.Context, c *onemsg.Client, hook string) error {
	before, err := c.Webhooks(ctx)
	if err != nil {
		return oneMsgProblem(err)
	}
	if _, err := c.EnsureDelivery(ctx); err != nil {
		return oneMsgProblem(err)
	}
	return s.registerWebhook(ctx, c, hook, before...)
}

// registerWebhook adds hook, and any of keep that is missing, to the
// channel's webhook URLs, keeping the others.
func (s *Service) registerWebhook(ctx context.Context, c *onemsg.Client, hook string, keep ...string) error {
	urls, err := c.Webhooks(ctx)
	if err != nil {
		return oneMsgProblem(err)
	}
	missing := false
	for _, u := range keep {
		if !slices.Contains(urls, u) {
			urls, missing = append(urls, u), true
		}
	}
	if slices.Contains(urls, hook) && !missing {
		return nil
	}
	if !slices.Contains(urls, hook) {
		urls = append(urls, hook)
	}
	if len(urls) > maxOneMsgWebhooks {
		return problem.New(problem.Conflict, "This 1msg channel already sends its webhooks to 5 addresses, the most 1msg allows. Remove one in 1msg and connect again.")
	}
	if err := c.SetWebhooks(ctx, urls); err != nil {
		return oneMsgProblem(err)
	}
	return nil
}

// unregisterWebhook removes hook from the channel's webhook URLs, leaving
// the others.
func (s *Service) unregisterWebhook(ctx context.Context, c *onemsg.Client, hook string) error {
	urls, err := c.Webhooks(ctx)
	if err != nil {
		return err
	}
	if !slices.Contains(urls, hook) {
		return nil
	}
	return c.SetWebhooks(ctx, slices.DeleteFunc(urls, func(u string) bool { return u == hook }))
}

// disconnect removes Parley's webhook URL from a 1msg channel before the
// integration is deleted.
func (s *Service) disconnect(ctx context.Context, i Integration) error {
	if i.Provider != OneMsg {
		return nil
	}
	token, err := s.Secret(i)
	if err != nil {
		return err
	}
	c, err := onemsg.New(i.Account, token, i.Sender, s.Transport)
	if err == nil {
		err = s.channelChange(ctx, i.Account, i.Sender, func() error { return s.unregisterWebhook(ctx, c, s.WebhookURL(i)) })
	}
	if err != nil {
		var se *channel.SendError
		msg := err.Error()
		if errors.As(err, &se) {
			msg = se.Message
		}
		return problem.New(problem.Unavailable, "Parley could not remove its webhook URL from 1msg ("+strings.TrimSuffix(msg, ".")+"). Nothing was deleted: try again, or disable the integration instead.")
	}
	return nil
}

// WaMeLink is the wa.me link that opens a WhatsApp chat with the number,
// for the "Chat on WhatsApp" button on the tenant's website.
func (i Integration) WaMeLink() string {
	return "https://wa.me/" + strings.TrimPrefix(i.Sender, "+")
}

// RegisterWebhook makes sure a 1msg channel sends to Parley: delivery
// statuses on, and the integration's webhook URL in the channel's list.
func (s *Service) RegisterWebhook(ctx context.Context, i Integration) error {
	c, err := s.oneMsgClient(i)
	if err != nil {
		return err
	}
	return s.channelChange(ctx, i.Account, i.Sender, func() error { return s.setUpChannel(ctx, c, s.WebhookURL(i)) })
}

func (s *Service) oneMsgClient(i Integration) (*onemsg.Client, error) {
	if i.Provider != OneMsg {
		return nil, problem.New(problem.NotFound, "This is not a 1msg integration.")
	}
	token, err := s.Secret(i)
	if err != nil {
		return nil, err
	}
	return onemsg.New(i.Account, token, i.Sender, s.Transport)
}

// DeliveryStatuses says whether a 1msg channel still sends delivery
// statuses (someone may turn ackNotificationsOn off in 1msg after Parley
// connected). Checks run when an admin opens the integration's page.
type DeliveryStatuses struct {
	Checked bool   // false: 1msg could not be asked, Reason says why
	On      bool   // ackNotificationsOn, when Checked
	Reason  string // why it could not be checked, in plain words
}

// DefaultSettingsTimeout bounds the check of a 1msg channel's settings
// made while the integration page loads: a slow 1msg must not hold the
// page.
const DefaultSettingsTimeout = 3 * time.Second

// CheckDeliveryStatuses asks 1msg now whether the channel of a 1msg
// integration sends delivery statuses, waiting at most SettingsTimeout.
// A failure to ask is not an error: the answer says it could not check.
func (s *Service) CheckDeliveryStatuses(ctx context.Context, i Integration) DeliveryStatuses {
	c, err := s.oneMsgClient(i)
	if err != nil {
		return DeliveryStatuses{Reason: err.Error()}
	}
	timeout := s.SettingsTimeout
	if timeout <= 0 {
		timeout = DefaultSettingsTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st, err := c.Settings(ctx)
	if err != nil {
		reason := err.Error()
		var se *channel.SendError
		if errors.As(err, &se) {
			reason = se.Message
		}
		return DeliveryStatuses{Reason: strings.TrimSuffix(reason, ".")}
	}
	return DeliveryStatuses{Checked: true, On: st.AckNotifications}
}

// TurnOnDeliveryStatuses turns delivery statuses (and guaranteed webhook
// delivery) on again for the channel of a 1msg integration, and checks
// that they took.
func (s *Service) TurnOnDeliveryStatuses(ctx context.Context, tid uuid.UUID, id int64) error {
	i, err := s.Get(ctx, tid, id)
	if err != nil {
		return err
	}
	c, err := s.oneMsgClient(i)
	if err != nil {
		return err
	}
	if _, err := c.EnsureDelivery(ctx); err != nil {
		var se *channel.SendError
		if errors.As(err, &se) && se.Retryable {
			return problem.New(problem.Unavailable, "1msg could not be reached to turn delivery statuses on. Try again in a moment.")
		}
		return oneMsgProblem(err)
	}
	return nil
}

package integration

import (
	"context"
	"errors"
	"slices"
	"strings"

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
	c, err := onemsg.New(api, f.Token, number, s.Transport)
	if err != nil {
		return Integration{}, problem.Field("api_url", err.Error())
	}
	if err := c.Verify(ctx); err != nil {
		return Integration{}, oneMsgProblem(err)
	}
	token, err := newWebhookToken()
	if err != nil {
		return Integration{}, err
	}
	hook := s.webhookURL(OneMsg, token)
	if err := s.registerWebhook(ctx, c, hook); err != nil {
		return Integration{}, err
	}
	ig, err := s.insertWithToken(ctx, tid, OneMsg, token, api, f.Token, number, f.DefaultGroupID)
	if err != nil {
		_ = s.unregisterWebhook(ctx, c, hook) // best effort: nothing was saved
	}
	return ig, err
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

// registerWebhook adds hook to the channel's webhook URLs, keeping the
// others.
func (s *Service) registerWebhook(ctx context.Context, c *onemsg.Client, hook string) error {
	urls, err := c.Webhooks(ctx)
	if err != nil {
		return oneMsgProblem(err)
	}
	if slices.Contains(urls, hook) {
		return nil
	}
	if len(urls) >= maxOneMsgWebhooks {
		return problem.New(problem.Conflict, "This 1msg channel already sends its webhooks to 5 addresses, the most 1msg allows. Remove one in 1msg and connect again.")
	}
	if err := c.SetWebhooks(ctx, append(urls, hook)); err != nil {
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
		err = s.unregisterWebhook(ctx, c, s.WebhookURL(i))
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

// RegisterWebhook makes sure a 1msg channel sends to Parley: it adds the
// integration's webhook URL to the channel's list if it is missing.
func (s *Service) RegisterWebhook(ctx context.Context, i Integration) error {
	token, err := s.Secret(i)
	if err != nil {
		return err
	}
	c, err := onemsg.New(i.Account, token, i.Sender, s.Transport)
	if err != nil {
		return err
	}
	return s.registerWebhook(ctx, c, s.WebhookURL(i))
}

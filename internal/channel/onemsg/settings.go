package onemsg

import (
	"context"
	"encoding/json"
	"fmt"

	"parley/internal/channel"
)

// Settings are the channel settings Parley depends on (GET /settings).
//
//   - AckNotifications: 1msg posts delivery statuses (acks) to the webhooks
//     only when ackNotificationsOn is on ([SPEC] callbacks.Ack: "It works
//     only if the settings webhookUrl and ackNotificationsOn"). Without it
//     no message Parley sends ever shows delivered or read.
//   - GuaranteedHooks: 1msg delivers a webhook again until the receiver
//     answers 200. 1msg's lineage (chat-api.com, whose API 1msg kept:
//     research/onemsg.md §1) documents it as "Guarantee webhook delivery.
//     Each webhook will make 20 attempts to send until it receives 200
//     status from the server"; 1msg's own agent guide names the setting
//     and warns not to promise more than its contract (1msg-for-agents
//     references/reliability.md). Parley answers 500 when it could not
//     store a webhook and stores a redelivered one once, so retries can
//     only help.
//
// A key 1msg leaves out of its answer reads as off.
type Settings struct {
	AckNotifications bool
	GuaranteedHooks  bool
}

// Settings reads the channel's settings (GET /settings).
func (c *Client) Settings(ctx context.Context) (Settings, error) {
	var ans map[string]json.RawMessage
	if err := c.get(ctx, "settings", &ans); err != nil {
		return Settings{}, err
	}
	acks, _ := flag(ans["ackNotificationsOn"])
	hooks, _ := flag(ans["guaranteedHooks"])
	return Settings{AckNotifications: acks, GuaranteedHooks: hooks}, nil
}

// EnsureDelivery turns on the settings Parley needs (delivery statuses and
// guaranteed webhook delivery) with one POST /settings that names only
// those two keys, and reads the settings back to check that they took.
//
// Only the keys to change are sent: 1msg's POST /settings answers with an
// "update" object that "lists the fields changed in the request" ([SPEC]
// UpdateSettings), and 1msg's guide says to "submit only fields documented
// as writable and needed for the change; do not echo an entire GET
// response into POST" (1msg-for-agents references/webhooks.md). The
// webhook list, rawHooks and the rest stay as the channel has them.
func (c *Client) EnsureDelivery(ctx context.Context) (Settings, error) {
	cur, err := c.Settings(ctx)
	if err != nil {
		return cur, err
	}
	if cur.AckNotifications && cur.GuaranteedHooks {
		return cur, nil
	}
	var ans map[string]json.RawMessage
	payload := map[string]any{"ackNotificationsOn": true, "guaranteedHooks": true}
	if err := c.read(ctx, "settings", payload, &ans); err != nil {
		return cur, err
	}
	got, err := c.Settings(ctx)
	if err != nil {
		return got, err
	}
	if !got.AckNotifications {
		return got, &channel.SendError{
			Message: "1msg did not turn on delivery statuses (ackNotificationsOn) for this channel",
			Err:     fmt.Errorf("1msg settings: ackNotificationsOn still off after POST /settings"),
		}
	}
	return got, nil
}

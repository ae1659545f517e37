-- Inbound completeness: clients known by WhatsApp's business-scoped user id
-- (no number), the ad a chat came from, and the kinds of message Parley
-- keeps besides text and files.

-- +goose Up
-- A client who hides their number is known by their business-scoped user
-- id (BSUID, "US.13491208655302741918"): stored as received, unique in the
-- tenant like the number. whatsapp_wa_id is WhatsApp's id of the client as
-- Twilio's WaId gives it; whatsapp_username their WhatsApp username.
ALTER TABLE clients
  ADD COLUMN whatsapp_user_id  text,
  ADD COLUMN whatsapp_wa_id    text,
  ADD COLUMN whatsapp_username text;
CREATE UNIQUE INDEX clients_whatsapp_user_id_key ON clients (tenant_id, whatsapp_user_id) WHERE whatsapp_user_id IS NOT NULL;

-- The click-to-WhatsApp ad (or post) the chat came from: headline, body,
-- source_url, source_type… (channel.Referral).
ALTER TABLE cases ADD COLUMN referral jsonb;

-- A shared contact card, and a message Parley cannot show (a reaction, a
-- poll, an order…), stored so that the agent sees it.
ALTER TABLE messages DROP CONSTRAINT messages_kind_check;
ALTER TABLE messages ADD CONSTRAINT messages_kind_check
  CHECK (kind IN ('text', 'file', 'location', 'contact', 'unsupported', 'template', 'note', 'event')) NOT VALID;
ALTER TABLE messages VALIDATE CONSTRAINT messages_kind_check;

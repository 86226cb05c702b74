package contexts

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// WebhookChange is what the case management system is told when a context
// a young person is linked to changes (issue 15): which context, what
// happened, and which links it concerns, by link id and team, never by
// young person (ctxmap holds only keyed hashes of their ids). A case system
// that made a link through the API knows which of its young people the link
// id is; the team tells it whose caseload to look in.
type WebhookChange struct {
	// ID is the chronology event's id: the same change delivered twice
	// (a retry after a lost answer) has the same id, so receivers can
	// drop repeats.
	ID        int64        `json:"id"`
	Event     string       `json:"event"`
	ContextID int64        `json:"context_id"`
	Context   string       `json:"context"`
	Summary   string       `json:"summary"`
	At        time.Time    `json:"at"`
	Links     []LinkedTeam `json:"links"`
}

// LinkedTeam is one active link of a changed context.
type LinkedTeam struct {
	LinkID int64  `json:"link_id"`
	Team   string `json:"team"`
}

// Webhook headers: the change's id, the signing time (Unix seconds) and
// the signature, "sha256=" and the hex HMAC-SHA256 of the time, a dot and
// the body, keyed with the webhook secret the council shares with its case
// system. The time is signed so a captured delivery cannot be replayed
// later with a fresh time.
const (
	WebhookIDHeader        = "X-Ctxmap-Delivery"
	WebhookTimestampHeader = "X-Ctxmap-Timestamp"
	WebhookSignatureHeader = "X-Ctxmap-Signature"
)

// WebhookSignature signs a delivery body sent at timestamp (the header's
// value) with secret; a receiver recomputes it and compares in constant
// time (hmac.Equal).
func WebhookSignature(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

package contexts

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"strings"
)

// maxSubjectLen bounds a case-system person id; real ones are short
// (Mosaic and LiquidLogic use numbers, others short alphanumerics).
const maxSubjectLen = 64

// NormalizeSubject makes the same person id typed in different ways hash to
// the same subject: trimmed and upper-cased. Only printable ASCII without
// spaces is accepted, which every case management system's ids are.
func NormalizeSubject(s string) (string, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if s == "" {
		return "", MissingField("subject")
	}
	if len(s) > maxSubjectLen {
		return "", InvalidField("subject", "subject_invalid", "subject must be the case system's person id (at most %d characters)", maxSubjectLen)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' {
			return "", InvalidField("subject", "subject_invalid", "subject must be the case system's person id: letters, digits and punctuation, no spaces")
		}
	}
	return s, nil
}

// SubjectHasher turns person ids into subject hashes and cell keys. It
// reuses one HMAC state, so it is not safe for concurrent use: make one per
// goroutine with NewSubjectHasher.
type SubjectHasher struct {
	mac hash.Hash
	buf []byte
}

// NewSubjectHasher returns a hasher keyed with the deployment secret.
func NewSubjectHasher(secret []byte) *SubjectHasher {
	return &SubjectHasher{mac: hmac.New(sha256.New, secret)}
}

// hash returns HMAC-SHA256(secret, id) for a normalised id. Without the
// deployment secret the hash cannot be reversed by trying every id.
func (h *SubjectHasher) Hash(id string) [32]byte {
	h.mac.Reset()
	h.mac.Write([]byte("subject:"))
	h.mac.Write([]byte(id))
	var out [32]byte
	h.buf = h.mac.Sum(h.buf[:0])
	copy(out[:], h.buf)
	return out
}

// cellKey derives the subject's secret cell key from its hash. Derived, not
// random, so re-importing a subject (or rebuilding the table) gives the same
// key and published cell values never change for the same records; keyed
// with the secret, so the key cannot be computed from the stored hash alone.
func (h *SubjectHasher) CellKey(subjectHash [32]byte) uint8 {
	h.mac.Reset()
	h.mac.Write([]byte("cell-key:"))
	h.mac.Write(subjectHash[:])
	h.buf = h.mac.Sum(h.buf[:0])
	return h.buf[0]
}

// AuditSubject names a young person's records in the audit log by a prefix
// of the hash: enough for a data protection officer to match entries, never
// the person id itself.
func AuditSubject(subjectHash [32]byte) string {
	return "subject-records:" + hex.EncodeToString(subjectHash[:8])
}

// MinSecretLen is the shortest deployment secret accepted: the secret is all
// that stands between a stored subject hash and the person id.
const MinSecretLen = 32

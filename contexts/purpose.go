package contexts

import (
	"strings"

	"github.com/ctxmap/ctxmap"
)

// Every read of a young person's records says why it is made (PRIVACY.md
// rule 11: who, when, what, why), so a data protection officer can tell an
// assessment from curiosity. The reader chooses one purpose from a short
// list; "other" needs a few words of explanation, which are screened for
// personal data like any free text before they reach the audit log.

// The purposes of a read of a young person's records.
const (
	PurposeAssessment = "assessment"
	PurposeReview     = "review"
	PurposePanel      = "panel"
	PurposeOther      = "other"
)

// PurposeNoteMax is the longest explanation an "other" purpose may carry:
// a reason, not a case note.
const PurposeNoteMax = 200

// readPurposeTerms is the one list of purposes: the API's checks, its error
// messages, the taxonomy document the UI builds its prompt from and the audit
// search's filter all read it.
var readPurposeTerms = []Term{
	{Code: PurposeAssessment, Label: "Assessment", Description: "Assessing or re-assessing the young person"},
	{Code: PurposeReview, Label: "Review", Description: "Reviewing the young person's plan"},
	{Code: PurposePanel, Label: "Panel", Description: "Preparing for or at a panel (MACE, strategy meeting)"},
	{Code: PurposeOther, Label: "Other (say why)", Description: "Anything else: a short reason is required"},
}

// ReadPurposes lists the purposes a read may give, in the order they are
// offered.
func ReadPurposes() []Term { return append([]Term(nil), readPurposeTerms...) }

// ReadPurpose is why a young person's records are read: a purpose code and,
// for "other", the reader's short reason.
type ReadPurpose struct {
	Code string
	Note string
}

// Reason is the purpose as the audit log's "why" column shows it:
// "assessment", or "other: <the reader's reason>".
func (p ReadPurpose) Reason() string {
	if p.Note == "" {
		return p.Code
	}
	return p.Code + ": " + p.Note
}

// ParseReadPurpose checks a read's purpose: code must be one of
// ReadPurposes, "other" needs a note (checked as free text, at most
// PurposeNoteMax characters) and the other purposes take none. The errors
// name the parameter and the allowed values.
func ParseReadPurpose(code, note string) (ReadPurpose, error) {
	code = strings.TrimSpace(code)
	if code == "" {
		return ReadPurpose{}, InvalidField("purpose", "purpose_required",
			"say why you are reading this young person's records: purpose must be one of %s", termCodes(readPurposeTerms)).
			WithDetail("allowed", termCodeList(readPurposeTerms))
	}
	if _, ok := termLabel(readPurposeTerms, code); !ok {
		return ReadPurpose{}, InvalidField("purpose", "invalid_purpose", "purpose %q is not one of %s",
			Trunc(code, 40), termCodes(readPurposeTerms)).WithDetail("allowed", termCodeList(readPurposeTerms))
	}
	note, err := CheckText("purpose_note", note, PurposeNoteMax, false)
	if err != nil {
		return ReadPurpose{}, err
	}
	switch {
	case code == PurposeOther && note == "":
		return ReadPurpose{}, InvalidField("purpose_note", "purpose_note_required",
			"purpose other needs purpose_note: a short reason (at most %d characters, no names or ids)", PurposeNoteMax)
	case code != PurposeOther && note != "":
		return ReadPurpose{}, InvalidField("purpose_note", "purpose_note_unexpected",
			"purpose_note is only for purpose other; %s needs no note", code)
	}
	return ReadPurpose{Code: code, Note: note}, nil
}

// RequirePurpose refuses a read of individual records that gives no
// checked purpose: the store's second lock behind the web layer's parse.
func RequirePurpose(p ReadPurpose) error {
	if _, ok := termLabel(readPurposeTerms, p.Code); !ok || (p.Code == PurposeOther) != (p.Note != "") {
		return ctxmap.Errorf(ctxmap.KindInvalid, "purpose_required",
			"a read of a young person's records needs a purpose: one of %s", termCodes(readPurposeTerms))
	}
	return nil
}

// termCodeList is the codes of list, for an error's details.
func termCodeList(list []Term) []string {
	out := make([]string, len(list))
	for i, t := range list {
		out[i] = t.Code
	}
	return out
}
